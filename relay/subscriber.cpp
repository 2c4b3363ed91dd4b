// SPDX-License-Identifier: MIT
// Receiving side of a network route: credit-based flow control, strict message checks, payloads received straight
// into the ring on plain tcp (payload stream) or copied once from libzmq's buffer into each ring.
#include "subscriber.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include <zmq.h>

#include "bounded_json.h"
#include "connection_guard.h"
#include "gop_cache.h"
#include "log_budget.h"
#include "payload_stream.h"
#include "route_security.h"
#include "wire.h"
#include "zmq_util.h"

namespace zerobuffer::relay {

namespace {

/// What a sending relay may have in flight to us within the protocol, and so what the connection guard lets libzmq
/// hold for it: `window` frames of up to max-frame with their blob and header, the GOP replay it may send beyond
/// the window (one at a time, at most the cache bound; counted twice as a margin) and a stream-metadata document;
/// beyond that it breaks the protocol (or sends an endless multipart message).
std::uint64_t receive_bound(const Endpoint& endpoint)
{
    constexpr std::uint64_t kPerFrame = wire::kFrameHeaderSize + 128; // header and ZMTP/CURVE framing of 2 parts
    const std::uint64_t frame = endpoint.max_frame + wire::kMaxMetadataBlob + kPerFrame;
    const std::uint64_t replays = 2 * (GopCache::kMaxBytes + GopCache::kMaxFrames * kPerFrame);
    return std::uint64_t{endpoint.window} * frame + replays + wire::kMaxStreamMetadata + (std::uint64_t{1} << 20);
}

/// State of the receiving side; one per route thread.
class Subscriber {
public:
    Subscriber(const RouteConfig& route, std::vector<OutputRing>& outputs, RouteStats& stats)
        : route_(route), endpoint_(route.from), outputs_(outputs), stats_(stats),
          connection_log_(20, std::chrono::seconds(10), "connection events",
                          [name = route.name](const std::string& line) { log_route(name, line); })
    {
        std::random_device entropy;
        // Sessions tell this incarnation's messages from older ones still in flight; random so that a
        // restarted receiver never reuses one.
        next_session_ = (std::uint64_t{entropy()} << 32) ^ entropy();
        // Plain tcp takes payloads on a payload stream of our own (recv() into the reservation); CURVE stays
        // libzmq's, so the keys keep deciding everything there.
        stream_wanted_ = !uses_curve(route.security);
        zmq_msg_init(&header_);
        zmq_msg_init(&payload_);
    }
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;
    ~Subscriber()
    {
        zmq_msg_close(&header_);
        zmq_msg_close(&payload_);
        guard_.reset();
        dealer_.close();
    }

    RelayResult<void> connect(const std::string& address)
    {
        address_ = address;
        dealer_ = ZmqSocket(context_.get(), ZMQ_DEALER);
        void* dealer = dealer_.get();
        if (dealer == nullptr)
            return relay_error(RelayErrc::Network, "cannot create a ZeroMQ socket: " + zmq_error_text());
        const std::int64_t max_message =
            static_cast<std::int64_t>(endpoint_.max_frame + wire::kMaxMetadataBlob + wire::kFrameHeaderSize);
        // A bigger message makes libzmq drop the connection before allocating it (hostile sizes).
        if (zmq_setsockopt(dealer, ZMQ_MAXMSGSIZE, &max_message, sizeof max_message) != 0)
            return relay_error(RelayErrc::Network, "cannot set ZMQ_MAXMSGSIZE: " + zmq_error_text());
        for (const auto& [option, value] :
             {std::pair{ZMQ_RECONNECT_IVL, 100}, std::pair{ZMQ_RECONNECT_IVL_MAX, 5000},
              std::pair{ZMQ_HEARTBEAT_IVL, 1000}, std::pair{ZMQ_HEARTBEAT_TIMEOUT, 5000},
              std::pair{ZMQ_HEARTBEAT_TTL, 6000}, std::pair{ZMQ_RCVHWM, 1000}, std::pair{ZMQ_SNDHWM, 1000}}) {
            if (auto ok = set_int_option(dealer, option, value); !ok)
                return ok;
        }
        // CURVE to the pinned --server-key whenever the route has keys, whatever the address: never plain.
        const bool curve = uses_curve(route_.security);
        if (curve) {
            if (auto ok = apply_curve(dealer, route_.security, false); !ok)
                return ok;
        }
        // A hostile sender must not grow our memory beyond what the protocol lets a real one have in flight.
        ConnectionGuard::Limits limits{0, receive_bound(endpoint_), curve, {}};
        const std::string name = route_.name;
        auto guard = ConnectionGuard::start(
            context_.get(), dealer, std::move(limits),
            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED,
            "subscriber-" + route_.name, [name](const std::string& line) { log_route(name, line); });
        if (!guard)
            return relay_error(RelayErrc::Network, guard.error().message);
        guard_ = std::move(*guard);
        if (zmq_connect(dealer, address.c_str()) != 0)
            return relay_error(RelayErrc::Network, "cannot connect to '" + address + "': " + zmq_error_text());
        log_route(route_.name, "connecting to " + address +
                                   (curve                           ? " (CURVE)"
                                    : address.starts_with("tcp://") ? " (INSECURE plain tcp)"
                                                                    : ""));
        return {};
    }

