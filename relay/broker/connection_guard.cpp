// SPDX-License-Identifier: MIT
// The connection guard of a ZeroMQ socket: counts connections and compares the kernel's byte count of each TCP
// connection with the bytes of the messages received from it; shuts down those over the limits.
#include "connection_guard.h"

// <linux/tcp.h> for struct tcp_info with tcpi_bytes_received (glibc's <netinet/tcp.h> has an older layout).
#include <linux/tcp.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

namespace zerobuffer::relay {

namespace {

/// A libzmq monitor event is two parts: 6 bytes (u16 event, u32 value, native order), then the endpoint.
constexpr std::size_t kEventHeader = 6;

bool send_event(void* socket, const MonitorEvent& event)
{
    std::array<std::byte, kEventHeader> header{};
    std::memcpy(header.data(), &event.event, sizeof event.event);
    std::memcpy(header.data() + 2, &event.value, sizeof event.value);
    return zmq_send(socket, header.data(), header.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
           zmq_send(socket, event.address.data(), event.address.size(), ZMQ_DONTWAIT) >= 0;
}

std::string format_address(const sockaddr_storage& address)
{
    std::array<char, INET6_ADDRSTRLEN> host{};
    if (address.ss_family == AF_INET) {
        const auto* ipv4 = reinterpret_cast<const sockaddr_in*>(&address);
        inet_ntop(AF_INET, &ipv4->sin_addr, host.data(), host.size());
        return std::string(host.data()) + ":" + std::to_string(ntohs(ipv4->sin_port));
    }
    if (address.ss_family == AF_INET6) {
        const auto* ipv6 = reinterpret_cast<const sockaddr_in6*>(&address);
        inet_ntop(AF_INET6, &ipv6->sin6_addr, host.data(), host.size());
        return "[" + std::string(host.data()) + "]:" + std::to_string(ntohs(ipv6->sin6_port));
    }
    return "a local (ipc) peer";
}

/// Bytes of `fd` that libzmq has read from the kernel: received in order minus what still waits in the queue.
std::optional<std::uint64_t> bytes_read(int fd)
{
    tcp_info info{};
    socklen_t size = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0 ||
        size < offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received) {
        return std::nullopt;
    }
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) != 0 || queued < 0) {
        return std::nullopt;
    }
    return info.tcpi_bytes_received - std::min<std::uint64_t>(info.tcpi_bytes_received, static_cast<std::uint64_t>(queued));
}

} // namespace

std::optional<MonitorEvent> read_monitor_event(void* monitor)
{
    detail::Message header;
    if (zmq_msg_recv(header.get(), monitor, ZMQ_DONTWAIT) < 0) {
        return std::nullopt;
    }
    MonitorEvent event;
    if (header.size() >= kEventHeader) {
        const std::string_view bytes = header.view();
        std::memcpy(&event.event, bytes.data(), sizeof event.event);
        std::memcpy(&event.value, bytes.data() + 2, sizeof event.value);
    }
    for (bool more = header.more(); more;) {
        detail::Message part;
        if (zmq_msg_recv(part.get(), monitor, 0) < 0) {
            break;
        }
        event.address = std::string(part.view());
        more = part.more();
    }
    return event;
}

bool ConnectionGuard::Identity::operator==(const Identity& other) const noexcept
{
    return local_size == other.local_size && remote_size == other.remote_size &&
           std::memcmp(&local, &other.local, local_size) == 0 && std::memcmp(&remote, &other.remote, remote_size) == 0;
}

namespace {

bool read_identity(int fd, sockaddr_storage& local, socklen_t& local_size, sockaddr_storage& remote,
                   socklen_t& remote_size)
{
    local_size = sizeof local;
    remote_size = sizeof remote;
    return getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) == 0 &&
           getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_size) == 0;
}

} // namespace

ConnectionGuard::ConnectionGuard(void* socket, Limits limits, int forward, Log log)
    : socket_(socket), limits_(std::move(limits)), forward_(forward),
      log_(20, std::chrono::seconds(10), "refused or dropped connections", std::move(log))
{
}

