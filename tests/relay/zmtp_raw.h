// SPDX-License-Identifier: MIT
// Test support: a raw ZMTP 3.0 peer (NULL mechanism) on a plain TCP socket, to send what no libzmq peer can: parts
// flagged MORE without end (libzmq itself holds a multipart message until its last part, on both sides). And the
// memory of a process, from /proc.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace zerobuffer::relay::test {

/// VmRSS or VmHWM (the peak) of a process in KiB, from /proc/PID/status; 0 when unknown.
inline std::uint64_t process_memory_kib(pid_t pid, std::string_view field = "VmRSS")
{
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':') {
            return std::stoull(line.substr(field.size() + 1));
        }
    }
    return 0;
}

/// One ZMTP connection spoken by hand. Owns its socket.
class RawZmtp {
public:
    /// Connects to 127.0.0.1:`port` and completes the NULL handshake as a `socket_type` ("DEALER").
    static std::optional<RawZmtp> connect(int port, std::string_view socket_type)
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        RawZmtp peer(fd);
        if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            !peer.handshake(socket_type)) {
            return std::nullopt;
        }
        return peer;
    }

    /// Listens on 127.0.0.1:`port`, accepts one connection (within `timeout_s`) and completes the NULL handshake
    /// as a `socket_type` ("ROUTER").
    static std::optional<RawZmtp> accept(int port, std::string_view socket_type, int timeout_s)
    {
        const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int yes = 1;
        ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        const timeval wait{timeout_s, 0};
        ::setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
        if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(listener, 4) != 0) {
            if (listener >= 0) {
                ::close(listener);
            }
            return std::nullopt;
        }
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        ::close(listener);
        RawZmtp peer(fd);
        if (fd < 0 || !peer.handshake(socket_type)) {
            return std::nullopt;
        }
        return peer;
    }

    RawZmtp(RawZmtp&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    RawZmtp& operator=(RawZmtp&&) = delete;
    RawZmtp(const RawZmtp&) = delete;
    RawZmtp& operator=(const RawZmtp&) = delete;
    ~RawZmtp()
    {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

    /// Sends one message frame; false once the peer has closed the connection.
    bool send_frame(std::string_view body, bool more)
    {
        std::array<unsigned char, 9> header{};
        header[0] = static_cast<unsigned char>((more ? 0x01 : 0x00) | 0x02); // MORE, LONG (8-byte size)
        const std::uint64_t size = body.size();
        for (std::size_t i = 0; i < 8; ++i) {
            header[1 + i] = static_cast<unsigned char>(size >> (56 - 8 * i));
        }
        return write_all(std::string_view(reinterpret_cast<const char*>(header.data()), header.size())) &&
               write_all(body);
    }

    /// Sends parts of `part_size` bytes, every one flagged MORE, until `total` bytes are sent or the peer closes
    /// the connection. Returns the bytes sent.
    std::uint64_t flood(std::size_t part_size, std::uint64_t total)
    {
        const std::string part(part_size, '\x5a');
        std::uint64_t sent = 0;
        while (sent < total && send_frame(part, true)) {
            sent += part_size;
        }
        return sent;
    }

private:
    explicit RawZmtp(int fd) : fd_(fd) {}

    bool write_all(std::string_view bytes) const
    {
        while (!bytes.empty()) {
            const ssize_t written = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (written <= 0) {
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(written));
        }
        return true;
    }

    bool read_exactly(std::size_t size, std::string& out) const
    {
        out.resize(size);
        std::size_t got = 0;
        while (got < size) {
            const ssize_t n = ::recv(fd_, out.data() + got, size - got, 0);
            if (n <= 0) {
                return false;
            }
            got += static_cast<std::size_t>(n);
        }
        return true;
    }

    /// Greeting both ways (version 3.0, NULL), then READY both ways.
    bool handshake(std::string_view socket_type)
    {
        std::string greeting(64, '\0');
        greeting[0] = '\xff';
        greeting[9] = '\x7f';
        greeting[10] = 3; // version 3.0
        greeting.replace(12, 4, "NULL");
        std::string peer_greeting;
        if (!write_all(greeting) || !read_exactly(64, peer_greeting)) {
            return false;
        }
        // READY: a command frame holding "\x05READY" and the property Socket-Type (1-byte name size, 4-byte value
        // size).
        std::string body = "\x05READY";
        body += '\x0b';
        body += "Socket-Type";
        const auto length = static_cast<std::uint32_t>(socket_type.size());
        for (int i = 3; i >= 0; --i) {
            body += static_cast<char>((length >> (8 * i)) & 0xff);
        }
        body += socket_type;
        std::string frame{'\x04', static_cast<char>(body.size())};
        std::string flags;
        std::string size;
        std::string peer_ready;
        if (!write_all(frame + body) || !read_exactly(1, flags) || !read_exactly(1, size)) {
            return false;
        }
        return (flags[0] & 0x04) != 0 && read_exactly(static_cast<unsigned char>(size[0]), peer_ready) &&
               peer_ready.starts_with("\x05READY");
    }

    int fd_;
};

} // namespace zerobuffer::relay::test
