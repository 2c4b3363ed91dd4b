// SPDX-License-Identifier: MIT
// The broker's registry logic on its own: request checks, replies and expiry, with a hand-driven clock.
#include <gtest/gtest.h>

#include "broker_protocol.h"
#include "registry.h"

namespace zerobuffer::relay::detail {
namespace {

using std::chrono::milliseconds;

class RegistryTest : public ::testing::Test {
protected:
    Reply handle(const nlohmann::json& request, std::string_view peer = "127.0.0.1", std::string_view key = "")
    {
        return registry_.handle(request.dump(), {peer, key}, now_);
    }
    Reply handle_text(std::string_view body) { return registry_.handle(body, {}, now_); }

    Clock::time_point now_ = Clock::now();
    Registry registry_{{milliseconds(1000), 3}};
};

TEST_F(RegistryTest, RegDiscDeregAndList)
{
    const Reply reg = handle({{"type", "REG"},
                              {"name", "cam0"},
                              {"address", "tcp://10.0.0.5:5555"},
                              {"info", {{"width", 1920}}},
                              {"ttl", 2}});
    ASSERT_TRUE(reg.error_code.empty()) << reg.body.dump();
    EXPECT_EQ(reg.body["created"], true);
    EXPECT_EQ(reg.body["ttl_ms"], 2000);

    now_ += milliseconds(150);
    const Reply disc = handle({{"type", "DISC"}, {"name", "cam0"}});
    ASSERT_EQ(disc.body["ok"], true) << disc.body.dump();
    EXPECT_EQ(disc.body["address"], "tcp://10.0.0.5:5555");
    EXPECT_EQ(disc.body["info"]["width"], 1920);
    EXPECT_EQ(disc.body["age_ms"], 150);

    const Reply again = handle({{"type", "REG"}, {"name", "cam0"}, {"address", "tcp://10.0.0.5:5555"}});
    EXPECT_EQ(again.body["created"], false);
    EXPECT_EQ(again.body["ttl_ms"], 1000) << "a REG without ttl takes the broker's default";

    const Reply list = handle({{"type", "LIST"}});
    ASSERT_EQ(list.body["streams"].size(), 1U);
    EXPECT_EQ(list.body["streams"][0]["name"], "cam0");

    const Reply not_owner = handle({{"type", "DEREG"}, {"name", "cam0"}, {"address", "tcp://10.0.0.6:1"}});
    EXPECT_EQ(not_owner.error_code, "not_owner");
    const Reply dereg = handle({{"type", "DEREG"}, {"name", "cam0"}, {"address", "tcp://10.0.0.5:5555"}});
    EXPECT_TRUE(dereg.error_code.empty()) << dereg.body.dump();
    EXPECT_EQ(handle({{"type", "DISC"}, {"name", "cam0"}}).error_code, "not_found");
    EXPECT_EQ(handle({{"type", "DEREG"}, {"name", "cam0"}}).error_code, "not_found");
}

TEST_F(RegistryTest, WildcardHostBecomesThePublishersAddress)
{
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://*:5555"}}, "10.1.2.3").body["address"],
              "tcp://10.1.2.3:5555");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "b"}, {"address", "tcp://0.0.0.0:7"}}, "::1").body["address"],
              "tcp://[::1]:7");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://[::]:8"}}, "::ffff:10.1.2.4").body["address"],
              "tcp://10.1.2.4:8");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "c"}, {"address", "ipc:///tmp/x"}}, "10.1.2.3").body["address"],
              "ipc:///tmp/x");
}

TEST_F(RegistryTest, ExpiresWithoutRefresh)
{
    ASSERT_TRUE(handle({{"type", "REG"}, {"name", "cam0"}, {"address", "tcp://h:1"}, {"ttl", 0.5}}).error_code.empty());
    ASSERT_EQ(registry_.next_expiry(), now_ + milliseconds(500));
    now_ += milliseconds(400);
    ASSERT_TRUE(handle({{"type", "REG"}, {"name", "cam0"}, {"address", "tcp://h:1"}, {"ttl", 0.5}}).error_code.empty());
    now_ += milliseconds(400);
    EXPECT_EQ(handle({{"type", "DISC"}, {"name", "cam0"}}).body["ok"], true) << "refreshed 400 ms ago, ttl 500";
    now_ += milliseconds(200);
    const Reply gone = handle({{"type", "DISC"}, {"name", "cam0"}});
    EXPECT_EQ(gone.error_code, "not_found");
    ASSERT_EQ(gone.expired.size(), 1U);
    EXPECT_NE(gone.expired[0].find("expired 'cam0'"), std::string::npos);
    EXPECT_EQ(registry_.size(), 0U);
}

