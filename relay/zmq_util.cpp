// SPDX-License-Identifier: MIT
// RAII owners for libzmq objects and CURVE setup.
#include "zmq_util.h"

#include <utility>

#include <zmq.h>

#include "keys.h"

namespace zerobuffer::relay {

ZmqContext::ZmqContext() : context_(zmq_ctx_new()) {}

ZmqContext::~ZmqContext()
{
    terminate();
}

void ZmqContext::terminate() noexcept
{
    if (context_ != nullptr)
        zmq_ctx_term(std::exchange(context_, nullptr));
}

ZmqSocket::ZmqSocket(void* context, int type) : socket_(zmq_socket(context, type))
{
    if (socket_ != nullptr) {
        const int linger = 0;
        zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof linger);
    }
}

ZmqSocket::ZmqSocket(ZmqSocket&& other) noexcept : socket_(std::exchange(other.socket_, nullptr)) {}

ZmqSocket& ZmqSocket::operator=(ZmqSocket&& other) noexcept
{
    if (this != &other) {
        close();
        socket_ = std::exchange(other.socket_, nullptr);
    }
    return *this;
}

ZmqSocket::~ZmqSocket()
{
    close();
}

void ZmqSocket::close() noexcept
{
    if (socket_ != nullptr)
        zmq_close(std::exchange(socket_, nullptr));
}

std::string zmq_error_text()
{
    return zmq_strerror(zmq_errno());
}

RelayResult<void> set_int_option(void* socket, int option, int value)
{
    if (zmq_setsockopt(socket, option, &value, sizeof value) != 0)
        return relay_error(RelayErrc::Network,
                           "cannot set socket option " + std::to_string(option) + ": " + zmq_error_text());
    return {};
}

RelayResult<void> apply_curve(void* socket, const SecurityConfig& security, bool server)
{
    auto keys = as_relay_result(read_secret_key_file(security.secret_key_file));
    if (!keys)
        return tl::unexpected(keys.error());
    auto set_key = [socket](int option, const std::string& z85) -> RelayResult<void> {
        // 41 bytes: the Z85 text with its terminating NUL, as zmq_setsockopt expects.
        if (zmq_setsockopt(socket, option, z85.c_str(), z85.size() + 1) != 0)
            return relay_error(RelayErrc::Security,
                               "cannot set a CURVE key: " + zmq_error_text() + " (libzmq built without CURVE?)");
        return {};
    };
    if (server) {
        if (auto ok = set_int_option(socket, ZMQ_CURVE_SERVER, 1); !ok)
            return ok;
        return set_key(ZMQ_CURVE_SECRETKEY, keys->secret_key);
    }
    auto server_key = as_relay_result(read_public_key_file(security.server_key_file));
    if (!server_key)
        return tl::unexpected(server_key.error());
    if (auto ok = set_key(ZMQ_CURVE_SERVERKEY, *server_key); !ok)
        return ok;
    if (auto ok = set_key(ZMQ_CURVE_PUBLICKEY, keys->public_key); !ok)
        return ok;
    return set_key(ZMQ_CURVE_SECRETKEY, keys->secret_key);
}

} // namespace zerobuffer::relay
