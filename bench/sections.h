// SPDX-License-Identifier: MIT
// The measured sections of zb-bench: their result rows, how each runs, and how it prints (table and JSON).
// One source file per section: latency.cpp, throughput.cpp, idle.cpp, held.cpp.
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

// ---------------------------------------------------------------- 4. held frames

struct HeldRow {
    std::string label; ///< Frame size, as size_label() names it.
    std::size_t size = 0;
    double fps = 0;    ///< The writer's target rate.
    int readers = 0;   ///< Latest readers, each in its own process, each holding one frame at a time.
    double hold_ms = 0;
    double seconds = 0; ///< The writer's schedule; once run, the window it measured (longer if it ended late).
    std::size_t ring_size = 0;
    std::size_t ring_frames = 0;   ///< Frames of this size the ring has room for.
    std::size_t frames_needed = 0; ///< readers x 1 frame held + the one being written.
    [[nodiscard]] bool holds_fit() const noexcept { return frames_needed <= ring_frames; }
    bool ok = false;
    std::string failure;
    double frames_written = 0, writer_fps = 0, late_frames = 0, max_late_ms = 0;
    double waits = 0, wait_ms = 0, timeouts = 0, frames_passed = 0, rewinds = 0;
    std::vector<double> reader_frames; ///< Frames each reader got.
    double reader_errors = 0, frames_skipped = 0, max_frame_age_ms = 0;
    // Sampled from outside with inspect_ring() about every 100 ms while the row ran.
    double max_held_frames = 0, max_held_bytes = 0, max_hold_age_ms = 0;
    double other_cpu = 0;
    [[nodiscard]] double waits_per_s() const noexcept { return seconds > 0 ? waits / seconds : 0; }
    /// The target: the writer's rate and zero waits (meaningful only when the holds fit).
    [[nodiscard]] bool pass() const noexcept;
};

/// A paced writer (1 MB frames, and 1080p I420 in full runs) into a 16 MiB ring, at 30 and 60 fps, with one and
/// with four latest readers holding each frame 0, 100 ms, 500 ms and 2 s; plus two rows whose holds do not fit.
[[nodiscard]] std::vector<HeldRow> run_held(Session& session);
void render_held(std::ostream& out, const std::vector<HeldRow>& rows);
[[nodiscard]] nlohmann::json held_json(const std::vector<HeldRow>& rows);

} // namespace zbbench