TEST_F(RegistryTest, RefusesBadRequestsWithCodes)
{
    EXPECT_EQ(handle_text("{not json").error_code, "bad_json");
    EXPECT_EQ(handle_text("").error_code, "bad_json");
    EXPECT_EQ(handle_text("\xff\xfe").error_code, "bad_json");
    EXPECT_EQ(handle_text("\"\xc3\x28\"").error_code, "bad_json") << "invalid UTF-8 in a string";
    EXPECT_EQ(handle_text("[1,2]").error_code, "not_object");
    EXPECT_EQ(handle_text("42").error_code, "not_object");
    EXPECT_EQ(handle({{"name", "x"}}).error_code, "missing_field");
    EXPECT_EQ(handle({{"type", 7}}).error_code, "invalid_field");
    EXPECT_EQ(handle({{"type", "PUBLISH"}}).error_code, "unknown_type");
    EXPECT_EQ(handle({{"type", "REG"}, {"address", "tcp://h:1"}}).error_code, "missing_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", 5}, {"address", "tcp://h:1"}}).error_code, "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a\nb"}, {"address", "tcp://h:1"}}).error_code, "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", std::string(200, 'n')}, {"address", "tcp://h:1"}}).error_code,
              "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", ""}, {"address", "tcp://h:1"}}).error_code, "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "udp://h:1"}}).error_code, "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://h"}}).error_code, "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://h:1\r"}}).error_code, "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://" + std::string(300, 'h') + ":1"}}).error_code,
              "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://h:1"}, {"ttl", "10"}}).error_code,
              "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://h:1"}, {"ttl", -1}}).error_code,
              "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://h:1"}, {"ttl", 1e300}}).error_code,
              "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://h:1"}, {"ttl", 0.01}}).error_code,
              "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://h:1"}, {"info", "x"}}).error_code,
              "invalid_field");
    EXPECT_EQ(handle({{"type", "REG"},
                      {"name", "a"},
                      {"address", "tcp://h:1"},
                      {"info", {{"blob", std::string(protocol::kMaxInfoBytes, 'x')}}}})
                  .error_code,
              "invalid_field");
    EXPECT_EQ(handle({{"type", "DEREG"}, {"name", "a"}, {"address", 3}}).error_code, "invalid_field");
    EXPECT_EQ(handle_text(std::string(10000, '[') + std::string(10000, ']')).error_code, "not_object")
        << "deep nesting is parsed without overflowing the stack";
    EXPECT_EQ(registry_.size(), 0U) << "no refused request registered anything";

    const Reply refused = handle({{"type", "PUBLISH\x01"}});
    EXPECT_EQ(refused.body["ok"], false);
    EXPECT_EQ(refused.body["error"], "unknown_type");
    EXPECT_TRUE(refused.body["message"].is_string());
    EXPECT_EQ(refused.body["message"].get<std::string>().find('\x01'), std::string::npos)
        << "control characters are not echoed back into logs";
}

/// {"type":"REG","name":"deep","address":"tcp://h:1","info":{"a":[[[...]]]}} with `levels` brackets.
std::string deep_reg(std::size_t levels)
{
    return R"({"type":"REG","name":"deep","address":"tcp://h:1","info":{"a":)" + std::string(levels, '[') +
           std::string(levels, ']') + "}}";
}

