// SPDX-License-Identifier: MIT
// The `stats` property and the `stats-interval` element messages of zerobuffersink and zerobuffersrc: the ring's
// counters (Writer::counters(), Reader::counters()) joined with what the element knows itself (copies, latencies)
// and, when read, the lag the ring's inspect view shows. Recording a frame takes a lock and never allocates;
// percentiles and the GstStructure are made only when the stats are read or posted (docs/gstreamer.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include <gst/gst.h>

namespace zerobuffer::gst {

/// CLOCK_MONOTONIC in ns: the clock of Frame::commit_time_ns(), shared by every process on the machine.
[[nodiscard]] std::int64_t monotonic_now_ns() noexcept;

/// Latencies of the last second in a fixed ring of samples (the oldest is overwritten, so past kCapacity frames
/// a second the window covers the newest kCapacity frames only).
class LatencyWindow {
public:
    static constexpr std::size_t kCapacity = 4096;
    static constexpr std::int64_t kWindowNs = 1'000'000'000;

    struct Summary {
        std::uint32_t samples = 0;
        std::int64_t p50_ns = 0;
        std::int64_t p90_ns = 0;
        std::int64_t p99_ns = 0;
        std::int64_t max_ns = 0;
    };

    void record(std::int64_t now_ns, std::int64_t latency_ns) noexcept;
    /// Nearest-rank percentiles of the samples taken in the second before `now_ns`.
    [[nodiscard]] Summary summarize(std::int64_t now_ns) const;
    void clear() noexcept;

private:
    struct Sample {
        std::int64_t at_ns = 0;
        std::int64_t latency_ns = 0;
    };
    std::array<Sample, kCapacity> samples_{};
    std::size_t next_ = 0;
    std::size_t count_ = 0;
};

/// Totals the stats report. Per ring (or reader) figures start at 0 again when the element makes a new one, so the
/// element reports them through ElementStats::begin_source() and ring_figures(), which keep the earlier totals.
struct StatsFigures {
    std::uint64_t frames = 0;
    std::uint64_t bytes = 0;
    std::uint64_t in_place = 0;
    std::uint64_t copied = 0;
    std::uint64_t dropped = 0;
    std::uint64_t waits = 0;
    std::uint64_t wait_ns = 0;
    std::uint64_t overruns = 0;

    StatsFigures& operator+=(const StatsFigures& other) noexcept;
};

enum class StatsRole { Sink, Src };

/// Thread-safe: the streaming thread records, any thread reads the property.
class ElementStats {
public:
    explicit ElementStats(StatsRole role) : role_(role) {}

    /// Start (READY -> PAUSED): every figure back to 0.
    void reset(const std::string& ring);
    /// A new ring (sink) or a new reader (src, at every attach) whose counters start at 0: the figures seen so far
    /// stay in the totals. `slot` is the src's reader slot (for its lag), -1 for the sink.
    void begin_source(std::int64_t slot);
    /// The current ring's or reader's counters, as figures (replaces the previous report of the same source).
    void ring_figures(const StatsFigures& figures);
    /// What the element counted itself (totals since start, across sources).
    void own_figures(const StatsFigures& figures);
    void latency(std::int64_t now_ns, std::int64_t latency_ns);

    void set_interval(guint ms);
    [[nodiscard]] guint interval() const;
    /// True once per stats-interval (never with 0): the caller posts a message now.
    [[nodiscard]] bool post_due(std::int64_t now_ns);

    /// The stats as a new "zerobuffer-stats" structure the caller owns. Looks at the ring (inspect API) for the lag.
    [[nodiscard]] GstStructure* structure() const;

private:
    const StatsRole role_;
    mutable std::mutex mutex_;
    std::string ring_;
    std::int64_t slot_ = -1;
    StatsFigures own_;
    StatsFigures earlier_sources_;
    StatsFigures source_;
    LatencyWindow latencies_;
    guint interval_ms_ = 0;
    std::int64_t last_post_ns_ = 0;
};

/// Posts the element's stats as a "zerobuffer-stats" element message.
void post_stats(GstElement* element, const ElementStats& stats);

} // namespace zerobuffer::gst
