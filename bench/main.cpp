// SPDX-License-Identifier: MIT
// zb-bench: measures the core ring across processes (latency, throughput, idle CPU) against the machine's limits.
//
// Every measurement runs in separate processes (this binary re-executed with --role), pinned to two CPUs, so
// the figures include what a real producer/consumer pair pays: cross-core cache traffic and futex wake-ups.
// Bare futex and spin ping-pongs and a single-process memcpy run in the same invocation as references.
#include "bench.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include <sched.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <zerobuffer/inspect.h>
#include <zerobuffer/version.h>

namespace zbbench {
namespace {

namespace zb = zerobuffer;
using nlohmann::json;

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int /*signal*/) { g_interrupted.store(true); }

} // namespace

bool stop_requested() noexcept { return g_interrupted.load(); }

namespace {

__attribute__((format(printf, 1, 2))) std::string format(const char* fmt, ...)
{
    char buffer[512];
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buffer, sizeof(buffer), fmt, ap);
    va_end(ap);
    return n < 0 ? std::string() : std::string(buffer, std::min(static_cast<std::size_t>(n), sizeof(buffer) - 1));
}

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = kKiB * 1024;
constexpr std::size_t kFrame1080I420 = std::size_t{1920} * 1080 * 3 / 2; // 3.1 MB
constexpr std::size_t kFrame1080Rgba = std::size_t{1920} * 1080 * 4;     // 8.3 MB
constexpr std::size_t kFrame2160Rgba = std::size_t{3840} * 2160 * 4;     // 33 MB
constexpr std::size_t kFrame100MB = 100'000'000;
constexpr double kGB = 1e9; // throughput is in decimal GB, as network and memory bandwidth usually are

struct Config {
    bool quick = false;
    bool json = false;
    int cpu_writer = 0;
    int cpu_reader = 1;
    std::set<std::string> only; // empty: all sections
    [[nodiscard]] bool wants(const std::string& section) const { return only.empty() || only.contains(section); }
};

struct Machine {
    std::string model;
    std::string cpu_id; // "family 26 model 2" and the like: model names of VMs are often vague
    long cpus = 0;
    std::string kernel;
    std::string clocksource;
    std::string loadavg;
    // Share of wall time each CPU really ran a spinning process, alone and with both CPUs busy.
    std::optional<double> grant_one;
    std::optional<double> grant_both_writer, grant_both_reader;
    double longest_stall_ms = 0;
    [[nodiscard]] std::string line() const
    {
        return model + (cpu_id.empty() ? "" : " (" + cpu_id + ")") + ", " + std::to_string(cpus) + " CPUs, " +
               kernel + ", clocksource " + clocksource;
    }
};

std::string first_line_of(const std::string& path)
{
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

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

Machine probe_machine()
{
    Machine m;
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string family;
    std::string model_number;
    for (std::string line; std::getline(cpuinfo, line);) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) {
            if (!m.model.empty()) {
                break; // first processor block is enough
            }
            continue;
        }
        auto key = line.substr(0, colon);
        key.erase(key.find_last_not_of(" \t") + 1);
        auto value = line.substr(std::min(colon + 2, line.size()));
        if (key == "model name" && m.model.empty()) {
            m.model = value;
        } else if (key == "cpu family" && family.empty()) {
            family = value;
        } else if (key == "model" && model_number.empty()) {
            model_number = value;
        }
    }
    if (m.model.empty()) {
        m.model = "unknown CPU";
    }
    if (!family.empty()) {
        m.cpu_id = "family " + family + " model " + model_number;
    }
    m.cpus = sysconf(_SC_NPROCESSORS_ONLN);
    utsname u{};
    if (uname(&u) == 0) {
        m.kernel = std::string(u.sysname) + " " + u.release;
    }
    m.clocksource = first_line_of("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    m.loadavg = first_line_of("/proc/loadavg");
    return m;
}

// ---------------------------------------------------------------- result rows

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

struct IdleRow {
    double spin_us = 0;
    bool ok = false;
    std::string failure;
    double seconds = 0, cpu_s = 0, user_s = 0, wakeups = 0, timeouts = 0, frames = 0;
    double other_cpu = 0;
};

struct TargetRow {
    std::string name;
    bool measured = false; // false: the figures it needs are missing (a run failed)
    double value = 0;
    double limit = 0;
    std::string unit;
    bool pass = false;
    bool disturbed = false; // a measurement it rests on ran while other processes used the CPUs
};

std::string size_label(std::size_t size)
{
    switch (size) {
    case 64: return "64 B";
    case kKiB: return "1 KiB";
    case kMiB: return "1 MiB";
    case kFrame1080I420: return "3.1 MB 1080p I420";
    case kFrame1080Rgba: return "8.3 MB 1080p RGBA";
    case kFrame2160Rgba: return "33 MB 2160p RGBA";
    case kFrame100MB: return "100 MB";
    default: return std::to_string(size) + " B";
    }
}

std::size_t round_up(std::size_t value, std::size_t to) { return (value + to - 1) / to * to; }

// ---------------------------------------------------------------- the benchmark

class Bench {
public:
    explicit Bench(Config config) : config_(std::move(config)), prefix_("bench-" + std::to_string(getpid())) {}

