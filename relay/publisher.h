// SPDX-License-Identifier: MIT
// The sending side of a network route: a bound ROUTER that sends ring frames zero-copy to each subscriber
// within that subscriber's credit window (per-subscriber flow control, lossless or latest).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <zerobuffer/reader.h>

#include "config.h"
#include "connection_guard.h"
#include "gop_cache.h"
#include "keys.h"
#include "lent_frame.h"
#include "payload_stream.h"
#include "peer_table.h"
#include "relay_error.h"
#include "route.h"
#include "zmq_util.h"

namespace zerobuffer::relay {

class Publisher {
public:
    /// Binds the endpoint (with CURVE and the ZAP handler unless the route is insecure or not tcp).
    [[nodiscard]] static RelayResult<std::unique_ptr<Publisher>> start(const RouteConfig& route,
                                                                       const Endpoint& endpoint, RouteStats& stats);
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;
    /// Closes the socket, waits until libzmq gave back every lent frame.
    ~Publisher();

    /// Handles subscriber messages and socket events for up to `wait`.
    void service(std::chrono::milliseconds wait);
    /// True until `wait-peers` subscribers have joined.
    [[nodiscard]] bool waiting_for_peers() const noexcept { return peers_.size() < endpoint_.wait_peers; }
    /// True when no frame is lent to libzmq (the source reader may be dropped).
    [[nodiscard]] bool idle() const noexcept;
    void set_stream_metadata(const std::string& json, std::uint32_t generation, bool encoded);
    /// Sends a frame to every subscriber (or counts it as dropped for that subscriber). Lossless subscribers
    /// without credit make this wait (back-pressure), handling socket traffic meanwhile, until `stop`.
    void send(Frame frame, FrameInfo info, const std::atomic<bool>& stop);
    /// The address a receiver connects to (for the broker): the bound one, or the --advertise one.
    [[nodiscard]] std::string connect_address() const;
    void log_summary() const;
    [[nodiscard]] std::uint64_t dropped_total() const noexcept { return dropped_total_; }

private:
    Publisher(const RouteConfig& route, const Endpoint& endpoint, RouteStats& stats);
    void handle_message();
    void handle_control(const std::string& id, const std::byte* data, std::size_t size);
    void drop(Peer& peer, DropReason reason, const char* why);
    void send_metadata(const std::string& id, Peer& peer);
    /// Finds out whether a subscriber is still connected (ROUTER_MANDATORY refuses sends to vanished ones).
    void ping(const std::string& id, Peer& peer);
    bool send_frame(const std::string& id, Peer& peer, LentFrame& lent, const FrameInfo& info);
    /// Sends the cached GOP except its newest frame (the live one, sent next), outside the credit window.
    /// False when not all of it could be sent (the live frame must then not follow).
    bool replay(const std::string& id, Peer& peer);
    [[nodiscard]] bool has_credit(const Peer& peer) const noexcept;
    LentFrame* take_lent_frame(const std::atomic<bool>& stop);
    void reject(const std::string& why);
    /// STREAM-REQUEST of a subscriber's current session: offer it a payload stream (once per session).
    void offer_stream(const std::string& id, const wire::ControlMessage& message);
    /// Attaches the payload streams that identified themselves; forgets those of sessions that ended.
    void service_streams();
    /// The payload stream of this peer's session, if it has one that works; nullptr otherwise.
    PayloadSender* stream_of(const std::string& id, const Peer& peer);

    std::string route_name_;
    Endpoint endpoint_;
    SecurityConfig security_;
    std::string advertise_;
    RouteStats& stats_;
    // Destruction order matters (see the destructor): the guard, then the socket, the ZAP handler, the context.
    ZmqContext context_;
    std::unique_ptr<ZapHandler> zap_;
    ZmqSocket router_;
    std::unique_ptr<ConnectionGuard> guard_;       ///< Bounds connections and what each may make libzmq hold.
    std::unique_ptr<LentFrame[]> lent_;            ///< kLentFrames entries.
    static constexpr std::size_t kLentFrames = 32; ///< Frames lent to libzmq at once, at most.
    /// What one subscriber connection may make libzmq hold beyond the messages read (subscribers send 32-byte
    /// control messages: this is some two thousand of them).
    static constexpr std::uint64_t kMaxHeldPerSubscriber = 64 * 1024;
    PeerTable peers_;
    GopCache gop_;
    std::string metadata_json_;
    std::uint32_t metadata_generation_ = 0;
    bool encoded_ = false;
    std::vector<std::byte> header_buffer_; ///< Reused: header + per-frame metadata blob.
    /// Plain tcp: where receivers connect their payload streams (null for CURVE, ipc, or if it cannot listen).
    std::unique_ptr<PayloadListener> stream_listener_;
    struct StreamSlot {
        std::uint64_t session = 0;
        std::uint64_t token = 0;
        std::unique_ptr<PayloadSender> sender; ///< Null until the receiver connected.
    };
    std::map<std::string, StreamSlot> streams_; ///< By routing id; destroyed first (gives back lent frames).

    std::uint64_t rejected_ = 0;
    std::uint64_t guarded_counted_ = 0; ///< The guard's refusals and drops already added to stats_.rejected.
    std::uint64_t zap_counted_ = 0;     ///< The ZAP handler's refusals already added to stats_.
    LogBudget handshake_log_;           ///< Failed handshakes: one line each, within a budget.
    std::uint64_t dropped_total_ = 0;
    std::uint64_t unsent_ = 0; ///< Frames read while no subscriber was connected.
    std::string bound_address_;
};

} // namespace zerobuffer::relay
