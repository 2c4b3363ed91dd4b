// SPDX-License-Identifier: MIT
// The elements' statistics without an element: the latency window's percentiles and its one-second and capacity
// bounds, totals kept across sources, and when stats-interval says to post.
#include <cstdint>
#include <memory>

#include <gtest/gtest.h>

#include "element_stats.h"

using zerobuffer::gst::ElementStats;
using zerobuffer::gst::LatencyWindow;
using zerobuffer::gst::StatsFigures;
using zerobuffer::gst::StatsRole;

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

guint64 field(const GstStructure* stats, const char* name)
{
    guint64 value = 0;
    EXPECT_TRUE(gst_structure_get_uint64(stats, name, &value)) << name;
    return value;
}

} // namespace

TEST(StatsWindow, EmptyWindowSummarizesToZero)
{
    const auto window = std::make_unique<LatencyWindow>();
    const LatencyWindow::Summary summary = window->summarize(5 * kSecond);
    EXPECT_EQ(summary.samples, 0u);
    EXPECT_EQ(summary.p50_ns, 0);
    EXPECT_EQ(summary.max_ns, 0);
}

TEST(StatsWindow, NearestRankPercentilesOfSamplesInAnyOrder)
{
    const auto window = std::make_unique<LatencyWindow>();
    const std::int64_t now = 10 * kSecond;
    for (std::int64_t i = 0; i < 100; ++i)
        window->record(now, (i * 37) % 100 + 1); // 1..100, shuffled.
    const LatencyWindow::Summary summary = window->summarize(now);
    EXPECT_EQ(summary.samples, 100u);
    EXPECT_EQ(summary.p50_ns, 50);
    EXPECT_EQ(summary.p90_ns, 90);
    EXPECT_EQ(summary.p99_ns, 99);
    EXPECT_EQ(summary.max_ns, 100);
}

TEST(StatsWindow, SamplesOlderThanOneSecondAreLeftOut)
{
    const auto window = std::make_unique<LatencyWindow>();
    for (int i = 0; i < 10; ++i)
        window->record(1 * kSecond, 1'000'000);
    for (int i = 0; i < 10; ++i)
        window->record(3 * kSecond, 5);
    LatencyWindow::Summary summary = window->summarize(3 * kSecond + 500 * kMs);
    EXPECT_EQ(summary.samples, 10u);
    EXPECT_EQ(summary.max_ns, 5);
    summary = window->summarize(5 * kSecond);
    EXPECT_EQ(summary.samples, 0u) << "a window with no frame in the last second has no latencies";
}

TEST(StatsWindow, PastItsCapacityTheNewestSamplesStay)
{
    const auto window = std::make_unique<LatencyWindow>();
    const auto total = static_cast<std::int64_t>(LatencyWindow::kCapacity) + 10;
    for (std::int64_t i = 0; i < total; ++i)
        window->record(kSecond, i);
    const LatencyWindow::Summary summary = window->summarize(kSecond);
    EXPECT_EQ(summary.samples, LatencyWindow::kCapacity);
    EXPECT_EQ(summary.max_ns, total - 1);
    EXPECT_EQ(summary.p50_ns, 10 + static_cast<std::int64_t>(LatencyWindow::kCapacity) / 2 - 1)
        << "the 10 oldest samples were overwritten";
}

TEST(StatsWindow, TotalsAddUpAcrossSources)
{
    ElementStats stats(StatsRole::Src);
    stats.reset(""); // No ring: nothing to look at for the lag.
    StatsFigures own;
    own.frames = 7;
    own.bytes = 700;
    stats.own_figures(own);
    StatsFigures first;
    first.waits = 2;
    first.dropped = 1;
    stats.begin_source(0);
    stats.ring_figures(first);
    first.waits = 3; // A later report of the same reader replaces the earlier one.
    stats.ring_figures(first);
    StatsFigures second;
    second.waits = 5;
    stats.begin_source(1); // The reader's successor starts at 0.
    stats.ring_figures(second);

    GstStructure* structure = stats.structure();
    ASSERT_NE(structure, nullptr);
    EXPECT_EQ(field(structure, "frames"), 7u);
    EXPECT_EQ(field(structure, "bytes"), 700u);
    EXPECT_EQ(field(structure, "waits"), 8u);
    EXPECT_EQ(field(structure, "dropped"), 1u);
    EXPECT_TRUE(gst_structure_has_field(structure, "overruns"));
    gst_structure_free(structure);

    stats.reset("");
    structure = stats.structure();
    EXPECT_EQ(field(structure, "frames"), 0u);
    EXPECT_EQ(field(structure, "waits"), 0u);
    gst_structure_free(structure);
}

TEST(StatsWindow, PostDueOncePerIntervalAndNeverWithZero)
{
    ElementStats stats(StatsRole::Sink);
    stats.reset("");
    const std::int64_t start = zerobuffer::gst::monotonic_now_ns();
    EXPECT_FALSE(stats.post_due(start + 100 * kMs)) << "interval 0: never";
    stats.set_interval(100);
    EXPECT_EQ(stats.interval(), 100u);
    EXPECT_TRUE(stats.post_due(start + 100 * kMs));
    EXPECT_FALSE(stats.post_due(start + 150 * kMs));
    EXPECT_TRUE(stats.post_due(start + 200 * kMs));
    EXPECT_FALSE(stats.post_due(start + 200 * kMs));
}
