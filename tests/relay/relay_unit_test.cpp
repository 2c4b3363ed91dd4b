// SPDX-License-Identifier: MIT
// Unit tests of zb-relay's wire decoding (random and mutated bytes never crash it, every field is checked) and
// of its endpoint and route validation, and of its allowed-keys rule on top of the broker's key-file reader.
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.h>

#include "config.h"
#include "keys.h"
#include "route_security.h"
#include "wire.h"

namespace {

using namespace zerobuffer::relay;

std::vector<std::byte> encoded_frame(const wire::FrameHeader& header, std::size_t blob)
{
    std::vector<std::byte> bytes(wire::kFrameHeaderSize + blob, std::byte{0x5a});
    wire::encode(header, std::span<std::byte, wire::kFrameHeaderSize>(bytes.data(), wire::kFrameHeaderSize));
    return bytes;
}

TEST(RelayWire, FrameHeaderRoundTripsEveryField)
{
    wire::FrameHeader header;
    header.kind = wire::Kind::Frame;
    header.session = 0x1122334455667788ULL;
    header.sequence = 42;
    header.format_generation = 7;
    header.info.pts = -5;
    header.info.dts = 123456789012345;
    header.info.duration = 16'666'667;
    header.info.offset = 9;
    header.info.offset_end = 10;
    header.info.flags = 0xffff0003u;
    header.payload_size = 3'110'400;
    header.metadata_size = 17;
    const auto bytes = encoded_frame(header, 17);
    auto decoded = wire::decode_frame_header(bytes);
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(decoded->session, header.session);
    EXPECT_EQ(decoded->sequence, 42u);
    EXPECT_EQ(decoded->format_generation, 7u);
    EXPECT_EQ(decoded->info.pts, -5);
    EXPECT_EQ(decoded->info.dts, header.info.dts);
    EXPECT_EQ(decoded->info.duration, header.info.duration);
    EXPECT_EQ(decoded->info.offset, 9u);
    EXPECT_EQ(decoded->info.offset_end, 10u);
    EXPECT_EQ(decoded->info.flags, header.info.flags);
    EXPECT_EQ(decoded->payload_size, header.payload_size);
    EXPECT_EQ(decoded->metadata_size, 17u);
}

TEST(RelayWire, EveryTruncationIsRefused)
{
    wire::FrameHeader header;
    const auto bytes = encoded_frame(header, 0);
    for (std::size_t size = 0; size < bytes.size(); ++size)
        EXPECT_FALSE(wire::decode_frame_header(std::span<const std::byte>(bytes.data(), size))) << size;
    // A blob whose size does not match the header is refused too (one byte more than announced).
    const auto longer = encoded_frame(header, 1);
    EXPECT_FALSE(wire::decode_frame_header(longer));
}

TEST(RelayWire, RandomAndMutatedBytesNeverCrashAndRarelyPass)
{
    std::mt19937_64 random(12345);
    wire::FrameHeader header;
    header.payload_size = 100;
    const auto valid = encoded_frame(header, 8);
    std::size_t accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        std::vector<std::byte> bytes = valid;
        if (round % 2 == 0) {
            bytes.resize(random() % 200);
            for (auto& byte : bytes)
                byte = static_cast<std::byte>(random());
        } else {
            bytes[random() % bytes.size()] = static_cast<std::byte>(random());
        }
        auto decoded = wire::decode_frame_header(bytes);
        if (decoded) {
            ++accepted;
            // Whatever passes is self-consistent: the blob size matches the part.
            EXPECT_EQ(decoded->metadata_size, bytes.size() - wire::kFrameHeaderSize);
        }
        std::array<std::byte, wire::kControlSize> control{};
        std::memcpy(control.data(), bytes.data(), std::min(bytes.size(), control.size()));
        (void)wire::decode_control(std::span<const std::byte>(control.data(), std::min(bytes.size(), control.size())));
    }
    // Random buffers never have the magic; mutations of header fields that are free-form (pts, ...) still pass.
    EXPECT_LT(accepted, 10000u);
}

TEST(RelayWire, ControlMessagesAreChecked)
{
    wire::ControlMessage message;
    message.kind = wire::Kind::Hello;
    message.session = 99;
    message.received = 5;
    message.window = 4;
    message.policy = 1;
    std::array<std::byte, wire::kControlSize> bytes{};
    wire::encode(message, bytes);
    auto decoded = wire::decode_control(bytes);
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(decoded->session, 99u);
    EXPECT_EQ(decoded->received, 5u);
    EXPECT_EQ(decoded->window, 4u);
    EXPECT_EQ(decoded->policy, 1u);
    auto with = [&](std::size_t offset, std::uint8_t value) {
        auto copy = bytes;
        copy[offset] = std::byte{value};
        return wire::decode_control(copy);
    };
    EXPECT_FALSE(with(0, 0));   // magic
    EXPECT_FALSE(with(4, 2));   // version
    EXPECT_FALSE(with(6, 1));   // kind: a sender's kind is not a control kind
    EXPECT_FALSE(with(24, 0));  // window 0
    EXPECT_FALSE(with(24, 65)); // window over 64
    EXPECT_FALSE(with(28, 2));  // policy
    EXPECT_FALSE(wire::decode_control(std::span<const std::byte>(bytes.data(), 31)));
}

