// SPDX-License-Identifier: MIT
// zb-bench: measures the core ring across processes (latency, throughput, idle CPU, held frames) against the
// machine's limits.
//
// Every measurement runs in separate processes (this binary re-executed with --role), pinned to two CPUs, so
// the figures include what a real producer/consumer pair pays: cross-core cache traffic and futex wake-ups.
// Bare futex and spin ping-pongs and a single-process memcpy run in the same invocation as references.
// This file: the command line and the order of the sections. machine.cpp, latency.cpp, throughput.cpp, idle.cpp
// and held.cpp measure; report.cpp holds the targets and prints; roles.cpp and held_roles.cpp are the children.
#include "report.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include <csignal>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include <sched.h>

namespace zbbench {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int /*signal*/) { g_interrupted.store(true); }

/// A mistake on the command line: reported with the usage and exit code 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

void print_usage(std::ostream& out)
{
    out << "usage: zb-bench [--quick] [--json] [--cpu-writer N] [--cpu-reader M] [--only SECTIONS]\n"
           "  Benchmarks the libzerobuffer ring between processes and compares it with bare futex and\n"
           "  spin ping-pongs and with memcpy on this machine.\n"
           "  --quick          every measurement briefly (whole run 1 to 2 minutes)\n"
           "  --json           print one JSON object on stdout (the table goes to stderr)\n"
           "  --cpu-writer N   CPU of the writer / ping process (default: first allowed CPU; -1: no pinning)\n"
           "  --cpu-reader M   CPU of the reader / echo processes (default: second allowed CPU)\n"
           "  --only LIST      comma-separated subset of latency,throughput,idle,held\n"
           "  -h, --help       this text\n"
           "  Exit codes: 0 done (a missed target is printed, not an error), 1 the benchmark failed,\n"
           "  2 usage error, 130 interrupted.\n";
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

int parse_cpu(const std::string& option, const std::string& text)
{
    int cpu = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), cpu);
    if (ec != std::errc() || end != text.data() + text.size() || cpu < -1 || cpu >= CPU_SETSIZE) {
        throw UsageError(option + " needs a CPU number from 0 to " + std::to_string(CPU_SETSIZE - 1) +
                         " or -1 for no pinning, not '" + text + "'");
    }
    return cpu;
}

std::set<std::string> parse_sections(const std::string& text)
{
    std::set<std::string> sections;
    std::istringstream list(text);
    for (std::string item; std::getline(list, item, ',');) {
        if (std::find(kSections.begin(), kSections.end(), item) == kSections.end()) {
            throw UsageError("unknown section '" + item + "' (latency, throughput, idle, held)");
        }
        sections.insert(item);
    }
    if (sections.empty()) {
        throw UsageError("--only needs at least one of latency, throughput, idle, held");
    }
    return sections;
}

/// Parses the command line; nullopt when the user asked for --help (already printed).
std::optional<Config> parse_options(const std::vector<std::string>& words)
{
    Config config;
    std::tie(config.cpu_writer, config.cpu_reader) = default_cpus();
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
            config.only = parse_sections(value());
        } else if (w == "--help" || w == "-h") {
            print_usage(std::cout);
            return std::nullopt;
        } else {
            throw UsageError("unknown argument '" + w + "'");
        }
    }
    return config;
}

/// Runs the sections asked for, in order, and prints what they found.
void run_bench(const Config& config)
{
    Session session(config);
    Results results;
    results.machine = probe_machine();
    session.progress("machine: " + results.machine.line() + ", load " + results.machine.loadavg);
    measure_capacity(session, results.machine);
    if (config.wants("latency") && !session.stopped()) {
        results.latency = run_latency(session);
    }
    if (config.wants("throughput") && !session.stopped()) {
        results.throughput = run_throughput(session);
    }
    if (config.wants("idle") && !session.stopped()) {
        results.idle = run_idle(session);
    }
    if (config.wants("held") && !session.stopped()) {
        results.held = run_held(session);
    }
    results.leftovers = session.remove_leftovers();
    const auto targets = evaluate_targets(config, results);
    const std::string table = render_table(config, results, targets);
    if (config.json) {
        std::cerr << table;
        std::cout << to_json(config, results, targets).dump(2) << "\n";
    } else {
        std::cout << table;
    }
}

int bench_main(int argc, char** argv)
{
    std::optional<Config> config;
    try {
        config = parse_options(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const UsageError& e) {
        std::cerr << "zb-bench: error: " << e.what() << " - see the usage below\n";
        print_usage(std::cerr);
        return 2;
    }
    if (!config) {
        return 0;
    }
    if (config->cpu_writer == config->cpu_reader && config->cpu_writer >= 0) {
        std::cerr << "zb-bench: warning: writer and reader share CPU " << config->cpu_writer
                  << "; spin figures will be meaningless\n";
    }

    struct sigaction action{};
    action.sa_handler = on_interrupt;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    run_bench(*config);
    return g_interrupted.load() ? 130 : 0;
}

} // namespace

bool stop_requested() noexcept { return g_interrupted.load(); }

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
    } catch (const std::exception& e) {
        std::cerr << "zb-bench: error: " << e.what() << "\n";
        return 1;
    }
}
