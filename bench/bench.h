// SPDX-License-Identifier: MIT
// Shared declarations of zb-bench: child-process plumbing, the child roles and small helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <sys/resource.h>

namespace zbbench {

/// key=value arguments handed to a child role on its command line.
using Args = std::map<std::string, std::string, std::less<>>;
/// key=value numbers a child prints on its single result line.
using Values = std::map<std::string, double, std::less<>>;

/// A fatal problem in the benchmark itself or an unexpected error from the core.
class BenchFailure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// CLOCK_MONOTONIC in ns (the clock the core uses for commit_time_ns).
[[nodiscard]] std::int64_t now_ns() noexcept;

/// Pins the calling process to one CPU; a negative cpu leaves the affinity alone.
void pin_to_cpu(int cpu);

/// User plus system CPU time of a rusage, in seconds.
[[nodiscard]] double cpu_seconds(const rusage& usage) noexcept;

/// True once the user asked zb-bench to stop (SIGINT/SIGTERM): running children are then killed.
[[nodiscard]] bool stop_requested() noexcept;

/// Runs a child role (zb-bench --role NAME key=value...). Returns the process exit code.
[[nodiscard]] int run_role(std::string_view role, const Args& args);

/// One child process to start: /proc/self/exe --role ROLE key=value...
struct ChildSpec {
    std::string role;
    Args args;
};

/// What a child left behind: its result line, its exit status and its CPU use as seen by wait4().
struct ChildOutcome {
    bool ok = false;
    int pid = -1;         ///< Process id it had (to look for leftovers named after it).
    std::string failure;  ///< Why ok is false (exit code, signal, timeout, no result line).
    Values values;        ///< Parsed result line.
    rusage usage{};       ///< Whole-life resource use of the child (wait4).
};

/// Starts every child at once (fd 1 of each is a pipe to us; `shared_fd`, when >= 0, becomes fd 3 of each),
/// waits for all of them up to `timeout` and returns their outcomes in order. When one child fails the others
/// are killed, so a broken run ends quickly instead of waiting on timeouts. `tick`, when set, is called about
/// every 100 ms while they run (to sample the ring from outside, for example).
[[nodiscard]] std::vector<ChildOutcome> run_children(const std::vector<ChildSpec>& specs,
                                                     std::chrono::seconds timeout, int shared_fd = -1,
                                                     const std::function<void()>& tick = {});

} // namespace zbbench
