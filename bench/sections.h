// SPDX-License-Identifier: MIT
// The measured sections of zb-bench: their result rows, how each runs, and how it prints (table and JSON).
// One source file per section: latency.cpp, throughput.cpp, idle.cpp.
#pragma once

#include "session.h"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace zbbench {

// ---------------------------------------------------------------- 1. round-trip latency

struct LatencyRow {
    std::string label;
    std::string kind; // bare-futex, bare-spin, ring
    std::size_t size = 0;
    double spin_us = 0;
    std::size_t ring_size = 0;
    bool ok = false;
    std::string failure;
    double count = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0, min_us = 0, mean_us = 0, max_us = 0;
    double errors = 0;
    double other_cpu = 0; // CPUs' worth of time used by other processes (or stolen) during the run
};

/// Bare futex and spin ping-pongs, then ring round trips of 64 B, 1 KiB and 1 MiB, sleeping and spinning.
[[nodiscard]] std::vector<LatencyRow> run_latency(Session& session);
/// The successful row of that kind, size and spin mode, or nullptr.
[[nodiscard]] const LatencyRow* find_latency(const std::vector<LatencyRow>& rows, const std::string& kind,
                                             std::size_t size, bool spin);
void render_latency(std::ostream& out, const std::vector<LatencyRow>& rows);
[[nodiscard]] nlohmann::json latency_json(const std::vector<LatencyRow>& rows);

// ---------------------------------------------------------------- 2. throughput

struct ThroughputRow {
    std::string label;
    std::size_t size = 0;
    std::string mode; // memcpy, copy-in, in-place
    double spin_us = 0;
    std::size_t ring_size = 0;
    bool ok = false;
    std::string failure;
    double frames = 0, seconds = 0, frames_per_s = 0, gb_per_s = 0;
    double writer_cpu_s = 0, reader_cpu_s = 0; // inside the timed window
    double writer_cpu_s_per_gb = 0, reader_cpu_s_per_gb = 0;
    double writer_life_cpu_s = 0, reader_life_cpu_s = 0; // whole child lifetime (wait4)
    double errors = 0, writer_waits = 0, reader_waits = 0;
    std::optional<double> vs_memcpy;
    double other_cpu = 0;
    int rounds = 1;
    double frames_per_s_min = 0, frames_per_s_max = 0; // spread over the rounds
};

/// 1 KiB to 100 MB frames, copy-in and in place, next to a one-process memcpy; medians of interleaved rounds.
[[nodiscard]] std::vector<ThroughputRow> run_throughput(Session& session);
[[nodiscard]] const ThroughputRow* find_throughput(const std::vector<ThroughputRow>& rows, std::size_t size,
                                                   const std::string& mode, bool spin);
void render_throughput(std::ostream& out, const std::vector<ThroughputRow>& rows);
[[nodiscard]] nlohmann::json throughput_json(const std::vector<ThroughputRow>& rows);

// ---------------------------------------------------------------- 3. idle reader

struct IdleRow {
    double spin_us = 0;
    bool ok = false;
    std::string failure;
    double seconds = 0, cpu_s = 0, user_s = 0, wakeups = 0, timeouts = 0, frames = 0;
    double other_cpu = 0;
};

/// Two readers (spin 0 and spin 50 us) blocked in acquire() on a ring that gets no frames.
[[nodiscard]] std::vector<IdleRow> run_idle(Session& session);
void render_idle(std::ostream& out, const std::vector<IdleRow>& rows);
[[nodiscard]] nlohmann::json idle_json(const std::vector<IdleRow>& rows);

} // namespace zbbench