TEST(RelayWire, PayloadStreamFlagOffersAndGreetingsAreChecked)
{
    wire::FrameHeader header;
    header.payload_size = 3'110'400;
    header.header_flags = wire::kHeaderPayloadOnStream;
    auto bytes = encoded_frame(header, 0);
    auto decoded = wire::decode_frame_header(bytes);
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(decoded->header_flags, wire::kHeaderPayloadOnStream);
    bytes[84] = std::byte{0x03}; // an unknown flag bit besides the stream bit
    EXPECT_FALSE(wire::decode_frame_header(bytes));
    header.kind = wire::Kind::StreamMetadata; // only a frame's payload may be on the stream
    header.payload_size = 10;
    EXPECT_FALSE(wire::decode_frame_header(encoded_frame(header, 0)));

    std::array<std::byte, wire::kStreamOfferSize> offer{};
    wire::encode(wire::StreamOffer{0x0123456789abcdefULL, 40000}, offer);
    auto parsed = wire::decode_stream_offer(offer);
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ(parsed->token, 0x0123456789abcdefULL);
    EXPECT_EQ(parsed->port, 40000u);
    auto changed = offer;
    changed[12] = std::byte{1}; // reserved bytes
    EXPECT_FALSE(wire::decode_stream_offer(changed));
    wire::encode(wire::StreamOffer{1, 0}, changed); // port 0
    EXPECT_FALSE(wire::decode_stream_offer(changed));
    EXPECT_FALSE(wire::decode_stream_offer(std::span<const std::byte>(offer.data(), 15)));

    std::array<std::byte, wire::kStreamHelloSize> hello{};
    wire::encode_stream_hello(77, hello);
    EXPECT_EQ(wire::decode_stream_hello(hello), 77u);
    auto wrong = hello;
    wrong[0] = std::byte{'X'};
    EXPECT_FALSE(wire::decode_stream_hello(wrong));
    wrong = hello;
    wrong[4] = std::byte{9}; // version
    EXPECT_FALSE(wire::decode_stream_hello(wrong));

    wire::ControlMessage request;
    request.kind = wire::Kind::StreamRequest;
    request.window = 4;
    std::array<std::byte, wire::kControlSize> control{};
    wire::encode(request, control);
    auto decoded_request = wire::decode_control(control);
    ASSERT_TRUE(decoded_request) << decoded_request.error();
    EXPECT_EQ(decoded_request->kind, wire::Kind::StreamRequest);
}

TEST(RelayConfig, EndpointsAndOptions)
{
    auto ring = parse_endpoint("ring:preview?policy=latest&size=32M&readers=4&wait-readers=1", true);
    ASSERT_TRUE(ring) << ring.error().message;
    EXPECT_EQ(ring->kind, EndpointKind::Ring);
    EXPECT_EQ(ring->address, "preview");
    EXPECT_EQ(ring->policy, FlowPolicy::Latest);
    EXPECT_EQ(ring->ring_size, std::size_t{32} << 20);
    EXPECT_EQ(ring->max_readers, 4u);
    EXPECT_EQ(ring->wait_readers, 1u);
    auto broker = parse_endpoint("broker://b.example:5550/cam1?window=8", false);
    ASSERT_TRUE(broker) << broker.error().message;
    EXPECT_EQ(broker->address, "tcp://b.example:5550");
    EXPECT_EQ(broker->stream_name, "cam1");
    EXPECT_EQ(broker->window, 8u);
    EXPECT_FALSE(parse_endpoint("ring:", true));
    EXPECT_FALSE(parse_endpoint("ring:a/b", true));
    EXPECT_FALSE(parse_endpoint("ring:a?size=0", true));
    EXPECT_FALSE(parse_endpoint("ring:a?window=4", true)); // a receiving option on a ring
    EXPECT_FALSE(parse_endpoint("tcp://*:5555", false));   // cannot connect to '*'
    EXPECT_FALSE(parse_endpoint("tcp://host", false));     // no port
    EXPECT_FALSE(parse_endpoint("tcp://h:1?window=65", false));
    EXPECT_FALSE(parse_endpoint("broker://h:1", false));  // no stream name
    EXPECT_FALSE(parse_endpoint("broker://h:1/x", true)); // not an output
    EXPECT_FALSE(parse_endpoint("udp://h:1", true));
    auto error = parse_endpoint("ring:a?colour=red", true);
    ASSERT_FALSE(error);
    EXPECT_NE(error.error().message.find("option 'colour' does not apply here"), std::string::npos);
}

