// SPDX-License-Identifier: MIT
// The request/response channel (zerobuffer/duplex.h): matching, zero copy, errors, and the death of either side
// with the other in a separate process (this binary re-executes itself as the child).
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <zerobuffer/duplex.h>
#include <zerobuffer/inspect.h>

#include "gtest_cli.h"
#include "support.h"

namespace {

using namespace std::chrono_literals;
using zerobuffer::DuplexClient;
using zerobuffer::DuplexMessage;
using zerobuffer::DuplexOptions;
using zerobuffer::DuplexServer;
using zerobuffer::Errc;
using zbtest::bound;
using zbtest::is_error;
using zbtest::is_ok;

class Duplex : public zbtest::RingTest {
protected:
    /// A channel name whose two rings the fixture checks and removes after the test.
    std::string channel()
    {
        const std::string name = ring_name("dx");
        tracked_.push_back(name);
        return name;
    }
    void TearDown() override
    {
        for (const std::string& name : tracked_)
            for (const std::string& ring : {zerobuffer::duplex_request_ring(name), zerobuffer::duplex_response_ring(name)})
                if (zbtest::shm_exists(ring)) {
                    ADD_FAILURE() << "ring " << ring << " left in /dev/shm";
                    zbtest::force_remove_ring(ring);
                }
        RingTest::TearDown();
    }

private:
    std::vector<std::string> tracked_;
};

std::span<const std::byte> bytes_of(const std::string& text)
{
    return std::as_bytes(std::span(text.data(), text.size()));
}

std::string text_of(const zerobuffer::Frame& frame)
{
    const auto payload = frame.payload();
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
}

/// Connects a client on another thread while the server accepts it (receive() accepts).
struct Pair {
    DuplexServer server;
    DuplexClient client;
};

Pair connect_pair(const std::string& name, DuplexOptions options = {})
{
    auto server = DuplexServer::create(name, options);
    EXPECT_TRUE(is_ok(server));
    zerobuffer::Result<DuplexClient> client = zerobuffer::make_error(Errc::InvalidState, "not run");
    std::thread connecting([&] { client = DuplexClient::connect(name, options, bound(5s)); });
    // The first receive accepts the client; nothing is sent yet, so it times out after accepting.
    auto first = server->receive(bound(2s));
    connecting.join();
    EXPECT_TRUE(is_error(first, Errc::Timeout));
    EXPECT_TRUE(is_ok(client));
    EXPECT_TRUE(server->client_connected());
    return Pair{std::move(*server), std::move(*client)};
}

TEST_F(Duplex, ResponsesMatchRequestsAnsweredInAnyOrder)
{
    const std::string name = channel();
    Pair pair = connect_pair(name);
    std::vector<std::uint64_t> sent;
    for (int i = 0; i < 3; ++i) {
        auto sequence = pair.client.send_copy(bytes_of("request " + std::to_string(i)));
        ASSERT_TRUE(is_ok(sequence));
        sent.push_back(*sequence);
    }
    EXPECT_EQ(sent, (std::vector<std::uint64_t>{0, 1, 2}));
    EXPECT_EQ(pair.client.pending(), 3u);

    std::vector<DuplexMessage> requests;
    for (int i = 0; i < 3; ++i) {
        auto request = pair.server.receive(bound(2s));
        ASSERT_TRUE(is_ok(request));
        EXPECT_EQ(request->sequence, static_cast<std::uint64_t>(i));
        EXPECT_EQ(text_of(request->frame), "request " + std::to_string(i));
        requests.push_back(std::move(*request));
    }
    // Answer 2, 0, 1, each in place in the response ring.
    for (const std::uint64_t sequence : {2u, 0u, 1u}) {
        const std::string answer = "answer to " + text_of(requests[sequence].frame);
        auto response = pair.server.reserve(answer.size());
        ASSERT_TRUE(is_ok(response));
        std::memcpy(response->payload().data(), answer.data(), answer.size());
        ASSERT_TRUE(is_ok(pair.server.respond(sequence, *response)));
    }
    EXPECT_EQ(pair.server.unanswered(), 0u);
    EXPECT_TRUE(is_error(pair.server.respond_copy(1, bytes_of("twice")), Errc::InvalidArgument));

    // The client asks for 1 first: 2 and 0 arrive before it and are kept for later.
    auto one = pair.client.receive_for(1, bound(2s));
    ASSERT_TRUE(is_ok(one));
    EXPECT_EQ(one->sequence, 1u);
    EXPECT_EQ(text_of(one->frame), "answer to request 1");
    auto next = pair.client.receive(bound(2s));
    ASSERT_TRUE(is_ok(next));
    EXPECT_EQ(next->sequence, 0u);
    EXPECT_EQ(text_of(next->frame), "answer to request 0");
    auto last = pair.client.receive(bound(2s));
    ASSERT_TRUE(is_ok(last));
    EXPECT_EQ(last->sequence, 2u);
    EXPECT_EQ(text_of(last->frame), "answer to request 2");
    EXPECT_EQ(pair.client.pending(), 0u);
    EXPECT_TRUE(is_error(pair.client.receive_for(1, 10ms), Errc::InvalidArgument));
}

TEST_F(Duplex, TimeoutsAndBusyAreClearErrors)
{
    const std::string name = channel();
    // No server yet.
    auto lonely = DuplexClient::connect(name, {}, 100ms);
    ASSERT_TRUE(is_error(lonely, Errc::Timeout));
    EXPECT_NE(lonely.error().message.find("no server"), std::string::npos) << lonely.error().message;
    EXPECT_FALSE(zbtest::shm_exists(zerobuffer::duplex_request_ring(name)));

    Pair pair = connect_pair(name);
    EXPECT_TRUE(is_error(DuplexServer::create(name), Errc::Busy));
    EXPECT_TRUE(is_error(DuplexClient::connect(name, {}, 100ms), Errc::Busy));
    EXPECT_TRUE(is_error(pair.client.receive(20ms), Errc::Timeout)); // Nothing sent.
    EXPECT_TRUE(is_error(pair.server.receive(20ms), Errc::Timeout));
    ASSERT_TRUE(is_ok(pair.client.send_copy(bytes_of("x"))));
    EXPECT_TRUE(is_error(pair.client.receive(20ms), Errc::Timeout)); // Sent, not answered.
    EXPECT_TRUE(is_error(pair.server.respond_copy(7, bytes_of("never asked")), Errc::InvalidArgument));
}

TEST_F(Duplex, ReceiveKeepsItsTimeoutOnPeriodicTraffic)
{
    // A client asking at a steady slow rate (a camera at 2.5 fps): were the channel's readers to wait by cadence,
    // they would learn the rate and a receive would sleep until the next predicted frame, past its 20 ms timeout.
    constexpr auto kInterval = 400ms;
    const std::string name = channel();
    Pair pair = connect_pair(name);
    for (int i = 0; i < 8; ++i) {
        std::this_thread::sleep_for(kInterval);
        ASSERT_TRUE(is_ok(pair.client.send_copy(bytes_of("frame"))));
        auto request = pair.server.receive(bound(2s));
        ASSERT_TRUE(is_ok(request));
        ASSERT_TRUE(is_ok(pair.server.respond_copy(request->sequence, bytes_of("boxes"))));
        ASSERT_TRUE(is_ok(pair.client.receive(bound(2s))));
    }
    const auto limit = std::min<std::chrono::milliseconds>(bound(100ms), kInterval / 2);
    const auto server_start = std::chrono::steady_clock::now();
    EXPECT_TRUE(is_error(pair.server.receive(20ms), Errc::Timeout));
    EXPECT_LT(std::chrono::steady_clock::now() - server_start, limit) << "the server's receive overran its timeout";
    ASSERT_TRUE(is_ok(pair.client.send_copy(bytes_of("unanswered"))));
    const auto client_start = std::chrono::steady_clock::now();
    EXPECT_TRUE(is_error(pair.client.receive(20ms), Errc::Timeout));
    EXPECT_LT(std::chrono::steady_clock::now() - client_start, limit) << "the client's receive overran its timeout";
}

TEST_F(Duplex, FullResponseRingTimesOutNamingTheClient)
{
    const std::string name = channel();
    DuplexOptions options;
    options.ring_size = 64 * 1024;
    options.full_timeout = 100ms;
    Pair pair = connect_pair(name, options);
    // The client holds every response it receives; the server answers until the ring is full.
    std::vector<DuplexMessage> held;
    zerobuffer::Result<zerobuffer::FrameReservation> response = zerobuffer::make_error(Errc::InvalidState, "none");
    for (int i = 0; i < 64; ++i) {
        ASSERT_TRUE(is_ok(pair.client.send_copy(bytes_of("r"))));
        auto request = pair.server.receive(bound(2s));
        ASSERT_TRUE(is_ok(request));
        response = pair.server.reserve(16 * 1024);
        if (!response)
            break;
        ASSERT_TRUE(is_ok(pair.server.respond(request->sequence, *response)));
        auto got = pair.client.receive(bound(2s));
        ASSERT_TRUE(is_ok(got));
        held.push_back(std::move(*got));
    }
    ASSERT_TRUE(is_error(response, Errc::Timeout));
    EXPECT_NE(response.error().message.find("response ring of channel"), std::string::npos) << response.error().message;
    EXPECT_NE(response.error().message.find("is full"), std::string::npos) << response.error().message;
    held.clear(); // Released: room again.
    EXPECT_TRUE(is_ok(pair.server.reserve(16 * 1024)));
}

TEST_F(Duplex, ServerServesTheNextClientAfterOneCloses)
{
    const std::string name = channel();
    Pair pair = connect_pair(name);
    ASSERT_TRUE(is_ok(pair.client.send_copy(bytes_of("first client"))));
    pair.client = DuplexClient(std::move(pair.client)); // Moves keep the channel.
    {
        DuplexClient gone = std::move(pair.client);
    } // Closed with one request sent and never received.
    auto last = pair.server.receive(bound(2s));
    ASSERT_TRUE(is_ok(last)); // Requests sent before the close are still delivered.
    auto closed = pair.server.receive(bound(2s));
    ASSERT_TRUE(is_error(closed, Errc::WriterGone));
    EXPECT_NE(closed.error().message.find("client of channel"), std::string::npos) << closed.error().message;
    EXPECT_FALSE(pair.server.client_connected());

    zerobuffer::Result<DuplexClient> second = zerobuffer::make_error(Errc::InvalidState, "not run");
    std::thread connecting([&] { second = DuplexClient::connect(name, {}, bound(5s)); });
    EXPECT_TRUE(is_error(pair.server.receive(bound(1s)), Errc::Timeout));
    connecting.join();
    ASSERT_TRUE(is_ok(second));
    EXPECT_EQ(pair.server.clients_accepted(), 2u);
    ASSERT_TRUE(is_ok(second->send_copy(bytes_of("second client"))));
    auto request = pair.server.receive(bound(2s));
    ASSERT_TRUE(is_ok(request));
    EXPECT_EQ(request->sequence, 0u); // Numbers restart with each client.
    ASSERT_TRUE(is_ok(pair.server.respond_copy(request->sequence, bytes_of("ok"))));
    auto response = second->receive(bound(2s));
    ASSERT_TRUE(is_ok(response));
    EXPECT_EQ(text_of(response->frame), "ok");
}

// --- Death of either side, with the other in a child process ----------------------------------------------

/// Child: a server that answers every request with "pong N", printing "ready" once accepting. Runs until killed.
int server_role(const std::string& name)
{
    auto server = DuplexServer::create(name);
    if (!server)
        return 1;
    std::printf("ready\n");
    std::fflush(stdout);
    while (true) {
        auto request = server->receive(1s);
        if (!request)
            continue;
        const std::string answer = "pong " + std::to_string(request->sequence);
        (void)server->respond_copy(request->sequence, bytes_of(answer));
    }
}

/// Child: a client that sends one request, prints "sent", and then waits (until killed).
int client_role(const std::string& name)
{
    auto client = DuplexClient::connect(name, {}, 10s);
    if (!client)
        return 1;
    if (!client->send_copy(bytes_of("ping")))
        return 1;
    std::printf("sent\n");
    std::fflush(stdout);
    while (true)
        std::this_thread::sleep_for(1s);
}

TEST_F(Duplex, ClientLearnsOfServerDeathWithinTheLivenessBound)
{
    const std::string name = channel();
    zbtest::Child server = zbtest::spawn_child({"--child=duplex-server", "name=" + name}, {.pipe_stdout = true});
    ASSERT_EQ(server.read_line(bound(10s)), std::optional<std::string>("ready"));
    auto client = DuplexClient::connect(name, {}, bound(5s));
    ASSERT_TRUE(is_ok(client));
    ASSERT_TRUE(is_ok(client->send_copy(bytes_of("ping"))));
    auto pong = client->receive(bound(2s));
    ASSERT_TRUE(is_ok(pong));
    EXPECT_EQ(text_of(pong->frame), "pong 0");

    // A second request: kill the server once it has answered, before the client reads the answer.
    ASSERT_TRUE(is_ok(client->send_copy(bytes_of("ping"))));
    const auto give_up = std::chrono::steady_clock::now() + bound(5s);
    while (std::chrono::steady_clock::now() < give_up) {
        auto ring = zerobuffer::inspect_ring(zerobuffer::duplex_response_ring(name));
        if (ring && ring->next_sequence >= 2)
            break;
        std::this_thread::sleep_for(5ms);
    }
    server.kill9();
    EXPECT_EQ(server.wait(bound(5s)), 128 + SIGKILL);
    const auto killed = std::chrono::steady_clock::now();
    // The answer sent before the death is still delivered; then WriterGone within two liveness intervals.
    auto answered = client->receive(bound(2s));
    ASSERT_TRUE(is_ok(answered));
    auto gone = client->receive(bound(5s));
    const auto noticed = std::chrono::steady_clock::now() - killed;
    ASSERT_TRUE(is_error(gone, Errc::WriterGone));
    EXPECT_NE(gone.error().message.find("server of channel"), std::string::npos) << gone.error().message;
    EXPECT_LE(noticed, bound(2 * DuplexOptions{}.liveness_interval + 100ms));
    EXPECT_TRUE(is_error(client->send_copy(bytes_of("anyone?")), Errc::WriterGone));
    EXPECT_FALSE(client->server_alive());
    pong->frame.release(); // Frames must not outlive the client that received them.
    answered->frame.release();
    client = zerobuffer::make_error(Errc::InvalidState, "closed");
    zbtest::force_remove_ring(zerobuffer::duplex_response_ring(name)); // The dead server's ring.
}

TEST_F(Duplex, ServerLearnsOfClientDeathAndRemovesItsRing)
{
    const std::string name = channel();
    auto server = DuplexServer::create(name);
    ASSERT_TRUE(is_ok(server));
    zbtest::Child client = zbtest::spawn_child({"--child=duplex-client", "name=" + name}, {.pipe_stdout = true});
    auto request = server->receive(bound(10s));
    ASSERT_TRUE(is_ok(request));
    EXPECT_EQ(text_of(request->frame), "ping");
    ASSERT_EQ(client.read_line(bound(5s)), std::optional<std::string>("sent"));
    client.kill9();
    EXPECT_EQ(client.wait(bound(5s)), 128 + SIGKILL);
    const auto killed = std::chrono::steady_clock::now();
    auto gone = server->receive(bound(5s));
    const auto noticed = std::chrono::steady_clock::now() - killed;
    ASSERT_TRUE(is_error(gone, Errc::WriterGone));
    EXPECT_NE(gone.error().message.find("client of channel"), std::string::npos) << gone.error().message;
    EXPECT_LE(noticed, bound(2 * DuplexOptions{}.liveness_interval + 100ms));
    // The request held from the dead client is still readable, but its answer has nowhere to go.
    EXPECT_EQ(text_of(request->frame), "ping");
    EXPECT_TRUE(is_error(server->respond_copy(request->sequence, bytes_of("late")), Errc::WriterGone));
    // The server keeps the dead client's ring while it holds a request of it, then detaches and removes it.
    EXPECT_TRUE(zbtest::shm_exists(zerobuffer::duplex_request_ring(name)));
    request->frame.release();
    EXPECT_TRUE(is_error(server->receive(10ms), Errc::Timeout)); // No new client.
    EXPECT_FALSE(zbtest::shm_exists(zerobuffer::duplex_request_ring(name)));
}

} // namespace

int main(int argc, char** argv)
{
    if (argc > 2 && std::strncmp(argv[1], "--child=", 8) == 0) {
        const zbtest::ChildArgs args(argc, argv);
        if (args.role == "duplex-server")
            return server_role(args.get("name"));
        if (args.role == "duplex-client")
            return client_role(args.get("name"));
        return 2;
    }
    if (const auto status = zbtest::init_google_test(argc, argv)) {
        return *status;
    }
    ::testing::AddGlobalTestEnvironment(new zbtest::ShmLeakEnvironment);
    return RUN_ALL_TESTS();
}
