// SPDX-License-Identifier: MIT
// The broker's limits against hostile clients and brokers, with real processes on loopback: JSON nested without
// end, endless multipart messages over raw ZMTP (peak memory from /proc), exact accounting over long-lived
// connections, and --max-clients.
#include <atomic>
#include <csignal>
#include <iostream>
#include <regex>

#include "zmtp_raw.h"

#include "broker_fixture.h"

namespace zerobuffer::relay::test {
namespace {

TEST_F(BrokerTest, MalformedDeepJsonIsRefusedAndTheBrokerStaysUp)
{
    // A REG whose "info" nests 65,000 deep crashed the broker (exit 139), and so did 256 KiB and 1 MiB of it.
    start_broker({"--insecure", "--max-request-bytes", "2097152"});
    RawClient hostile(endpoint());
    for (const std::size_t levels : {std::size_t{65'000}, std::size_t{131'000}, std::size_t{524'000}}) {
        const std::string body = R"({"type":"REG","name":"deep","address":"tcp://h:1","info":{"a":)" +
                                 std::string(levels, '[') + std::string(levels, ']') + "}}";
        ASSERT_TRUE(hostile.send_request(body));
        auto reply = hostile.receive_json(kReply);
        ASSERT_TRUE(reply) << "no reply to " << body.size() << " bytes nested " << levels << " deep\n"
                           << broker_->log();
        EXPECT_EQ((*reply)["error"], "invalid_field") << reply->dump();
        EXPECT_NE((*reply)["message"].get<std::string>().find("nested deeper than 16 levels"), std::string::npos)
            << reply->dump();
        expect_still_serving("after a REG nested " + std::to_string(levels) + " deep");
    }
    ASSERT_TRUE(hostile.send_request(std::string(600'000, '[') + std::string(600'000, ']')));
    auto array = hostile.receive_json(kReply);
    ASSERT_TRUE(array);
    EXPECT_EQ((*array)["error"], "not_object");
    EXPECT_EQ(broker_->stop(SIGTERM), 0) << "the broker is still up and stops cleanly";
}

TEST_F(BrokerTest, MalformedRepliesOfAHostileBrokerAreErrors)
{
    // A fake broker answers every request with JSON nested 100,000 deep: the client refuses it, it never crashes.
    detail::ContextHandle context(zmq_ctx_new());
    detail::SocketHandle router(zmq_socket(context.get(), ZMQ_ROUTER));
    ASSERT_TRUE(router && detail::set_int_option(router.get(), ZMQ_LINGER, 0));
    ASSERT_EQ(zmq_bind(router.get(), endpoint().c_str()), 0) << detail::zmq_error_text();
    std::atomic<bool> stop{false};
    std::thread fake([&] {
        const std::string deep =
            R"({"ok":true,"address":"tcp://h:1","info":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
        while (!stop.load()) {
            zmq_pollitem_t item{router.get(), 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&item, 1, 50) <= 0) {
                continue;
            }
            std::vector<std::string> frames;
            for (bool more = true; more;) {
                detail::Message part;
                if (zmq_msg_recv(part.get(), router.get(), 0) < 0) {
                    break;
                }
                frames.emplace_back(part.view());
                more = part.more();
            }
            frames.back() = deep; // the envelope echoed, the body replaced
            for (std::size_t i = 0; i < frames.size(); ++i) {
                zmq_send(router.get(), frames[i].data(), frames[i].size(), i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
            }
        }
    });
    BrokerClient victim = client();
    auto found = victim.discover("cam0");
    stop.store(true);
    fake.join();
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().code, BrokerErrc::ProtocolError) << found.error().message;
    EXPECT_NE(found.error().message.find("nested deeper than 16 levels"), std::string::npos) << found.error().message;
}

TEST_F(BrokerTest, UnfinishedMultipartMessagesAreBoundedPerClient)
{
    // Parts of 200,000 bytes, every one flagged MORE, over a raw ZMTP connection: libzmq keeps them all until the
    // last part (829 MB of RSS for 800 MB sent, before the connection guard). Now the connection is dropped once
    // it holds 8 x --max-request-bytes (512 KiB here) and everything it held is freed.
    start_broker();
    const std::uint64_t before_kib = process_memory_kib(broker_->pid());
    auto raw = RawZmtp::connect(port_, "DEALER");
    ASSERT_TRUE(raw) << "no ZMTP handshake with the broker\n" << broker_->log();
    constexpr std::uint64_t kFlood = std::uint64_t{400} << 20;
    const std::uint64_t sent = raw->flood(200'000, kFlood);
    const std::uint64_t peak_kib = process_memory_kib(broker_->pid(), "VmHWM");
    EXPECT_LT(sent, kFlood) << "the broker never dropped the connection";
    EXPECT_LT(peak_kib - before_kib, std::uint64_t{64} << 10)
        << "broker memory went from " << before_kib << " KiB to a peak of " << peak_kib << " KiB";
    EXPECT_TRUE(wait_for_log("dropped the connection from 127.0.0.1:")) << broker_->log();
    EXPECT_NE(broker_->log().find("over the limit of 524288 bytes"), std::string::npos) << broker_->log();
    expect_still_serving("after an endless multipart message");
    std::cout << "flood: " << sent << " bytes sent before the drop, broker memory " << before_kib << " -> peak "
              << peak_kib << " KiB\n";
}

TEST_F(BrokerTest, UnfinishedAccountingKeepsLongLivedPlainClients)
{
    // As CurveAccountingKeepsLongLivedClients, without CURVE: 2 bytes wrong per frame (3 frames a request) would
    // drop this client.
    start_broker({"--insecure", "--max-request-bytes", "4096"});
    BrokerClient plain = client();
    const nlohmann::json info = {{"pad", std::string(600, 'p')}};
    for (int i = 0; i < 20000; ++i) {
        auto reply = i % 2 == 0 ? plain.register_stream("busy", "tcp://127.0.0.1:5555", info).has_value()
                                : plain.discover("busy").has_value();
        ASSERT_TRUE(reply) << "request " << i << " got no answer\n" << broker_->log();
    }
    EXPECT_EQ(broker_->log().find("dropped the connection"), std::string::npos) << broker_->log();
}

TEST_F(BrokerTest, ClientsBeyondMaxClientsAreRefused)
{
    start_broker({"--insecure", "--max-clients", "2"});
    // wait_ready's own client has gone: the guard learns of it from libzmq's monitor, or at the latest at its
    // once-a-second revalidation. Counted still, it would make `second` the refused one (seen on a loaded machine).
    std::this_thread::sleep_for(1500ms);
    BrokerClient first = client();
    BrokerClient second = client();
    ASSERT_TRUE(first.register_stream("a", "tcp://127.0.0.1:5001")) << broker_->log();
    ASSERT_TRUE(second.register_stream("b", "tcp://127.0.0.1:5002")) << broker_->log();
    RawClient third(endpoint());
    // Sent at once, the request races the guard learning of the connection from libzmq's monitor: the broker
    // must not answer it either way. Later, the DEALER reconnects after the refusal and asks again.
    const bool sent_racing = third.send_request("{\"type\":\"LIST\"}");
    EXPECT_TRUE(wait_for_log("refused a connection from 127.0.0.1:")) << broker_->log();
    EXPECT_FALSE(sent_racing && third.receive(500ms)) << "a third connection's first request is served";
    const bool sent = third.send_request("{\"type\":\"LIST\"}");
    EXPECT_FALSE(sent && third.receive(1000ms)) << "a third connection is served after it reconnected";
    EXPECT_TRUE(first.discover("b")) << "the two connected clients are still served";
    EXPECT_TRUE(second.discover("a"));
    EXPECT_NE(broker_->log().find("--max-clients 2 connections are open already"), std::string::npos) << broker_->log();
    EXPECT_EQ(broker_->stop(SIGTERM), 0);
    std::smatch status;
    const std::string log = broker_->log();
    ASSERT_TRUE(std::regex_search(log, status, std::regex("([0-9]+) connections refused \\(--max-clients\\)"))) << log;
    EXPECT_GE(std::stoul(status[1].str()), 1U);
}

} // namespace
} // namespace zerobuffer::relay::test