    void run(const std::atomic<bool>& stop, const Rediscover& rediscover)
    {
        auto last_credit = std::chrono::steady_clock::now();
        down_since_ = last_credit;
        while (!stop.load(std::memory_order_relaxed)) {
            if (rediscover && !connected_ && std::chrono::steady_clock::now() - down_since_ > std::chrono::seconds(5)) {
                down_since_ = std::chrono::steady_clock::now();
                if (auto moved = rediscover(); moved && *moved != address_) {
                    // The publisher moved (restarted elsewhere): follow it.
                    log_route(route_.name, "the broker now gives " + *moved + " (was " + address_ + ")");
                    zmq_disconnect(dealer_.get(), address_.c_str());
                    if (zmq_connect(dealer_.get(), moved->c_str()) == 0)
                        address_ = *moved;
                    else
                        log_route(route_.name, "cannot connect to '" + *moved + "': " + zmq_error_text());
                }
            }
            std::array<zmq_pollitem_t, 2> items{zmq_pollitem_t{dealer_.get(), 0, ZMQ_POLLIN, 0},
                                                zmq_pollitem_t{guard_->events(), 0, ZMQ_POLLIN, 0}};
            zmq_poll(items.data(), 2, 100);
            while (auto event = read_monitor_event(guard_->events()))
                handle_event(*event);
            connection_log_.flush();
            for (int i = 0; i < 16 && !stop.load(std::memory_order_relaxed); ++i) {
                if (!receive_one(stop))
                    break;
            }
            const auto now = std::chrono::steady_clock::now();
            // Credit when half the window is used, and at least every 500 ms as a keepalive.
            if (session_ != 0 && (received_ - reported_ >= std::max<std::uint32_t>(1, endpoint_.window / 2) ||
                                  now - last_credit > std::chrono::milliseconds(500))) {
                send_control(wire::Kind::Credit);
                last_credit = now;
            }
        }
    }

