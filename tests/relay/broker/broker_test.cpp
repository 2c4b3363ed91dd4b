// SPDX-License-Identifier: MIT
// `zb-relay broker` as a real process on loopback: the protocol through BrokerClient, hostile clients, expiry,
// kill -9 and restart with a live Registration, timeouts against a dead broker, and the command line.
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker_fixture.h"

namespace zerobuffer::relay::test {
namespace {

TEST_F(BrokerTest, RegDiscDeregRoundTrip)
{
    start_broker();
    BrokerClient publisher = client();
    BrokerClient receiver = client();
    const nlohmann::json info = {{"media_type", "video/x-raw"}, {"width", 1920}, {"height", 1080}};
    auto reg = publisher.register_stream("cam0", "tcp://127.0.0.1:5555", info, 5000ms);
    ASSERT_TRUE(reg) << reg.error().message;
    EXPECT_TRUE(reg->created);
    EXPECT_EQ(reg->address, "tcp://127.0.0.1:5555");

    auto found = receiver.discover("cam0");
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found->address, "tcp://127.0.0.1:5555");
    EXPECT_EQ(found->info, info);
    EXPECT_EQ(found->ttl, 5000ms);
    EXPECT_GE(found->age.count(), 0);

    auto listed = receiver.list();
    ASSERT_TRUE(listed) << listed.error().message;
    ASSERT_EQ(listed->size(), 1U);
    EXPECT_EQ(listed->front().name, "cam0");

    auto refresh = publisher.register_stream("cam0", "tcp://127.0.0.1:5555", info, 5000ms);
    ASSERT_TRUE(refresh);
    EXPECT_FALSE(refresh->created);

    auto stranger = receiver.deregister_stream("cam0", "tcp://127.0.0.1:9");
    ASSERT_FALSE(stranger);
    EXPECT_EQ(stranger.error().code, BrokerErrc::Refused);
    EXPECT_EQ(stranger.error().broker_code, "not_owner");

    ASSERT_TRUE(publisher.deregister_stream("cam0", "tcp://127.0.0.1:5555"));
    auto gone = receiver.discover("cam0");
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, BrokerErrc::NotFound);
    EXPECT_EQ(gone.error().broker_code, "not_found");
    EXPECT_NE(gone.error().message.find("no live publisher registered 'cam0'"), std::string::npos)
        << gone.error().message;

    EXPECT_NE(broker_->log().find("registered 'cam0' at tcp://127.0.0.1:5555"), std::string::npos);
    EXPECT_EQ(broker_->stop(SIGTERM), 0) << "SIGTERM stops the broker cleanly";
}

TEST_F(BrokerTest, WildcardAddressIsResolvedToThePublisher)
{
    start_broker();
    BrokerClient publisher = client();
    auto reg = publisher.register_stream("cam1", "tcp://*:5601");
    ASSERT_TRUE(reg) << reg.error().message;
    EXPECT_EQ(reg->address, "tcp://127.0.0.1:5601");
    auto found = publisher.discover("cam1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->address, "tcp://127.0.0.1:5601");
}

TEST_F(BrokerTest, DualStackBindServesIpv6AndIpv4Clients)
{
    // The later --bind wins over the 127.0.0.1 one BrokerProcess puts first.
    start_broker({"--insecure", "--bind", "tcp://[::]:" + std::to_string(port_)});
    auto over_ipv6 = BrokerClient::connect({"tcp://[::1]:" + std::to_string(port_), kReply, std::nullopt});
    ASSERT_TRUE(over_ipv6);
    auto reg6 = over_ipv6->register_stream("cam6", "tcp://*:5602");
    ASSERT_TRUE(reg6) << reg6.error().message << "\n" << broker_->log();
    EXPECT_EQ(reg6->address, "tcp://[::1]:5602");
    BrokerClient over_ipv4 = client();
    auto reg4 = over_ipv4.register_stream("cam4", "tcp://*:5603");
    ASSERT_TRUE(reg4) << reg4.error().message;
    EXPECT_EQ(reg4->address, "tcp://127.0.0.1:5603") << "an IPv4-mapped peer address is shown as IPv4";
    auto found = over_ipv4.discover("cam6");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->address, "tcp://[::1]:5602");
}

