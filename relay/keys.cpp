// SPDX-License-Identifier: MIT
// CURVE key files, key generation and the ZAP handler of zb-relay.
#include "keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string_view>
#include <vector>

#include <zmq.h>

namespace zerobuffer::relay {

namespace {

constexpr std::size_t kZ85KeyLength = 40;

RelayResult<void> write_file(const std::string& path, const std::string& text, mode_t mode)
{
    // O_EXCL: never overwrite an existing key by accident.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return relay_error(RelayErrc::Io, "cannot create '" + path + "': " + std::strerror(errno) +
                                              (errno == EEXIST ? " (remove it first or choose another prefix)" : ""));
    const ssize_t written = ::write(fd, text.data(), text.size());
    const bool ok = written == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok)
        return relay_error(RelayErrc::Io, "cannot write '" + path + "': " + std::strerror(errno));
    return {};
}

std::string_view trim(std::string_view text)
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n'))
        text.remove_suffix(1);
    return text;
}

bool decode_z85(std::string_view z85, std::array<std::uint8_t, 32>& raw)
{
    if (z85.size() != kZ85KeyLength)
        return false;
    const std::string terminated(z85);
    return zmq_z85_decode(raw.data(), terminated.c_str()) != nullptr;
}

} // namespace

RelayResult<void> write_key_pair(const std::string& prefix)
{
    std::array<char, kZ85KeyLength + 1> public_key{};
    std::array<char, kZ85KeyLength + 1> secret_key{};
    if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0)
        return relay_error(
            RelayErrc::Security,
            "cannot make a CURVE key pair: libzmq was built without CURVE (install libzmq with libsodium)");
    auto secret = write_file(prefix + ".key", std::string(secret_key.data()) + "\n", 0600);
    if (!secret)
        return secret;
    return write_file(prefix + ".pub", std::string(public_key.data()) + "\n", 0644);
}

RelayResult<std::string> read_key_file(const std::string& path, const std::string& what)
{
    std::ifstream file(path);
    if (!file)
        return relay_error(RelayErrc::Io, "cannot read " + what + " file '" + path +
                                              "': check the path (make keys with `zb-relay keygen PREFIX`)");
    std::string line;
    std::getline(file, line);
    const std::string_view key = trim(line);
    std::array<std::uint8_t, 32> raw{};
    if (!decode_z85(key, raw))
        return relay_error(RelayErrc::Security, what + " file '" + path +
                                                    "' does not hold a 40-character Z85 key: make one with "
                                                    "`zb-relay keygen PREFIX`");
    return std::string(key);
}

RelayResult<std::string> public_key_of(const std::string& secret_z85)
{
    std::array<char, kZ85KeyLength + 1> public_key{};
    if (zmq_curve_public(public_key.data(), secret_z85.c_str()) != 0)
        return relay_error(RelayErrc::Security, "cannot derive the public key of a secret key (libzmq without CURVE?)");
    return std::string(public_key.data());
}

RelayResult<std::set<std::string>> read_allowed_keys(const std::string& path)
{
    std::ifstream file(path);
    if (!file)
        return relay_error(RelayErrc::Io, "cannot read allowed-keys file '" + path +
                                              "': check the path; it lists one client public key (.pub) per line");
    std::set<std::string> keys;
    std::string line;
    int line_number = 0;
    while (std::getline(file, line)) {
        ++line_number;
        const std::string_view text = trim(line);
        if (text.empty() || text.front() == '#')
            continue;
        std::array<std::uint8_t, 32> raw{};
        if (!decode_z85(text, raw))
            return relay_error(RelayErrc::Security, "allowed-keys file '" + path + "' line " +
                                                        std::to_string(line_number) +
                                                        " is not a 40-character Z85 public key");
        keys.emplace(reinterpret_cast<const char*>(raw.data()), raw.size());
    }
    if (keys.empty())
        return relay_error(RelayErrc::Security,
                           "allowed-keys file '" + path + "' lists no key: add the clients' .pub lines");
    return keys;
}

RelayResult<std::unique_ptr<ZapHandler>> ZapHandler::start(void* context, std::set<std::string> allowed,
                                                           std::string log_prefix)
{
    void* socket = zmq_socket(context, ZMQ_REP);
    if (socket == nullptr)
        return relay_error(RelayErrc::Network,
                           std::string("cannot create the ZAP socket: ") + zmq_strerror(zmq_errno()));
    const int linger = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(socket, "inproc://zeromq.zap.01") != 0) {
        const std::string reason = zmq_strerror(zmq_errno());
        zmq_close(socket);
        return relay_error(RelayErrc::Network, "cannot bind the ZAP handler: " + reason);
    }
    return std::unique_ptr<ZapHandler>(new ZapHandler(socket, std::move(allowed), std::move(log_prefix)));
}

ZapHandler::ZapHandler(void* socket, std::set<std::string> allowed, std::string log_prefix)
    : socket_(socket), allowed_(std::move(allowed)), log_prefix_(std::move(log_prefix))
{
    thread_ = std::thread([this] { serve(); });
}

ZapHandler::~ZapHandler()
{
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
}

void ZapHandler::serve()
{
    while (!stop_.load(std::memory_order_relaxed)) {
        zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        // A ZAP request: version, request id, domain, address, routing id, mechanism, credentials...
        std::vector<std::string> parts;
        int more = 1;
        while (more != 0) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, socket_, 0) < 0) {
                zmq_msg_close(&part);
                break;
            }
            parts.emplace_back(static_cast<const char*>(zmq_msg_data(&part)), zmq_msg_size(&part));
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        // REP must answer every request, also a malformed one (libzmq never sends those).
        parts.resize(std::max<std::size_t>(parts.size(), 6));
        const std::string& request_id = parts[1];
        const std::string& address = parts[3];
        const std::string& mechanism = parts[5];
        bool allowed = false;
        std::string reason = "mechanism '" + mechanism + "' is not CURVE";
        if (mechanism == "CURVE" && parts.size() >= 7) {
            allowed = allowed_.contains(parts[6]);
            std::array<char, kZ85KeyLength + 1> z85{};
            if (parts[6].size() == 32)
                zmq_z85_encode(z85.data(), reinterpret_cast<const std::uint8_t*>(parts[6].data()), 32);
            reason = "client key " + std::string(z85.data()) + " is not in the allowed-keys file";
        }
        if (!allowed) {
            refused_.fetch_add(1, std::memory_order_relaxed);
            std::fprintf(stderr, "%s: refused a client from %s: %s\n", log_prefix_.c_str(), address.c_str(),
                         reason.c_str());
        }
        const std::array<std::string, 6> reply{
            "1.0", request_id, allowed ? "200" : "400", allowed ? "OK" : "key not allowed", allowed ? "client" : "",
            ""};
        for (std::size_t i = 0; i < reply.size(); ++i)
            zmq_send(socket_, reply[i].data(), reply[i].size(), i + 1 < reply.size() ? ZMQ_SNDMORE : 0);
    }
    zmq_close(socket_);
}

} // namespace zerobuffer::relay