    void run()
    {
        machine_ = probe_machine();
        progress("machine: " + machine_.line() + ", load " + machine_.loadavg);
        run_capacity();
        if (config_.wants("latency") && !stopped()) {
            run_latency();
        }
        if (config_.wants("throughput") && !stopped()) {
            run_throughput();
        }
        if (config_.wants("idle") && !stopped()) {
            run_idle();
        }
        check_leftovers();
        evaluate_targets();
        const std::string table = render_table();
        if (config_.json) {
            std::cerr << table;
            std::cout << to_json().dump(2) << "\n";
        } else {
            std::cout << table;
        }
    }

    [[nodiscard]] bool interrupted() const { return g_interrupted.load(); }

private:
    [[nodiscard]] bool stopped() const { return g_interrupted.load(); }

    void progress(const std::string& text) const
    {
        std::cerr << format("zb-bench [%5.1f s] ", static_cast<double>(now_ns() - start_ns_) * 1e-9) << text << "\n"
                  << std::flush;
    }

    std::string ring_name()
    {
        auto name = prefix_ + "-" + std::to_string(++rings_);
        names_.push_back(name);
        return name;
    }

    /// Runs children, then removes any ring they left (a crashed child cannot unlink its ring).
    std::vector<ChildOutcome> run(const std::vector<ChildSpec>& specs, std::chrono::seconds timeout,
                                  int shared_fd = -1)
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
        auto outcomes = run_children(specs, timeout, shared_fd);
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
            static_cast<void>(zb::remove_stale_ring(name));
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

    [[nodiscard]] static std::string first_failure(const std::vector<ChildOutcome>& outcomes)
    {
        for (const auto& o : outcomes) {
            if (!o.ok) {
                return o.failure;
            }
        }
        return {};
    }

    // ------------------------------------------------------------ 0. what the host grants

    /// In a VM the hypervisor may give less than one physical CPU per vCPU, and without steal-time reporting
    /// the guest cannot see it. Measure it, so that throttled figures are not blamed on the ring.
    void run_capacity()
    {
        const Args base{{"seconds", config_.quick ? "0.5" : "1.5"}};
        auto writer = base;
        writer["cpu"] = std::to_string(config_.cpu_writer);
        auto reader = base;
        reader["cpu"] = std::to_string(config_.cpu_reader);
        progress("capacity: CPU time the host grants, one CPU busy, then both");
        const auto one = run({{"capacity", writer}}, std::chrono::seconds(60));
        if (one[0].ok) {
            machine_.grant_one = one[0].values.at("available");
            machine_.longest_stall_ms = std::max(machine_.longest_stall_ms, one[0].values.at("longest_stall_ms"));
        }
        const auto both = run({{"capacity", writer}, {"capacity", reader}}, std::chrono::seconds(60));
        if (both[0].ok && both[1].ok) {
            machine_.grant_both_writer = both[0].values.at("available");
            machine_.grant_both_reader = both[1].values.at("available");
            for (const auto& o : both) {
                machine_.longest_stall_ms = std::max(machine_.longest_stall_ms, o.values.at("longest_stall_ms"));
            }
        }
    }

    [[nodiscard]] std::string capacity_line() const
    {
        if (!machine_.grant_one || !machine_.grant_both_writer) {
            return "not measured";
        }
        return format("one busy CPU runs %.0f %% of the time; both busy: %.0f %% + %.0f %% = %.2f CPUs "
                      "(longest stall %.1f ms)",
                      100 * *machine_.grant_one, 100 * *machine_.grant_both_writer,
                      100 * *machine_.grant_both_reader, *machine_.grant_both_writer + *machine_.grant_both_reader,
                      machine_.longest_stall_ms);
    }

    // ------------------------------------------------------------ 1. latency

    static void fill_latency(LatencyRow& row, const ChildOutcome& ping)
    {
        const auto& v = ping.values;
        const auto us = [&v](const char* key) { return v.contains(key) ? v.at(key) / 1000.0 : 0.0; };
        row.count = v.contains("count") ? v.at("count") : 0;
        row.p50_us = us("p50_ns");
        row.p99_us = us("p99_ns");
        row.p999_us = us("p999_ns");
        row.min_us = us("min_ns");
        row.mean_us = us("mean_ns");
        row.max_us = us("max_ns");
        row.errors = v.contains("errors") ? v.at("errors") : 0;
    }

