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
#include "keys.h"
#include "relay_error.h"
#include "route.h"
#include "zmq_util.h"

namespace zerobuffer::relay {

/// A ring frame lent to libzmq: released (from libzmq's I/O thread) when the last message using it is freed.
struct LentFrame {
    Frame frame;
    std::atomic<std::uint32_t> users{0};
    std::atomic<bool> busy{false};
};

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
    struct Peer {
        std::uint64_t session = 0;
        std::uint32_t window = 1;
        FlowPolicy policy = FlowPolicy::Lossless;
        std::uint64_t sent = 0;  ///< Frames sent in this session.
        std::uint64_t acked = 0; ///< Frames the subscriber reported received.
        std::uint64_t delivered = 0;
        std::uint64_t dropped = 0;
        std::uint32_t number = 0;
        std::uint64_t last_sequence = 0; ///< Source sequence of the last frame sent in this session.
        bool sent_any = false;
        /// Frames sent from the GOP cache beyond the credit window, and `sent` once they are all sent: live
        /// frames may go on without waiting for the receiver to acknowledge that burst.
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

    Publisher(const RouteConfig& route, const Endpoint& endpoint, RouteStats& stats);
    void handle_message();
    void handle_control(const std::string& id, const std::byte* data, std::size_t size);
    void drop(Peer& peer, const char* why);
    void send_metadata(const std::string& id, Peer& peer);
    /// Finds out whether a subscriber is still connected (ROUTER_MANDATORY refuses sends to vanished ones).
    void ping(const std::string& id, Peer& peer);
    bool send_frame(const std::string& id, Peer& peer, LentFrame& lent, const FrameInfo& info);
    void erase_gone_peers();
    /// Keeps a copy of an encoded frame when it belongs to the GOP being cached (see gop_).
    void cache_frame(const Frame& frame, const FrameInfo& info);
    /// True when `peer`, waiting for a keyframe, can instead get the cached GOP (all of it new to the peer).
    [[nodiscard]] bool can_replay(const Peer& peer, std::uint64_t live_sequence) const;
    /// Sends the cached GOP except its newest frame (the live one, sent next), outside the credit window.
    /// False when not all of it could be sent (the live frame must then not follow).
    bool replay(const std::string& id, Peer& peer);
    [[nodiscard]] bool has_credit(const Peer& peer) const noexcept;
    LentFrame* take_lent_frame(const std::atomic<bool>& stop);
    void reject(const std::string& why);

    std::string route_name_;
    Endpoint endpoint_;
    SecurityConfig security_;
    std::string advertise_;
    RouteStats& stats_;
    // Destruction order matters: sockets close before the ZAP handler stops, and both before the context.
    ZmqContext context_;
    std::unique_ptr<ZapHandler> zap_;
    ZmqSocket router_;
    ZmqSocket monitor_;
    std::unique_ptr<LentFrame[]> lent_;            ///< kLentFrames entries.
    static constexpr std::size_t kLentFrames = 32; ///< Frames lent to libzmq at once, at most.
    std::map<std::string, Peer> peers_;
    std::vector<std::pair<std::string, Peer>> departed_; ///< For the final summary.
    std::uint32_t next_peer_number_ = 1;
    std::string metadata_json_;
    std::uint32_t metadata_generation_ = 0;
    bool encoded_ = false;
    std::vector<std::byte> header_buffer_; ///< Reused: header + per-frame metadata blob.

    /// A copy of one frame of the GOP cache. Its buffer keeps its capacity from GOP to GOP (no allocation per
    /// frame once every slot has grown to the sizes the stream uses).
    struct CachedFrame {
        std::uint64_t sequence = 0;
        std::uint32_t format_generation = 0;
        FrameInfo info;
        std::size_t metadata_size = 0;
        std::vector<std::byte> bytes; ///< The metadata blob, then the payload.
    };
    /// Encoded streams: the frames from the newest keyframe (or the header frames before it) up to the newest
    /// frame read, so that a subscriber that joins or skips starts decoding at once instead of a GOP later.
    /// Bounded; when a GOP outgrows it, caching stops until the next keyframe (subscribers then wait for it).
    std::vector<CachedFrame> gop_;
    std::size_t gop_frames_ = 0; ///< Entries of gop_ in use.
    std::size_t gop_bytes_ = 0;
    bool gop_valid_ = false;       ///< gop_ holds a decodable, gap-free run ending at the newest frame read.
    bool gop_has_picture_ = false; ///< A keyframe is in gop_ (not only header frames).
    bool gop_overflow_logged_ = false;
    static constexpr std::size_t kGopCacheFrames = 300;
    static constexpr std::size_t kGopCacheBytes = std::size_t{16} << 20;
    std::uint64_t rejected_ = 0;
    std::uint64_t dropped_total_ = 0;
    std::uint64_t unsent_ = 0; ///< Frames read while no subscriber was connected.
    std::string bound_address_;
};

} // namespace zerobuffer::relay
