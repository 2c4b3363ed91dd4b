// SPDX-License-Identifier: MIT
// Unit tests of zb-relay's metrics text: drops by reason, the bounded per-subscriber series and label escaping.
// (relay-metrics-test.py scrapes real routes; this covers what needs more subscribers than a test can start.)
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "metrics.h"

namespace {

using namespace zerobuffer::relay;

std::size_t count(const std::string& text, const std::string& what)
{
    std::size_t found = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++found;
    return found;
}

TEST(RelayMetrics, DropsAreSplitByReasonAndEveryReasonIsPresent)
{
    RouteConfig config;
    config.name = "cam\"1";
    config.from.text = "ring:cam";
    RouteStats stats;
    stats.count_drop(DropReason::NoCredit, 3);
    stats.count_drop(DropReason::UpstreamGap, 7);
    const std::string text = relay_metrics_text({{&config, &stats}}, {});
    EXPECT_EQ(count(text, "zerobuffer_relay_route_drops_total{"), kDropReasons) << text;
    EXPECT_NE(text.find("route=\"cam\\\"1\""), std::string::npos) << "the route label must be escaped: " << text;
    EXPECT_NE(text.find("reason=\"no_credit\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("reason=\"upstream_gap\"} 7\n"), std::string::npos) << text;
    EXPECT_NE(text.find("reason=\"ring_full\"} 0\n"), std::string::npos) << text;
    EXPECT_EQ(count(text, "zerobuffer_relay_subscriber_frames_total{"), 0u) << "no subscriber, no series";
}

TEST(RelayMetrics, SubscriberSeriesAreBoundedAndTheRestSummedUp)
{
    RouteConfig config;
    config.name = "out";
    RouteStats stats;
    std::vector<SubscriberFigures> subscribers;
    const std::size_t total = SubscriberBoard::kListed + 6;
    for (std::size_t i = 0; i < total; ++i) // Numbers in reverse: the lowest kListed are listed whatever the order.
        subscribers.push_back({.number = static_cast<std::uint32_t>(total - i),
                               .policy = i % 2 == 0 ? FlowPolicy::Latest : FlowPolicy::Lossless,
                               .window = 4,
                               .delivered = 10,
                               .dropped = 1});
    stats.subscribers.publish(subscribers);
    const auto board = stats.subscribers.snapshot();
    ASSERT_EQ(board.listed.size(), SubscriberBoard::kListed);
    EXPECT_EQ(board.listed.front().number, 1u);
    EXPECT_EQ(board.listed.back().number, SubscriberBoard::kListed);
    EXPECT_EQ(board.others, 6u);
    EXPECT_EQ(board.others_total.delivered, 60u);

    const std::string text = relay_metrics_text({{&config, &stats}}, {});
    EXPECT_EQ(count(text, "zerobuffer_relay_subscriber_frames_total{"), SubscriberBoard::kListed + 1) << text;
    EXPECT_NE(text.find("subscriber=\"other\",policy=\"\"} 60\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("subscriber=\"" + std::to_string(total) + "\""), std::string::npos) << "listed beyond 64";
    EXPECT_NE(text.find("zerobuffer_relay_route_subscribers_unlisted{route=\"out\",from=\"\",from_kind=\"ring\"} 6\n"),
              std::string::npos)
        << text;
    // Each family is announced once, whatever the number of series.
    EXPECT_EQ(count(text, "# TYPE zerobuffer_relay_subscriber_frames_total counter\n"), 1u);
}

} // namespace
