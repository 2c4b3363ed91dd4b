// SPDX-License-Identifier: MIT
// RAII owners for libzmq contexts, sockets and messages (private to the broker and its client).
#pragma once

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <zmq.h>

namespace zerobuffer::relay::detail {

struct ContextCloser {
    void operator()(void* context) const noexcept { zmq_ctx_term(context); }
};
struct SocketCloser {
    void operator()(void* socket) const noexcept { zmq_close(socket); }
};

/// Owns a zmq context; destroying it waits for sockets to close (every socket must be closed first).
using ContextHandle = std::unique_ptr<void, ContextCloser>;
/// Owns a zmq socket; declare it after its context so that it is closed first.
using SocketHandle = std::unique_ptr<void, SocketCloser>;

/// Owns one zmq message part.
class Message {
public:
    Message() noexcept { zmq_msg_init(&msg_); }
    explicit Message(std::string_view bytes)
    {
        if (zmq_msg_init_size(&msg_, bytes.size()) != 0) {
            zmq_msg_init(&msg_);
            return;
        }
        if (!bytes.empty()) {
            std::memcpy(zmq_msg_data(&msg_), bytes.data(), bytes.size());
        }
    }
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;
    Message(Message&& other) noexcept
    {
        zmq_msg_init(&msg_);
        zmq_msg_move(&msg_, &other.msg_);
    }
    Message& operator=(Message&& other) noexcept
    {
        if (this != &other) {
            zmq_msg_move(&msg_, &other.msg_);
        }
        return *this;
    }
    ~Message() { zmq_msg_close(&msg_); }

    [[nodiscard]] zmq_msg_t* get() noexcept { return &msg_; }
    [[nodiscard]] std::size_t size() noexcept { return zmq_msg_size(&msg_); }
    [[nodiscard]] std::string_view view() noexcept
    {
        return {static_cast<const char*>(zmq_msg_data(&msg_)), zmq_msg_size(&msg_)};
    }
    [[nodiscard]] bool more() noexcept { return zmq_msg_more(&msg_) != 0; }

private:
    zmq_msg_t msg_{};
};

/// "strerror" of the last zmq failure, for messages.
[[nodiscard]] inline std::string zmq_error_text()
{
    return zmq_strerror(zmq_errno());
}

/// Sets an integer socket option; returns false on failure (errno set by zmq).
[[nodiscard]] inline bool set_int_option(void* socket, int option, int value) noexcept
{
    return zmq_setsockopt(socket, option, &value, sizeof value) == 0;
}

} // namespace zerobuffer::relay::detail