TEST_F(BrokerTest, UnrefreshedRegistrationExpires)
{
    start_broker({"--insecure", "--ttl", "0.3"});
    BrokerClient publisher = client();
    ASSERT_TRUE(publisher.register_stream("short", "tcp://127.0.0.1:5555", nlohmann::json::object(), 300ms));
    // A REG without "ttl" gets the broker's --ttl.
    auto defaulted = publisher.request({{"type", "REG"}, {"name", "default-ttl"}, {"address", "tcp://127.0.0.1:5556"}});
    ASSERT_TRUE(defaulted) << defaulted.error().message;
    EXPECT_EQ((*defaulted)["ttl_ms"], 300) << defaulted->dump();
    std::this_thread::sleep_for(1000ms); // more than three TTLs without a refresh
    for (const char* name : {"short", "default-ttl"}) {
        auto found = publisher.discover(name);
        ASSERT_FALSE(found) << name << " still registered";
        EXPECT_EQ(found.error().code, BrokerErrc::NotFound);
    }
    EXPECT_NE(broker_->log().find("expired 'short'"), std::string::npos) << broker_->log();
}

TEST_F(BrokerTest, RegistrationKeepsAShortTtlAliveAndDeregistersOnDestruction)
{
    start_broker();
    std::vector<std::string> lines;
    {
        auto registration = Registration::start({endpoint(), kReply, std::nullopt}, "kept", "tcp://127.0.0.1:5557",
                                                {{"codec", "h264"}}, 400ms);
        ASSERT_TRUE(registration) << registration.error().message;
        ASSERT_TRUE(registration->wait_registered(kStartup));
        std::this_thread::sleep_for(1500ms); // several TTLs: only the refreshes keep it alive
        BrokerClient receiver = client();
        auto found = receiver.discover("kept");
        ASSERT_TRUE(found) << found.error().message;
        EXPECT_EQ(found->info["codec"], "h264");
        EXPECT_GE(registration->status().refreshes, 2U);
    }
    BrokerClient receiver = client();
    auto gone = receiver.discover("kept");
    ASSERT_FALSE(gone) << "the Registration's destructor sends DEREG";
    EXPECT_EQ(gone.error().code, BrokerErrc::NotFound);
    EXPECT_NE(broker_->log().find("deregistered 'kept'"), std::string::npos) << broker_->log();
}

TEST_F(BrokerTest, MalformedRequestsGetErrorRepliesAndOthersAreServed)
{
    start_broker({"--insecure", "--max-request-bytes", "4096"});
    RawClient hostile(endpoint());
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{\"type\":\"REG\",", "bad_json"},
        {std::string("\x00\x01\x02\xff\xfe", 5), "bad_json"},
        {"[\"REG\",\"cam0\"]", "not_object"},
        {"\"DISC\"", "not_object"},
        {"{\"name\":\"cam0\"}", "missing_field"},
        {"{\"type\":\"REG\",\"name\":42,\"address\":\"tcp://h:1\"}", "invalid_field"},
        {"{\"type\":\"REG\",\"name\":\"cam0\",\"address\":[]}", "invalid_field"},
        {"{\"type\":\"REG\",\"name\":\"cam0\",\"address\":\"tcp://h:1\",\"ttl\":\"ten\"}", "invalid_field"},
        {"{\"type\":\"REG\",\"name\":\"cam0\",\"address\":\"tcp://h:1\",\"info\":3}", "invalid_field"},
        {"{\"type\":\"REG\",\"name\":\"c\\u0007m\",\"address\":\"tcp://h:1\"}", "invalid_field"},
        {"{\"type\":\"DISC\",\"name\":\"" + std::string(1000, 'x') + "\"}", "invalid_field"},
        {"{\"type\":\"REG\",\"name\":\"cam0\",\"address\":\"http://h:1\"}", "invalid_field"},
        {"{\"type\":\"SUBSCRIBE\",\"name\":\"cam0\"}", "unknown_type"},
        {"{\"type\":\"REG\",\"name\":\"cam0\",\"address\":\"tcp://h:1\",\"info\":{\"x\":\"" + std::string(5000, 'y') +
             "\"}}",
         "too_large"},
    };
    for (const auto& [body, code] : cases) {
        ASSERT_TRUE(hostile.send_request(body));
        auto reply = hostile.receive_json(kReply);
        ASSERT_TRUE(reply) << "no JSON reply to " << body.substr(0, 60);
        EXPECT_EQ((*reply)["ok"], false) << body.substr(0, 60);
        EXPECT_EQ((*reply)["error"], code) << body.substr(0, 60) << " -> " << reply->dump();
        EXPECT_TRUE((*reply)["message"].is_string() && !(*reply)["message"].get<std::string>().empty());
        expect_still_serving("after " + body.substr(0, 60));
    }
    EXPECT_NE(broker_->log().find("refused a request (bad_json)"), std::string::npos) << broker_->log();
    BrokerClient checker = client();
    auto cam0 = checker.discover("cam0");
    ASSERT_FALSE(cam0);
    EXPECT_EQ(cam0.error().code, BrokerErrc::NotFound) << "no refused request registered anything";
}

