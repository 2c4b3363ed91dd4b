// SPDX-License-Identifier: MIT
// Sending side of a network route: ROUTER socket, per-subscriber credit windows, zero-copy payloads.
#include "publisher.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <thread>

#include <zmq.h>

#include "ring_io.h"
#include "route_security.h"
#include "wire.h"

namespace zerobuffer::relay {

namespace {

/// libzmq's free function for lent payloads; may run on libzmq's I/O thread (Frame::release is thread-safe).
void give_back_frame(void* /*data*/, void* hint)
{
    auto* lent = static_cast<LentFrame*>(hint);
    if (lent->users.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        lent->frame.release();
        lent->busy.store(false, std::memory_order_release);
    }
}

} // namespace

Publisher::Publisher(const RouteConfig& route, const Endpoint& endpoint, RouteStats& stats)
    : route_name_(route.name), endpoint_(endpoint), security_(route.security), advertise_(route.advertise),
      stats_(stats), lent_(std::make_unique<LentFrame[]>(kLentFrames)), peers_(route.name, endpoint_, stats),
      gop_(route.name), handshake_log_(20, std::chrono::seconds(10), "refused handshakes",
                                       [name = route.name](const std::string& line) { log_route(name, line); })
{
    header_buffer_.resize(wire::kFrameHeaderSize + 4096);
}

RelayResult<std::unique_ptr<Publisher>> Publisher::start(const RouteConfig& route, const Endpoint& endpoint,
                                                         RouteStats& stats)
{
    std::unique_ptr<Publisher> publisher(new Publisher(route, endpoint, stats));
    void* context = publisher->context_.get();
    const bool curve = uses_curve(route.security); // the route's keys decide, on ipc:// as on tcp://
    if (curve) {
        auto allowed = read_allowed_keys(route.security.allowed_keys_file);
        if (!allowed)
            return tl::unexpected(allowed.error());
        auto zap = ZapHandler::start(context, std::move(*allowed), "zb-relay: route " + route.name);
        if (!zap)
            return tl::unexpected(zap.error());
        publisher->zap_ = std::move(*zap);
    }
    publisher->router_ = ZmqSocket(context, ZMQ_ROUTER);
    void* router = publisher->router_.get();
    if (router == nullptr)
        return relay_error(RelayErrc::Network, "cannot create a ZeroMQ socket: " + zmq_error_text());
    // ROUTER_MANDATORY: a send to a vanished subscriber fails (EHOSTUNREACH) instead of vanishing silently.
    // HANDSHAKE_IVL: a connection that does not complete its handshake in 5 s is dropped (it holds a peer slot).
    for (const auto& [option, value] : {std::pair{ZMQ_ROUTER_MANDATORY, 1}, std::pair{ZMQ_SNDHWM, 1000},
                                        std::pair{ZMQ_RCVHWM, 1000}, std::pair{ZMQ_HEARTBEAT_IVL, 1000},
                                        std::pair{ZMQ_HEARTBEAT_TIMEOUT, 5000}, std::pair{ZMQ_HANDSHAKE_IVL, 5000}}) {
        if (auto ok = set_int_option(router, option, value); !ok)
            return tl::unexpected(ok.error());
    }
    // Subscribers only send 32-byte control messages: a peer sending more is dropped by libzmq.
    const std::int64_t max_message = 4096;
    if (zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &max_message, sizeof max_message) != 0)
        return relay_error(RelayErrc::Network, "cannot set ZMQ_MAXMSGSIZE: " + zmq_error_text());
    if (curve) {
        if (auto ok = apply_curve(router, route.security, true); !ok)
            return tl::unexpected(ok.error());
    }
    // Before bind: the guard must see every connection. It forwards the handshake failures we log.
    ConnectionGuard::Limits limits{endpoint.max_peers, kMaxHeldPerSubscriber, curve,
                                   "max-peers=" + std::to_string(endpoint.max_peers)};
    const std::string name = route.name;
    auto guard = ConnectionGuard::start(
        context, router, std::move(limits),
        ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
        "publisher-" + route.name, [name](const std::string& line) { log_route(name, line); });
    if (!guard)
        return relay_error(RelayErrc::Network, guard.error().message);
    publisher->guard_ = std::move(*guard);
    if (zmq_bind(router, endpoint.address.c_str()) != 0)
        return relay_error(RelayErrc::Network, "cannot bind '" + endpoint.address + "': " + zmq_error_text() +
                                                   " (is the port in use by another program?)");
    std::array<char, 512> bound{};
    std::size_t bound_size = bound.size();
    if (zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, bound.data(), &bound_size) == 0)
        publisher->bound_address_ = bound.data();
    log_route(route.name, "publishing on " + publisher->bound_address_ +
                              (curve                                    ? " (CURVE)"
                               : endpoint.address.starts_with("tcp://") ? " (INSECURE plain tcp)"
                                                                        : ""));
    return publisher;
}