    void run_bare(const std::string& mode, std::uint64_t count, std::uint64_t warmup)
    {
        LatencyRow row;
        row.kind = "bare-" + mode;
        row.label = mode == "futex" ? "bare futex ping-pong" : "bare spin ping-pong";
        progress("latency: " + row.label + ", " + std::to_string(count) + " round trips");
        // The page is a memfd handed to both children as fd 3: shared memory without a name in /dev/shm.
        const int fd = memfd_create("zb-bench-pingpong", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, 4096) != 0) {
            throw BenchFailure(std::string("memfd_create: ") + std::strerror(errno));
        }
        const Args args{{"mode", mode}, {"count", std::to_string(count)}, {"warmup", std::to_string(warmup)}};
        auto ping = args;
        ping["cpu"] = std::to_string(config_.cpu_writer);
        auto pong = args;
        pong["cpu"] = std::to_string(config_.cpu_reader);
        const auto outcomes = run({{"bare-ping", ping}, {"bare-pong", pong}}, std::chrono::seconds(300), fd);
        ::close(fd);
        finish_latency_row(row, outcomes);
    }

    /// Records a ping-pong row: ok only if both children were; figures come from the ping side.
    void finish_latency_row(LatencyRow& row, const std::vector<ChildOutcome>& outcomes)
    {
        row.ok = outcomes[0].ok && outcomes[1].ok;
        row.failure = first_failure(outcomes);
        if (row.ok) {
            fill_latency(row, outcomes[0]);
        }
        row.other_cpu = last_other_cpu_;
        latency_.push_back(row);
    }

    void run_ring_latency(std::size_t size, double spin_us, std::uint64_t count, std::uint64_t min_warmup)
    {
        LatencyRow row;
        row.kind = "ring";
        row.size = size;
        row.spin_us = spin_us;
        row.label = "ring " + size_label(size) + (spin_us > 0 ? format(", spin %.0f us", spin_us) : ", sleeping");
        // A small ring that the warm-up laps twice: the timed part sees faulted-in, steady-state memory.
        row.ring_size = std::max(kMiB, round_up(8 * (size + 4096), kMiB));
        const std::uint64_t warmup = std::max<std::uint64_t>(min_warmup, 2 * row.ring_size / (size + 192) + 1);
        progress("latency: " + row.label + ", " + std::to_string(count) + " round trips");
        const auto ring1 = ring_name();
        const auto ring2 = ring_name();
        const Args common{{"size", std::to_string(size)},
                          {"count", std::to_string(count)},
                          {"warmup", std::to_string(warmup)},
                          {"spin_ns", std::to_string(static_cast<std::uint64_t>(spin_us * 1000))},
                          {"ring_size", std::to_string(row.ring_size)}};
        auto ping = common;
        ping["cpu"] = std::to_string(config_.cpu_writer);
        ping["out"] = ring1;
        ping["in"] = ring2;
        auto pong = common;
        pong["cpu"] = std::to_string(config_.cpu_reader);
        pong["out"] = ring2;
        pong["in"] = ring1;
        const auto outcomes = run({{"lat-ping", ping}, {"lat-pong", pong}}, std::chrono::seconds(600));
        finish_latency_row(row, outcomes);
    }

    void run_latency()
    {
        const std::uint64_t count = config_.quick ? 20'000 : 100'000;
        const std::uint64_t count_large = config_.quick ? 2'000 : 10'000;
        const std::uint64_t warmup = config_.quick ? 1'000 : 5'000;
        run_bare("futex", count, warmup);
        run_bare("spin", count, warmup);
        for (const double spin_us : {0.0, kSpinUs}) {
            for (const std::size_t size : {std::size_t{64}, kKiB, kMiB}) {
                if (stopped()) {
                    return;
                }
                run_ring_latency(size, spin_us, size >= kMiB ? count_large : count, size >= kMiB ? 100 : warmup);
            }
        }
    }

    // ------------------------------------------------------------ 2. throughput

    static std::size_t throughput_ring_size(std::size_t size) { return std::max(64 * kMiB, round_up(4 * (size + 4096), 2 * kMiB)); }

    ThroughputRow run_memcpy(std::size_t size)
    {
        ThroughputRow row;
        row.label = size_label(size);
        row.size = size;
        row.mode = "memcpy";
        row.ring_size = throughput_ring_size(size);
        progress("throughput: " + row.label + ", memcpy baseline (one process)");
        const Args args{{"cpu", std::to_string(config_.cpu_writer)},
                        {"size", std::to_string(size)},
                        {"ring_size", std::to_string(row.ring_size)},
                        {"seconds", format("%.3f", config_.quick ? 0.2 : 0.5)}};
        const auto outcomes = run({{"memcpy", args}}, std::chrono::seconds(300));
        row.ok = outcomes[0].ok;
        row.failure = first_failure(outcomes);
        if (row.ok) {
            const auto& v = outcomes[0].values;
            row.frames = v.at("frames");
            row.seconds = v.at("seconds");
            row.writer_cpu_s = v.at("cpu_s");
            finish_rates(row);
            row.writer_life_cpu_s = cpu_seconds(outcomes[0].usage);
        }
        row.other_cpu = last_other_cpu_;
        return row;
    }

    static void finish_rates(ThroughputRow& row)
    {
        if (row.seconds <= 0) {
            return;
        }
        row.frames_per_s = row.frames / row.seconds;
        const double gb = row.frames * static_cast<double>(row.size) / kGB;
        row.gb_per_s = gb / row.seconds;
        if (gb > 0) {
            row.writer_cpu_s_per_gb = row.writer_cpu_s / gb;
            row.reader_cpu_s_per_gb = row.reader_cpu_s / gb;
        }
    }

    ThroughputRow run_ring_throughput(std::size_t size, const std::string& mode, double spin_us)
    {
        ThroughputRow row;
        row.label = size_label(size);
        row.size = size;
        row.mode = mode;
        row.spin_us = spin_us;
        row.ring_size = throughput_ring_size(size);
        // Laps of the ring before timing: the first lap pays the page faults of a fresh segment (a second one,
        // in full runs, settles caches and the page-table walks of both processes).
        const std::uint64_t laps = config_.quick ? 1 : 2;
        const std::uint64_t warmup = std::max<std::uint64_t>(4, laps * row.ring_size / (size + 192) + 2);
        progress("throughput: " + row.label + ", " + mode + (spin_us > 0 ? format(", spin %.0f us", spin_us) : ""));
        const auto ring = ring_name();
        const Args common{{"ring", ring},
                          {"size", std::to_string(size)},
                          {"mode", mode == "in-place" ? "inplace" : "copy"},
                          {"warmup", std::to_string(warmup)},
                          {"spin_ns", std::to_string(static_cast<std::uint64_t>(spin_us * 1000))},
                          {"ring_size", std::to_string(row.ring_size)}};
        auto writer = common;
        writer["cpu"] = std::to_string(config_.cpu_writer);
        writer["seconds"] = format("%.3f", config_.quick ? 0.3 : 1.0);
        auto reader = common;
        reader["cpu"] = std::to_string(config_.cpu_reader);
        const auto outcomes = run({{"tput-writer", writer}, {"tput-reader", reader}}, std::chrono::seconds(300));
        row.ok = outcomes[0].ok && outcomes[1].ok;
        row.failure = first_failure(outcomes);
        if (row.ok) {
            const auto& w = outcomes[0].values;
            const auto& r = outcomes[1].values;
            // The reader's view is the delivered rate: it counts frames actually consumed, from the first frame
            // after warm-up to the last, so the writer's head start of a ring's worth of frames does not count.
            row.frames = r.at("frames");
            row.seconds = r.at("seconds");
            row.reader_cpu_s = r.at("cpu_s");
            row.errors = r.at("errors");
            row.reader_waits = r.at("waits");
            row.writer_waits = w.at("waits");
            // Writer CPU per GB over its own window (frames it wrote in it).
            const double w_gb = w.at("frames") * static_cast<double>(size) / kGB;
            finish_rates(row);
            row.writer_cpu_s = w.at("cpu_s");
            row.writer_cpu_s_per_gb = w_gb > 0 ? row.writer_cpu_s / w_gb : 0;
            row.writer_life_cpu_s = cpu_seconds(outcomes[0].usage);
            row.reader_life_cpu_s = cpu_seconds(outcomes[1].usage);
            if (row.errors > 0) {
                progress(format("  %.0f frames had a wrong size or content", row.errors));
            }
        }
        row.other_cpu = last_other_cpu_;
        return row;
    }

    void run_throughput()
    {
        // The host's memory bandwidth and CPU grant drift from one second to the next on shared machines, so the
        // baseline and the ring run back to back, several rounds in a full run, and the medians are reported.
        const int rounds = config_.quick ? 1 : 3;
        const std::size_t sizes[] = {kKiB, kMiB, kFrame1080I420, kFrame1080Rgba, kFrame2160Rgba, kFrame100MB};
        for (const auto size : sizes) {
            std::vector<std::pair<std::string, double>> variants{{"memcpy", 0}, {"copy-in", 0}, {"in-place", 0}};
            if (size == kKiB) {
                // Small frames are where wake-ups dominate: show what spinning buys.
                variants.emplace_back("copy-in", kSpinUs);
                variants.emplace_back("in-place", kSpinUs);
            }
            std::vector<std::vector<ThroughputRow>> runs(variants.size());
            for (int round = 0; round < rounds && !stopped(); ++round) {
                for (std::size_t v = 0; v < variants.size(); ++v) {
                    auto row = variants[v].first == "memcpy"
                                   ? run_memcpy(size)
                                   : run_ring_throughput(size, variants[v].first, variants[v].second);
                    runs[v].push_back(std::move(row));
                }
            }
            for (std::size_t v = 0; v < variants.size(); ++v) {
                // Ratio per round (baseline and ring measured seconds apart), then the median of those.
                std::vector<double> ratios;
                for (std::size_t r = 0; r < runs[v].size() && v > 0; ++r) {
                    if (runs[v][r].ok && runs[0][r].ok && runs[0][r].gb_per_s > 0) {
                        ratios.push_back(runs[v][r].gb_per_s / runs[0][r].gb_per_s);
                    }
                }
                if (runs[v].empty()) {
                    continue;
                }
                auto row = median_run(runs[v]);
                if (!ratios.empty()) {
                    std::sort(ratios.begin(), ratios.end());
                    row.vs_memcpy = ratios[ratios.size() / 2];
                }
                throughput_.push_back(std::move(row));
            }
            if (stopped()) {
                return;
            }
        }
    }

    /// The run with the median frame rate, carrying the spread of all rounds.
    static ThroughputRow median_run(std::vector<ThroughputRow> runs)
    {
        std::vector<ThroughputRow> good;
        for (auto& r : runs) {
            if (r.ok) {
                good.push_back(r);
            }
        }
        if (good.empty()) {
            return runs.front();
        }
        std::sort(good.begin(), good.end(),
                  [](const ThroughputRow& a, const ThroughputRow& b) { return a.frames_per_s < b.frames_per_s; });
        auto row = good[good.size() / 2];
        row.rounds = static_cast<int>(good.size());
        row.frames_per_s_min = good.front().frames_per_s;
        row.frames_per_s_max = good.back().frames_per_s;
        for (const auto& r : good) {
            row.other_cpu = std::max(row.other_cpu, r.other_cpu);
        }
        return row;
    }

    // ------------------------------------------------------------ 3. idle reader

    void run_idle()
    {
        const double seconds = config_.quick ? 2.0 : 10.0;
        progress(format("idle: two readers (spin 0 and spin %.0f us) blocked %.0f s on a ring without frames", kSpinUs,
                        seconds));
        const auto ring = ring_name();
        const Args writer{{"cpu", std::to_string(config_.cpu_writer)},
                          {"ring", ring},
                          {"ring_size", std::to_string(kMiB)},
                          {"readers", "2"},
                          {"seconds", format("%.3f", seconds)}};
        const std::vector<double> spins{0.0, kSpinUs};
        std::vector<ChildSpec> specs{{"idle-writer", writer}};
        for (const double spin : spins) {
            specs.push_back({"idle-reader",
                             Args{{"cpu", std::to_string(config_.cpu_reader)},
                                  {"ring", ring},
                                  {"spin_ns", std::to_string(static_cast<std::uint64_t>(spin * 1000))}}});
        }
        const auto outcomes = run(specs, std::chrono::seconds(120));
        for (std::size_t i = 0; i < spins.size(); ++i) {
            IdleRow row;
            row.spin_us = spins[i];
            const auto& o = outcomes[i + 1];
            row.ok = o.ok && outcomes[0].ok;
            row.failure = first_failure(outcomes);
            if (row.ok) {
                row.seconds = o.values.at("seconds");
                row.cpu_s = o.values.at("cpu_s");
                row.user_s = o.values.at("user_s");
                row.wakeups = o.values.at("voluntary_switches");
                row.timeouts = o.values.at("timeouts");
                row.frames = o.values.at("frames");
            }
            row.other_cpu = last_other_cpu_;
            idle_.push_back(row);
        }
    }

    // ------------------------------------------------------------ leftovers, targets, output

    void check_leftovers()
    {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
            const auto name = entry.path().filename().string();
            bool ours = name.starts_with("zb-" + prefix_ + "-");
            for (const auto pid : child_pids_) {
                ours = ours || name.starts_with(".zb-tmp-" + std::to_string(pid) + "-");
            }
            if (ours) {
                leftovers_.push_back(name);
                std::filesystem::remove(entry.path(), ec);
            }
        }
        if (!leftovers_.empty()) {
            std::string list;
            for (const auto& name : leftovers_) {
                list += " " + name;
            }
            progress("BUG: objects were left in /dev/shm (removed now):" + list);
        }
    }

    const LatencyRow* find_latency(const std::string& kind, std::size_t size, bool spin) const
    {
        for (const auto& row : latency_) {
            if (row.kind == kind && row.size == size && (row.spin_us > 0) == spin && row.ok) {
                return &row;
            }
        }
        return nullptr;
    }

    const ThroughputRow* find_throughput(std::size_t size, const std::string& mode, bool spin) const
    {
        for (const auto& row : throughput_) {
            if (row.size == size && row.mode == mode && (row.spin_us > 0) == spin && row.ok) {
                return &row;
            }
        }
        return nullptr;
    }

    void evaluate_targets()
    {
        // Round trip: at most `factor` times the bare figure.
        const auto latency_target = [this](const std::string& name, bool spin, const std::string& bare_kind,
                                           double LatencyRow::*field, double factor) {
            TargetRow t;
            t.name = name;
            t.unit = "us";
            const auto* ours = find_latency("ring", kKiB, spin);
            const auto* bare = find_latency(bare_kind, 0, false);
            if (ours != nullptr && bare != nullptr) {
                t.measured = true;
                t.value = ours->*field;
                t.limit = bare->*field * factor;
                t.disturbed = ours->other_cpu > kDisturbed || bare->other_cpu > kDisturbed;
                t.pass = t.value <= t.limit;
            }
            targets_.push_back(t);
        };
        if (config_.wants("latency")) {
            latency_target("1 KiB round trip, sleeping: p50 <= 1.5 x bare futex p50", false, "bare-futex",
                           &LatencyRow::p50_us, 1.5);
            latency_target("1 KiB round trip, sleeping: p99 <= 1.5 x bare futex p99", false, "bare-futex",
                           &LatencyRow::p99_us, 1.5);
            latency_target("1 KiB round trip, spin: p50 <= 3 x bare spin p50", true, "bare-spin", &LatencyRow::p50_us,
                           3.0);
        }
        if (config_.wants("throughput")) {
            for (const std::string mode : {"copy-in", "in-place"}) {
                TargetRow t;
                t.name = "1 KiB " + mode + ": >= 3,000,000 frames/s";
                t.unit = "frames/s";
                t.limit = 3e6;
                if (const auto* row = find_throughput(kKiB, mode, false)) {
                    t.measured = true;
                    t.value = row->frames_per_s;
                    t.disturbed = row->other_cpu > kDisturbed;
                    t.pass = t.value >= t.limit;
                }
                targets_.push_back(t);
            }
            for (const auto& row : throughput_) {
                if (row.mode != "copy-in" || row.size < kMiB || row.spin_us > 0) {
                    continue;
                }
                TargetRow t;
                t.name = row.label + " copy-in: >= 0.8 x memcpy";
                t.unit = "x memcpy";
                t.limit = 0.8;
                if (row.vs_memcpy) {
                    t.measured = true;
                    t.value = *row.vs_memcpy;
                    t.disturbed = row.other_cpu > kDisturbed ||
                                  std::any_of(throughput_.begin(), throughput_.end(), [&row](const ThroughputRow& b) {
                                      return b.mode == "memcpy" && b.size == row.size && b.other_cpu > kDisturbed;
                                  });
                    t.pass = t.value >= t.limit;
                }
                targets_.push_back(t);
            }
        }
    }

    [[nodiscard]] std::string render_table() const
    {
        std::ostringstream out;
        out << "zb-bench " << zb::kLibraryVersion << ": libzerobuffer core ring, " << (config_.quick ? "quick" : "full")
            << " run\n";
        out << "Machine: " << machine_.line() << "\n";
        out << "Load average at start: " << machine_.loadavg << "\n";
        out << "CPU the host grants: " << capacity_line() << "\n";
        out << "Pinning: writer/ping on CPU " << config_.cpu_writer << ", reader/echo on CPU " << config_.cpu_reader
            << "\n";

        if (!latency_.empty()) {
            const auto* futex = find_latency("bare-futex", 0, false);
            const auto* spin = find_latency("bare-spin", 0, false);
            out << "\n1. Cross-process round trip (us): A writes ring 1, B acquires and writes it back into ring 2, A "
                   "acquires\n";
            out << format("  %-24s %7s %8s %8s %8s %8s | %-15s | %-15s | %5s\n", "", "trips", "p50", "p99", "p99.9",
                          "max", "/futex p50 p99", "/spin p50 p99", "other");
            for (const auto& row : latency_) {
                if (!row.ok) {
                    out << format("  %-24s FAILED: %s\n", row.label.c_str(), row.failure.c_str());
                    continue;
                }
                const auto ratio = [&row](const LatencyRow* bare) {
                    if (bare == nullptr || bare->p50_us <= 0 || bare->p99_us <= 0) {
                        return std::string("-");
                    }
                    const auto r = [](double v) { return v < 10 ? format("%.2fx", v) : format("%.0fx", v); };
                    return format("%6s %6s", r(row.p50_us / bare->p50_us).c_str(), r(row.p99_us / bare->p99_us).c_str());
                };
                out << format("  %-24s %7.0f %8.2f %8.2f %8.2f %8.1f | %-15s | %-15s | %4.0f%%%s\n", row.label.c_str(),
                              row.count, row.p50_us, row.p99_us, row.p999_us, row.max_us, ratio(futex).c_str(),
                              ratio(spin).c_str(), 100 * row.other_cpu, row.other_cpu > kDisturbed ? " *" : "");
                if (row.errors > 0) {
                    out << format("  %-24s !! %.0f round trips returned a wrong frame\n", "", row.errors);
                }
            }
            out << "  (ring sizes: 1 MiB for 64 B and 1 KiB, 9 MiB for 1 MiB; the 1 MiB echo copies the frame in both "
                   "directions)\n";
        }

        if (!throughput_.empty()) {
            const int rounds = throughput_.empty() ? 1 : throughput_.front().rounds;
            out << "\n2. Cross-process throughput (GB = 1e9 bytes; CPU s/GB over the timed window"
                << (rounds > 1 ? format("; median of %d interleaved rounds, spread = (max - min) / median", rounds)
                               : std::string())
                << ")\n";
            out << format("  %-18s %-15s %10s %6s %7s %6s %7s %7s %9s %5s %6s\n", "frame", "mode", "frames/s",
                          "spread", "GB/s", "/memcpy", "wr s/GB", "rd s/GB", "waits w/r", "ring", "other");
            for (const auto& row : throughput_) {
                const std::string mode =
                    row.mode == "memcpy" ? "memcpy 1 proc"
                                         : row.mode + (row.spin_us > 0 ? format(" spin%.0f", row.spin_us) : "");
                if (!row.ok) {
                    out << format("  %-18s %-15s FAILED: %s\n", row.label.c_str(), mode.c_str(), row.failure.c_str());
                    continue;
                }
                const std::string spread =
                    row.rounds > 1 && row.frames_per_s > 0
                        ? format("%.0f%%", 100 * (row.frames_per_s_max - row.frames_per_s_min) / row.frames_per_s)
                        : "-";
                // Share of frames for which the writer waited for room / the reader went to sleep for data.
                const std::string waits =
                    row.mode == "memcpy" || row.frames <= 0
                        ? "-"
                        : format("%.0f/%.0f%%", 100 * std::min(1.0, row.writer_waits / row.frames),
                                 100 * std::min(1.0, row.reader_waits / row.frames));
                out << format("  %-18s %-15s %10.0f %6s %7.2f %7s %7.3f %7s %9s %4zuM %5.0f%%%s\n", row.label.c_str(),
                              mode.c_str(), row.frames_per_s, spread.c_str(), row.gb_per_s,
                              row.vs_memcpy ? format("%.2fx", *row.vs_memcpy).c_str() : "-",
                              row.writer_cpu_s_per_gb,
                              row.mode == "memcpy" ? "-" : format("%.3f", row.reader_cpu_s_per_gb).c_str(),
                              waits.c_str(), row.ring_size / kMiB, 100 * row.other_cpu,
                              row.other_cpu > kDisturbed ? " *" : "");
                if (row.errors > 0) {
                    out << format("  %-18s !! %.0f frames had a wrong size or content\n", "", row.errors);
                }
            }
        }

        if (!idle_.empty()) {
            out << "\n3. Reader blocked in acquire() on a ring without frames\n";
            for (const auto& row : idle_) {
                const std::string label = format("spin %.0f us", row.spin_us);
                if (!row.ok) {
                    out << format("  %-12s FAILED: %s\n", label.c_str(), row.failure.c_str());
                    continue;
                }
                out << format("  %-12s %.1f s blocked: CPU %.4f s (%.3f %% of one CPU), %.0f wake-ups (%.1f/s)%s\n",
                              label.c_str(), row.seconds, row.cpu_s, 100.0 * row.cpu_s / row.seconds, row.wakeups,
                              row.wakeups / row.seconds, row.other_cpu > kDisturbed ? " *" : "");
            }
        }

        if (!targets_.empty()) {
            out << "\nTargets\n";
            for (const auto& t : targets_) {
                if (!t.measured) {
                    out << format("  [MISS] %-58s not measured (a run failed)\n", t.name.c_str());
                    continue;
                }
                const bool big = t.unit == "frames/s";
                out << format(big ? "  [%s] %-58s %.0f %s (target %.0f)%s\n"
                                  : "  [%s] %-58s %.2f %s (limit %.2f)%s\n",
                              t.pass ? "PASS" : "MISS", t.name.c_str(), t.value, t.unit.c_str(), t.limit,
                              t.disturbed ? " *" : "");
            }
        }
        out << "\nother: CPU time used during a measurement by other processes or stolen by the hypervisor, in % of one\n"
               "CPU. * marks figures taken with other > "
            << format("%.0f", 100 * kDisturbed) << " %: disturbed, rerun on a quiet machine before trusting them.\n";
        out << "/dev/shm leftovers: " << (leftovers_.empty() ? "none" : std::to_string(leftovers_.size())) << "\n";
        return out.str();
    }

    [[nodiscard]] json to_json() const
    {
        json j;
        j["tool"] = "zb-bench";
        j["library_version"] = zb::kLibraryVersion;
        j["run"] = config_.quick ? "quick" : "full";
        j["machine"] = {{"model", machine_.model},   {"cpu_id", machine_.cpu_id},
                        {"cpus", machine_.cpus},     {"kernel", machine_.kernel},
                        {"clocksource", machine_.clocksource}, {"loadavg_at_start", machine_.loadavg}};
        if (machine_.grant_one && machine_.grant_both_writer) {
            j["machine"]["cpu_grant"] = {{"one_busy", *machine_.grant_one},
                                         {"both_busy_writer_cpu", *machine_.grant_both_writer},
                                         {"both_busy_reader_cpu", *machine_.grant_both_reader},
                                         {"longest_stall_ms", machine_.longest_stall_ms}};
        }
        j["cpu_writer"] = config_.cpu_writer;
        j["cpu_reader"] = config_.cpu_reader;
        const auto* futex = find_latency("bare-futex", 0, false);
        const auto* spin = find_latency("bare-spin", 0, false);
        j["latency"] = json::array();
        for (const auto& row : latency_) {
            json r{{"label", row.label},         {"kind", row.kind}, {"size", row.size}, {"spin_us", row.spin_us},
                   {"ring_size", row.ring_size}, {"ok", row.ok},     {"other_cpu", row.other_cpu}};
            if (!row.ok) {
                r["failure"] = row.failure;
            } else {
                r.update({{"round_trips", row.count}, {"p50_us", row.p50_us},   {"p99_us", row.p99_us},
                          {"p999_us", row.p999_us},   {"min_us", row.min_us},   {"mean_us", row.mean_us},
                          {"max_us", row.max_us},     {"errors", row.errors}});
                if (futex != nullptr) {
                    r["p50_vs_bare_futex"] = row.p50_us / futex->p50_us;
                    r["p99_vs_bare_futex"] = row.p99_us / futex->p99_us;
                }
                if (spin != nullptr) {
                    r["p50_vs_bare_spin"] = row.p50_us / spin->p50_us;
                    r["p99_vs_bare_spin"] = row.p99_us / spin->p99_us;
                }
            }
            j["latency"].push_back(r);
        }
        j["throughput"] = json::array();
        for (const auto& row : throughput_) {
            json r{{"label", row.label},         {"size", row.size}, {"mode", row.mode}, {"spin_us", row.spin_us},
                   {"ring_size", row.ring_size}, {"ok", row.ok},   {"other_cpu", row.other_cpu}};
            if (!row.ok) {
                r["failure"] = row.failure;
            } else {
                r.update({{"frames", row.frames},
                          {"seconds", row.seconds},
                          {"frames_per_s", row.frames_per_s},
                          {"rounds", row.rounds},
                          {"frames_per_s_min", row.rounds > 1 ? row.frames_per_s_min : row.frames_per_s},
                          {"frames_per_s_max", row.rounds > 1 ? row.frames_per_s_max : row.frames_per_s},
                          {"gb_per_s", row.gb_per_s},
                          {"writer_cpu_s", row.writer_cpu_s},
                          {"writer_cpu_s_per_gb", row.writer_cpu_s_per_gb},
                          {"writer_lifetime_cpu_s", row.writer_life_cpu_s}});
                if (row.mode != "memcpy") {
                    r.update({{"reader_cpu_s", row.reader_cpu_s},
                              {"reader_cpu_s_per_gb", row.reader_cpu_s_per_gb},
                              {"reader_lifetime_cpu_s", row.reader_life_cpu_s},
                              {"errors", row.errors},
                              {"writer_waits", row.writer_waits},
                              {"reader_waits", row.reader_waits}});
                }
                if (row.vs_memcpy) {
                    r["vs_memcpy"] = *row.vs_memcpy;
                }
            }
            j["throughput"].push_back(r);
        }
        j["idle_reader"] = json::array();
        for (const auto& row : idle_) {
            json r{{"spin_us", row.spin_us}, {"ok", row.ok}, {"other_cpu", row.other_cpu}};
            if (!row.ok) {
                r["failure"] = row.failure;
            } else {
                r.update({{"seconds", row.seconds},
                          {"cpu_s", row.cpu_s},
                          {"user_s", row.user_s},
                          {"cpu_percent", 100.0 * row.cpu_s / row.seconds},
                          {"wakeups", row.wakeups},
                          {"acquire_timeouts", row.timeouts},
                          {"frames", row.frames}});
            }
            j["idle_reader"].push_back(r);
        }
        j["targets"] = json::array();
        for (const auto& t : targets_) {
            json r{{"name", t.name}, {"measured", t.measured}, {"limit", t.limit}, {"unit", t.unit}, {"disturbed", t.disturbed}};
            if (t.measured) {
                r["value"] = t.value;
                r["pass"] = t.pass;
            }
            j["targets"].push_back(r);
        }
        j["shm_leftovers"] = leftovers_;
        return j;
    }

    static constexpr double kSpinUs = 50.0;
    static constexpr double kDisturbed = 0.10; // other load above 10 % of a CPU marks a figure as disturbed
    double last_other_cpu_ = 0;

    Config config_;
    std::int64_t start_ns_ = now_ns();
    std::string prefix_;
    Machine machine_;
    unsigned rings_ = 0;
    std::vector<std::string> names_;
    std::vector<int> child_pids_;
    std::vector<std::string> leftovers_;
    std::vector<LatencyRow> latency_;
    std::vector<ThroughputRow> throughput_;
    std::vector<IdleRow> idle_;
    std::vector<TargetRow> targets_;
};