TEST_F(BrokerTest, GarbageEnvelopesGetErrorReplies)
{
    start_broker();
    RawClient hostile(endpoint());
    // Binary garbage in several frames, no delimiter: the body is not one frame.
    ASSERT_TRUE(hostile.send({std::string("\x01\x02\x03", 3), std::string(300, '\xee'), std::string("\x00", 1)}));
    auto reply = hostile.receive(kReply);
    ASSERT_TRUE(reply);
    auto parsed = nlohmann::json::parse(reply->back(), nullptr, false);
    EXPECT_EQ(parsed["error"], "bad_envelope") << reply->back();
    expect_still_serving("after a garbage multipart message");

    // A delimiter followed by two body frames.
    ASSERT_TRUE(hostile.send({std::string(), "{\"type\":\"LIST\"}", "{\"type\":\"LIST\"}"}));
    auto two = hostile.receive_json(kReply);
    ASSERT_TRUE(two);
    EXPECT_EQ((*two)["error"], "bad_envelope");

    // A delimiter and nothing after it.
    ASSERT_TRUE(hostile.send({std::string()}));
    auto none = hostile.receive(kReply);
    ASSERT_TRUE(none);
    EXPECT_EQ(nlohmann::json::parse(none->back(), nullptr, false)["error"], "bad_envelope");

    // Hundreds of frames.
    ASSERT_TRUE(hostile.send(std::vector<std::string>(500, std::string(10, 'z'))));
    auto many = hostile.receive(kReply);
    ASSERT_TRUE(many);
    EXPECT_EQ(nlohmann::json::parse(many->back(), nullptr, false)["error"], "bad_envelope");

    // The delimiter as the last frame kept (8 with the routing id) and the body as the 9th, beyond them.
    std::vector<std::string> deep(6, std::string("x"));
    deep.emplace_back();
    deep.emplace_back("{\"type\":\"LIST\"}");
    ASSERT_TRUE(hostile.send(deep));
    auto beyond = hostile.receive(kReply);
    ASSERT_TRUE(beyond) << broker_->log();
    EXPECT_EQ(nlohmann::json::parse(beyond->back(), nullptr, false)["error"], "bad_envelope");
    for (std::size_t frames = 1; frames <= 12; ++frames) { // every delimiter position around the limit
        for (std::size_t delimiter = 0; delimiter < frames; ++delimiter) {
            std::vector<std::string> message(frames, std::string("{\"type\":\"LIST\"}"));
            message[delimiter].clear();
            ASSERT_TRUE(hostile.send(message));
            ASSERT_TRUE(hostile.receive(kReply)) << frames << " frames, delimiter at " << delimiter;
        }
    }

    // A DEALER that sends the body without a delimiter is still answered.
    ASSERT_TRUE(hostile.send({"{\"type\":\"LIST\"}"}));
    auto bare = hostile.receive(kReply);
    ASSERT_TRUE(bare);
    ASSERT_EQ(bare->size(), 1U);
    EXPECT_EQ(nlohmann::json::parse(bare->back(), nullptr, false)["ok"], true);
    expect_still_serving("after garbage envelopes");
}

TEST_F(BrokerTest, FramesAboveTheHardCapDropTheSenderOnly)
{
    start_broker({"--insecure", "--max-request-bytes", "1024"});
    RawClient hostile(endpoint());
    // 4x --max-request-bytes is ZMQ_MAXMSGSIZE: libzmq drops this connection before the broker sees the frame.
    ASSERT_TRUE(hostile.send_request(std::string(64 * 1024, '{')));
    EXPECT_FALSE(hostile.receive(1000ms)) << "an oversized frame beyond the cap is not answered";
    expect_still_serving("after a frame beyond ZMQ_MAXMSGSIZE");
}

