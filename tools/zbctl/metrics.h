// SPDX-License-Identifier: MIT
// Snapshots of many rings with rates between two of them, and their Prometheus text exposition (metrics, serve).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <zerobuffer/inspect.h>

namespace zbctl {

// Per-second figures of one reader between two snapshots of the same segment.
struct ReaderRates {
    std::uint32_t slot = 0;
    std::int32_t pid = 0;
    double frames_per_second = 0;
    double bytes_per_second = 0;
    double skipped_per_second = 0;
};

// Per-second figures of a ring's writer and readers between two snapshots of the same segment.
struct RingRates {
    double window_seconds = 0;
    double frames_per_second = 0;
    double bytes_per_second = 0;
    double waits_per_second = 0;
    double waiting_ratio = 0; // Share of the window the writer spent waiting for room (0..1).
    std::vector<ReaderRates> readers;

    [[nodiscard]] const ReaderRates* reader(std::uint32_t slot, std::int32_t pid) const;
};

// Rates from `before` to `after`, taken `seconds` apart; nullopt when they are not the same segment (the ring
// was re-created under its name) or no time passed.
[[nodiscard]] std::optional<RingRates> rates_between(const zerobuffer::RingSnapshot& before,
                                                     const zerobuffer::RingSnapshot& after, double seconds);

struct RingSample {
    zerobuffer::RingSnapshot ring;
    std::optional<RingRates> rates; // Absent on a first look.
};

struct UnreadableRing {
    std::string name;
    zerobuffer::Error error;
};

// One look at a set of rings.
struct Scrape {
    std::vector<RingSample> rings;         // Sorted by name.
    std::vector<UnreadableRing> unreadable; // Damaged or foreign segments, or rings we may not open.
    std::vector<std::string> missing;      // Named rings that do not exist.
};

// Snapshots of `names` (every ring in /dev/shm when empty). Fails only when /dev/shm cannot be listed.
[[nodiscard]] zerobuffer::Result<Scrape> take_scrape(const std::vector<std::string>& names);

// Adds rates to `now` from an earlier scrape of the same rings, taken `seconds` before.
void add_rates(Scrape& now, const Scrape& before, double seconds);

// The scrape in the Prometheus text exposition format 0.0.4 (docs/monitoring.md lists the metrics).
[[nodiscard]] std::string prometheus_text(const Scrape& scrape);

} // namespace zbctl