/// A bad command line: main prints the message and the usage, and exits 2 (a failed run exits 1).
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

void print_usage(std::ostream& out)
{
    out << "usage: zb-bench [--quick] [--json] [--cpu-writer N] [--cpu-reader M] [--only SECTIONS]\n"
                 "  Benchmarks the libzerobuffer ring between two processes and compares it with bare futex and\n"
                 "  spin ping-pongs and with memcpy on this machine.\n"
                 "  --quick          every measurement briefly (whole run under 30 s)\n"
                 "  --json           print one JSON object on stdout (the table goes to stderr)\n"
                 "  --cpu-writer N   CPU of the writer / ping process (default: first allowed CPU; -1: no pinning)\n"
                 "  --cpu-reader M   CPU of the reader / echo process (default: second allowed CPU)\n"
                 "  --only LIST      comma-separated subset of latency,throughput,idle\n"
                 "  -h, --help       this text\n"
                 "  Exit status: 0 done, 1 a measurement failed, 2 usage error, 130 interrupted.\n";
}

int parse_cpu(const std::string& flag, const std::string& text)
{
    int cpu = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), cpu);
    if (error != std::errc{} || end != text.data() + text.size() || cpu < -1)
        throw UsageError(flag + " takes a CPU number (or -1), not '" + text + "'");
    return cpu;
}

