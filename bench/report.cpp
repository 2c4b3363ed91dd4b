// SPDX-License-Identifier: MIT
// zb-bench's targets, its table and its JSON: the sections print their own part, this puts them together.
#include "report.h"

#include <algorithm>
#include <sstream>

#include <zerobuffer/version.h>

namespace zbbench {

using nlohmann::json;

namespace {

void add_latency_targets(const Results& results, std::vector<TargetRow>& targets)
{
    // Round trip: at most `factor` times the bare figure.
    const auto latency_target = [&](const std::string& name, bool spin, const std::string& bare_kind,
                                    double LatencyRow::*field, double factor) {
        TargetRow t;
        t.name = name;
        t.unit = "us";
        const auto* ours = find_latency(results.latency, "ring", kKiB, spin);
        const auto* bare = find_latency(results.latency, bare_kind, 0, false);
        if (ours != nullptr && bare != nullptr) {
            t.measured = true;
            t.value = ours->*field;
            t.limit = bare->*field * factor;
            t.disturbed = ours->other_cpu > kDisturbed || bare->other_cpu > kDisturbed;
            t.pass = t.value <= t.limit;
        }
        targets.push_back(t);
    };
    latency_target("1 KiB round trip, sleeping: p50 <= 1.5 x bare futex p50", false, "bare-futex", &LatencyRow::p50_us,
                   1.5);
    latency_target("1 KiB round trip, sleeping: p99 <= 1.5 x bare futex p99", false, "bare-futex", &LatencyRow::p99_us,
                   1.5);
    latency_target("1 KiB round trip, spin: p50 <= 3 x bare spin p50", true, "bare-spin", &LatencyRow::p50_us, 3.0);
}

void add_throughput_targets(const Results& results, std::vector<TargetRow>& targets)
{
    const auto& rows = results.throughput;
    for (const std::string mode : {"copy-in", "in-place"}) {
        TargetRow t;
        t.name = "1 KiB " + mode + ": >= 3,000,000 frames/s";
        t.unit = "frames/s";
        t.limit = 3e6;
        if (const auto* row = find_throughput(rows, kKiB, mode, false)) {
            t.measured = true;
            t.value = row->frames_per_s;
            t.disturbed = row->other_cpu > kDisturbed;
            t.pass = t.value >= t.limit;
        }
        targets.push_back(t);
    }
    for (const auto& row : rows) {
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
                          std::any_of(rows.begin(), rows.end(), [&row](const ThroughputRow& b) {
                              return b.mode == "memcpy" && b.size == row.size && b.other_cpu > kDisturbed;
                          });
            t.pass = t.value >= t.limit;
        }
        targets.push_back(t);
    }
}

/// One target over the held-frames table: every row whose holds fit keeps the writer's rate with zero waits.
void add_held_target(const Results& results, std::vector<TargetRow>& targets)
{
    TargetRow t;
    t.name = "held frames, where holds fit: writer's rate, zero waits";
    t.unit = "rows missed";
    t.limit = 0;
    double fitting = 0;
    bool all_ran = true;
    for (const auto& row : results.held) {
        if (!row.holds_fit()) {
            continue;
        }
        ++fitting;
        all_ran = all_ran && row.ok;
        t.value += row.pass() ? 0 : 1;
        t.disturbed = t.disturbed || row.other_cpu > kDisturbed;
    }
    t.measured = fitting > 0 && all_ran;
    t.pass = t.value <= t.limit;
    targets.push_back(t);
}

} // namespace

std::vector<TargetRow> evaluate_targets(const Config& config, const Results& results)
{
    std::vector<TargetRow> targets;
    if (config.wants("latency")) {
        add_latency_targets(results, targets);
    }
    if (config.wants("throughput")) {
        add_throughput_targets(results, targets);
    }
    if (config.wants("held")) {
        add_held_target(results, targets);
    }
    return targets;
}

std::string render_table(const Config& config, const Results& results, const std::vector<TargetRow>& targets)
{
    const auto& machine = results.machine;
    std::ostringstream out;
    out << "zb-bench " << zerobuffer::kLibraryVersion << ": libzerobuffer core ring, "
        << (config.quick ? "quick" : "full") << " run\n";
    out << "Machine: " << machine.line() << "\n";
    out << "Load average at start: " << machine.loadavg << "\n";
    out << "CPU the host grants: " << capacity_line(machine) << "\n";
    out << "Pinning: writer/ping on CPU " << config.cpu_writer << ", reader/echo on CPU " << config.cpu_reader << "\n";

    if (!results.latency.empty()) {
        render_latency(out, results.latency);
    }
    if (!results.throughput.empty()) {
        render_throughput(out, results.throughput);
    }
    if (!results.idle.empty()) {
        render_idle(out, results.idle);
    }
    if (!results.held.empty()) {
        render_held(out, results.held);
    }

    if (!targets.empty()) {
        out << "\nTargets\n";
        for (const auto& t : targets) {
            if (!t.measured) {
                out << format("  [MISS] %-58s not measured (a run failed)\n", t.name.c_str());
                continue;
            }
            const bool big = t.unit == "frames/s" || t.unit == "rows missed";
            out << format(big ? "  [%s] %-58s %.0f %s (target %.0f)%s\n" : "  [%s] %-58s %.2f %s (limit %.2f)%s\n",
                          t.pass ? "PASS" : "MISS", t.name.c_str(), t.value, t.unit.c_str(), t.limit,
                          t.disturbed ? " *" : "");
        }
    }
    out << "\nother: CPU time used during a measurement by other processes or stolen by the hypervisor, in % of one\n"
           "CPU. * marks figures taken with other > "
        << format("%.0f", 100 * kDisturbed) << " %: disturbed, rerun on a quiet machine before trusting them.\n";
    out << "/dev/shm leftovers: " << (results.leftovers.empty() ? "none" : std::to_string(results.leftovers.size()))
        << "\n";
    return out.str();
}

json to_json(const Config& config, const Results& results, const std::vector<TargetRow>& targets)
{
    json j;
    j["tool"] = "zb-bench";
    j["library_version"] = zerobuffer::kLibraryVersion;
    j["run"] = config.quick ? "quick" : "full";
    j["machine"] = machine_json(results.machine);
    j["cpu_writer"] = config.cpu_writer;
    j["cpu_reader"] = config.cpu_reader;
    j["latency"] = latency_json(results.latency);
    j["throughput"] = throughput_json(results.throughput);
    j["idle_reader"] = idle_json(results.idle);
    j["held"] = held_json(results.held);
    j["targets"] = json::array();
    for (const auto& t : targets) {
        json r{{"name", t.name},
               {"measured", t.measured},
               {"limit", t.limit},
               {"unit", t.unit},
               {"disturbed", t.disturbed}};
        if (t.measured) {
            r["value"] = t.value;
            r["pass"] = t.pass;
        }
        j["targets"].push_back(r);
    }
    j["shm_leftovers"] = results.leftovers;
    return j;
}

} // namespace zbbench
