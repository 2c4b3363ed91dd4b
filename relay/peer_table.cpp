// SPDX-License-Identifier: MIT
// The subscribers of a publishing route: sessions from HELLO/CREDIT, bounded against floods, and their totals.
#include "peer_table.h"

#include <algorithm>

#include "ring_io.h"

namespace zerobuffer::relay {

namespace {

const char* policy_name(FlowPolicy policy)
{
    return policy == FlowPolicy::Latest ? "latest" : "lossless";
}

} // namespace

PeerTable::PeerTable(std::string route_name, const Endpoint& endpoint, RouteStats& stats)
    : route_name_(std::move(route_name)), endpoint_(endpoint), stats_(stats),
      session_log_(20, std::chrono::seconds(10), "subscriber joins, sessions and departures",
                   [this](const std::string& line) { log_route(route_name_, line); })
{
}

bool PeerTable::allow_session(SessionAllowance& allowance, Clock::time_point now)
{
    if (allowance.updated != Clock::time_point{}) {
        const double refill =
            std::chrono::duration<double>(now - allowance.updated) / std::chrono::duration<double>(kSessionInterval);
        allowance.tokens = std::min(kSessionBurst, allowance.tokens + refill);
    }
    allowance.updated = now;
    if (allowance.tokens < 1) {
        ++allowance.refused;
        return false;
    }
    allowance.tokens -= 1;
    return true;
}

void PeerTable::log_session(const std::string& line, Clock::time_point now)
{
    session_log_.line(line, now);
}

void PeerTable::on_control(const std::string& id, const wire::ControlMessage& message, bool need_keyframe,
                           Clock::time_point now)
{
    auto found = peers_.find(id);
    const bool fresh = found == peers_.end() || found->second.gone || message.kind == wire::Kind::Hello ||
                       found->second.session != message.session;
    if (!fresh) {
        Peer& peer = found->second;
        peer.acked = std::min(std::max(peer.acked, message.received), peer.sent);
        peer.window = message.window;
        peer.last_heard = now;
        return;
    }
    // One session per connection is kept, and a connection may start new ones only so fast: a HELLO flood
    // (a new session per message) would otherwise cost a metadata send, a GOP replay and a log line each.
    SessionAllowance& allowance = allowances_[id];
    if (!allow_session(allowance, now)) {
        if (found != peers_.end())
            found->second.last_heard = now; // It is alive, only too eager.
        if (allowance.refused == 1 || allowance.refused % 1000 == 0)
            log_session("subscriber " + (found != peers_.end() ? "#" + std::to_string(found->second.number) : "") +
                            ": ignored " + std::to_string(allowance.refused) +
                            " new session(s) so far: a connection may start one a second",
                        now);
        return;
    }
    Peer& peer = peers_[id];
    if (peer.number != 0) {
        log_session("subscriber #" + std::to_string(peer.number) + " started a new session", now);
        add_departed(peer);
    }
    peer = Peer{};
    peer.number = next_peer_number_++;
    peer.session = message.session;
    peer.window = message.window;
    peer.policy =
        endpoint_.policy_given ? endpoint_.policy : (message.policy == 1 ? FlowPolicy::Latest : FlowPolicy::Lossless);
    peer.sent = message.received; // A CREDIT from an unknown session adopts the subscriber's count.
    peer.acked = message.received;
    peer.need_keyframe = need_keyframe;
    peer.last_heard = now;
    log_session("subscriber #" + std::to_string(peer.number) + " joined (policy " + policy_name(peer.policy) +
                    ", window " + std::to_string(peer.window) + ")",
                now);
    stats_.peers.store(peers_.size(), std::memory_order_relaxed);
    board_published_ = {};
}

void PeerTable::depart(Peer& peer, const std::string& why)
{
    if (peer.gone)
        return;
    peer.gone = true;
    log_session("subscriber #" + std::to_string(peer.number) + " " + why, Clock::now());
}

void PeerTable::tick(Clock::time_point now)
{
    for (auto& [id, peer] : peers_)
        if (!peer.gone && now - peer.last_heard > kSilence)
            depart(peer, "silent for " + std::to_string(kSilence.count()) + " s: dropped");
    session_log_.flush(now);
    if (board_published_ == Clock::time_point{} || now - board_published_ >= SubscriberBoard::kRefresh) {
        publish_board();
        board_published_ = now;
    }
}

void PeerTable::publish_board()
{
    std::vector<SubscriberFigures> figures;
    figures.reserve(peers_.size());
    for (const auto& [id, peer] : peers_)
        if (!peer.gone)
            figures.push_back({.number = peer.number,
                               .policy = peer.policy,
                               .window = peer.window,
                               .delivered = peer.delivered,
                               .dropped = peer.drops_counted,
                               .in_flight = peer.sent - std::min(peer.acked, peer.sent),
                               .resumes = peer.replays});
    stats_.subscribers.publish(std::move(figures));
}

void PeerTable::erase_gone()
{
    for (auto it = peers_.begin(); it != peers_.end();) {
        if (it->second.gone) {
            add_departed(it->second);
            allowances_.erase(it->first);
            it = peers_.erase(it);
            board_published_ = {};
        } else {
            ++it;
        }
    }
    stats_.peers.store(peers_.size(), std::memory_order_relaxed);
}

void PeerTable::add_departed(const Peer& peer)
{
    departed_.push_back(peer);
    if (departed_.size() > kDepartedListed) {
        const Peer& oldest = departed_.front();
        ++departed_totals_.subscribers;
        departed_totals_.delivered += oldest.delivered;
        departed_totals_.dropped += oldest.dropped;
        departed_.pop_front();
    }
}

void PeerTable::log_summary() const
{
    if (departed_totals_.subscribers > 0)
        log_route(route_name_, std::to_string(departed_totals_.subscribers) + " earlier subscriber session(s): sent " +
                                   std::to_string(departed_totals_.delivered) + ", dropped " +
                                   std::to_string(departed_totals_.dropped));
    auto line = [this](const Peer& peer) {
        log_route(route_name_, "subscriber #" + std::to_string(peer.number) + " (" + policy_name(peer.policy) +
                                   "): sent " + std::to_string(peer.delivered) + ", dropped " +
                                   std::to_string(peer.dropped));
    };
    for (const Peer& peer : departed_)
        line(peer);
    for (const auto& [id, peer] : peers_)
        line(peer);
}

} // namespace zerobuffer::relay