Publisher::~Publisher()
{
    guard_.reset();
    router_.close();
    zap_.reset();
    context_.terminate();
    // Every message is freed once the context is terminated; wait anyway in case libzmq is still finishing.
    for (int i = 0; i < 2000 && !idle(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

bool Publisher::idle() const noexcept
{
    for (std::size_t i = 0; i < kLentFrames; ++i)
        if (lent_[i].busy.load(std::memory_order_acquire))
            return false;
    return true;
}

std::string Publisher::connect_address() const
{
    if (!advertise_.empty())
        return advertise_;
    std::string address = bound_address_;
    // tcp://0.0.0.0:PORT is not something a receiver can connect to: name this host instead.
    const std::string any = "tcp://0.0.0.0:";
    if (address.starts_with(any)) {
        std::array<char, 256> host{};
        if (::gethostname(host.data(), host.size() - 1) == 0)
            address = "tcp://" + std::string(host.data()) + ":" + address.substr(any.size());
    }
    return address;
}

void Publisher::reject(const std::string& why)
{
    ++rejected_;
    stats_.rejected.fetch_add(1, std::memory_order_relaxed);
    if (rejected_ <= 20 || rejected_ % 1000 == 0)
        log_route(route_name_,
                  "ignored a message from a subscriber: " + why + " (" + std::to_string(rejected_) + " so far)");
}

void Publisher::service(std::chrono::milliseconds wait)
{
    std::array<zmq_pollitem_t, 2> items{zmq_pollitem_t{router_.get(), 0, ZMQ_POLLIN, 0},
                                        zmq_pollitem_t{guard_->events(), 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(items.data(), 2, static_cast<long>(wait.count())) > 0) {
        for (int i = 0; i < 64 && (items[0].revents & ZMQ_POLLIN) != 0; ++i) {
            handle_message();
            std::uint32_t events = 0;
            std::size_t size = sizeof events;
            zmq_getsockopt(router_.get(), ZMQ_EVENTS, &events, &size);
            if ((events & ZMQ_POLLIN) == 0)
                break;
        }
        while (auto event = read_monitor_event(guard_->events())) {
            if (event->event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                continue; // The ZAP handler logged the refused key.
            stats_.rejected.fetch_add(1, std::memory_order_relaxed);
            handshake_log_.line("refused a client from " + event->address +
                                ": handshake failed (a plain client at a CURVE relay, a CURVE client at a plain one, "
                                "or a client with the wrong server key)");
        }
    }
    const std::uint64_t guarded = guard_->dropped() + guard_->refused();
    stats_.rejected.fetch_add(guarded - guarded_counted_, std::memory_order_relaxed);
    guarded_counted_ = guarded;
    const auto now = std::chrono::steady_clock::now();
    handshake_log_.flush(now);
    peers_.tick(now);
}

void Publisher::handle_message()
{
    std::string id;
    zmq_msg_t part;
    zmq_msg_init(&part);
    std::size_t index = 0;
    bool more = true;
    bool bad = false;
    std::array<std::byte, wire::kControlSize> body{};
    std::size_t body_size = 0;
    while (more) {
        if (zmq_msg_recv(&part, router_.get(), ZMQ_DONTWAIT) < 0)
            break;
        more = zmq_msg_more(&part) != 0;
        if (index > 0) // the routing id (part 0) is ROUTER's, not the peer's
            guard_->received(&part, guard_->wire_size(zmq_msg_size(&part)));
        const auto* data = static_cast<const std::byte*>(zmq_msg_data(&part));
        if (index == 0)
            id.assign(reinterpret_cast<const char*>(data), zmq_msg_size(&part));
        else if (index == 1) {
            body_size = zmq_msg_size(&part);
            std::memcpy(body.data(), data, std::min(body_size, body.size()));
        } else
            bad = true;
        ++index;
    }
    zmq_msg_close(&part);
    if (index != 2 || bad) {
        reject("message of " + std::to_string(index - 1) + " parts, expected 1");
        return;
    }
    if (body_size != wire::kControlSize) {
        reject("control message of " + std::to_string(body_size) + " bytes, expected " +
               std::to_string(wire::kControlSize));
        return;
    }
    handle_control(id, body.data(), body_size);
}

void Publisher::handle_control(const std::string& id, const std::byte* data, std::size_t size)
{
    auto message = wire::decode_control(std::span<const std::byte>(data, size));
    if (!message) {
        reject(message.error());
        return;
    }
    peers_.on_control(id, *message, encoded_, std::chrono::steady_clock::now());
}

void Publisher::set_stream_metadata(const std::string& json, std::uint32_t generation, bool encoded)
{
    encoded_ = encoded;
    if (json == metadata_json_)
        return;
    gop_.clear(); // Cached frames of another format must not reach a subscriber after this document.
    metadata_json_ = json;
    metadata_generation_ = generation;
    for (auto& [id, peer] : peers_.peers())
        peer.need_metadata = true;
}

void Publisher::drop(Peer& peer, const char* why)
{
    ++peer.dropped;
    ++dropped_total_;
    stats_.drops.fetch_add(1, std::memory_order_relaxed);
    peer.need_keyframe = encoded_;
    if (peer.dropped == 1 || peer.dropped % 1000 == 0)
        log_route(route_name_, "subscriber #" + std::to_string(peer.number) + ": dropped frame (" + why + "), " +
                                   std::to_string(peer.dropped) + " dropped so far");
}

void Publisher::ping(const std::string& id, Peer& peer)
{
    wire::FrameHeader header;
    header.kind = wire::Kind::Ping;
    header.session = peer.session;
    std::array<std::byte, wire::kFrameHeaderSize> bytes{};
    wire::encode(header, bytes);
    if (zmq_send(router_.get(), id.data(), id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EHOSTUNREACH)
            peers_.depart(peer, "disconnected");
        return;
    }
    zmq_send(router_.get(), bytes.data(), bytes.size(), ZMQ_SNDMORE);
    zmq_send(router_.get(), nullptr, 0, 0);
}

void Publisher::send_metadata(const std::string& id, Peer& peer)
{
    peer.need_metadata = false;
    if (metadata_json_.empty())
        return;
    wire::FrameHeader header;
    header.kind = wire::Kind::StreamMetadata;
    header.session = peer.session;
    header.format_generation = metadata_generation_;
    header.payload_size = metadata_json_.size();
    std::array<std::byte, wire::kFrameHeaderSize> bytes{};
    wire::encode(header, bytes);
    if (zmq_send(router_.get(), id.data(), id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        peer.gone = true;
        return;
    }
    zmq_send(router_.get(), bytes.data(), bytes.size(), ZMQ_SNDMORE);
    zmq_send(router_.get(), metadata_json_.data(), metadata_json_.size(), 0);
}

bool Publisher::send_frame(const std::string& id, Peer& peer, LentFrame& lent, const FrameInfo& info)
{
    const Frame& frame = lent.frame;
    if (zmq_send(router_.get(), id.data(), id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EHOSTUNREACH)
            peers_.depart(peer, "disconnected");
        else
            drop(peer, "socket queue full");
        return false;
    }
    wire::FrameHeader header;
    header.kind = wire::Kind::Frame;
    header.session = peer.session;
    header.sequence = frame.sequence();
    header.format_generation = frame.format_generation();
    header.info = info;
    header.payload_size = frame.payload().size();
    header.metadata_size = static_cast<std::uint32_t>(frame.metadata().size());
    const std::size_t header_size = wire::kFrameHeaderSize + frame.metadata().size();
    if (header_buffer_.size() < header_size)
        header_buffer_.resize(header_size); // Grows once to the largest blob, then reused.
    wire::encode(header, std::span<std::byte, wire::kFrameHeaderSize>(header_buffer_.data(), wire::kFrameHeaderSize));
    if (!frame.metadata().empty())
        std::memcpy(header_buffer_.data() + wire::kFrameHeaderSize, frame.metadata().data(), frame.metadata().size());
    zmq_send(router_.get(), header_buffer_.data(), header_size, ZMQ_SNDMORE);
    if (frame.payload().empty()) {
        zmq_send(router_.get(), nullptr, 0, 0);
    } else {
        // Zero copy: the message points into ring memory; libzmq gives the frame back through give_back_frame.
        lent.users.fetch_add(1, std::memory_order_relaxed);
        zmq_msg_t payload;
        // libzmq never writes through this pointer; the API only lacks a const overload.
        void* data = const_cast<std::byte*>(frame.payload().data());
        zmq_msg_init_data(&payload, data, frame.payload().size(), give_back_frame, &lent);
        if (zmq_msg_send(&payload, router_.get(), 0) < 0)
            zmq_msg_close(&payload);
    }
    ++peer.sent;
    ++peer.delivered;
    peer.sent_any = true;
    peer.last_sequence = frame.sequence();
    return true;
}

bool Publisher::replay(const std::string& id, Peer& peer)
{
    const std::span<const CachedFrame> cached_frames = gop_.frames();
    const std::size_t count = cached_frames.size() - 1; // The newest cached frame is the live one, sent next.
    const std::uint64_t sent_before = peer.sent;
    std::uint64_t undropped = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const CachedFrame& cached = cached_frames[i];
        if (zmq_send(router_.get(), id.data(), id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            if (zmq_errno() == EHOSTUNREACH)
                peers_.depart(peer, "disconnected");
            break; // Queue full: the live frame then shows the gap and the peer waits for the next keyframe.
        }
        wire::FrameHeader header;
        header.kind = wire::Kind::Frame;
        header.session = peer.session;
        header.sequence = cached.sequence;
        header.format_generation = cached.format_generation;
        header.info = cached.info;
        if (i == 0)
            header.info.flags |= kFrameDiscontinuity; // The peer joined or skipped: frames are missing before it.
        header.payload_size = cached.payload().size();
        header.metadata_size = static_cast<std::uint32_t>(cached.metadata_size);
        const std::size_t header_size = wire::kFrameHeaderSize + cached.metadata_size;
        if (header_buffer_.size() < header_size)
            header_buffer_.resize(header_size);
        wire::encode(header,
                     std::span<std::byte, wire::kFrameHeaderSize>(header_buffer_.data(), wire::kFrameHeaderSize));
        if (cached.metadata_size > 0)
            std::memcpy(header_buffer_.data() + wire::kFrameHeaderSize, cached.bytes.data(), cached.metadata_size);
        zmq_send(router_.get(), header_buffer_.data(), header_size, ZMQ_SNDMORE);
        // A copy (libzmq owns it): the cache slot is reused by the next GOP while the message may still queue.
        zmq_send(router_.get(), cached.payload().data(), cached.payload().size(), 0);
        ++peer.sent;
        ++peer.delivered;
        peer.sent_any = true;
        peer.last_sequence = cached.sequence;
        if (peer.considered_any && cached.sequence >= peer.first_considered)
            ++undropped; // Counted as dropped for this peer when it went by: delivered after all.
    }
    const std::uint64_t sent = peer.sent - sent_before;
    peer.burst = sent; // send() starts no replay before the previous one is acknowledged
    peer.burst_end = peer.sent;
    undropped = std::min(undropped, peer.dropped);
    peer.dropped -= undropped;
    dropped_total_ -= undropped;
    stats_.drops.fetch_sub(undropped, std::memory_order_relaxed);
    if (++peer.replays == 1 || peer.replays % 1000 == 0)
        log_route(route_name_, "subscriber #" + std::to_string(peer.number) + ": resumed from the newest keyframe (" +
                                   "sequence " + std::to_string(cached_frames[0].sequence) + ", " +
                                   std::to_string(count) + " cached frame(s)), " + std::to_string(peer.replays) +
                                   " resumption(s) so far");
    return sent == count;
}

bool Publisher::has_credit(const Peer& peer) const noexcept
{
    // Frames replayed from the GOP cache do not use up the window until the receiver has acknowledged them.
    const std::uint64_t allowance = peer.acked < peer.burst_end ? peer.burst : 0;
    return peer.sent - peer.acked < peer.window + allowance;
}

LentFrame* Publisher::take_lent_frame(const std::atomic<bool>& stop)
{
    while (!stop.load(std::memory_order_relaxed)) {
        for (std::size_t i = 0; i < kLentFrames; ++i)
            if (!lent_[i].busy.load(std::memory_order_acquire))
                return &lent_[i];
        service(std::chrono::milliseconds(1)); // All lent: libzmq is still sending; keep serving subscribers.
    }
    return nullptr;
}

void Publisher::send(Frame frame, FrameInfo info, const std::atomic<bool>& stop)
{
    peers_.erase_gone();
    gop_.add(frame, info, encoded_);
    if (peers_.empty()) {
        // Nobody subscribed: the frame is released unsent; counted and logged, not charged to any subscriber.
        if (unsent_++ == 0 || unsent_ % 1000 == 0)
            log_route(route_name_, "no subscriber: " + std::to_string(unsent_) +
                                       " frame(s) not sent (use ?wait-peers=N to wait for subscribers)");
        return;
    }
    LentFrame* lent = take_lent_frame(stop);
    if (lent == nullptr)
        return;
    lent->frame = std::move(frame);
    lent->busy.store(true, std::memory_order_relaxed);
    lent->users.store(1, std::memory_order_relaxed); // The reference of this function, dropped at the end.
    const bool must_deliver = (info.flags & kFrameEndOfStream) != 0;
    const bool starts_decoding = (info.flags & (kFrameKeyframe | kFrameHeader)) != 0;
    for (auto& [id, peer] : peers_.peers()) {
        if (peer.gone)
            continue;
        if (peer.need_metadata)
            send_metadata(id, peer);
        const std::uint64_t sequence = lent->frame.sequence();
        if (!peer.considered_any || sequence <= peer.last_considered) {
            // First frame for this peer, or the source ring restarted (its sequence numbers start again): what
            // the peer got before says nothing about the frames of this incarnation.
            peer.considered_any = true;
            peer.first_considered = sequence;
            peer.sent_any = false;
        }
        peer.last_considered = sequence;
        if (encoded_ && peer.need_keyframe && !starts_decoding && !must_deliver) {
            // One replay in flight at a time: what a receiver may have to hold stays window + one cache bound
            // (its connection guard relies on it), even when it is stuck and new GOPs keep coming.
            const bool replay_in_flight = peer.acked < peer.burst_end;
            if (replay_in_flight || !gop_.can_replay(peer.sent_any, peer.last_sequence, sequence)) {
                drop(peer, "waiting for a keyframe");
                continue;
            }
            // The cached GOP first, then this frame live: no gap, no duplicate.
            if (!replay(id, peer)) {
                if (!peer.gone)
                    drop(peer, "socket queue full while resuming from the keyframe");
                continue;
            }
        }
        bool deliver = true;
        auto last_ping = std::chrono::steady_clock::now();
        while (!peer.gone && !has_credit(peer)) {
            if (peer.policy == FlowPolicy::Latest && !must_deliver) {
                drop(peer, "subscriber has no credit, policy latest");
                deliver = false;
                break;
            }
            if (stop.load(std::memory_order_relaxed)) {
                deliver = false;
                break;
            }
            service(std::chrono::milliseconds(20)); // Lossless: wait for credit (back-pressure to the ring).
            if (std::chrono::steady_clock::now() - last_ping > std::chrono::milliseconds(500)) {
                ping(id, peer); // A subscriber killed without goodbye must not block the others forever.
                last_ping = std::chrono::steady_clock::now();
            }
        }
        if (deliver && !peer.gone && send_frame(id, peer, *lent, info))
            peer.need_keyframe = false;
    }
    give_back_frame(nullptr, lent);
}

void Publisher::log_summary() const
{
    peers_.log_summary();
    if (guard_->refused() + guard_->dropped() > 0)
        log_route(route_name_, "connections refused (max-peers=" + std::to_string(endpoint_.max_peers) +
                                   "): " + std::to_string(guard_->refused()) +
                                   ", dropped for holding too much: " + std::to_string(guard_->dropped()));
    if (unsent_ > 0)
        log_route(route_name_, std::to_string(unsent_) + " frame(s) read while no subscriber was connected");
}

} // namespace zerobuffer::relay