/// The seed of randomized tests: ZB_TEST_SEED replays a run, otherwise a fresh one (printed on failure).
std::uint32_t test_seed()
{
    if (const char* text = std::getenv("ZB_TEST_SEED")) {
        return static_cast<std::uint32_t>(std::strtoul(text, nullptr, 10));
    }
    return std::random_device{}();
}

/// A valid request turned into something else: truncated, bytes flipped or inserted, or binary noise.
std::string mutated(const std::string& request, std::mt19937& random)
{
    std::string out = request;
    const auto pick = [&](std::size_t bound) { return std::uniform_int_distribution<std::size_t>(0, bound)(random); };
    const auto byte = [&] { return static_cast<char>(std::uniform_int_distribution<int>(0, 255)(random)); };
    switch (pick(5)) {
    case 0: out.resize(pick(out.size())); break;
    case 1:
        for (std::size_t i = 0, n = 1 + pick(4); i < n && !out.empty(); ++i) {
            out[pick(out.size() - 1)] = byte();
        }
        break;
    case 2: out.insert(pick(out.size()), std::string(1 + pick(8), byte())); break;
    case 3:
        out = std::string(pick(300), '\0');
        for (char& c : out) {
            c = byte();
        }
        break;
    case 4: { // swap a value for another JSON type
        static const std::array<std::string, 6> kValues{"null", "true", "-1e999", "[]", "{}", "\"\\u0000\""};
        const auto colon = out.find(':', pick(out.size()));
        if (colon != std::string::npos) {
            const auto end = out.find_first_of(",}", colon);
            out.replace(colon + 1, end == std::string::npos ? std::string::npos : end - colon - 1,
                        kValues[pick(kValues.size() - 1)]);
        }
        break;
    }
    default:
        out += out; // two objects in one frame
        break;
    }
    return out;
}

TEST_F(BrokerTest, RandomizedHostileRequestsAreAllAnswered)
{
    start_broker({"--insecure", "--max-request-bytes", "2048"});
    const std::uint32_t seed = test_seed();
    SCOPED_TRACE("ZB_TEST_SEED=" + std::to_string(seed));
    std::mt19937 random(seed);
    const std::array<std::string, 4> valid{
        R"({"type":"REG","name":"fuzz","address":"tcp://127.0.0.1:7000","ttl":5,"info":{"w":1920,"codec":"h264"}})",
        R"({"type":"DISC","name":"fuzz"})", R"({"type":"DEREG","name":"fuzz","address":"tcp://127.0.0.1:7000"})",
        R"({"type":"LIST"})"};
    const std::set<std::string> known_codes{"bad_json",      "not_object",    "too_large",    "bad_envelope",
                                            "missing_field", "invalid_field", "unknown_type", "not_found",
                                            "not_owner",     "registry_full"};
    RawClient hostile(endpoint());
    for (int i = 0; i < 600; ++i) {
        std::vector<std::string> frames{std::string()};
        frames.push_back(mutated(valid[static_cast<std::size_t>(i) % valid.size()], random));
        if (i % 10 == 9) {
            frames.insert(frames.begin() + 1,
                          std::string(static_cast<std::size_t>(1 + i % 5), 'e')); // garbage envelope frames
        }
        ASSERT_TRUE(hostile.send(frames));
        auto reply = hostile.receive(kReply);
        ASSERT_TRUE(reply) << "no reply to request " << i << ": " << frames.back().substr(0, 80);
        const auto parsed = nlohmann::json::parse(reply->back(), nullptr, false);
        ASSERT_TRUE(parsed.is_object() && parsed.contains("ok") && parsed["ok"].is_boolean()) << reply->back();
        if (!parsed["ok"].get<bool>()) {
            EXPECT_TRUE(known_codes.contains(parsed.value("error", std::string()))) << reply->back();
        }
    }
    expect_still_serving("after 600 randomized hostile requests");
}