TEST(RelayConfig, RoutesNeedKeysForTcpAndOneNetworkSide)
{
    RouteConfig route;
    route.name = "r";
    route.from = *parse_endpoint("ring:cam", false);
    route.to.push_back(*parse_endpoint("tcp://*:5555", true));
    auto refused = validate_route(route);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, RelayErrc::Security);
    route.security.insecure = true;
    EXPECT_TRUE(validate_route(route));
    route.to.push_back(*parse_endpoint("tcp://*:5556", true));
    EXPECT_FALSE(validate_route(route)); // two network outputs
    RouteConfig receive;
    receive.name = "r";
    receive.from = *parse_endpoint("ipc:///tmp/x", false);
    receive.to.push_back(*parse_endpoint("ring:cam", true));
    EXPECT_TRUE(validate_route(receive)); // ipc needs no keys
    receive.to.push_back(*parse_endpoint("ring:cam", true));
    EXPECT_FALSE(validate_route(receive)); // same output twice
}

/// A route of one endpoint pair with the given CURVE files set (empty: not set).
RouteConfig route_of(const char* from, const char* to, const char* secret, const char* allowed, const char* server)
{
    RouteConfig route;
    route.name = "r";
    route.from = *parse_endpoint(from, false);
    route.to.push_back(*parse_endpoint(to, true));
    route.security.secret_key_file = secret;
    route.security.allowed_keys_file = allowed;
    route.security.server_key_file = server;
    return route;
}

TEST(RelayConfig, KeysMakeEveryTransportCurveAndBelongToTheirSide)
{
    // Keys decide, not the address: ipc:// with a key option is CURVE and needs the whole set of its side.
    EXPECT_TRUE(uses_curve(route_of("ipc:///tmp/x", "ring:a", "c.key", "", "s.pub").security));
    EXPECT_TRUE(validate_route(route_of("ipc:///tmp/x", "ring:a", "c.key", "", "s.pub")));
    EXPECT_TRUE(validate_route(route_of("ring:a", "ipc:///tmp/x", "s.key", "clients.txt", "")));
    auto partial = validate_route(route_of("ipc:///tmp/x", "ring:a", "", "", "s.pub"));
    ASSERT_FALSE(partial);
    EXPECT_EQ(partial.error().code, RelayErrc::Security);
    EXPECT_NE(partial.error().message.find("a key option makes ipc:// use CURVE too"), std::string::npos)
        << partial.error().message;
    EXPECT_FALSE(validate_route(route_of("ring:a", "ipc:///tmp/x", "s.key", "", "")));
    // An option of the other side is a mistake, not a no-op.
    auto server_key_on_publisher = validate_route(route_of("ring:a", "tcp://*:5555", "s.key", "clients.txt", "s.pub"));
    ASSERT_FALSE(server_key_on_publisher);
    EXPECT_NE(server_key_on_publisher.error().message.find("--server-key is the publisher's key for a receiving route"),
              std::string::npos);
    auto allowed_on_receiver = validate_route(route_of("tcp://h:5555", "ring:a", "c.key", "clients.txt", "s.pub"));
    ASSERT_FALSE(allowed_on_receiver);
    EXPECT_NE(allowed_on_receiver.error().message.find("--allowed-keys lists the receivers"), std::string::npos);
    EXPECT_FALSE(validate_route(route_of("ring:a", "ring:b", "s.key", "", ""))) << "keys without a network endpoint";
    EXPECT_FALSE(uses_curve(route_of("ipc:///tmp/x", "ring:a", "", "", "").security));
}