    void log_summary() const
    {
        log_route(route_.name, "received " + std::to_string(frames_) + " frames, rejected " +
                                   std::to_string(rejected_) + " messages, ignored " + std::to_string(stale_) +
                                   " of earlier sessions");
        for (const OutputRing& output : outputs_)
            output.log_summary();
    }

private:
    void handle_event(const MonitorEvent& event)
    {
        switch (event.event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            if (ever_connected_)
                stats_.reconnects.fetch_add(1, std::memory_order_relaxed);
            ever_connected_ = true;
            connected_ = true;
            session_ = ++next_session_;
            received_ = 0;
            reported_ = 0;
            first_of_session_ = true;
            stream_.reset();
            send_control(wire::Kind::Hello);
            if (stream_wanted_ && address_.starts_with("tcp://"))
                send_control(wire::Kind::StreamRequest);
            stats_.peers.store(1, std::memory_order_relaxed);
            connection_log_.line("connected to " + event.address + " (session " + std::to_string(session_ % 10000) +
                                 ")");
            break;
        case ZMQ_EVENT_DISCONNECTED:
            connected_ = false;
            stream_.reset();
            down_since_ = std::chrono::steady_clock::now();
            stats_.peers.store(0, std::memory_order_relaxed);
            stats_.disconnects.fetch_add(1, std::memory_order_relaxed);
            connection_log_.line("lost the connection to " + event.address + "; reconnecting with back-off");
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            stats_.curve_refusals.fetch_add(1, std::memory_order_relaxed);
            connection_log_.line("the sender at " + event.address +
                                 " refused our key: add our .pub key to its allowed-keys file");
            break;
        default:
            connection_log_.line("handshake with " + event.address +
                                 " failed: check --server-key (the sender's .pub), our --curve-secret, and that both "
                                 "sides use CURVE or both --insecure");
            break;
        }
    }

    void send_control(wire::Kind kind)
    {
        wire::ControlMessage message;
        message.kind = kind;
        message.session = session_;
        message.received = received_;
        message.window = endpoint_.window;
        message.policy = endpoint_.policy == FlowPolicy::Latest ? 1 : 0;
        std::array<std::byte, wire::kControlSize> bytes{};
        wire::encode(message, bytes);
        if (zmq_send(dealer_.get(), bytes.data(), bytes.size(), ZMQ_DONTWAIT) >= 0)
            reported_ = received_;
    }

    /// STREAM-OFFER: connect the payload stream the sender offers for this session (or stay on ZeroMQ).
    void accept_offer(std::span<const std::byte> body)
    {
        auto offer = wire::decode_stream_offer(body);
        if (!offer) {
            reject(offer.error());
            return;
        }
        if (!stream_wanted_ || stream_)
            return; // Not asked for (CURVE), or we have one: the sender keeps using what works.
        auto connected = PayloadReceiver::connect(address_, offer->port, offer->token, std::chrono::seconds(2));
        if (!connected) {
            connection_log_.line(connected.error().message + "; payloads keep coming through ZeroMQ");
            return;
        }
        stream_.emplace(std::move(*connected));
        connection_log_.line("payload stream connected (port " + std::to_string(offer->port) + ")");
    }

    /// After a broken payload stream: a new session, so that the sender starts over (and offers a new stream).
    void restart_session()
    {
        stream_.reset();
        session_ = ++next_session_;
        received_ = 0;
        reported_ = 0;
        first_of_session_ = true;
        send_control(wire::Kind::Hello);
        if (stream_wanted_ && address_.starts_with("tcp://"))
            send_control(wire::Kind::StreamRequest);
    }

    /// Receives a payload from the payload stream straight into the output ring's reservation (into a scratch
    /// buffer first when there are several outputs, or the frame is dropped). False when it did not arrive whole.
    bool write_from_stream(std::uint64_t size, std::span<const std::byte> blob, const FrameInfo& info,
                           const std::atomic<bool>& stop)
    {
        constexpr std::chrono::seconds kIdle{5};
        const auto read = [&](std::span<std::byte> target) { return stream_->read_exactly(target, stop, kIdle); };
        if (outputs_.size() == 1) {
            bool filled = false;
            const auto outcome = outputs_.front().write_filled(size, blob, info, encoded_, stop,
                                                               [&](std::span<std::byte> target) {
                                                                   filled = true;
                                                                   return read(target);
                                                               });
            if (filled)
                return outcome != OutputRing::Outcome::Broken;
        }
        scratch_.resize(size); // Grows to the largest frame once (at most max-frame).
        const std::span<std::byte> bytes(scratch_.data(), size);
        if (!read(bytes))
            return false;
        if (outputs_.size() != 1)
            for (OutputRing& output : outputs_)
                output.write(bytes, blob, info, encoded_, stop);
        return true;
    }

