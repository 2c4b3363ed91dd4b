// SPDX-License-Identifier: MIT
// What a zb-bench run found, the targets it is held to, and how it is printed (table and JSON).
#pragma once

#include "machine.h"
#include "sections.h"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace zbbench {

struct Results {
    Machine machine;
    std::vector<LatencyRow> latency;
    std::vector<ThroughputRow> throughput;
    std::vector<IdleRow> idle;
    std::vector<HeldRow> held;
    std::vector<std::string> leftovers; ///< What the children left in /dev/shm (a bug when not empty).
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

/// The targets of the sections that ran. A miss never makes zb-bench fail: it is printed.
[[nodiscard]] std::vector<TargetRow> evaluate_targets(const Config& config, const Results& results);

/// The whole table (stdout, or stderr with --json).
[[nodiscard]] std::string render_table(const Config& config, const Results& results,
                                       const std::vector<TargetRow>& targets);

/// The one JSON object of --json.
[[nodiscard]] nlohmann::json to_json(const Config& config, const Results& results,
                                     const std::vector<TargetRow>& targets);

} // namespace zbbench