/// A plain TCP connection to the broker's port, outside ZeroMQ.
class RawTcp {
public:
    explicit RawTcp(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0))
    {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API takes sockaddr*
        connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    }
    RawTcp(const RawTcp&) = delete;
    RawTcp& operator=(const RawTcp&) = delete;
    ~RawTcp()
    {
        if (fd_ >= 0) {
            close(fd_);
        }
    }
    [[nodiscard]] bool connected() const noexcept { return connected_; }
    bool write_all(const std::string& bytes) const
    {
        return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
    }

private:
    int fd_;
    bool connected_ = false;
};

TEST_F(BrokerTest, NonZeroMqPeersDoNotDisturbTheBroker)
{
    start_broker();
    RawTcp idle(port_); // connects and never completes the ZMTP handshake
    ASSERT_TRUE(idle.connected());
    RawTcp garbage(port_);
    ASSERT_TRUE(garbage.connected());
    std::string noise(8192, '\0');
    for (std::size_t i = 0; i < noise.size(); ++i) {
        noise[i] = static_cast<char>((i * 131 + 7) % 251);
    }
    garbage.write_all(noise); // may fail half-way once libzmq hangs up on it: fine
    RawTcp http(port_);
    ASSERT_TRUE(http.connected());
    http.write_all("GET / HTTP/1.1\r\nHost: broker\r\n\r\n");
    expect_still_serving("with an idle TCP peer, a garbage TCP peer and an HTTP request connected");
}

TEST_F(BrokerTest, ClientsThatNeverReadRepliesDoNotStallOthers)
{
    start_broker();
    // A REQ-style client that sends one request and never reads the reply.
    RawClient silent(endpoint());
    ASSERT_TRUE(silent.send_request("{\"type\":\"LIST\"}"));
    expect_still_serving("after a request whose reply is never read");

    // A client that floods requests and never reads: its replies pile up to the high-water mark, then are dropped.
    RawClient flooder(endpoint());
    int sent = 0;
    for (int i = 0; i < 2000; ++i) {
        sent += flooder.send_request("{\"type\":\"DISC\",\"name\":\"nothing\"}") ? 1 : 0;
    }
    EXPECT_GT(sent, 0);
    expect_still_serving("while a client floods requests without reading");
    std::this_thread::sleep_for(500ms);
    expect_still_serving("after the flood");
    EXPECT_EQ(broker_->stop(SIGINT), 0) << "SIGINT stops the broker cleanly while a flooder is connected";
    EXPECT_NE(broker_->log().find("stopping on SIGINT"), std::string::npos) << broker_->log();
}

TEST_F(BrokerTest, RepliesToAClientThatNeverReadsAreDroppedAndCounted)
{
    start_broker();
    // Large LIST replies: a few hundred of them exceed every buffer between the broker and a client that does not
    // read (its receive queue, the socket buffers, the broker's per-client send queue), so the broker must drop.
    BrokerClient publisher = client();
    for (int i = 0; i < 400; ++i) {
        const std::string name = "stream-" + std::to_string(i) + "-" + std::string(100, 'n');
        ASSERT_TRUE(publisher.register_stream(name, "tcp://127.0.0.1:" + std::to_string(10000 + i),
                                              nlohmann::json::object(), 60000ms));
    }
    std::this_thread::sleep_for(1100ms); // a fresh second of log lines: the 400 "registered" lines used up the last
    RawClient deaf(endpoint(), /*receive_buffer_bytes=*/4096);
    for (int i = 0; i < 300; ++i) {
        ASSERT_TRUE(deaf.send_request("{\"type\":\"LIST\"}"));
    }
    for (int i = 0; i < 10; ++i) {
        expect_still_serving("while replies to a deaf client pile up");
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(broker_->stop(SIGTERM), 0);
    const std::string log = broker_->log();
    std::smatch status;
    ASSERT_TRUE(std::regex_search(log, status, std::regex("status: .* ([0-9]+) replies dropped"))) << log;
    EXPECT_GT(std::stoul(status[1].str()), 0U) << "the status line counts the replies it could not deliver";
    EXPECT_NE(log.find("the client does not read its replies"), std::string::npos) << "and the log says why";
}

TEST_F(BrokerTest, ClientTimesOutAgainstADeadBrokerAndRecovers)
{
    // No broker on this port yet.
    auto made = BrokerClient::connect({endpoint(), 300ms, std::nullopt});
    ASSERT_TRUE(made);
    BrokerClient lonely = std::move(*made);
    auto found = lonely.discover("cam0");
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().code, BrokerErrc::Timeout);
    EXPECT_NE(found.error().message.find(endpoint()), std::string::npos) << found.error().message;
    EXPECT_NE(found.error().message.find("zb-relay broker"), std::string::npos) << found.error().message;
    auto reg = lonely.register_stream("cam0", "tcp://127.0.0.1:5555");
    ASSERT_FALSE(reg);
    EXPECT_EQ(reg.error().code, BrokerErrc::Timeout);

    // The same client works once a broker is there (a fresh socket after each timeout).
    start_broker();
    BrokerResult<RegisterReply> later = tl::unexpected(BrokerError{BrokerErrc::Timeout, "", ""});
    for (int attempt = 0; attempt < 20 && !later; ++attempt) {
        later = lonely.register_stream("cam0", "tcp://127.0.0.1:5555");
    }
    ASSERT_TRUE(later) << later.error().message;
}

