// SPDX-License-Identifier: MIT
// zb-relay-peer torn-sender: a sending relay that dies in the middle of a payload on its payload stream. It offers
// the receiving relay a payload stream, sends frame 0 whole, then half of frame 1's payload, and closes the
// stream: the receiver must commit frame 0 only, and start a new session.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>
#include <thread>

#include <zmq.h>

#include "payload_stream.h"
#include "peer.h"
#include "wire.h"

namespace zerobuffer::relay::test {

namespace {

namespace wire = zerobuffer::relay::wire;

struct Control {
    std::string id;
    wire::ControlMessage message;
};

/// The next control message from a receiving relay within `wait`.
std::optional<Control> next_control(void* router, std::chrono::milliseconds wait)
{
    const auto deadline = Clock::now() + wait;
    zmq_pollitem_t item{router, 0, ZMQ_POLLIN, 0};
    while (Clock::now() < deadline) {
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        std::array<char, 256> id{};
        const int id_size = zmq_recv(router, id.data(), id.size(), 0);
        std::array<std::byte, 64> body{};
        const int body_size = zmq_recv(router, body.data(), body.size(), 0);
        auto control = wire::decode_control(
            std::span<const std::byte>(body.data(), static_cast<std::size_t>(std::max(body_size, 0))));
        if (control)
            return Control{std::string(id.data(), static_cast<std::size_t>(std::max(id_size, 0))), *control};
    }
    return std::nullopt;
}

void send_message(void* router, const std::string& id, const wire::FrameHeader& header, const std::string& blob,
                  std::span<const std::byte> body)
{
    std::array<std::byte, wire::kFrameHeaderSize> bytes{};
    wire::encode(header, bytes);
    std::string first(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    first += blob;
    zmq_send(router, id.data(), id.size(), ZMQ_SNDMORE);
    zmq_send(router, first.data(), first.size(), ZMQ_SNDMORE);
    zmq_send(router, body.data(), body.size(), 0);
}

bool write_all(int fd, std::span<const std::byte> bytes)
{
    while (!bytes.empty()) {
        const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent <= 0)
            return false;
        bytes = bytes.subspan(static_cast<std::size_t>(sent));
    }
    return true;
}

} // namespace

int run_torn_sender(const Options& options)
{
    void* context = zmq_ctx_new();
    void* router = zmq_socket(context, ZMQ_ROUTER);
    const int linger = 1000;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(router, options.target.c_str()) != 0)
        return fail(std::string("bind: ") + zmq_strerror(zmq_errno()));
    std::optional<Control> hello;
    bool asked = false;
    while (!asked) {
        auto control = next_control(router, std::chrono::seconds(20));
        if (!control)
            return fail("no HELLO and STREAM-REQUEST from the receiving relay");
        if (control->message.kind == wire::Kind::Hello)
            hello = control;
        asked = hello && control->message.kind == wire::Kind::StreamRequest &&
                control->message.session == hello->message.session;
    }
    const std::string id = hello->id;
    const std::uint64_t session = hello->message.session;
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener.get(), 4) != 0 ||
        getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &size) != 0)
        return fail("cannot listen for the payload stream");
    const std::uint64_t token = std::random_device{}();
    wire::FrameHeader offer_header;
    offer_header.kind = wire::Kind::StreamOffer;
    offer_header.session = session;
    offer_header.payload_size = wire::kStreamOfferSize;
    std::array<std::byte, wire::kStreamOfferSize> offer{};
    wire::encode(wire::StreamOffer{token, ntohs(address.sin_port)}, offer);
    send_message(router, id, offer_header, "", offer);
    pollfd waiting{listener.get(), POLLIN, 0};
    if (::poll(&waiting, 1, 5000) != 1)
        return fail("the receiving relay did not connect its payload stream");
    UniqueFd stream(::accept(listener.get(), nullptr, nullptr));
    std::array<std::byte, wire::kStreamHelloSize> stream_hello{};
    if (::recv(stream.get(), stream_hello.data(), stream_hello.size(), MSG_WAITALL) !=
            static_cast<ssize_t>(stream_hello.size()) ||
        wire::decode_stream_hello(stream_hello) != token)
        return fail("the payload stream did not start with our token");

    const std::string json = to_json(format_for(options, 0));
    wire::FrameHeader metadata;
    metadata.kind = wire::Kind::StreamMetadata;
    metadata.session = session;
    metadata.payload_size = json.size();
    send_message(router, id, metadata, "",
                 std::span<const std::byte>(reinterpret_cast<const std::byte*>(json.data()), json.size()));
    std::size_t torn_at = 0;
    for (std::uint64_t index = 0; index < 2; ++index) {
        std::vector<std::byte> payload(payload_size_for(options, index));
        fill_payload(payload, index, false, true);
        const std::string blob = blob_for(index);
        wire::FrameHeader header;
        header.session = session;
        header.sequence = index;
        header.info = info_for(options, index);
        header.payload_size = payload.size();
        header.metadata_size = static_cast<std::uint32_t>(blob.size());
        header.header_flags = wire::kHeaderPayloadOnStream;
        send_message(router, id, header, blob, {});
        // Frame 0 whole; frame 1 only half, then the connection ends, as when a sending relay is killed.
        torn_at = index == 0 ? payload.size() : payload.size() / 2;
        if (!write_all(stream.get(), std::span<const std::byte>(payload).first(torn_at)))
            return fail("the receiving relay closed the payload stream early");
        if (index == 1)
            std::printf("tore frame 1 after %zu of %zu payload bytes\n", torn_at, payload.size());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stream = UniqueFd();
    // The receiver drops the torn frame and starts a new session.
    for (;;) {
        auto control = next_control(router, std::chrono::seconds(10));
        if (!control)
            return fail("no new session from the receiving relay after the torn frame");
        if (control->message.kind == wire::Kind::Hello && control->message.session != session) {
            std::printf("new session after the torn frame\n");
            break;
        }
    }
    std::fflush(stdout);
    zmq_close(router);
    zmq_ctx_term(context);
    return 0;
}

} // namespace zerobuffer::relay::test
