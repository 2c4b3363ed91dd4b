// SPDX-License-Identifier: MIT
// The fixture of the broker's process tests: a `zb-relay broker` on a fresh loopback port with its log in a temp
// dir, well-behaved clients for it, and CURVE key files as `zb-relay keygen` writes them.
#pragma once

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.h>

#include "broker_client.h"
#include "broker_process.h"
#include "key_files.h"

namespace zerobuffer::relay::test {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

inline constexpr milliseconds kReply = 3000ms; // generous: CI machines are loaded
inline constexpr milliseconds kStartup = 10000ms;

/// A broker process on a fresh port plus a temp dir for its log; the broker is killed at the end of the test.
class BrokerTest : public ::testing::Test {
protected:
    void start_broker(std::vector<std::string> extra = {"--insecure"})
    {
        broker_ = std::make_unique<BrokerProcess>(port_, std::move(extra), log_file());
        ASSERT_TRUE(broker_->wait_ready(kStartup)) << broker_->log();
    }
    [[nodiscard]] std::filesystem::path log_file() const { return dir_.path() / "broker.log"; }
    [[nodiscard]] std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
    [[nodiscard]] BrokerClient client(milliseconds timeout = kReply) const
    {
        auto made = BrokerClient::connect({endpoint(), timeout, std::nullopt});
        EXPECT_TRUE(made) << made.error().message;
        return std::move(*made);
    }
    /// Waits until the broker's log holds `text` (it is written from the broker's threads as things happen).
    [[nodiscard]] bool wait_for_log(const std::string& text) const
    {
        const auto deadline = std::chrono::steady_clock::now() + kStartup;
        while (broker_->log().find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            std::this_thread::sleep_for(20ms);
        }
        return true;
    }
    /// A valid request from a separate, well-behaved client is still served.
    void expect_still_serving(const std::string& context)
    {
        BrokerClient other = client();
        auto reg = other.register_stream("witness", "tcp://127.0.0.1:6000");
        ASSERT_TRUE(reg) << context << ": " << reg.error().message << "\n" << broker_->log();
        auto found = other.discover("witness");
        ASSERT_TRUE(found) << context << ": " << found.error().message;
        EXPECT_EQ(found->address, "tcp://127.0.0.1:6000");
    }

    TempDir dir_;
    int port_ = free_port();
    std::unique_ptr<BrokerProcess> broker_;
};

/// Writes a fresh CURVE key pair as PREFIX.key (secret) and PREFIX.pub (public), as `zb-relay keygen` would.
inline CurveKeyPair write_key_pair(const std::filesystem::path& prefix)
{
    std::array<char, 41> public_key{};
    std::array<char, 41> secret_key{};
    EXPECT_EQ(zmq_curve_keypair(public_key.data(), secret_key.data()), 0);
    std::ofstream(prefix.string() + ".key") << "# secret key\n" << secret_key.data() << "\n";
    // Private to its owner, as keygen writes it: a secret key others could read is refused.
    std::filesystem::permissions(prefix.string() + ".key",
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::ofstream(prefix.string() + ".pub") << public_key.data() << "\n";
    return {public_key.data(), secret_key.data()};
}

} // namespace zerobuffer::relay::test
