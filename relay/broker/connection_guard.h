// SPDX-License-Identifier: MIT
// Bounds what the peers of one ZeroMQ socket can make this process hold: how many connections it keeps at once,
// and per connection the bytes libzmq has read from it that no message the application received accounts for.
//
// Why: libzmq hands a multipart message over only once its last part arrived, and holds every part until then;
// ZMQ_MAXMSGSIZE bounds one part, the high-water marks count whole messages. So one peer sending parts flagged
// MORE without end grows our memory without bound, and no socket option stops it. The guard measures it from
// outside: the kernel counts the bytes of each TCP connection (TCP_INFO, minus what waits in its receive queue),
// the owner counts the wire bytes of the messages it received from it (ZMQ_SRCFD says which connection); the
// difference is what libzmq holds for that peer (unfinished message, messages not read yet, ZMTP commands).
// Past the limit the connection is shut down, libzmq drops it and frees what it held.
//
// Contract: start() is called by the thread that owns the socket, before it binds or connects. The guard then
// owns the socket's monitor (zmq_socket_monitor allows one) and reads it on its own thread, every
// kCheckInterval; events the owner asked for are forwarded to events(), in libzmq's monitor format. received()
// may be called from the owner's thread at any time. Destroy the guard (from the owner's thread) before closing
// the socket.
// ipc:// connections count towards max_peers but their bytes cannot be measured (no kernel byte count).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <sys/socket.h>

#include <zmq.h>

#include "broker_error.h"
#include "log_budget.h"
#include "zmq_handles.h"

namespace zerobuffer::relay {

/// One event of a socket monitor.
struct MonitorEvent {
    std::uint16_t event = 0;
    std::uint32_t value = 0; ///< The fd for connection events, an errno or reason for failures.
    std::string address;
};

/// Reads one pending monitor event without blocking.
[[nodiscard]] std::optional<MonitorEvent> read_monitor_event(void* monitor);

class ConnectionGuard {
public:
    using Clock = std::chrono::steady_clock;
    using Log = std::function<void(const std::string& line)>;

    /// How often the guard looks at every connection: a peer on a fast link can overshoot the byte limit by what
    /// it sends in this time.
    static constexpr std::chrono::milliseconds kCheckInterval{10};
    /// Not accounted to messages, so allowed on top of the limit: the ZMTP greeting and handshake (under CURVE
    /// about 600 bytes, metadata included) and heartbeat PING/PONG commands (well under 128 bytes a second).
    static constexpr std::uint64_t kHandshakeAllowance = 16 * 1024;
    static constexpr std::uint64_t kHeartbeatAllowancePerSecond = 256;

    struct Limits {
        std::size_t max_peers = 0;        ///< Connections at once, handshaking ones included; 0: no limit.
        std::uint64_t max_held_bytes = 0; ///< Per connection, see the top of this file; 0: not enforced.
        bool curve = false;               ///< The socket speaks CURVE (each part then costs 33 more wire bytes).
        std::string max_peers_option;     ///< How users set max_peers, for the log ("max-peers=64").
    };

    /// Starts guarding `socket` of `context`. `forward` is the mask of monitor events the owner wants through
    /// events(); `tag` makes the inproc endpoints unique in the context; `log` gets one line per refused or
    /// dropped connection (rate-limited), from the guard's thread.
    [[nodiscard]] static BrokerResult<std::unique_ptr<ConnectionGuard>>
    start(void* context, void* socket, Limits limits, int forward, const std::string& tag, Log log);
    ConnectionGuard(const ConnectionGuard&) = delete;
    ConnectionGuard& operator=(const ConnectionGuard&) = delete;
    /// Stops the socket's monitor, the thread, and closes the monitor sockets. Call it from the owner's thread
    /// while the socket is still open.
    ~ConnectionGuard();

    /// The socket to poll for the forwarded monitor events; read them with read_monitor_event().
    [[nodiscard]] void* events() const noexcept { return owner_events_.get(); }

    /// The wire bytes of one message part of `size` bytes (its ZMTP frame, or its CURVE MESSAGE command).
    [[nodiscard]] std::uint64_t wire_size(std::size_t size) const noexcept;
    /// Counts a message the owner received whole: `wire_part` is one of its parts that came over the wire (not a
    /// ROUTER's routing id), `wire_bytes` the wire_size() of all its wire parts. Returns false when the message
    /// comes from a connection past max_peers: one the guard is refusing, or one it has not seen yet while
    /// max_peers are open (the monitor tells of connections late, so a reconnecting peer's first request could
    /// otherwise be served before its refusal). The owner should drop such a message unanswered.
    bool received(zmq_msg_t* wire_part, std::uint64_t wire_bytes);

    /// Connections shut down for holding more than max_held_bytes.
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
    /// Connections closed at once because max_peers were connected.
    [[nodiscard]] std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }

private:
    /// The two ends of a TCP connection, to tell it from another that got the same fd number later.
    struct Identity {
        sockaddr_storage local{};
        sockaddr_storage remote{};
        socklen_t local_size = 0;
        socklen_t remote_size = 0;
        bool operator==(const Identity& other) const noexcept;
    };
    struct Connection {
        Identity identity;
        std::string peer; ///< "IP:PORT", for the log.
        Clock::time_point opened;
        std::uint64_t delivered = 0; ///< Wire bytes of the messages the owner received from it.
        bool measurable = false;     ///< A TCP connection (its byte count can be read).
        bool closing = false;        ///< Shut down by us; libzmq's DISCONNECTED event removes it.
    };
    struct PendingCredit {
        std::uint64_t bytes = 0;
        Clock::time_point since;
    };

    ConnectionGuard(void* socket, Limits limits, int forward, Log log);
    void run();
    void handle(const MonitorEvent& event, Clock::time_point now);
    void add(int fd, Clock::time_point now);
    void check(Clock::time_point now);
    /// Shuts connection `fd` down if it still is the one recorded; false when the fd now belongs to another.
    bool shut_down(int fd, const Connection& connection);
    [[nodiscard]] std::size_t open_connections() const;

    void* socket_; ///< The guarded socket (the owner's); only its monitor is stopped from here.
    Limits limits_;
    int forward_;
    LogBudget log_;
    detail::SocketHandle monitor_;      ///< Read by the guard's thread only.
    detail::SocketHandle guard_events_; ///< The guard's end of the forwarding pair.
    detail::SocketHandle owner_events_; ///< The owner's end.
    mutable std::mutex mutex_;          ///< Guards connections_ and pending_.
    std::map<int, Connection> connections_;
    std::map<int, PendingCredit> pending_; ///< Credits for fds whose connection event has not been read yet.
    Clock::time_point last_identity_check_{};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_; ///< Started last, joined first.
};

} // namespace zerobuffer::relay
