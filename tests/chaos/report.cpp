// SPDX-License-Identifier: MIT
// The figures of a chaos or soak run: a text report on stdout and the same as JSON.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "driver.h"

namespace zbchaos {

bool Figures::passed() const
{
    bool memory_ok = true;
    for (const auto& m : memory) {
        memory_ok = memory_ok && m.last_kib - m.first_kib <= rss_growth_limit_kib;
    }
    return corrupted_frames == 0 && lost_frames == 0 && deadlocks == 0 && unexpected_exits == 0 &&
           shm_objects_left == 0 && counter_inconsistencies == 0 && writer_detect_max_ms <= detect_bound_ms &&
           reader_detect_max_ms <= detect_bound_ms && memory_ok && failures.empty();
}

void print_report(const Figures& f)
{
    std::printf("zb-chaos %s: seed %llu, %s\n", f.mode.c_str(), static_cast<unsigned long long>(f.seed),
                f.passed() ? "PASSED" : "FAILED");
    if (f.mode == "chaos") {
        std::printf("  cycles                     %d in %.1f s\n", f.cycles, f.seconds);
        for (const auto& [point, count] : f.kills) {
            const auto detect = f.detect_max_ms.find(point);
            if (detect == f.detect_max_ms.end()) {
                std::printf("    kill -9 %-24s %4d   (killed starting: no death to notice)\n", point.c_str(), count);
            } else {
                std::printf("    kill -9 %-24s %4d   noticed within %.1f ms\n", point.c_str(), count, detect->second);
            }
        }
    } else {
        std::printf("  duration                   %.1f s\n", f.seconds);
        std::printf("  readers come and gone      %llu (%llu of them killed)\n",
                    static_cast<unsigned long long>(f.readers_come_and_gone),
                    static_cast<unsigned long long>(f.readers_killed));
        for (const auto& [name, value] : f.ring_counters) {
            std::printf("    ring counter %-18s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
        }
        std::printf("  counter checks             %llu, inconsistent %llu (must be 0)\n",
                    static_cast<unsigned long long>(f.counter_checks),
                    static_cast<unsigned long long>(f.counter_inconsistencies));
        for (const auto& m : f.memory) {
            std::printf("  RssAnon %-18s %ld KiB -> %ld KiB (%+ld KiB, limit +%ld), VmRSS %ld KiB\n", m.who.c_str(),
                        m.first_kib, m.last_kib, m.last_kib - m.first_kib, f.rss_growth_limit_kib, m.vm_rss_last_kib);
        }
    }
    std::printf("  frames written             %llu\n", static_cast<unsigned long long>(f.frames_written));
    std::printf("  frames verified            %llu\n", static_cast<unsigned long long>(f.frames_verified));
    std::printf("  corrupted frames delivered %llu (must be 0)\n", static_cast<unsigned long long>(f.corrupted_frames));
    std::printf("  lossless frames lost       %llu (must be 0)\n", static_cast<unsigned long long>(f.lost_frames));
    std::printf("  deadlocks                  %llu (must be 0)\n", static_cast<unsigned long long>(f.deadlocks));
    std::printf("  unexpected worker exits    %llu (must be 0)\n", static_cast<unsigned long long>(f.unexpected_exits));
    if (f.mode == "chaos") {
        std::printf("  writer death -> WriterGone max %.1f ms over %llu deaths (bound %.0f ms)\n",
                    f.writer_detect_max_ms, static_cast<unsigned long long>(f.writer_deaths_detected),
                    f.detect_bound_ms);
        std::printf("  reader death -> reclaimed  max %.1f ms over %llu deaths (bound %.0f ms)\n",
                    f.reader_detect_max_ms, static_cast<unsigned long long>(f.reader_deaths_detected),
                    f.detect_bound_ms);
        std::printf("  creation leftovers collected %llu (.zb-tmp of writers killed mid-create)\n",
                    static_cast<unsigned long long>(f.creation_leftovers));
    }
    std::printf("  objects left in /dev/shm   %llu (must be 0)\n", static_cast<unsigned long long>(f.shm_objects_left));
    for (const auto& failure : f.failures) {
        std::printf("  problem: %s\n", failure.c_str());
    }
    std::fflush(stdout);
}

std::string report_json(const Figures& f)
{
    nlohmann::json kills = nlohmann::json::object();
    for (const auto& [point, count] : f.kills) {
        const auto detect = f.detect_max_ms.find(point);
        kills[point] = {{"count", count}, {"detect_max_ms", detect == f.detect_max_ms.end() ? 0.0 : detect->second}};
    }
    nlohmann::json memory = nlohmann::json::array();
    for (const auto& m : f.memory) {
        memory.push_back({{"process", m.who}, {"rss_anon_first_kib", m.first_kib}, {"rss_anon_last_kib", m.last_kib},
                          {"growth_kib", m.last_kib - m.first_kib}, {"vm_rss_last_kib", m.vm_rss_last_kib}});
    }
    nlohmann::json out = {
        {"mode", f.mode},
        {"seed", f.seed},
        {"passed", f.passed()},
        {"cycles", f.cycles},
        {"seconds", f.seconds},
        {"kills", kills},
        {"frames_written", f.frames_written},
        {"frames_verified", f.frames_verified},
        {"corrupted_frames", f.corrupted_frames},
        {"lost_frames", f.lost_frames},
        {"deadlocks", f.deadlocks},
        {"unexpected_exits", f.unexpected_exits},
        {"writer_deaths_detected", f.writer_deaths_detected},
        {"writer_detect_max_ms", f.writer_detect_max_ms},
        {"reader_deaths_detected", f.reader_deaths_detected},
        {"reader_detect_max_ms", f.reader_detect_max_ms},
        {"detect_bound_ms", f.detect_bound_ms},
        {"creation_leftovers_collected", f.creation_leftovers},
        {"shm_objects_left", f.shm_objects_left},
        {"counter_checks", f.counter_checks},
        {"counter_inconsistencies", f.counter_inconsistencies},
        {"readers_come_and_gone", f.readers_come_and_gone},
        {"readers_killed", f.readers_killed},
        {"ring_counters", f.ring_counters},
        {"memory", memory},
        {"rss_growth_limit_kib", f.rss_growth_limit_kib},
        {"failures", f.failures},
    };
    return out.dump(2) + "\n";
}

} // namespace zbchaos