/// Default CPUs: the first two this process may run on (one shared CPU on a single-CPU machine).
std::pair<int, int> default_cpus()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu) {
            if (CPU_ISSET(static_cast<std::size_t>(cpu), &set)) {
                cpus.push_back(cpu);
            }
        }
    }
    if (cpus.empty()) {
        return {0, 0};
    }
    return {cpus[0], cpus.size() > 1 ? cpus[1] : cpus[0]};
}

int bench_main(int argc, char** argv)
{
    Config config;
    std::tie(config.cpu_writer, config.cpu_reader) = default_cpus();
    const std::vector<std::string> words(argv + 1, argv + argc);
    for (std::size_t i = 0; i < words.size(); ++i) {
        const auto& w = words[i];
        const auto value = [&]() -> const std::string& {
            if (i + 1 >= words.size()) {
                throw UsageError(w + " needs a value");
            }
            return words[++i];
        };
        if (w == "--quick") {
            config.quick = true;
        } else if (w == "--json") {
            config.json = true;
        } else if (w == "--cpu-writer") {
            config.cpu_writer = parse_cpu(w, value());
        } else if (w == "--cpu-reader") {
            config.cpu_reader = parse_cpu(w, value());
        } else if (w == "--only") {
            std::istringstream list(value());
            for (std::string item; std::getline(list, item, ',');) {
                if (item != "latency" && item != "throughput" && item != "idle") {
                    throw UsageError("unknown section '" + item + "' (latency, throughput, idle)");
                }
                config.only.insert(item);
            }
        } else if (w == "--help" || w == "-h") {
            print_usage(std::cout);
            return 0;
        } else {
            throw UsageError("unknown argument " + w);
        }
    }
    if (config.cpu_writer == config.cpu_reader && config.cpu_writer >= 0) {
        std::cerr << "zb-bench: warning: writer and reader share CPU " << config.cpu_writer
                  << "; spin figures will be meaningless\n";
    }

    struct sigaction action{};
    action.sa_handler = on_interrupt;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    Bench bench(config);
    bench.run();
    return bench.interrupted() ? 130 : 0;
}

} // namespace
} // namespace zbbench

int main(int argc, char** argv)
{
    if (argc >= 3 && std::string_view(argv[1]) == "--role") {
        zbbench::Args args;
        for (int i = 3; i < argc; ++i) {
            const std::string_view word(argv[i]);
            const auto eq = word.find('=');
            if (eq != std::string_view::npos) {
                args.emplace(std::string(word.substr(0, eq)), std::string(word.substr(eq + 1)));
            }
        }
        return zbbench::run_role(argv[2], args);
    }
    try {
        return zbbench::bench_main(argc, argv);
    } catch (const zbbench::UsageError& e) {
        std::cerr << "zb-bench: " << e.what() << "\n";
        zbbench::print_usage(std::cerr);
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "zb-bench: " << e.what() << "\n";
        return 1;
    }
}