TEST_F(BrokerTest, InvalidArgumentsAreRefusedBeforeSending)
{
    auto bad_endpoint = BrokerClient::connect({"localhost:5550", 100ms, std::nullopt});
    ASSERT_FALSE(bad_endpoint);
    EXPECT_EQ(bad_endpoint.error().code, BrokerErrc::InvalidArgument);
    BrokerClient any = client(100ms);
    EXPECT_EQ(any.register_stream("", "tcp://h:1").error().code, BrokerErrc::InvalidArgument);
    EXPECT_EQ(any.register_stream("a b", "tcp://h:1").error().code, BrokerErrc::InvalidArgument);
    EXPECT_EQ(any.register_stream("a", "h:1").error().code, BrokerErrc::InvalidArgument);
    EXPECT_EQ(any.register_stream("a", "tcp://h:1", nlohmann::json::object(), 1ms).error().code,
              BrokerErrc::InvalidArgument);
    EXPECT_EQ(any.register_stream("a", "tcp://h:1", nlohmann::json::array()).error().code, BrokerErrc::InvalidArgument);
    EXPECT_EQ(any.discover(std::string(300, 'n')).error().code, BrokerErrc::InvalidArgument);
    EXPECT_FALSE(Registration::start({endpoint(), 100ms, std::nullopt}, "a", "nowhere"));
}

TEST_F(BrokerTest, RegistrationSurvivesKill9AndRestartOfTheBroker)
{
    start_broker();
    std::mutex lines_mutex;
    std::vector<std::string> lines;
    auto registration = Registration::start({endpoint(), 500ms, std::nullopt}, "cam0", "tcp://127.0.0.1:5555",
                                            {{"width", 3840}}, 600ms, [&](std::string_view line) {
                                                const std::lock_guard lock(lines_mutex);
                                                lines.emplace_back(line);
                                            });
    ASSERT_TRUE(registration) << registration.error().message;
    ASSERT_TRUE(registration->wait_registered(kStartup));
    BrokerClient receiver = client(500ms);
    ASSERT_TRUE(receiver.discover("cam0"));

    EXPECT_EQ(broker_->stop(SIGKILL), 128 + SIGKILL);
    auto during = receiver.discover("cam0");
    ASSERT_FALSE(during);
    EXPECT_EQ(during.error().code, BrokerErrc::Timeout) << during.error().message;

    // The Registration notices the loss at its next refresh.
    const auto noticed_by = std::chrono::steady_clock::now() + kStartup;
    while (registration->status().registered && std::chrono::steady_clock::now() < noticed_by) {
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_FALSE(registration->status().registered);
    EXPECT_EQ(registration->status().last_error.value_or(BrokerError{}).code, BrokerErrc::Timeout);

    // A new broker on the same port knows nothing until the Registration refreshes by itself.
    start_broker();
    BrokerResult<StreamLocation> found = tl::unexpected(BrokerError{BrokerErrc::NotFound, "", ""});
    const auto deadline = std::chrono::steady_clock::now() + kStartup;
    while (!found && std::chrono::steady_clock::now() < deadline) {
        found = receiver.discover("cam0");
        if (!found) {
            std::this_thread::sleep_for(50ms);
        }
    }
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found->address, "tcp://127.0.0.1:5555");
    EXPECT_EQ(found->info["width"], 3840);
    EXPECT_GE(registration->status().re_registrations, 1U);
    EXPECT_GE(registration->status().failures, 1U);
    const std::lock_guard lock(lines_mutex);
    bool logged_loss = false;
    for (const std::string& line : lines) {
        logged_loss = logged_loss || line.find("cannot register 'cam0'") != std::string::npos;
    }
    EXPECT_TRUE(logged_loss) << "the registration says when it loses the broker";
}

