// SPDX-License-Identifier: MIT
// zb-relay-peer's hostile modes: a sender and a subscriber that speak garbage, a HELLO flood, raw ZMTP peers that
// send parts flagged MORE without end, and a broker client that registers what it likes.
#include <algorithm>
#include <array>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>
#include <zmq.h>

#include "broker_client.h"
#include "peer.h"
#include "wire.h"
#include "zmtp_raw.h"

namespace zerobuffer::relay::test {

namespace {

void send_parts(void* socket, const std::string& id, const std::vector<std::string>& parts)
{
    zmq_send(socket, id.data(), id.size(), ZMQ_SNDMORE);
    for (std::size_t i = 0; i < parts.size(); ++i)
        zmq_send(socket, parts[i].data(), parts[i].size(), i + 1 < parts.size() ? ZMQ_SNDMORE : 0);
}

std::string header_bytes(const zerobuffer::relay::wire::FrameHeader& header)
{
    std::array<std::byte, zerobuffer::relay::wire::kFrameHeaderSize> bytes{};
    zerobuffer::relay::wire::encode(header, bytes);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

/// The port of tcp://127.0.0.1:PORT.
int port_of(const std::string& address)
{
    return std::stoi(address.substr(address.rfind(':') + 1));
}

} // namespace

int run_hostile_sender(const Options& options)
{
    namespace wire = zerobuffer::relay::wire;
    void* context = zmq_ctx_new();
    void* router = zmq_socket(context, ZMQ_ROUTER);
    const int linger = 1000;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(router, options.target.c_str()) != 0)
        return fail(std::string("bind: ") + zmq_strerror(zmq_errno()));
    // Wait for the receiving relay's HELLO to learn its routing id and session.
    std::string id;
    std::uint64_t session = 0;
    zmq_pollitem_t item{router, 0, ZMQ_POLLIN, 0};
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (session == 0 && Clock::now() < deadline) {
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        std::array<char, 256> buffer{};
        const int id_size = zmq_recv(router, buffer.data(), buffer.size(), 0);
        id.assign(buffer.data(), static_cast<std::size_t>(std::max(id_size, 0)));
        std::array<std::byte, 64> body{};
        const int body_size = zmq_recv(router, body.data(), body.size(), 0);
        auto control = wire::decode_control(
            std::span<const std::byte>(body.data(), static_cast<std::size_t>(std::max(body_size, 0))));
        if (control && control->kind == wire::Kind::Hello)
            session = control->session;
    }
    if (session == 0)
        return fail("no HELLO from the receiving relay");
    Options small = options;
    small.width = 64;
    small.height = 48;
    small.frames = 5;
    wire::FrameHeader good;
    good.session = session;
    good.info = info_for(small, 0);
    good.payload_size = payload_size_for(small, 0);
    std::string payload(good.payload_size, '\0');
    auto with = [&](auto change) {
        wire::FrameHeader header = good;
        change(header);
        return header_bytes(header);
    };
    std::vector<std::vector<std::string>> garbage;
    garbage.push_back({"just one part"});
    garbage.push_back({with([](auto&) {}), payload, "a third part"});
    garbage.push_back({"short", payload});
    std::string wrong_magic = with([](auto&) {});
    wrong_magic[0] = 'X';
    garbage.push_back({wrong_magic, payload});
    std::string wrong_version = with([](auto&) {});
    wrong_version[4] = '\x09';
    garbage.push_back({wrong_version, payload});
    std::string wrong_kind = with([](auto&) {});
    wrong_kind[6] = '\x77';
    garbage.push_back({wrong_kind, payload});
    garbage.push_back({with([](auto& h) { h.metadata_size = 500; }), payload});
    garbage.push_back({with([](auto& h) { h.payload_size = 1000; }), payload});
    garbage.push_back({with([](auto& h) { h.payload_size = std::uint64_t{1} << 60; }), payload});
    std::string reserved = with([](auto&) {});
    reserved[84] = '\x02'; // bit 0 is kHeaderPayloadOnStream; the others are reserved
    garbage.push_back({reserved, payload});
    garbage.push_back({with([](auto& h) {
                           h.kind = wire::Kind::StreamMetadata;
                           h.payload_size = 9;
                       }),
                       "not json!"});
    garbage.push_back({with([](auto& h) {
                           h.kind = wire::Kind::StreamMetadata;
                           h.payload_size = std::uint64_t{1} << 40;
                       }),
                       "{}"});
    // Stream metadata nested 100,000 deep: the core and every reader of the ring would walk it recursively.
    const std::string deep_json =
        R"({"media_type":"video/x-raw","x":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
    garbage.push_back({with([&](auto& h) {
                           h.kind = wire::Kind::StreamMetadata;
                           h.payload_size = deep_json.size();
                       }),
                       deep_json});
    garbage.push_back({std::string(200, '\xff'), std::string(1000, '\xee')});
    for (const auto& message : garbage)
        send_parts(router, id, message);
    // Then a well-formed stream: metadata, 5 frames, end of stream.
    const std::string json = to_json(format_for(small, 0));
    send_parts(router, id,
               {with([&](auto& h) {
                    h.kind = wire::Kind::StreamMetadata;
                    h.info = FrameInfo{};
                    h.payload_size = json.size();
                }),
                json});
    for (std::uint64_t index = 0; index < small.frames; ++index) {
        std::string bytes(payload_size_for(small, index), '\0');
        fill_payload(std::span<std::byte>(reinterpret_cast<std::byte*>(bytes.data()), bytes.size()), index, false,
                     true);
        const std::string blob = blob_for(index);
        wire::FrameHeader header = good;
        header.sequence = index;
        header.info = info_for(small, index);
        header.payload_size = bytes.size();
        header.metadata_size = static_cast<std::uint32_t>(blob.size());
        send_parts(router, id, {header_bytes(header) + blob, bytes});
    }
    wire::FrameHeader eos = good;
    eos.sequence = small.frames;
    eos.info = FrameInfo{};
    eos.info.flags = kFrameEndOfStream;
    eos.payload_size = 0;
    send_parts(router, id, {header_bytes(eos), ""});
    std::printf("sent %zu bad messages and %llu good frames\n", garbage.size(),
                static_cast<unsigned long long>(small.frames));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    zmq_close(router);
    zmq_ctx_term(context);
    return 0;
}

int run_hostile_client(const Options& options)
{
    namespace wire = zerobuffer::relay::wire;
    void* context = zmq_ctx_new();
    void* dealer = zmq_socket(context, ZMQ_DEALER);
    const int linger = 1000;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(dealer, options.target.c_str()) != 0)
        return fail(std::string("connect: ") + zmq_strerror(zmq_errno()));
    std::array<std::byte, wire::kControlSize> good{};
    wire::ControlMessage hello;
    hello.kind = wire::Kind::Hello;
    hello.session = 42;
    hello.window = 4;
    wire::encode(hello, good);
    const std::string valid(reinterpret_cast<const char*>(good.data()), good.size());
    std::vector<std::vector<std::string>> garbage;
    garbage.push_back({"x"});
    garbage.push_back({valid, "second part"});
    garbage.push_back({std::string(32, '\0')});
    std::string bad_window = valid;
    bad_window[24] = '\0';
    garbage.push_back({bad_window});
    std::string bad_policy = valid;
    bad_policy[28] = '\x07';
    garbage.push_back({bad_policy});
    std::string bad_kind = valid;
    bad_kind[6] = '\x01';
    garbage.push_back({bad_kind});
    garbage.push_back({std::string(100000, '\xab')});
    for (const auto& message : garbage)
        for (std::size_t i = 0; i < message.size(); ++i)
            zmq_send(dealer, message[i].data(), message[i].size(), i + 1 < message.size() ? ZMQ_SNDMORE : 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::printf("sent %zu bad messages\n", garbage.size());
    zmq_close(dealer);
    zmq_ctx_term(context);
    return 0;
}

int run_hello_flood(const Options& options)
{
    namespace wire = zerobuffer::relay::wire;
    void* context = zmq_ctx_new();
    void* dealer = zmq_socket(context, ZMQ_DEALER);
    const int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(dealer, options.target.c_str()) != 0)
        return fail(std::string("connect: ") + zmq_strerror(zmq_errno()));
    wire::ControlMessage hello;
    hello.kind = wire::Kind::Hello;
    hello.window = 4;
    std::array<std::byte, wire::kControlSize> bytes{};
    std::uint64_t sent = 0;
    const auto end = Clock::now() + std::chrono::duration<double>(options.seconds);
    while (Clock::now() < end) {
        hello.session = 1000 + sent;
        wire::encode(hello, bytes);
        if (zmq_send(dealer, bytes.data(), bytes.size(), ZMQ_DONTWAIT) >= 0)
            ++sent;
        else
            std::this_thread::sleep_for(std::chrono::microseconds(100)); // its queue is full: let it drain
    }
    std::printf("sent %llu HELLOs\n", static_cast<unsigned long long>(sent));
    zmq_close(dealer);
    zmq_ctx_term(context);
    return 0;
}

