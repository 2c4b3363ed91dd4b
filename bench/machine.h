// SPDX-License-Identifier: MIT
// What zb-bench runs on: the CPU, kernel and clock, and how much CPU time the host really grants.
#pragma once

#include "session.h"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace zbbench {

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
    [[nodiscard]] std::string line() const;
};

/// CPU model, CPU count, kernel, clocksource and load average, from /proc and /sys.
[[nodiscard]] Machine probe_machine();

/// In a VM the hypervisor may give less than one physical CPU per vCPU, and without steal-time reporting the
/// guest cannot see it. Measures it (one CPU busy, then both), so throttled figures are not blamed on the ring.
void measure_capacity(Session& session, Machine& machine);

/// The capacity as one line of the table ("not measured" when a probe failed).
[[nodiscard]] std::string capacity_line(const Machine& machine);

/// The "machine" object of the JSON output.
[[nodiscard]] nlohmann::json machine_json(const Machine& machine);

} // namespace zbbench
