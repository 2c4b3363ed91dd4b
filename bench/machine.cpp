// SPDX-License-Identifier: MIT
// Machine probe and host CPU grant of zb-bench (section 0 of the table).
#include "machine.h"

#include <algorithm>
#include <fstream>

#include <sys/utsname.h>
#include <unistd.h>

namespace zbbench {
namespace {

std::string first_line_of(const std::string& path)
{
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

} // namespace

std::string Machine::line() const
{
    return model + (cpu_id.empty() ? "" : " (" + cpu_id + ")") + ", " + std::to_string(cpus) + " CPUs, " + kernel +
           ", clocksource " + clocksource;
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

void measure_capacity(Session& session, Machine& machine)
{
    const auto& config = session.config();
    const Args base{{"seconds", config.quick ? "0.5" : "1.5"}};
    auto writer = base;
    writer["cpu"] = std::to_string(config.cpu_writer);
    auto reader = base;
    reader["cpu"] = std::to_string(config.cpu_reader);
    session.progress("capacity: CPU time the host grants, one CPU busy, then both");
    const auto one = session.run({{"capacity", writer}}, std::chrono::seconds(60));
    if (one[0].ok) {
        machine.grant_one = one[0].values.at("available");
        machine.longest_stall_ms = std::max(machine.longest_stall_ms, one[0].values.at("longest_stall_ms"));
    }
    const auto both = session.run({{"capacity", writer}, {"capacity", reader}}, std::chrono::seconds(60));
    if (both[0].ok && both[1].ok) {
        machine.grant_both_writer = both[0].values.at("available");
        machine.grant_both_reader = both[1].values.at("available");
        for (const auto& o : both) {
            machine.longest_stall_ms = std::max(machine.longest_stall_ms, o.values.at("longest_stall_ms"));
        }
    }
}

std::string capacity_line(const Machine& machine)
{
    if (!machine.grant_one || !machine.grant_both_writer) {
        return "not measured";
    }
    return format("one busy CPU runs %.0f %% of the time; both busy: %.0f %% + %.0f %% = %.2f CPUs "
                  "(longest stall %.1f ms)",
                  100 * *machine.grant_one, 100 * *machine.grant_both_writer, 100 * *machine.grant_both_reader,
                  *machine.grant_both_writer + *machine.grant_both_reader, machine.longest_stall_ms);
}

nlohmann::json machine_json(const Machine& machine)
{
    nlohmann::json j{{"model", machine.model},
                     {"cpu_id", machine.cpu_id},
                     {"cpus", machine.cpus},
                     {"kernel", machine.kernel},
                     {"clocksource", machine.clocksource},
                     {"loadavg_at_start", machine.loadavg}};
    if (machine.grant_one && machine.grant_both_writer) {
        j["cpu_grant"] = {{"one_busy", *machine.grant_one},
                          {"both_busy_writer_cpu", *machine.grant_both_writer},
                          {"both_busy_reader_cpu", *machine.grant_both_reader},
                          {"longest_stall_ms", machine.longest_stall_ms}};
    }
    return j;
}

} // namespace zbbench
