// SPDX-License-Identifier: MIT
// Statistics of zerobuffersink and zerobuffersrc for their `stats` property and `stats-interval` messages.
#include "element_stats.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <vector>
#include <unistd.h>

#include <zerobuffer/inspect.h>

namespace zerobuffer::gst {

namespace {

// Nearest rank: the smallest sample with at least q of the samples at or below it.
std::int64_t percentile(const std::vector<std::int64_t>& sorted, double q)
{
    const auto n = static_cast<double>(sorted.size());
    auto rank = static_cast<std::size_t>(std::ceil(q * n));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

std::uint64_t non_negative_us(std::int64_t ns)
{
    return ns <= 0 ? 0 : static_cast<std::uint64_t>(ns / 1000);
}

struct RingLook {
    std::uint64_t lag_frames = 0;
    std::uint32_t readers = 0;
};

// The sink: the furthest-behind live reader and how many are attached; the src: its own reader's lag. A ring that
// cannot be looked at (not made yet, gone) reports nothing.
RingLook look_at_ring(const std::string& ring, StatsRole role, std::int64_t slot)
{
    RingLook look;
    if (ring.empty())
        return look;
    auto snapshot = inspect_ring(ring);
    if (!snapshot)
        return look;
    for (const ReaderSnapshot& reader : snapshot->readers) {
        if (!reader.alive)
            continue;
        ++look.readers;
        if (role == StatsRole::Sink)
            look.lag_frames = std::max(look.lag_frames, reader.lag_frames);
        else if (static_cast<std::int64_t>(reader.slot) == slot && reader.pid == getpid())
            look.lag_frames = reader.lag_frames;
    }
    return look;
}

} // namespace

std::int64_t monotonic_now_ns() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

void LatencyWindow::record(std::int64_t now_ns, std::int64_t latency_ns) noexcept
{
    samples_[next_] = Sample{now_ns, latency_ns};
    next_ = (next_ + 1) % kCapacity;
    count_ = std::min(count_ + 1, kCapacity);
}

LatencyWindow::Summary LatencyWindow::summarize(std::int64_t now_ns) const
{
    std::vector<std::int64_t> recent;
    recent.reserve(count_);
    for (std::size_t i = 0; i < count_; ++i) {
        const Sample& sample = samples_[i];
        if (now_ns - sample.at_ns <= kWindowNs)
            recent.push_back(sample.latency_ns);
    }
    Summary summary;
    if (recent.empty())
        return summary;
    std::sort(recent.begin(), recent.end());
    summary.samples = static_cast<std::uint32_t>(recent.size());
    summary.p50_ns = percentile(recent, 0.50);
    summary.p90_ns = percentile(recent, 0.90);
    summary.p99_ns = percentile(recent, 0.99);
    summary.max_ns = recent.back();
    return summary;
}

void LatencyWindow::clear() noexcept
{
    next_ = 0;
    count_ = 0;
}

StatsFigures& StatsFigures::operator+=(const StatsFigures& other) noexcept
{
    frames += other.frames;
    bytes += other.bytes;
    in_place += other.in_place;
    copied += other.copied;
    dropped += other.dropped;
    waits += other.waits;
    wait_ns += other.wait_ns;
    overruns += other.overruns;
    return *this;
}

void ElementStats::reset(const std::string& ring)
{
    const std::lock_guard lock(mutex_);
    ring_ = ring;
    slot_ = -1;
    own_ = {};
    earlier_sources_ = {};
    source_ = {};
    latencies_.clear();
    last_post_ns_ = monotonic_now_ns();
}

void ElementStats::begin_source(std::int64_t slot)
{
    const std::lock_guard lock(mutex_);
    earlier_sources_ += source_;
    source_ = {};
    slot_ = slot;
}

void ElementStats::ring_figures(const StatsFigures& figures)
{
    const std::lock_guard lock(mutex_);
    source_ = figures;
}

void ElementStats::own_figures(const StatsFigures& figures)
{
    const std::lock_guard lock(mutex_);
    own_ = figures;
}

void ElementStats::latency(std::int64_t now_ns, std::int64_t latency_ns)
{
    const std::lock_guard lock(mutex_);
    latencies_.record(now_ns, latency_ns);
}

void ElementStats::set_interval(guint ms)
{
    const std::lock_guard lock(mutex_);
    interval_ms_ = ms;
}

guint ElementStats::interval() const
{
    const std::lock_guard lock(mutex_);
    return interval_ms_;
}

bool ElementStats::post_due(std::int64_t now_ns)
{
    const std::lock_guard lock(mutex_);
    if (interval_ms_ == 0 || now_ns - last_post_ns_ < static_cast<std::int64_t>(interval_ms_) * 1'000'000)
        return false;
    last_post_ns_ = now_ns;
    return true;
}

GstStructure* ElementStats::structure() const
{
    std::string ring;
    std::int64_t slot = -1;
    StatsFigures total;
    LatencyWindow::Summary latency;
    {
        const std::lock_guard lock(mutex_);
        ring = ring_;
        slot = slot_;
        total = own_;
        total += earlier_sources_;
        total += source_;
        latency = latencies_.summarize(monotonic_now_ns());
    }
    const RingLook look = look_at_ring(ring, role_, slot); // Outside the lock: it reads the segment.

    // One field per line, in the order docs/gstreamer.md lists them (a structure keeps its fields' order).
    GstStructure* s = gst_structure_new_empty("zerobuffer-stats");
    const auto set_u64 = [s](const char* field, std::uint64_t value) {
        gst_structure_set(s, field, G_TYPE_UINT64, guint64{value}, nullptr);
    };
    const auto set_uint = [s](const char* field, std::uint32_t value) {
        gst_structure_set(s, field, G_TYPE_UINT, guint{value}, nullptr);
    };
    gst_structure_set(s, "ring", G_TYPE_STRING, ring.c_str(), nullptr);
    set_u64("frames", total.frames);
    set_u64("bytes", total.bytes);
    set_u64("in-place", total.in_place);
    set_u64("copied", total.copied);
    set_u64("dropped", total.dropped);
    set_u64("waits", total.waits);
    set_u64("wait-time-us", total.wait_ns / 1000);
    set_u64("lag-frames", look.lag_frames);
    set_uint("readers", look.readers);
    if (role_ == StatsRole::Src)
        set_u64("overruns", total.overruns);
    set_uint("latency-samples", latency.samples);
    set_u64("latency-p50-us", non_negative_us(latency.p50_ns));
    set_u64("latency-p90-us", non_negative_us(latency.p90_ns));
    set_u64("latency-p99-us", non_negative_us(latency.p99_ns));
    set_u64("latency-max-us", non_negative_us(latency.max_ns));
    return s;
}

void post_stats(GstElement* element, const ElementStats& stats)
{
    gst_element_post_message(element, gst_message_new_element(GST_OBJECT(element), stats.structure()));
}

} // namespace zerobuffer::gst
