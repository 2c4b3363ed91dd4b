// SPDX-License-Identifier: MIT
// Payload streams (payload_stream.h): the listening side with its bounded pending connections, the sending thread
// per subscriber session, and the receiving side that reads payloads straight into ring reservations.
#include "payload_stream.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "wire.h"

namespace zerobuffer::relay {

namespace {

constexpr std::chrono::seconds kHelloTimeout{5};

std::string errno_text()
{
    return std::strerror(errno);
}

void set_nodelay(int fd)
{
    const int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

} // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept
{
    if (this != &other) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

UniqueFd::~UniqueFd()
{
    if (fd_ >= 0)
        ::close(fd_);
}

std::string tcp_host(const std::string& address)
{
    const std::string scheme = "tcp://";
    if (!address.starts_with(scheme))
        return {};
    const std::string rest = address.substr(scheme.size());
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0)
        return {};
    std::string host = rest.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    return host;
}

RelayResult<std::unique_ptr<PayloadListener>> PayloadListener::listen(const std::string& bound_address,
                                                                      std::size_t max_pending)
{
    const std::string host = tcp_host(bound_address);
    if (host.empty())
        return relay_error(RelayErrc::Network, "payload stream: '" + bound_address + "' is not a tcp:// address");
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    addrinfo* found = nullptr;
    if (const int error = getaddrinfo(host == "*" ? nullptr : host.c_str(), "0", &hints, &found); error != 0)
        return relay_error(RelayErrc::Network,
                           "payload stream: cannot resolve '" + host + "': " + std::string(gai_strerror(error)));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
    auto listener = std::unique_ptr<PayloadListener>(new PayloadListener());
    listener->max_pending_ = max_pending;
    UniqueFd socket(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!socket)
        return relay_error(RelayErrc::Network, "payload stream: socket: " + errno_text());
    if (::bind(socket.get(), found->ai_addr, found->ai_addrlen) != 0 || ::listen(socket.get(), 64) != 0)
        return relay_error(RelayErrc::Network, "payload stream: cannot listen on " + host + ": " + errno_text());
    sockaddr_storage bound{};
    socklen_t bound_size = sizeof bound;
    if (getsockname(socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_size) != 0)
        return relay_error(RelayErrc::Network, "payload stream: getsockname: " + errno_text());
    listener->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    listener->socket_ = std::move(socket);
    return listener;
}

std::vector<PayloadListener::Identified> PayloadListener::poll()
{
    for (;;) {
        UniqueFd connection(::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!connection)
            break;
        if (pending_.size() >= max_pending_) {
            ++refused_; // Closed at once: as many unidentified connections as max-peers are waiting already.
            continue;
        }
        pending_.push_back(Pending{std::move(connection), std::chrono::steady_clock::now() + kHelloTimeout, {}, 0});
    }
    std::vector<Identified> identified;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
        const ssize_t got =
            ::recv(it->connection.get(), it->hello.data() + it->have, wire::kStreamHelloSize - it->have, 0);
        if (got > 0)
            it->have += static_cast<std::size_t>(got);
        const bool failed = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        if (it->have == wire::kStreamHelloSize) {
            auto token = wire::decode_stream_hello(it->hello);
            if (token) {
                // The sending thread writes with blocking calls: it may wait for a slow receiver, nobody else does.
                const int fd = it->connection.get();
                (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
                set_nodelay(fd);
                identified.push_back(Identified{*token, std::move(it->connection)});
            } else {
                ++refused_;
            }
            it = pending_.erase(it);
        } else if (failed || now > it->deadline) {
            ++refused_;
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
    return identified;
}

PayloadSender::PayloadSender(UniqueFd connection, std::uint64_t session)
    : connection_(std::move(connection)), session_(session), thread_([this] { run(); })
{
}

PayloadSender::~PayloadSender()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ::shutdown(connection_.get(), SHUT_RDWR); // Wakes a write blocked on a receiver that stopped reading.
    wake_.notify_all();
    thread_.join();
    for (Entry& entry : queue_)
        if (entry.lent != nullptr)
            give_back(*entry.lent);
}

void PayloadSender::push(LentFrame& lent)
{
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(Entry{&lent, {}});
    }
    wake_.notify_one();
}

void PayloadSender::push_copy(std::span<const std::byte> payload)
{
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(Entry{nullptr, std::vector<std::byte>(payload.begin(), payload.end())});
    }
    wake_.notify_one();
}

bool PayloadSender::write_all(std::span<const std::byte> bytes)
{
    while (!bytes.empty()) {
        const ssize_t sent = ::send(connection_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            return false;
        bytes = bytes.subspan(static_cast<std::size_t>(sent));
    }
    return true;
}

void PayloadSender::run()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_)
            return;
        Entry entry = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        // The entry stays counted as a user of its frame until written: the ring keeps the bytes until then.
        const std::span<const std::byte> bytes =
            entry.lent != nullptr ? entry.lent->frame.payload() : std::span<const std::byte>(entry.copy);
        const bool written = broken() || write_all(bytes);
        if (entry.lent != nullptr)
            give_back(*entry.lent);
        if (!written)
            broken_.store(true, std::memory_order_release);
        lock.lock();
    }
}

