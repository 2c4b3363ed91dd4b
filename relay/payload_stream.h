// SPDX-License-Identifier: MIT
// Payload streams: one plain TCP connection per subscriber session that carries frame payloads from ring memory
// on the sending side straight into a ring reservation on the receiving side, beside the ZeroMQ connection that
// keeps carrying headers, control, credit and everything else (docs/relay.md, "Payload stream").
//
// Why: libzmq owns its receive buffers, so a payload that arrives through ZeroMQ is copied once more into the
// ring; a socket of our own lets recv() write into the reservation. Only routes without CURVE use it (CURVE
// stays libzmq's). Ordering: the sender queues a payload on the stream exactly when it has sent the frame's
// header on ZeroMQ, so the receiver reads payloads in header order. A payload that does not arrive whole (the
// sender died, the connection broke, 5 s without a byte) is never committed: its reservation is aborted.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "lent_frame.h"
#include "relay_error.h"

namespace zerobuffer::relay {

/// A file descriptor closed when destroyed.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd();
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept
    {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_ = -1;
};

/// Sending side: the listening socket receivers connect their payload streams to, and the connections that have
/// not said which session they belong to yet. Bounded: at most `max_pending` such connections, each must send its
/// StreamHello within 5 s, and nothing but those 16 bytes is ever read from it.
class PayloadListener {
public:
    /// Listens on the host of `bound_address` (tcp://HOST:PORT, as ZMQ_LAST_ENDPOINT gives it) on a free port.
    [[nodiscard]] static RelayResult<std::unique_ptr<PayloadListener>> listen(const std::string& bound_address,
                                                                              std::size_t max_pending);
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] int fd() const noexcept { return socket_.get(); }

    struct Identified {
        std::uint64_t token;
        UniqueFd connection;
    };
    /// Accepts what waits, reads StreamHellos without blocking; returns the connections that completed theirs.
    /// Connections over the bound, too slow or sending something else are closed and counted in `refused`.
    [[nodiscard]] std::vector<Identified> poll();
    [[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }

private:
    struct Pending {
        UniqueFd connection;
        std::chrono::steady_clock::time_point deadline;
        std::array<std::byte, 16> hello{};
        std::size_t have = 0;
    };
    UniqueFd socket_;
    std::uint16_t port_ = 0;
    std::size_t max_pending_ = 0;
    std::vector<Pending> pending_;
    std::uint64_t refused_ = 0;
};

/// Sending side of one subscriber session's payload stream: a thread writes the queued payloads in order, from
/// ring memory (lent frames, given back once written) or from copies (GOP replays). Once the connection breaks it
/// says so (`broken`) and gives back whatever is still queued.
class PayloadSender {
public:
    PayloadSender(UniqueFd connection, std::uint64_t session);
    PayloadSender(const PayloadSender&) = delete;
    PayloadSender& operator=(const PayloadSender&) = delete;
    /// Shuts the connection down, joins the thread, gives back what was not written.
    ~PayloadSender();

    /// Queues the payload of `lent`, whose `users` the caller already counted for this entry.
    void push(LentFrame& lent);
    /// Queues a copy of `payload`.
    void push_copy(std::span<const std::byte> payload);
    [[nodiscard]] bool broken() const noexcept { return broken_.load(std::memory_order_acquire); }
    [[nodiscard]] std::uint64_t session() const noexcept { return session_; }

private:
    struct Entry {
        LentFrame* lent = nullptr;
        std::vector<std::byte> copy;
    };
    void run();
    bool write_all(std::span<const std::byte> bytes);

    UniqueFd connection_;
    std::uint64_t session_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Entry> queue_;
    bool stopping_ = false;
    std::atomic<bool> broken_{false};
    std::thread thread_;
};

/// Receiving side: the connected payload stream of this session.
class PayloadReceiver {
public:
    /// Connects to HOST (of the sender's tcp:// address) at `port` within `timeout` and sends the StreamHello.
    [[nodiscard]] static RelayResult<PayloadReceiver> connect(const std::string& sender_address, std::uint16_t port,
                                                              std::uint64_t token, std::chrono::milliseconds timeout);
    /// Reads exactly `out.size()` bytes into `out`. False when the connection ends or fails first, nothing arrives
    /// for `idle` or `stop` is set: the bytes in `out` are then incomplete and must not be published.
    [[nodiscard]] bool read_exactly(std::span<std::byte> out, const std::atomic<bool>& stop,
                                    std::chrono::milliseconds idle);

private:
    explicit PayloadReceiver(UniqueFd connection) : connection_(std::move(connection)) {}
    UniqueFd connection_;
};

/// HOST of tcp://HOST:PORT without IPv6 brackets, or empty when `address` is not a tcp:// address.
[[nodiscard]] std::string tcp_host(const std::string& address);

} // namespace zerobuffer::relay
