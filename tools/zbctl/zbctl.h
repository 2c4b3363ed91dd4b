// SPDX-License-Identifier: MIT
// Shared declarations of zbctl: parsed command line, exit codes, formatting helpers and the commands.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <zerobuffer/inspect.h>

namespace zbctl {

// Exit codes are part of the interface: scripts branch on them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1; // Unknown ring, unreadable ring, OS failure.
inline constexpr int kExitUsage = 2;   // Bad command line.
inline constexpr int kExitWarnings = 3; // doctor: warnings but no problem.

// What the command line asked for (main.cpp checked every value: names are valid, intervals in range).
struct Options {
    std::vector<std::string> names; // Ring names (without /dev/shm/zb-): one for inspect and watch.
    bool json = false;
    bool dry_run = false;
    std::uint32_t interval_ms = 1000; // watch: refresh; metrics, serve: window of the rates (metrics: 0, none).
    std::string listen = "127.0.0.1:9477"; // serve: ADDR:PORT.
    std::optional<std::uint64_t> count; // watch: stop after this many refreshes.
};

// Commands. Each prints its own errors and returns an exit code.
int run_list(const Options& options);
int run_inspect(const Options& options);
int run_watch(const Options& options);
int run_gc(const Options& options);
int run_metrics(const Options& options);
int run_serve(const Options& options);
int run_doctor(const Options& options);

// ---- Helpers shared by the commands (format.cpp) ----

// printf into a std::string; zbctl targets GCC 12, which has no std::format.
[[nodiscard]] std::string strprintf(const char* format, ...) __attribute__((format(printf, 1, 2)));

// "64.0 MiB": sizes of memory, binary units.
[[nodiscard]] std::string format_bytes(std::uint64_t bytes);
// "186.6": a rate in MB/s (decimal megabytes, like network and disk tools).
[[nodiscard]] std::string format_mbps(double bytes_per_second);
// "2024-11-22 03:17:00" in local time, or "-" when unknown.
[[nodiscard]] std::string format_local_time(std::int64_t realtime_ns);
// "2024-11-22T03:17:00Z".
[[nodiscard]] std::string format_iso_utc(std::int64_t realtime_ns);
// "5m ago", "3h ago", ...
[[nodiscard]] std::string format_age(std::int64_t realtime_ns);

// The state of a ring as one word: active, draining, orphaned or stale (see docs/zbctl.md).
[[nodiscard]] std::string_view ring_state(const zerobuffer::RingSnapshot& ring);
// "1234 alive", "1234 dead", "1234 closed".
[[nodiscard]] std::string writer_status(const zerobuffer::RingSnapshot& ring);
[[nodiscard]] std::string_view writer_status_word(const zerobuffer::RingSnapshot& ring);
[[nodiscard]] std::uint32_t live_readers(const zerobuffer::RingSnapshot& ring);
[[nodiscard]] bool has_live_process(const zerobuffer::RingSnapshot& ring);
[[nodiscard]] std::string_view policy_name(zerobuffer::ReaderPolicy policy);
[[nodiscard]] std::string_view integrity_name(zerobuffer::Integrity integrity);
// One line describing the stream metadata ("video/x-raw raw 640x480 I420 30/1 fps"), "-" if none.
[[nodiscard]] std::string stream_summary(const std::string& metadata_json);

[[nodiscard]] nlohmann::json writer_counters_json(const zerobuffer::WriterCounters& counters);
[[nodiscard]] nlohmann::json reader_counters_json(const zerobuffer::ReaderCounters& counters);
// The full snapshot, as printed by `zbctl inspect --json`.
[[nodiscard]] nlohmann::json ring_json(const zerobuffer::RingSnapshot& ring);
// The summary of one ring, as printed by `zbctl list --json`.
[[nodiscard]] nlohmann::json ring_summary_json(const zerobuffer::RingSnapshot& ring);
[[nodiscard]] nlohmann::json error_json(const zerobuffer::Error& error);

// Checks a ring name given on the command line (main.cpp); returns an explanation when it is invalid.
// Accepts and strips "/dev/shm/zb-" so that paths from `ls /dev/shm` work too.
[[nodiscard]] std::optional<std::string> normalize_ring_name(std::string_view given, std::string& name);

// Prints the standard message for a failed inspect_ring(name) and returns the exit code.
int report_inspect_error(std::string_view name, const zerobuffer::Error& error);

} // namespace zbctl