BrokerResult<std::unique_ptr<ConnectionGuard>> ConnectionGuard::start(void* context, void* socket, Limits limits,
                                                                      int forward, const std::string& tag, Log log)
{
    std::unique_ptr<ConnectionGuard> guard(new ConnectionGuard(socket, std::move(limits), forward, std::move(log)));
    const std::string id = tag + "-" + std::to_string(reinterpret_cast<std::uintptr_t>(guard.get()));
    const std::string monitor_endpoint = "inproc://zb-guard-monitor-" + id;
    const std::string events_endpoint = "inproc://zb-guard-events-" + id;
    const int events = forward | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED;
    const auto failed = [](const std::string& what) {
        return make_broker_error(BrokerErrc::SystemError, "cannot " + what + ": " + detail::zmq_error_text());
    };
    if (zmq_socket_monitor(socket, monitor_endpoint.c_str(), events) != 0) {
        return failed("monitor the socket's connections");
    }
    guard->monitor_.reset(zmq_socket(context, ZMQ_PAIR));
    guard->owner_events_.reset(zmq_socket(context, ZMQ_PAIR));
    guard->guard_events_.reset(zmq_socket(context, ZMQ_PAIR));
    for (void* pair : {guard->monitor_.get(), guard->owner_events_.get(), guard->guard_events_.get()}) {
        if (pair == nullptr || !detail::set_int_option(pair, ZMQ_LINGER, 0)) {
            return failed("create the connection guard's sockets");
        }
    }
    if (zmq_connect(guard->monitor_.get(), monitor_endpoint.c_str()) != 0 ||
        zmq_bind(guard->owner_events_.get(), events_endpoint.c_str()) != 0 ||
        zmq_connect(guard->guard_events_.get(), events_endpoint.c_str()) != 0) {
        return failed("connect the connection guard's sockets");
    }
    ConnectionGuard* raw = guard.get();
    guard->thread_ = std::thread([raw] { raw->run(); });
    return guard;
}

