// SPDX-License-Identifier: MIT
// Section 3 of zb-bench: the CPU a reader blocked in acquire() costs while its ring gets no frames.
#include "sections.h"

namespace zbbench {

using nlohmann::json;

std::vector<IdleRow> run_idle(Session& session)
{
    const auto& config = session.config();
    const double seconds = config.quick ? 2.0 : 10.0;
    session.progress(format("idle: two readers (spin 0 and spin %.0f us) blocked %.0f s on a ring without frames",
                            kSpinUs, seconds));
    const auto ring = session.ring_name();
    const Args writer{{"cpu", std::to_string(config.cpu_writer)},
                      {"ring", ring},
                      {"ring_size", std::to_string(kMiB)},
                      {"readers", "2"},
                      {"seconds", format("%.3f", seconds)}};
    const std::vector<double> spins{0.0, kSpinUs};
    std::vector<ChildSpec> specs{{"idle-writer", writer}};
    for (const double spin : spins) {
        specs.push_back({"idle-reader",
                         Args{{"cpu", std::to_string(config.cpu_reader)},
                              {"ring", ring},
                              {"spin_ns", std::to_string(static_cast<std::uint64_t>(spin * 1000))}}});
    }
    const auto outcomes = session.run(specs, std::chrono::seconds(120));
    std::vector<IdleRow> rows;
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
        row.other_cpu = session.last_other_cpu();
        rows.push_back(row);
    }
    return rows;
}

void render_idle(std::ostream& out, const std::vector<IdleRow>& rows)
{
    out << "\n3. Reader blocked in acquire() on a ring without frames\n";
    for (const auto& row : rows) {
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

json idle_json(const std::vector<IdleRow>& rows)
{
    json list = json::array();
    for (const auto& row : rows) {
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
        list.push_back(r);
    }
    return list;
}

} // namespace zbbench
