// SPDX-License-Identifier: MIT
// Small RAII owners for libzmq contexts and sockets, and CURVE setup (socket monitors: connection_guard.h).
#pragma once

#include <cstdint>
#include <string>

#include "config.h"
#include "relay_error.h"

namespace zerobuffer::relay {

/// Owns a zmq context; terminating it waits until every socket of it is closed and every message freed.
class ZmqContext {
public:
    ZmqContext();
    ZmqContext(const ZmqContext&) = delete;
    ZmqContext& operator=(const ZmqContext&) = delete;
    ~ZmqContext();
    [[nodiscard]] void* get() const noexcept { return context_; }
    /// Waits until every socket is closed and libzmq freed every message (its free functions have run).
    void terminate() noexcept;

private:
    void* context_;
};

/// Owns one zmq socket (closed with linger 0: nothing is sent after the route stops).
class ZmqSocket {
public:
    ZmqSocket() = default;
    ZmqSocket(void* context, int type);
    ZmqSocket(ZmqSocket&& other) noexcept;
    ZmqSocket& operator=(ZmqSocket&& other) noexcept;
    ZmqSocket(const ZmqSocket&) = delete;
    ZmqSocket& operator=(const ZmqSocket&) = delete;
    ~ZmqSocket();
    [[nodiscard]] void* get() const noexcept { return socket_; }
    void close() noexcept;

private:
    void* socket_ = nullptr;
};

[[nodiscard]] RelayResult<void> set_int_option(void* socket, int option, int value);

/// Sets up CURVE on a socket from the route's key files: server side (secret key) or client side (secret key +
/// the server public key it pins). Call it when uses_curve(security) (route_security.h) says so.
[[nodiscard]] RelayResult<void> apply_curve(void* socket, const SecurityConfig& security, bool server);

/// The text of the last zmq error.
[[nodiscard]] std::string zmq_error_text();

} // namespace zerobuffer::relay