int run_flood(const Options& options, bool as_sender)
{
    using zerobuffer::relay::test::RawZmtp;
    auto peer = as_sender ? RawZmtp::accept(port_of(options.target), "ROUTER", 20)
                          : RawZmtp::connect(port_of(options.target), "DEALER");
    if (!peer)
        return fail("no ZMTP handshake with the relay at " + options.target);
    const std::uint64_t total = options.megabytes * 1'000'000;
    const std::uint64_t sent = peer->flood(options.part_bytes, total);
    std::printf("sent %llu bytes in parts of %zu, all flagged MORE%s\n", static_cast<unsigned long long>(sent),
                options.part_bytes, sent < total ? " (then the relay dropped the connection)" : "");
    return 0;
}

int run_broker_reg(const Options& options)
{
    using namespace zerobuffer::relay;
    BrokerClientOptions client_options{options.target, std::chrono::milliseconds(500), std::nullopt};
    if (!options.broker_key.empty()) {
        auto keys = load_curve_client_keys(options.broker_key, options.curve_secret);
        if (!keys)
            return fail(keys.error().message);
        client_options.curve = std::move(*keys);
    }
    auto client = BrokerClient::connect(client_options);
    if (!client)
        return fail(client.error().message);
    const nlohmann::json request = {
        {"type", "REG"}, {"name", options.stream_name}, {"address", options.address}, {"ttl", options.ttl_ms / 1000.0}};
    for (int attempt = 0; attempt < 20; ++attempt) { // a CURVE handshake may need a moment
        auto reply = client->request(request);
        if (!reply)
            continue;
        std::printf("%s\n", reply->dump().c_str());
        return (*reply)["ok"].get<bool>() ? 0 : 3;
    }
    return fail("no answer from the broker at " + options.target);
}

} // namespace zerobuffer::relay::test