ConnectionGuard::~ConnectionGuard()
{
    // Stop the monitor first: libzmq leaks an event it cannot deliver, and closing the socket later sends some.
    zmq_socket_monitor(socket_, nullptr, 0);
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::uint64_t ConnectionGuard::wire_size(std::size_t size) const noexcept
{
    // ZMTP 3: a flags byte and a 1-byte size up to 255, else an 8-byte size. Under CURVE each part travels as a
    // MESSAGE command: "\x07MESSAGE", an 8-byte nonce, a 16-byte MAC and a flags byte before the part.
    const std::uint64_t body = size + (limits_.curve ? 33 : 0);
    return (body > 255 ? 9 : 2) + body;
}

bool ConnectionGuard::received(zmq_msg_t* wire_part, std::uint64_t wire_bytes)
{
    const int fd = zmq_msg_get(wire_part, ZMQ_SRCFD);
    if (fd < 0) {
        return true; // not from a tcp connection (ipc, inproc): nothing is measured
    }
    const std::lock_guard lock(mutex_);
    if (const auto found = connections_.find(fd); found != connections_.end()) {
        found->second.delivered += wire_bytes;
        return !found->second.closing;
    }
    // The guard's thread has not read this connection's event yet: credit it when it does.
    PendingCredit& pending = pending_[fd];
    if (pending.bytes == 0) {
        pending.since = Clock::now();
    }
    pending.bytes += wire_bytes;
    return limits_.max_peers == 0 || open_connections() < limits_.max_peers;
}

void ConnectionGuard::run()
{
    while (!stop_.load(std::memory_order_relaxed)) {
        bool idle = false;
        {
            const std::lock_guard lock(mutex_);
            idle = connections_.empty();
        }
        zmq_pollitem_t item{monitor_.get(), 0, ZMQ_POLLIN, 0};
        // A connection event wakes the poll at once; without connections there is nothing to check meanwhile.
        zmq_poll(&item, 1, idle ? 100L : static_cast<long>(kCheckInterval.count()));
        const Clock::time_point now = Clock::now();
        while (auto event = read_monitor_event(monitor_.get())) {
            handle(*event, now);
        }
        check(now);
        log_.flush(now);
    }
}

void ConnectionGuard::handle(const MonitorEvent& event, Clock::time_point now)
{
    const int fd = static_cast<int>(event.value);
    if (event.event == ZMQ_EVENT_ACCEPTED || event.event == ZMQ_EVENT_CONNECTED) {
        add(fd, now);
    } else if (event.event == ZMQ_EVENT_DISCONNECTED || event.event == ZMQ_EVENT_CLOSED) {
        const std::lock_guard lock(mutex_);
        connections_.erase(fd);
    }
    if ((event.event & forward_) != 0) {
        send_event(guard_events_.get(), event);
    }
}

std::size_t ConnectionGuard::open_connections() const
{
    std::size_t open = 0;
    for (const auto& [fd, connection] : connections_) {
        open += connection.closing ? 0 : 1;
    }
    return open;
}

void ConnectionGuard::add(int fd, Clock::time_point now)
{
    Connection connection;
    connection.opened = now;
    Identity& identity = connection.identity;
    if (read_identity(fd, identity.local, identity.local_size, identity.remote, identity.remote_size)) {
        connection.measurable = identity.remote.ss_family == AF_INET || identity.remote.ss_family == AF_INET6;
    }
    connection.peer = format_address(identity.remote);
    std::string line;
    {
        const std::lock_guard lock(mutex_);
        if (const auto pending = pending_.find(fd); pending != pending_.end()) {
            if (now - pending->second.since < std::chrono::seconds(1)) {
                connection.delivered = pending->second.bytes;
            }
            pending_.erase(pending);
        }
        Connection& added = connections_[fd] = connection;
        if (limits_.max_peers > 0 && open_connections() > limits_.max_peers && shut_down(fd, added)) {
            added.closing = true;
            refused_.fetch_add(1, std::memory_order_relaxed);
            line = "refused a connection from " + added.peer + ": " + limits_.max_peers_option +
                   " connections are open already";
        }
    }
    if (!line.empty()) {
        log_.line(line, now);
    }
}

bool ConnectionGuard::shut_down(int fd, const Connection& connection)
{
    Identity now{};
    if (!read_identity(fd, now.local, now.local_size, now.remote, now.remote_size) || !(now == connection.identity)) {
        return false; // libzmq closed it and the number belongs to another file now: never touch that one
    }
    // libzmq reads end-of-file, drops the connection and frees what it held for it (a partial message included).
    // Linger 0: its close() then resets the connection, so that the peer learns at once instead of probing a
    // zero window for minutes.
    const linger abort{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    return ::shutdown(fd, SHUT_RDWR) == 0;
}

void ConnectionGuard::check(Clock::time_point now)
{
    std::vector<std::string> lines;
    {
        const std::lock_guard lock(mutex_);
        // Connections libzmq ended without an event (or whose fd number was reused) are found once a second.
        const bool revalidate = now - last_identity_check_ >= std::chrono::seconds(1);
        if (revalidate) {
            last_identity_check_ = now;
            std::erase_if(pending_,
                          [now](const auto& entry) { return now - entry.second.since > std::chrono::seconds(1); });
        }
        for (auto it = connections_.begin(); it != connections_.end();) {
            const int fd = it->first;
            Connection& connection = it->second;
            if (revalidate) {
                Identity current{};
                if (!read_identity(fd, current.local, current.local_size, current.remote, current.remote_size) ||
                    !(current == connection.identity)) {
                    it = connections_.erase(it);
                    continue;
                }
            }
            if (connection.closing || !connection.measurable || limits_.max_held_bytes == 0) {
                ++it;
                continue;
            }
            const auto read = bytes_read(fd);
            if (!read) {
                ++it;
                continue;
            }
            const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - connection.opened).count();
            const std::uint64_t allowed = limits_.max_held_bytes + kHandshakeAllowance +
                                          kHeartbeatAllowancePerSecond * static_cast<std::uint64_t>(age);
            const std::uint64_t held = *read > connection.delivered ? *read - connection.delivered : 0;
            if (held <= allowed) {
                ++it;
                continue;
            }
            if (!shut_down(fd, connection)) {
                it = connections_.erase(it); // the fd is another connection's now; its own event comes
                continue;
            }
            connection.closing = true;
            dropped_.fetch_add(1, std::memory_order_relaxed);
            lines.push_back("dropped the connection from " + connection.peer + ": libzmq held " + std::to_string(held) +
                            " bytes of it that no complete message accounts for (an unfinished multipart message "
                            "or messages not read yet), over the limit of " +
                            std::to_string(limits_.max_held_bytes) + " bytes");
            ++it;
        }
    }
    for (const std::string& line : lines) {
        log_.line(line, now);
    }
}

} // namespace zerobuffer::relay
