// SPDX-License-Identifier: MIT
// The broker under CURVE, as a real process on loopback: only listed keys get in, names belong to the key that
// registered them, and the connection guard's accounting of CURVE framing is exact.
#include <csignal>

#include "broker_fixture.h"

namespace zerobuffer::relay::test {
namespace {

TEST_F(BrokerTest, CurveAllowsListedKeysOnly)
{
    const auto broker_keys = write_key_pair(dir_.path() / "broker");
    const auto allowed = write_key_pair(dir_.path() / "allowed");
    const auto stranger = write_key_pair(dir_.path() / "stranger");
    std::ofstream(dir_.path() / "allowed.txt") << "# clients\n\n" << allowed.public_key << "\n";
    broker_ = std::make_unique<BrokerProcess>(
        port_,
        std::vector<std::string>{"--curve-secret", (dir_.path() / "broker.key").string(), "--allowed-keys",
                                 (dir_.path() / "allowed.txt").string()},
        log_file());

    auto keys = load_curve_client_keys((dir_.path() / "broker.pub").string(), (dir_.path() / "allowed.key").string());
    ASSERT_TRUE(keys) << keys.error().message;
    EXPECT_EQ(keys->client_public_key, allowed.public_key);
    auto good = BrokerClient::connect({endpoint(), 500ms, *keys});
    ASSERT_TRUE(good);
    BrokerResult<RegisterReply> reg = tl::unexpected(BrokerError{BrokerErrc::Timeout, "", ""});
    for (int attempt = 0; attempt < 20 && !reg; ++attempt) {
        reg = good->register_stream("secret-cam", "tcp://127.0.0.1:5555");
    }
    ASSERT_TRUE(reg) << reg.error().message << "\n" << broker_->log();

    auto wrong_keys =
        load_curve_client_keys((dir_.path() / "broker.pub").string(), (dir_.path() / "stranger.key").string());
    ASSERT_TRUE(wrong_keys);
    auto wrong = BrokerClient::connect({endpoint(), 500ms, *wrong_keys});
    ASSERT_TRUE(wrong);
    auto refused = wrong->discover("secret-cam");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, BrokerErrc::Timeout);
    EXPECT_NE(refused.error().message.find("--allowed-keys"), std::string::npos) << refused.error().message;

    BrokerClient plain = client(500ms);
    EXPECT_EQ(plain.discover("secret-cam").error().code, BrokerErrc::Timeout);

    auto still = good->discover("secret-cam");
    ASSERT_TRUE(still) << still.error().message;
    EXPECT_NE(broker_->log().find("refused a client"), std::string::npos) << broker_->log();
    EXPECT_NE(broker_->log().find(stranger.public_key), std::string::npos) << "the refused key is logged";

    const auto out = dir_.path() / "query.out";
    EXPECT_EQ(
        run_zb_relay({"broker", "query", endpoint(), "secret-cam", "--broker-key",
                      (dir_.path() / "broker.pub").string(), "--curve-secret", (dir_.path() / "allowed.key").string()},
                     dir_.path() / "query.err", out),
        0)
        << read_text_file(dir_.path() / "query.err");
    EXPECT_EQ(nlohmann::json::parse(read_text_file(out), nullptr, false)["address"], "tcp://127.0.0.1:5555");

    auto missing = load_curve_client_keys((dir_.path() / "nope.pub").string(), (dir_.path() / "allowed.key").string());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, BrokerErrc::KeyFile);
}