RelayResult<PayloadReceiver> PayloadReceiver::connect(const std::string& sender_address, std::uint16_t port,
                                                      std::uint64_t token, std::chrono::milliseconds timeout)
{
    const std::string host = tcp_host(sender_address);
    if (host.empty())
        return relay_error(RelayErrc::Network, "payload stream: '" + sender_address + "' is not a tcp:// address");
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (const int error = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); error != 0)
        return relay_error(RelayErrc::Network,
                           "payload stream: cannot resolve '" + host + "': " + std::string(gai_strerror(error)));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
    std::string why = "no address";
    for (const addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
        UniqueFd socket(::socket(candidate->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!socket)
            continue;
        if (::connect(socket.get(), candidate->ai_addr, candidate->ai_addrlen) != 0 && errno != EINPROGRESS) {
            why = errno_text();
            continue;
        }
        pollfd item{socket.get(), POLLOUT, 0};
        int error = 0;
        socklen_t error_size = sizeof error;
        if (::poll(&item, 1, static_cast<int>(timeout.count())) != 1 ||
            getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &error_size) != 0 || error != 0) {
            why = error != 0 ? std::strerror(error) : "timed out";
            continue;
        }
        (void)fcntl(socket.get(), F_SETFL, fcntl(socket.get(), F_GETFL) & ~O_NONBLOCK);
        set_nodelay(socket.get());
        std::array<std::byte, wire::kStreamHelloSize> hello{};
        wire::encode_stream_hello(token, hello);
        if (::send(socket.get(), hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) {
            why = errno_text();
            continue;
        }
        return PayloadReceiver(std::move(socket));
    }
    return relay_error(RelayErrc::Network,
                       "payload stream: cannot connect to " + host + " port " + service + ": " + why);
}

bool PayloadReceiver::read_exactly(std::span<std::byte> out, const std::atomic<bool>& stop,
                                   std::chrono::milliseconds idle)
{
    constexpr std::chrono::milliseconds kSlice{100}; // How often `stop` is looked at while nothing arrives.
    auto silent = std::chrono::milliseconds(0);
    while (!out.empty()) {
        if (stop.load(std::memory_order_relaxed) || silent >= idle)
            return false;
        pollfd item{connection_.get(), POLLIN, 0};
        const int ready = ::poll(&item, 1, static_cast<int>(kSlice.count()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            silent += kSlice;
            continue;
        }
        const ssize_t got = ::recv(connection_.get(), out.data(), out.size(), 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        silent = std::chrono::milliseconds(0);
        out = out.subspan(static_cast<std::size_t>(got));
    }
    return true;
}

} // namespace zerobuffer::relay