TEST(RelayConfig, AdvertiseIsAnAddressOfTheOutputsTransport)
{
    RouteConfig route = route_of("ring:a", "tcp://*:5555", "", "", "");
    route.security.insecure = true;
    route.broker = "tcp://b:5550";
    route.publish_name = "cam1";
    route.advertise = "tcp://camera.example:5555";
    EXPECT_TRUE(validate_route(route));
    for (const char* bad : {"ipc:///tmp/evil.sock", "tcp://camera.example", "udp://h:1", "tcp://h:1 x"}) {
        route.advertise = bad;
        auto refused = validate_route(route);
        ASSERT_FALSE(refused) << bad;
        EXPECT_EQ(refused.error().code, RelayErrc::InvalidConfig);
        EXPECT_NE(refused.error().message.find("--advertise"), std::string::npos) << refused.error().message;
    }
    route.advertise = "tcp://h:1";
    route.publish_name.clear();
    route.broker.clear();
    EXPECT_FALSE(validate_route(route)) << "--advertise without a broker registration";

    // A CURVE publisher registers only tcp://: its receivers accept nothing else from a broker.
    RouteConfig curve = route_of("ring:a", "ipc:///tmp/x", "s.key", "clients.txt", "");
    curve.broker = "tcp://b:5550";
    curve.broker_key_file = "b.pub";
    curve.publish_name = "cam1";
    auto refused = validate_route(curve);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("registers only a tcp:// output"), std::string::npos);
}

TEST(RelayConfig, ACurveRouteRefusesBrokerAddressesOfAnotherTransport)
{
    const RouteConfig pinned = route_of("broker://b:5550/cam1", "ring:a", "c.key", "", "s.pub");
    EXPECT_FALSE(refuse_discovered_address(pinned, "tcp://10.0.0.5:5555"));
    auto refused = refuse_discovered_address(pinned, "ipc:///tmp/evil.sock");
    ASSERT_TRUE(refused);
    EXPECT_NE(refused->find("connects only with CURVE over tcp://"), std::string::npos) << *refused;
    EXPECT_TRUE(refuse_discovered_address(pinned, "udp://h:1"));
    RouteConfig plain = route_of("broker://b:5550/cam1", "ring:a", "", "", "");
    plain.security.insecure = true;
    EXPECT_FALSE(refuse_discovered_address(plain, "ipc:///tmp/local.sock")) << "--insecure accepts what it is given";
}

TEST(RelayConfig, InsecureWithAnyKeyIsAContradiction)
{
    // --insecure would serve everyone and silently ignore the key list: refused like --insecure --curve-secret.
    for (const auto setting :
         {&SecurityConfig::secret_key_file, &SecurityConfig::allowed_keys_file, &SecurityConfig::server_key_file}) {
        RouteConfig route;
        route.name = "r";
        route.from = *parse_endpoint("ring:cam", false);
        route.to.push_back(*parse_endpoint("tcp://*:5555", true));
        route.security.insecure = true;
        route.security.*setting = "keys.txt";
        auto refused = validate_route(route);
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error().code, RelayErrc::InvalidConfig);
        EXPECT_NE(refused.error().message.find("--insecure and CURVE keys"), std::string::npos)
            << refused.error().message;
    }
}

TEST(RelayConfig, Sizes)
{
    EXPECT_EQ(*parse_size("4096", "x"), 4096u);
    EXPECT_EQ(*parse_size("16K", "x"), std::size_t{16} << 10);
    EXPECT_EQ(*parse_size("1G", "x"), std::size_t{1} << 30);
    EXPECT_FALSE(parse_size("", "x"));
    EXPECT_FALSE(parse_size("12Q", "x"));
    EXPECT_FALSE(parse_size("2048G", "x"));
    EXPECT_FALSE(parse_size("-1", "x"));
}

/// A mkdtemp directory, removed with its files.
struct ScratchDir {
    ScratchDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "zb-relay-unit-XXXXXX").string();
        if (mkdtemp(pattern.data()) != nullptr)
            path = pattern;
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    ~ScratchDir()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    std::filesystem::path path;
};

TEST(RelayKeys, AllowedKeysFileMustListAKeyAndKeyFileErrorsAreSecurityErrors)
{
    ScratchDir dir;
    ASSERT_FALSE(dir.path.empty()) << "mkdtemp failed";
    std::array<char, 41> public_key{};
    std::array<char, 41> secret_key{};
    ASSERT_EQ(zmq_curve_keypair(public_key.data(), secret_key.data()), 0);

    std::ofstream(dir.path / "clients.txt") << "# receivers\n" << public_key.data() << "\n";
    auto allowed = read_allowed_keys((dir.path / "clients.txt").string());
    ASSERT_TRUE(allowed) << allowed.error().message;
    EXPECT_EQ(allowed->size(), 1U);

    std::ofstream(dir.path / "empty.txt") << "# nobody yet\n";
    auto empty = read_allowed_keys((dir.path / "empty.txt").string());
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code, RelayErrc::Security);
    EXPECT_NE(empty.error().message.find("empty.txt' lists no key: add the clients' .pub lines"), std::string::npos)
        << empty.error().message;

    auto missing = read_allowed_keys((dir.path / "missing.txt").string());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, RelayErrc::Security);
    EXPECT_NE(missing.error().message.find("missing.txt'"), std::string::npos) << missing.error().message;
}

} // namespace