    void reject(const std::string& why)
    {
        ++rejected_;
        stats_.rejected.fetch_add(1, std::memory_order_relaxed);
        if (rejected_ <= 20 || rejected_ % 1000 == 0)
            log_route(route_.name,
                      "dropped a bad message from the sender: " + why + " (" + std::to_string(rejected_) + " so far)");
    }

    /// Receives and handles one message; false when none is waiting.
    bool receive_one(const std::atomic<bool>& stop)
    {
        if (zmq_msg_recv(&header_, dealer_.get(), ZMQ_DONTWAIT) < 0)
            return false;
        if (zmq_msg_more(&header_) == 0) {
            guard_->received(&header_, guard_->wire_size(zmq_msg_size(&header_)));
            reject("message of 1 part, expected 2 (header, payload)");
            return true;
        }
        zmq_msg_recv(&payload_, dealer_.get(), 0); // The rest of a multipart message is already here.
        // Counted before anything else: what libzmq held for this message is ours now.
        std::uint64_t wire_bytes =
            guard_->wire_size(zmq_msg_size(&header_)) + guard_->wire_size(zmq_msg_size(&payload_));
        if (zmq_msg_more(&payload_) != 0) {
            std::size_t parts = 2;
            while (zmq_msg_more(&payload_) != 0 && zmq_msg_recv(&payload_, dealer_.get(), 0) >= 0) {
                wire_bytes += guard_->wire_size(zmq_msg_size(&payload_));
                ++parts;
            }
            guard_->received(&header_, wire_bytes);
            reject("message of " + std::to_string(parts) + " parts, expected 2");
            return true;
        }
        guard_->received(&header_, wire_bytes);
        const std::span<const std::byte> header_part(static_cast<const std::byte*>(zmq_msg_data(&header_)),
                                                     zmq_msg_size(&header_));
        const std::span<const std::byte> payload(static_cast<const std::byte*>(zmq_msg_data(&payload_)),
                                                 zmq_msg_size(&payload_));
        auto header = wire::decode_frame_header(header_part);
        if (!header) {
            reject(header.error());
            return true;
        }
        if (header->session != session_) {
            ++stale_; // From an earlier connection of ours, still in flight: expected after reconnects.
            return true;
        }
        const bool on_stream = (header->header_flags & wire::kHeaderPayloadOnStream) != 0;
        if (on_stream && !payload.empty()) {
            reject("a frame whose payload is on the payload stream has a payload part of " +
                   std::to_string(payload.size()) + " bytes");
            restart_session(); // Where its payload bytes are is anyone's guess: start over.
            return true;
        }
        if (!on_stream && header->payload_size != payload.size()) {
            reject("header says " + std::to_string(header->payload_size) + " payload bytes, the payload part has " +
                   std::to_string(payload.size()));
            return true;
        }
        if (header->kind == wire::Kind::Ping)
            return true;
        if (header->kind == wire::Kind::StreamOffer) {
            accept_offer(payload);
            return true;
        }
        if (on_stream && !stream_) {
            // The sender thinks we have a payload stream we do not have (it broke): start over in a new session.
            reject("a payload on a payload stream this session does not have");
            restart_session();
            return true;
        }
        if (header->kind == wire::Kind::StreamMetadata) {
            const std::string json(reinterpret_cast<const char*>(payload.data()), payload.size());
            // Checked before anything walks it: the core and every reader of the ring parse it recursively.
            if (auto problem = check_json(json, {wire::kMaxStreamMetadataDepth, wire::kMaxStreamMetadata})) {
                reject(problem->refusal == JsonRefusal::NotJson ? "stream metadata is not JSON"
                                                                : "stream metadata " + problem->message);
                return true;
            }
            encoded_ = is_encoded_stream(json);
            for (OutputRing& output : outputs_)
                output.publish_stream_metadata(json);
            return true;
        }
        if (header->payload_size > endpoint_.max_frame) {
            reject("payload of " + std::to_string(header->payload_size) + " bytes is over max-frame");
            if (on_stream)
                restart_session(); // Its bytes are on the stream, which we will not read: this session is over.
            return true;
        }
        ++received_;
        FrameInfo info = header->info;
        // Something is missing before this frame: a jump in the source sequence (drops for a latest subscriber,
        // a sender restart), or a first frame that is not the start of its stream (we joined or rejoined late).
        const bool gap = first_of_session_ ? header->sequence != 0
                                           : !last_was_end_of_stream_ && header->sequence != last_sequence_ + 1;
        if (gap)
            info.flags |= kFrameDiscontinuity;
        if (!first_of_session_ && !last_was_end_of_stream_ && header->sequence > last_sequence_ + 1)
            stats_.count_drop(DropReason::UpstreamGap, header->sequence - last_sequence_ - 1);
        first_of_session_ = false;
        last_sequence_ = header->sequence;
        last_was_end_of_stream_ = (info.flags & kFrameEndOfStream) != 0;
        const std::span<const std::byte> blob = header_part.subspan(wire::kFrameHeaderSize);
        if (on_stream) {
            if (!write_from_stream(header->payload_size, blob, info, stop)) {
                // Not one byte of a torn payload was committed; the frames after it follow a gap.
                if (!stop.load(std::memory_order_relaxed)) {
                    reject("the payload stream ended in the middle of a frame (the sender stopped or the connection "
                           "broke); the frame was not written");
                    restart_session();
                }
                return true;
            }
        } else {
            // One copy: from libzmq's receive buffer into each output ring's reservation.
            for (OutputRing& output : outputs_)
                output.write(payload, blob, info, encoded_, stop);
        }
        ++frames_;
        stats_.frames.fetch_add(1, std::memory_order_relaxed);
        stats_.bytes.fetch_add(header->payload_size, std::memory_order_relaxed);
        std::uint64_t drops = 0;
        for (const OutputRing& output : outputs_)
            drops += output.dropped();
        stats_.drops.store(drops, std::memory_order_relaxed);
        return true;
    }