TEST_F(BrokerTest, CurveAccountingKeepsLongLivedClients)
{
    // The connection guard compares the kernel's byte count with the wire size of every request: any error in the
    // ZMTP or CURVE framing it assumes adds up over many requests and drops a client that did nothing wrong.
    // --max-request-bytes 4096 makes the limit 32 KiB: 6,000 requests would pass it with 8 bytes wrong each.
    write_key_pair(dir_.path() / "broker");
    const auto client_keys = write_key_pair(dir_.path() / "client");
    std::ofstream(dir_.path() / "allowed.txt") << client_keys.public_key << "\n";
    broker_ = std::make_unique<BrokerProcess>(
        port_,
        std::vector<std::string>{"--curve-secret", (dir_.path() / "broker.key").string(), "--allowed-keys",
                                 (dir_.path() / "allowed.txt").string(), "--max-request-bytes", "4096"},
        log_file());
    auto keys = load_curve_client_keys((dir_.path() / "broker.pub").string(), (dir_.path() / "client.key").string());
    ASSERT_TRUE(keys) << keys.error().message;
    auto made = BrokerClient::connect({endpoint(), 1000ms, *keys});
    ASSERT_TRUE(made);
    BrokerClient curve = std::move(*made);
    const nlohmann::json info = {{"pad", std::string(600, 'p')}}; // over 255 bytes: 8-byte frame sizes too
    BrokerResult<RegisterReply> first = tl::unexpected(BrokerError{BrokerErrc::Timeout, "", ""});
    for (int attempt = 0; attempt < 20 && !first; ++attempt) {
        first = curve.register_stream("busy", "tcp://127.0.0.1:5555", info);
    }
    ASSERT_TRUE(first) << first.error().message << "\n" << broker_->log();
    for (int i = 0; i < 6000; ++i) {
        auto reply = i % 2 == 0 ? curve.register_stream("busy", "tcp://127.0.0.1:5555", info).has_value()
                                : curve.discover("busy").has_value();
        ASSERT_TRUE(reply) << "request " << i << " got no answer\n" << broker_->log();
    }
    EXPECT_EQ(broker_->log().find("dropped the connection"), std::string::npos) << broker_->log();
}

TEST_F(BrokerTest, CurveNamesBelongToTheKeyThatRegisteredThem)
{
    // Both keys are allowed in; only the first may register, move or remove the name while it lives.
    write_key_pair(dir_.path() / "broker");
    const auto owner = write_key_pair(dir_.path() / "owner");
    const auto other = write_key_pair(dir_.path() / "other");
    std::ofstream(dir_.path() / "allowed.txt") << owner.public_key << "\n" << other.public_key << "\n";
    broker_ = std::make_unique<BrokerProcess>(
        port_,
        std::vector<std::string>{"--curve-secret", (dir_.path() / "broker.key").string(), "--allowed-keys",
                                 (dir_.path() / "allowed.txt").string()},
        log_file());
    const auto curve_client = [&](const std::string& prefix) {
        auto keys =
            load_curve_client_keys((dir_.path() / "broker.pub").string(), (dir_.path() / (prefix + ".key")).string());
        EXPECT_TRUE(keys) << keys.error().message;
        auto made = BrokerClient::connect({endpoint(), 1000ms, *keys});
        EXPECT_TRUE(made);
        return std::move(*made);
    };
    BrokerClient first = curve_client("owner");
    BrokerClient second = curve_client("other");
    BrokerResult<RegisterReply> reg = tl::unexpected(BrokerError{BrokerErrc::Timeout, "", ""});
    for (int attempt = 0; attempt < 20 && !reg; ++attempt) {
        reg = first.register_stream("cam1", "tcp://127.0.0.1:5555", nlohmann::json::object(), 60000ms);
    }
    ASSERT_TRUE(reg) << reg.error().message << "\n" << broker_->log();

    auto hijack = second.register_stream("cam1", "ipc:///tmp/evil.sock");
    ASSERT_FALSE(hijack);
    EXPECT_EQ(hijack.error().broker_code, "not_owner") << hijack.error().message;
    EXPECT_NE(hijack.error().message.find("belongs to the key " + owner.public_key), std::string::npos)
        << hijack.error().message;
    auto removed = second.deregister_stream("cam1", "tcp://127.0.0.1:5555");
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error().broker_code, "not_owner");
    auto found = second.discover("cam1");
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found->address, "tcp://127.0.0.1:5555");
    EXPECT_EQ(found->owner, owner.public_key);

    // The operator's view: who holds each name.
    const auto out = dir_.path() / "query.out";
    ASSERT_EQ(run_zb_relay({"broker", "query", endpoint(), "--broker-key", (dir_.path() / "broker.pub").string(),
                            "--curve-secret", (dir_.path() / "other.key").string()},
                           dir_.path() / "query.err", out),
              0)
        << read_text_file(dir_.path() / "query.err");
    const auto listed = nlohmann::json::parse(read_text_file(out), nullptr, false);
    ASSERT_EQ(listed["streams"].size(), 1U) << read_text_file(out);
    EXPECT_EQ(listed["streams"][0]["owner"], owner.public_key);

    ASSERT_TRUE(first.deregister_stream("cam1", "tcp://127.0.0.1:5555")) << "its owner removes it";
    EXPECT_TRUE(second.register_stream("cam1", "tcp://127.0.0.1:5556")) << "then the name is free";
    EXPECT_NE(broker_->log().find("refused a request (not_owner)"), std::string::npos) << broker_->log();
}

} // namespace
} // namespace zerobuffer::relay::test