TEST_F(RegistryTest, DeepOrHugeJsonIsRefusedBeforeAnyTreeIsWalked)
{
    // 65,000 levels used to overflow the stack in dump() of "info" (exit 139): refused while parsing instead.
    for (const std::size_t levels : {std::size_t{15}, std::size_t{65'000}, std::size_t{500'000}}) {
        const Reply deep = handle_text(deep_reg(levels));
        EXPECT_EQ(deep.error_code, "invalid_field") << levels << " levels";
        EXPECT_NE(deep.body["message"].get<std::string>().find("field \"info\" is nested deeper than 16 levels"),
                  std::string::npos)
            << deep.body.dump();
    }
    EXPECT_TRUE(handle_text(deep_reg(13)).error_code.empty()) << "16 levels in all (object, info, a, 13 arrays)";
    const Reply listed = handle({{"type", "DISC"}, {"name", "deep"}});
    ASSERT_EQ(listed.body["ok"], true);
    EXPECT_EQ(listed.body["info"]["a"].dump(), std::string(13, '[') + std::string(13, ']'));

    EXPECT_EQ(handle_text(std::string(65'000, '[') + std::string(65'000, ']')).error_code, "not_object");
    std::string many = R"({"type":"LIST","junk":[)";
    for (int i = 0; i < 9000; ++i) {
        many += i == 0 ? "0" : ",0";
    }
    const Reply huge = handle_text(many + "]}");
    EXPECT_EQ(huge.error_code, "invalid_field");
    EXPECT_NE(huge.body["message"].get<std::string>().find("field \"junk\" holds more than 8192 values"),
              std::string::npos)
        << huge.body.dump();
    const Reply control = handle_text("{\"a\\u0001b\":" + std::string(20, '[') + std::string(20, ']') + "}");
    EXPECT_EQ(control.body["message"].get<std::string>().find('\x01'), std::string::npos)
        << "a field name is shown without its control characters";
    EXPECT_EQ(handle_text(deep_reg(10).substr(0, 70)).error_code, "bad_json") << "cut short inside the nesting";
}

TEST_F(RegistryTest, UnderCurveANameBelongsToItsKeyUntilItExpires)
{
    const std::string alice(40, 'A');
    const std::string mallory(40, 'M');
    const nlohmann::json reg = {{"type", "REG"}, {"name", "cam1"}, {"address", "tcp://10.0.0.5:5555"}, {"ttl", 1}};
    ASSERT_TRUE(handle(reg, "10.0.0.5", alice).error_code.empty());

    nlohmann::json hijack = reg;
    hijack["address"] = "ipc:///tmp/evil.sock";
    const Reply taken = handle(hijack, "10.0.0.9", mallory);
    EXPECT_EQ(taken.error_code, "not_owner");
    EXPECT_NE(taken.body["message"].get<std::string>().find("'cam1' belongs to the key " + alice), std::string::npos)
        << taken.body.dump();
    EXPECT_EQ(handle({{"type", "DEREG"}, {"name", "cam1"}}, "10.0.0.9", mallory).error_code, "not_owner");
    EXPECT_EQ(handle({{"type", "DEREG"}, {"name", "cam1"}, {"address", "tcp://10.0.0.5:5555"}}, "10.0.0.9", mallory)
                  .error_code,
              "not_owner")
        << "knowing the address is not enough";

    const Reply found = handle({{"type", "DISC"}, {"name", "cam1"}});
    EXPECT_EQ(found.body["address"], "tcp://10.0.0.5:5555") << "the owner's registration is untouched";
    EXPECT_EQ(found.body["owner"], alice);
    const Reply listed = handle({{"type", "LIST"}});
    ASSERT_EQ(listed.body["streams"].size(), 1U);
    EXPECT_EQ(listed.body["streams"][0]["owner"], alice) << "an operator sees which key holds each name";

    nlohmann::json moved = reg;
    moved["address"] = "tcp://10.0.0.6:5555";
    EXPECT_TRUE(handle(moved, "10.0.0.6", alice).error_code.empty()) << "the owner may move its stream";

    now_ += milliseconds(1100); // not refreshed within its ttl: the name is free again
    const Reply after = handle(hijack, "10.0.0.9", mallory);
    EXPECT_TRUE(after.error_code.empty()) << after.body.dump();
    EXPECT_EQ(handle({{"type", "DISC"}, {"name", "cam1"}}).body["owner"], mallory);

    // A plain broker has no keys: last writer wins, as documented.
    ASSERT_TRUE(handle({{"type", "REG"}, {"name", "open"}, {"address", "tcp://h:1"}}).error_code.empty());
    EXPECT_TRUE(handle({{"type", "REG"}, {"name", "open"}, {"address", "tcp://h:2"}}).error_code.empty());
    EXPECT_FALSE(handle({{"type", "DISC"}, {"name", "open"}}).body.contains("owner"));
}

TEST_F(RegistryTest, RegistryFullRefusesNewNamesOnly)
{
    for (const char* name : {"a", "b", "c"}) {
        ASSERT_TRUE(handle({{"type", "REG"}, {"name", name}, {"address", "tcp://h:1"}}).error_code.empty());
    }
    EXPECT_EQ(handle({{"type", "REG"}, {"name", "d"}, {"address", "tcp://h:1"}}).error_code, "registry_full");
    EXPECT_TRUE(handle({{"type", "REG"}, {"name", "a"}, {"address", "tcp://h:1"}}).error_code.empty())
        << "refreshing an existing name still works";
}

} // namespace
} // namespace zerobuffer::relay::detail
