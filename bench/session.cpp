// SPDX-License-Identifier: MIT
// The parent side of zb-bench shared by every section: progress, ring names, children and the CPU they leave.
#include "session.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <unistd.h>

#include <zerobuffer/inspect.h>

namespace zbbench {
namespace {

/// Busy and steal time of all CPUs so far (from /proc/stat), in seconds.
struct CpuTimes {
    double busy = 0;
    double steal = 0;
};

CpuTimes read_cpu_times()
{
    std::ifstream stat("/proc/stat");
    std::string label;
    double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    stat >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    const auto hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    return {(user + nice + system + irq + softirq + steal) / hz, steal / hz};
}

} // namespace

std::string format(const char* fmt, ...)
{
    char buffer[512];
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buffer, sizeof(buffer), fmt, ap);
    va_end(ap);
    return n < 0 ? std::string() : std::string(buffer, std::min(static_cast<std::size_t>(n), sizeof(buffer) - 1));
}

std::string size_label(std::size_t size)
{
    switch (size) {
    case 64: return "64 B";
    case kKiB: return "1 KiB";
    case kMiB: return "1 MiB";
    case kFrame1MB: return "1 MB";
    case kFrame1080I420: return "3.1 MB 1080p I420";
    case kFrame1080Rgba: return "8.3 MB 1080p RGBA";
    case kFrame2160I420: return "12.4 MB 2160p I420";
    case kFrame2160Rgba: return "33 MB 2160p RGBA";
    case kFrame100MB: return "100 MB";
    default: return std::to_string(size) + " B";
    }
}

std::size_t round_up(std::size_t value, std::size_t to) { return (value + to - 1) / to * to; }

std::string first_failure(const std::vector<ChildOutcome>& outcomes)
{
    for (const auto& o : outcomes) {
        if (!o.ok) {
            return o.failure;
        }
    }
    return {};
}

Session::Session(Config config) : config_(std::move(config)), prefix_("bench-" + std::to_string(getpid())) {}

void Session::progress(const std::string& text) const
{
    std::cerr << format("zb-bench [%5.1f s] ", static_cast<double>(now_ns() - start_ns_) * 1e-9) << text << "\n"
              << std::flush;
}

std::string Session::ring_name()
{
    auto name = prefix_ + "-" + std::to_string(++rings_);
    names_.push_back(name);
    return name;
}

std::vector<ChildOutcome> Session::run(const std::vector<ChildSpec>& specs, std::chrono::seconds timeout,
                                       int shared_fd, const std::function<void()>& tick)
{
    if (stopped()) {
        std::vector<ChildOutcome> skipped(specs.size());
        for (auto& o : skipped) {
            o.failure = "not run: interrupted";
        }
        names_.clear();
        return skipped;
    }
    const auto t0 = now_ns();
    const auto cpu0 = read_cpu_times();
    auto outcomes = run_children(specs, timeout, shared_fd, tick);
    const auto cpu1 = read_cpu_times();
    const double wall = static_cast<double>(now_ns() - t0) * 1e-9;
    // Everything the CPUs did during the run that our children did not: other processes, the kernel on
    // their behalf, and time the hypervisor stole. It tells a disturbed measurement from a slow ring.
    double ours = 0;
    for (const auto& o : outcomes) {
        ours += cpu_seconds(o.usage);
    }
    last_other_cpu_ = wall > 0 ? std::max(0.0, (cpu1.busy - cpu0.busy - ours) / wall) : 0;
    if (last_other_cpu_ > kDisturbed) {
        progress(format("  disturbed: other processes or steal used %.0f %% of a CPU during this run",
                        100 * last_other_cpu_));
    }
    for (const auto& name : names_) {
        static_cast<void>(zerobuffer::remove_stale_ring(name));
    }
    names_.clear();
    for (const auto& o : outcomes) {
        child_pids_.push_back(o.pid);
        if (!o.ok) {
            progress("  FAILED: " + o.failure);
        }
    }
    return outcomes;
}

std::vector<std::string> Session::remove_leftovers()
{
    std::vector<std::string> leftovers;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
        const auto name = entry.path().filename().string();
        bool ours = name.starts_with("zb-" + prefix_ + "-");
        for (const auto pid : child_pids_) {
            ours = ours || name.starts_with(".zb-tmp-" + std::to_string(pid) + "-");
        }
        if (ours) {
            leftovers.push_back(name);
            std::filesystem::remove(entry.path(), ec);
        }
    }
    if (!leftovers.empty()) {
        std::string list;
        for (const auto& name : leftovers) {
            list += " " + name;
        }
        progress("BUG: objects were left in /dev/shm (removed now):" + list);
    }
    return leftovers;
}

} // namespace zbbench
