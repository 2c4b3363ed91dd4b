// SPDX-License-Identifier: MIT
// The chaos cycles and the soak (cycles.cpp, soak.cpp), and the figures they report (report.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace zbchaos {

struct Settings {
    int cycles = 100;
    std::uint64_t seed = 0;
    int soak_seconds = 0;                  ///< > 0: the soak instead of the kill cycles
    std::chrono::milliseconds detect_bound{200}; ///< after ZB_TEST_TIME_SCALE
    std::chrono::milliseconds progress_bound{5000}; ///< a worker making no progress this long is deadlocked
    long rss_growth_limit_kib = 4096;      ///< soak: the most RssAnon a long-lived process may grow by
    bool verbose = false;
};

/// Figures of one run. The must-be-zero ones make the run fail.
struct Figures {
    std::string mode;                      ///< "chaos" or "soak"
    std::uint64_t seed = 0;
    int cycles = 0;
    double seconds = 0;
    std::map<std::string, int> kills;      ///< by "role:point"
    std::map<std::string, double> detect_max_ms; ///< longest time to notice a death, by "role:point"
    std::uint64_t frames_written = 0;
    std::uint64_t frames_verified = 0;
    std::uint64_t corrupted_frames = 0;    ///< must be 0
    std::uint64_t lost_frames = 0;         ///< lossless readers: frames committed before a writer's death not delivered
    std::uint64_t deadlocks = 0;           ///< must be 0
    std::uint64_t unexpected_exits = 0;    ///< workers that died or failed without being killed: must be 0
    std::uint64_t writer_deaths_detected = 0;
    std::uint64_t reader_deaths_detected = 0;
    double writer_detect_max_ms = 0;       ///< kill -9 of the writer to WriterGone in every reader of its ring
    double reader_detect_max_ms = 0;       ///< kill -9 of a reader to its slot reclaimed by the writer
    double detect_bound_ms = 0;
    std::uint64_t creation_leftovers = 0;  ///< .zb-tmp files of writers killed mid-creation, collected as expected
    std::uint64_t shm_objects_left = 0;    ///< must be 0
    std::uint64_t counter_inconsistencies = 0; ///< soak: must be 0
    std::uint64_t counter_checks = 0;
    std::uint64_t readers_come_and_gone = 0;
    std::uint64_t readers_killed = 0;      ///< soak: transient readers killed (the others closed cleanly)
    std::map<std::string, std::uint64_t> ring_counters; ///< soak: the writer's counters in the segment at the end
    struct Memory {
        std::string who;
        long first_kib = 0;                ///< RssAnon after warm-up
        long last_kib = 0;
        long vm_rss_last_kib = 0;
    };
    std::vector<Memory> memory;            ///< soak
    long rss_growth_limit_kib = 0;
    std::vector<std::string> failures;     ///< one line per problem found

    [[nodiscard]] bool passed() const;
};

Figures run_chaos(const Settings& settings);
Figures run_soak(const Settings& settings);

void print_report(const Figures& figures);
[[nodiscard]] std::string report_json(const Figures& figures);

} // namespace zbchaos
