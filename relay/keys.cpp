// SPDX-License-Identifier: MIT
// CURVE key generation, the allowed-keys policy and the ZAP handler thread of zb-relay.
#include "keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

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

RelayResult<AllowedCurveKeys> read_allowed_keys(const std::string& path)
{
    auto keys = as_relay_result(read_allowed_keys_file(path));
    if (!keys)
        return tl::unexpected(keys.error());
    if (keys->empty())
        return relay_error(RelayErrc::Security,
                           "allowed-keys file '" + path + "' lists no key: add the clients' .pub lines");
    return AllowedCurveKeys(keys->begin(), keys->end());
}

RelayResult<std::unique_ptr<ZapHandler>> ZapHandler::start(void* context, AllowedCurveKeys allowed,
                                                           std::string log_prefix)
{
    void* socket = zmq_socket(context, ZMQ_REP);
    if (socket == nullptr)
        return relay_error(RelayErrc::Network,
                           std::string("cannot create the ZAP socket: ") + zmq_strerror(zmq_errno()));
    const int linger = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(socket, kZapEndpoint) != 0) {
        const std::string reason = zmq_strerror(zmq_errno());
        zmq_close(socket);
        return relay_error(RelayErrc::Network, "cannot bind the ZAP handler: " + reason);
    }
    return std::unique_ptr<ZapHandler>(new ZapHandler(socket, std::move(allowed), std::move(log_prefix)));
}

ZapHandler::ZapHandler(void* socket, AllowedCurveKeys allowed, std::string log_prefix)
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
        const auto decision = answer_zap_request(socket_, allowed_);
        if (!decision || decision->allowed)
            continue;
        refused_.fetch_add(1, std::memory_order_relaxed);
        const std::string reason = decision->mechanism != "CURVE"
                                       ? "mechanism '" + decision->mechanism + "' is not CURVE"
                                       : "client key " + decision->client_key + " is not in the allowed-keys file";
        std::fprintf(stderr, "%s: refused a client from %s: %s\n", log_prefix_.c_str(), decision->address.c_str(),
                     reason.c_str());
    }
    zmq_close(socket_);
}

} // namespace zerobuffer::relay