    const RouteConfig& route_;
    const Endpoint& endpoint_;
    std::vector<OutputRing>& outputs_;
    RouteStats& stats_;
    ZmqContext context_;
    ZmqSocket dealer_;
    std::unique_ptr<ConnectionGuard> guard_; ///< Owns the dealer's monitor; destroyed before the context.
    /// Connects, losses and failed handshakes: a sender that fails every handshake makes libzmq retry every 100 ms.
    LogBudget connection_log_;
    zmq_msg_t header_; ///< Reused for every message: libzmq's buffers, no allocation of ours per frame.
    zmq_msg_t payload_;
    bool stream_wanted_ = false;
    std::optional<PayloadReceiver> stream_; ///< This session's payload stream, once connected.
    std::vector<std::byte> scratch_;        ///< Payloads from the stream that do not go straight into one ring.
    std::string address_;
    bool connected_ = false;
    bool ever_connected_ = false; ///< A handshake succeeded before: the next one is a reconnection.
    std::chrono::steady_clock::time_point down_since_;
    std::uint64_t next_session_ = 0;
    std::uint64_t session_ = 0; ///< 0 until connected.
    std::uint64_t received_ = 0;
    std::uint64_t reported_ = 0;
    std::uint64_t last_sequence_ = 0;
    bool first_of_session_ = true;
    bool last_was_end_of_stream_ = false;
    bool encoded_ = false;
    std::uint64_t frames_ = 0;
    std::uint64_t rejected_ = 0;
    std::uint64_t stale_ = 0;
};

} // namespace

RelayResult<void> run_subscriber(const RouteConfig& route, const std::string& address, std::vector<OutputRing>& outputs,
                                 RouteStats& stats, const std::atomic<bool>& stop, const Rediscover& rediscover)
{
    Subscriber subscriber(route, outputs, stats);
    if (auto ok = subscriber.connect(address); !ok)
        return ok;
    subscriber.run(stop, rediscover);
    subscriber.log_summary();
    return {};
}

} // namespace zerobuffer::relay