TEST_F(BrokerTest, QueryCommandPrintsTheBrokersAnswer)
{
    start_broker();
    BrokerClient publisher = client();
    ASSERT_TRUE(publisher.register_stream("cam0", "tcp://127.0.0.1:5555", {{"width", 640}}));
    const auto out = dir_.path() / "query.out";
    const auto err = dir_.path() / "query.err";

    EXPECT_EQ(run_zb_relay({"broker", "query", endpoint()}, err, out), 0);
    const auto listed = nlohmann::json::parse(read_text_file(out), nullptr, false);
    ASSERT_TRUE(listed.is_object()) << read_text_file(out);
    ASSERT_EQ(listed["streams"].size(), 1U);
    EXPECT_EQ(listed["streams"][0]["name"], "cam0");

    EXPECT_EQ(run_zb_relay({"broker", "query", endpoint(), "cam0"}, err, out), 0);
    const auto found = nlohmann::json::parse(read_text_file(out), nullptr, false);
    EXPECT_EQ(found["address"], "tcp://127.0.0.1:5555") << read_text_file(out);
    EXPECT_EQ(found["info"]["width"], 640);

    EXPECT_EQ(run_zb_relay({"broker", "query", endpoint(), "nothing"}, err, out), 3) << "not registered: exit 3";
    EXPECT_EQ(nlohmann::json::parse(read_text_file(out), nullptr, false)["error"], "not_found");

    const std::string dead = "tcp://127.0.0.1:" + std::to_string(free_port());
    EXPECT_EQ(run_zb_relay({"broker", "query", dead, "--timeout", "200"}, err, out), 1);
    EXPECT_NE(read_text_file(err).find("no reply from the broker at " + dead), std::string::npos)
        << read_text_file(err);
    EXPECT_EQ(run_zb_relay({"broker", "query"}, err, out), 2);
    EXPECT_EQ(run_zb_relay({"broker", "query", endpoint(), "a", "b"}, err, out), 2);
    EXPECT_EQ(run_zb_relay({"broker", "query", endpoint(), "--broker-key", "x"}, err, out), 2);
}

TEST_F(BrokerTest, CommandLineErrorsAndHelp)
{
    const auto stderr_file = dir_.path() / "cli.log";
    EXPECT_EQ(run_zb_relay({"broker", "--help"}, stderr_file), 0);
    EXPECT_EQ(run_zb_relay({"broker", "--bind", endpoint()}, stderr_file), 2) << "plain tcp needs --insecure";
    EXPECT_EQ(run_zb_relay({"broker", "--bogus"}, stderr_file), 2);
    EXPECT_EQ(run_zb_relay({"broker", "--insecure", "--ttl", "ten"}, stderr_file), 2);
    EXPECT_EQ(run_zb_relay({"broker", "--insecure", "--ttl"}, stderr_file), 2);
    EXPECT_EQ(run_zb_relay({"broker", "--insecure", "--max-request-bytes", "12"}, stderr_file), 2);
    EXPECT_EQ(run_zb_relay({"broker", "--curve-secret", "x"}, stderr_file), 2) << "needs --allowed-keys too";
    EXPECT_EQ(run_zb_relay({"broker", "--bind", endpoint(), "--curve-secret", (dir_.path() / "missing").string(),
                            "--allowed-keys", (dir_.path() / "missing").string()},
                           stderr_file),
              1);
    EXPECT_EQ(run_zb_relay({"broker", "--insecure", "--bind", "tcp://256.1.1.1:1"}, stderr_file), 1);
    const std::string text = read_text_file(stderr_file);
    EXPECT_NE(text.find("zb-relay broker: error: refusing to serve plain tcp"), std::string::npos) << text;
    EXPECT_NE(text.find("argument was not expected: --bogus"), std::string::npos) << text;
    EXPECT_NE(text.find("make it with `zb-relay keygen`"), std::string::npos) << text;
    EXPECT_NE(text.find("cannot bind"), std::string::npos) << text;
}

} // namespace
} // namespace zerobuffer::relay::test
