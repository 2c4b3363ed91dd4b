// SPDX-License-Identifier: MIT
// The subscribers of a publishing route: one entry per connection (ZeroMQ routing id), its session and credit
// window from HELLO/CREDIT, and the totals of those that left. Bounded against floods: at most one session per
// connection is kept, new sessions of a connection are rate-limited, departed subscribers are summed up beyond
// the last few, and join/leave lines are rate-limited with counts.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "config.h"
#include "log_budget.h"
#include "route.h"
#include "wire.h"

namespace zerobuffer::relay {

/// One subscriber (one connection) of a publisher, in its current session.
struct Peer {
    std::uint64_t session = 0;
    std::uint32_t window = 1;
    FlowPolicy policy = FlowPolicy::Lossless;
    std::uint64_t sent = 0;  ///< Frames sent in this session.
    std::uint64_t acked = 0; ///< Frames the subscriber reported received.
    std::uint64_t delivered = 0;
    std::uint64_t dropped = 0;       ///< Not sent to it, net of those a resume sent after all (the log's figure).
    std::uint64_t drops_counted = 0; ///< Every drop as it happened (monotonic: the metrics' counter).
    std::uint32_t number = 0;
    std::uint64_t last_sequence = 0; ///< Source sequence of the last frame sent in this session.
    bool sent_any = false;
    /// Frames sent from the GOP cache beyond the credit window, and `sent` once they are all sent: live frames may
    /// go on without waiting for the receiver to acknowledge that burst.
    std::uint64_t burst = 0;
    std::uint64_t burst_end = 0;
    /// Sequence of the first frame sent or dropped for this peer (in this session and source incarnation).
    std::uint64_t first_considered = 0;
    std::uint64_t last_considered = 0;
    bool considered_any = false;
    std::uint64_t replays = 0;
    bool need_metadata = true;
    bool need_keyframe = false;
    bool gone = false;
    std::chrono::steady_clock::time_point last_heard;
};

class PeerTable {
public:
    using Clock = std::chrono::steady_clock;
    using Peers = std::map<std::string, Peer>;

    /// New sessions one connection may start at once, then one per kSessionInterval (a receiver starts one per
    /// connection; more is a HELLO flood).
    static constexpr double kSessionBurst = 4;
    static constexpr std::chrono::seconds kSessionInterval{1};
    /// Departed subscribers listed one by one in the summary; earlier ones are summed up.
    static constexpr std::size_t kDepartedListed = 32;
    /// A subscriber that sends nothing (not even its keepalive CREDIT) for this long is dropped.
    static constexpr std::chrono::seconds kSilence{30};

    PeerTable(std::string route_name, const Endpoint& endpoint, RouteStats& stats);

    /// Applies a HELLO or CREDIT from connection `id`. A HELLO, or a CREDIT of a session we do not know, starts a new
    /// session (within the rate limit; the connection's earlier session is then summed up as departed).
    /// `need_keyframe` is what a new session starts with (an encoded stream resumes from a keyframe).
    void on_control(const std::string& id, const wire::ControlMessage& message, bool need_keyframe,
                    Clock::time_point now);
    /// Marks a subscriber as gone (disconnected, silent) and says so in the log.
    void depart(Peer& peer, const std::string& why);
    /// Marks subscribers silent for kSilence as gone; flushes the rate-limited log; refreshes the route's
    /// subscriber board (for --metrics) every SubscriberBoard::kRefresh and after a subscriber joined.
    void tick(Clock::time_point now);
    /// Removes gone subscribers, adding them to the departed summary.
    void erase_gone();

    [[nodiscard]] Peers& peers() noexcept { return peers_; }
    [[nodiscard]] const Peers& peers() const noexcept { return peers_; }
    [[nodiscard]] std::size_t size() const noexcept { return peers_.size(); }
    [[nodiscard]] bool empty() const noexcept { return peers_.empty(); }

    /// The per-subscriber lines of the exit summary (the last kDepartedListed departed, then the rest summed up).
    void log_summary() const;

private:
    /// How many new sessions a connection may still start now (a token bucket, refilled over time).
    struct SessionAllowance {
        double tokens = kSessionBurst;
        Clock::time_point updated{};
        std::uint64_t refused = 0; ///< HELLOs ignored since the last line about them.
    };
    /// Totals of the departed subscribers no longer listed one by one.
    struct DepartedTotals {
        std::uint64_t subscribers = 0;
        std::uint64_t delivered = 0;
        std::uint64_t dropped = 0;
    };

    bool allow_session(SessionAllowance& allowance, Clock::time_point now);
    void add_departed(const Peer& peer);
    void log_session(const std::string& line, Clock::time_point now);
    void publish_board();

    std::string route_name_;
    const Endpoint& endpoint_;
    RouteStats& stats_;
    Peers peers_;
    std::map<std::string, SessionAllowance> allowances_; ///< Per connection; erased with its peer.
    std::deque<Peer> departed_;                          ///< At most kDepartedListed, newest last.
    DepartedTotals departed_totals_;
    std::uint32_t next_peer_number_ = 1;
    Clock::time_point board_published_{}; ///< When the subscriber board was last refreshed; {} forces a refresh.
    LogBudget session_log_;
};

} // namespace zerobuffer::relay
