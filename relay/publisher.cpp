// SPDX-License-Identifier: MIT
// Sending side of a network route: the bound ROUTER with its guard and ZAP handler, subscribers' control messages,
// payload streams. Sending frames is publisher_send.cpp.
#include "publisher.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <span>
#include <thread>

#include <zmq.h>

#include "ring_io.h"
#include "route_security.h"
#include "wire.h"

namespace zerobuffer::relay {

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
    // Plain tcp: payloads may go on payload streams of our own (see payload_stream.h); without it, through ZeroMQ.
    if (!curve && publisher->bound_address_.starts_with("tcp://")) {
        auto listener = PayloadListener::listen(publisher->bound_address_, endpoint.max_peers);
        if (listener)
            publisher->stream_listener_ = std::move(*listener);
        else
            log_route(route.name, listener.error().message + "; payloads go through ZeroMQ");
    }
    log_route(route.name, "publishing on " + publisher->bound_address_ +
                              (curve                                    ? " (CURVE)"
                               : endpoint.address.starts_with("tcp://") ? " (INSECURE plain tcp)"
                                                                        : ""));
    return publisher;
}

Publisher::~Publisher()
{
    streams_.clear(); // Joins their threads; they give back every frame still queued.
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
    service_streams();
    const std::uint64_t guarded = guard_->dropped() + guard_->refused();
    stats_.rejected.fetch_add(guarded - guarded_counted_, std::memory_order_relaxed);
    guarded_counted_ = guarded;
    if (zap_) { // Clients whose CURVE key is not allowed (the handler's thread logged each one).
        const std::uint64_t refused = zap_->refused();
        stats_.curve_refusals.fetch_add(refused - zap_counted_, std::memory_order_relaxed);
        stats_.rejected.fetch_add(refused - zap_counted_, std::memory_order_relaxed);
        zap_counted_ = refused;
    }
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
    bool admitted = true;
    std::array<std::byte, wire::kControlSize> body{};
    std::size_t body_size = 0;
    while (more) {
        if (zmq_msg_recv(&part, router_.get(), ZMQ_DONTWAIT) < 0)
            break;
        more = zmq_msg_more(&part) != 0;
        if (index > 0) // the routing id (part 0) is ROUTER's, not the peer's
            admitted = guard_->received(&part, guard_->wire_size(zmq_msg_size(&part))) && admitted;
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
    if (!admitted) {
        return; // from a subscriber past max-peers that the guard is refusing
    }
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
    if (message->kind == wire::Kind::StreamRequest)
        offer_stream(id, *message);
}

void Publisher::offer_stream(const std::string& id, const wire::ControlMessage& message)
{
    auto found = peers_.peers().find(id);
    if (stream_listener_ == nullptr || found == peers_.peers().end() || found->second.gone ||
        found->second.session != message.session)
        return;
    if (auto slot = streams_.find(id); slot != streams_.end() && slot->second.session == message.session)
        return; // Offered already in this session.
    std::random_device entropy;
    StreamSlot slot;
    slot.session = message.session;
    slot.token = (std::uint64_t{entropy()} << 32) ^ entropy(); // Whoever presents it gets this session's payloads.
    wire::StreamOffer offer{slot.token, stream_listener_->port()};
    streams_[id] = std::move(slot);
    wire::FrameHeader header;
    header.kind = wire::Kind::StreamOffer;
    header.session = message.session;
    header.payload_size = wire::kStreamOfferSize;
    std::array<std::byte, wire::kFrameHeaderSize> bytes{};
    wire::encode(header, bytes);
    std::array<std::byte, wire::kStreamOfferSize> body{};
    wire::encode(offer, body);
    if (zmq_send(router_.get(), id.data(), id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    zmq_send(router_.get(), bytes.data(), bytes.size(), ZMQ_SNDMORE);
    zmq_send(router_.get(), body.data(), body.size(), 0);
}

void Publisher::service_streams()
{
    if (stream_listener_ == nullptr)
        return;
    const std::uint64_t refused_before = stream_listener_->refused();
    for (PayloadListener::Identified& identified : stream_listener_->poll()) {
        auto slot = std::find_if(streams_.begin(), streams_.end(), [&](const auto& entry) {
            return entry.second.token == identified.token && entry.second.sender == nullptr;
        });
        if (slot == streams_.end()) {
            reject("a payload stream presented a token no subscriber was offered");
            continue; // Closed when `identified` goes.
        }
        slot->second.sender = std::make_unique<PayloadSender>(std::move(identified.connection), slot->second.session);
        if (auto peer = peers_.peers().find(slot->first); peer != peers_.peers().end())
            log_route(route_name_, "subscriber #" + std::to_string(peer->second.number) + ": payload stream connected");
    }
    stats_.rejected.fetch_add(stream_listener_->refused() - refused_before, std::memory_order_relaxed);
    // Streams of sessions that ended (a new HELLO, a departed subscriber) are closed.
    std::erase_if(streams_, [&](const auto& entry) {
        auto peer = peers_.peers().find(entry.first);
        return peer == peers_.peers().end() || peer->second.gone || peer->second.session != entry.second.session;
    });
}

PayloadSender* Publisher::stream_of(const std::string& id, const Peer& peer)
{
    auto slot = streams_.find(id);
    if (slot == streams_.end() || slot->second.session != peer.session || slot->second.sender == nullptr)
        return nullptr;
    return slot->second.sender.get();
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
