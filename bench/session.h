// SPDX-License-Identifier: MIT
// The parent side of zb-bench: options, frame sizes, progress lines, unique ring names, and running children
// while measuring the CPU other processes used meanwhile.
#pragma once

#include "bench.h"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace zbbench {

/// What the user asked for on the command line.
struct Config {
    bool quick = false;
    bool json = false;
    int cpu_writer = 0;
    int cpu_reader = 1;
    std::set<std::string> only; // empty: all sections
    [[nodiscard]] bool wants(const std::string& section) const { return only.empty() || only.contains(section); }
};

/// The sections --only may name, in the order they run.
inline const std::vector<std::string> kSections{"latency", "throughput", "idle", "held"};

/// printf into a std::string (lines of the table; at most 511 characters).
__attribute__((format(printf, 1, 2))) std::string format(const char* fmt, ...);

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = kKiB * 1024;
inline constexpr std::size_t kFrame1MB = 1'000'000;                        // the camera frame
inline constexpr std::size_t kFrame1080I420 = std::size_t{1920} * 1080 * 3 / 2; // 3.1 MB
inline constexpr std::size_t kFrame1080Rgba = std::size_t{1920} * 1080 * 4;     // 8.3 MB
inline constexpr std::size_t kFrame2160I420 = std::size_t{3840} * 2160 * 3 / 2; // 12.4 MB
inline constexpr std::size_t kFrame2160Rgba = std::size_t{3840} * 2160 * 4;     // 33 MB
inline constexpr std::size_t kFrame100MB = 100'000'000;
inline constexpr double kGB = 1e9; // throughput is in decimal GB, as network and memory bandwidth usually are
inline constexpr double kSpinUs = 50.0;
inline constexpr double kDisturbed = 0.10; // other load above 10 % of a CPU marks a figure as disturbed

/// "1 KiB", "3.1 MB 1080p I420", ... for the frame sizes above; "N B" otherwise.
[[nodiscard]] std::string size_label(std::size_t size);
[[nodiscard]] std::size_t round_up(std::size_t value, std::size_t to);
/// The failure of the first child that failed, or "".
[[nodiscard]] std::string first_failure(const std::vector<ChildOutcome>& outcomes);

/// One zb-bench run as the sections see it: shared by all of them, owned by main.
class Session {
public:
    explicit Session(Config config);

    [[nodiscard]] const Config& config() const noexcept { return config_; }
    [[nodiscard]] bool stopped() const noexcept { return stop_requested(); }

    /// "zb-bench [  1.2 s] text" on stderr.
    void progress(const std::string& text) const;

    /// A ring name unique to this run; whatever a child leaves under it is removed after the next run().
    [[nodiscard]] std::string ring_name();

    /// Runs children (see run_children), then removes any ring they left (a crashed child cannot unlink its
    /// ring) and records how much CPU other processes used meanwhile (last_other_cpu).
    std::vector<ChildOutcome> run(const std::vector<ChildSpec>& specs, std::chrono::seconds timeout,
                                  int shared_fd = -1, const std::function<void()>& tick = {});

    /// CPUs' worth of time used by other processes (or stolen) during the last run().
    [[nodiscard]] double last_other_cpu() const noexcept { return last_other_cpu_; }

    /// Removes what this run's children left in /dev/shm and returns those names (empty: nothing left, as it
    /// should be).
    [[nodiscard]] std::vector<std::string> remove_leftovers();

private:
    Config config_;
    std::int64_t start_ns_ = now_ns();
    std::string prefix_;
    unsigned rings_ = 0;
    std::vector<std::string> names_;
    std::vector<int> child_pids_;
    double last_other_cpu_ = 0;
};

} // namespace zbbench
