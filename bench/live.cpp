// SPDX-License-Identifier: MIT
// Section 5 of zb-bench: live latency. A writer paced like a camera (30, 60, 120 fps) and one lossless reader in
// another process; one-way latency from commit to the reader's acquire returning, and the reader's CPU, with the
// plain futex wait (WaitMode::Sleep) and the cadence wait (WaitMode::Cadence) run one after the other.
#include "sections.h"

#include <cmath>

namespace zbbench {

using nlohmann::json;

namespace {

struct LiveCase {
    std::size_t size;
    const char* label;
    double fps;
};

LiveRow run_live_row(Session& session, const LiveCase& c, const std::string& mode)
{
    const auto& config = session.config();
    LiveRow row;
    row.label = c.label;
    row.size = c.size;
    row.fps = c.fps;
    row.mode = mode;
    const double seconds = config.quick ? 3.0 : 20.0;
    row.warmup = static_cast<std::uint64_t>(c.fps); // one second to learn the rate
    const auto frames = row.warmup + static_cast<std::uint64_t>(std::llround(seconds * c.fps));
    session.progress(format("live: %s at %.0f fps, %s wait, %.0f s", c.label, c.fps, mode.c_str(),
                            static_cast<double>(frames) / c.fps));
    const auto ring = session.ring_name();
    const std::size_t ring_size = std::max<std::size_t>(8 * c.size, 4 * kMiB);
    const auto outcomes = session.run(
        {{"live-writer", Args{{"cpu", std::to_string(config.cpu_writer)},
                              {"ring", ring},
                              {"ring_size", std::to_string(ring_size)},
                              {"size", std::to_string(c.size)},
                              {"fps", format("%.3f", c.fps)},
                              {"frames", std::to_string(frames)}}},
         {"live-reader", Args{{"cpu", std::to_string(config.cpu_reader)},
                              {"ring", ring},
                              {"mode", mode},
                              {"warmup", std::to_string(row.warmup)}}}},
        std::chrono::seconds(static_cast<std::int64_t>(std::ceil(static_cast<double>(frames) / c.fps)) + 60));
    row.other_cpu = session.last_other_cpu();
    row.ok = outcomes[0].ok && outcomes[1].ok;
    row.failure = first_failure(outcomes);
    if (!row.ok) {
        return row;
    }
    const auto& r = outcomes[1].values;
    row.count = r.at("count");
    row.p50_us = r.at("p50_ns") / 1e3;
    row.p99_us = r.at("p99_ns") / 1e3;
    row.p999_us = r.at("p999_ns") / 1e3;
    row.max_us = r.at("max_ns") / 1e3;
    row.errors = r.at("errors");
    row.cpu_percent = r.at("seconds") > 0 ? 100.0 * r.at("cpu_s") / r.at("seconds") : 0;
    row.spin_percent = r.at("seconds") > 0 ? 100.0 * r.at("spin_ns") * 1e-9 / r.at("seconds") : 0;
    row.cadence_hits = r.at("cadence_hits");
    row.cadence_misses = r.at("cadence_misses");
    row.writer_max_late_ms = outcomes[0].values.at("max_late_ms");
    return row;
}

} // namespace

std::vector<LiveRow> run_live(Session& session)
{
    std::vector<LiveCase> cases;
    for (const double fps : {30.0, 60.0, 120.0}) {
        cases.push_back({kFrame1080I420, "1080p I420", fps});
    }
    if (!session.config().quick) {
        for (const double fps : {30.0, 60.0}) {
            cases.push_back({kFrame2160I420, "2160p I420", fps});
        }
    }
    std::vector<LiveRow> rows;
    for (const auto& c : cases) {
        for (const char* mode : {"sleep", "cadence"}) {
            if (session.stopped()) {
                return rows;
            }
            rows.push_back(run_live_row(session, c, mode));
        }
    }
    return rows;
}

const LiveRow* find_live(const std::vector<LiveRow>& rows, std::size_t size, double fps, const std::string& mode)
{
    for (const auto& row : rows) {
        if (row.ok && row.size == size && row.fps == fps && row.mode == mode) {
            return &row;
        }
    }
    return nullptr;
}

void render_live(std::ostream& out, const std::vector<LiveRow>& rows)
{
    out << "\n5. Live latency: paced writer, one lossless reader, one-way commit -> acquire (us)\n";
    out << format("  %-11s %5s %-8s %8s %8s %8s %8s %7s %7s %11s %s\n", "frame", "fps", "wait", "p50", "p99", "p99.9",
                  "max", "CPU %", "poll %", "hits/misses", "other");
    for (const auto& row : rows) {
        if (!row.ok) {
            out << format("  %-11s %5.0f %-8s FAILED: %s\n", row.label.c_str(), row.fps, row.mode.c_str(),
                          row.failure.c_str());
            continue;
        }
        out << format("  %-11s %5.0f %-8s %8.1f %8.1f %8.1f %8.1f %7.2f %7.2f %5.0f/%-5.0f %4.0f%%%s\n",
                      row.label.c_str(), row.fps, row.mode.c_str(), row.p50_us, row.p99_us, row.p999_us, row.max_us,
                      row.cpu_percent, row.spin_percent, row.cadence_hits, row.cadence_misses, 100 * row.other_cpu,
                      row.other_cpu > kDisturbed ? " *" : "");
    }
    out << "  CPU %: the reader's CPU time in % of one core (poll %: of it, the cadence windows' polling); the\n"
           "  cost of the cadence wait is its CPU % less the sleep row's.\n";
}

json live_json(const std::vector<LiveRow>& rows)
{
    json list = json::array();
    for (const auto& row : rows) {
        json r{{"label", row.label}, {"size", row.size}, {"fps", row.fps},   {"wait_mode", row.mode},
               {"ok", row.ok},       {"other_cpu", row.other_cpu}, {"warmup", row.warmup}};
        if (!row.ok) {
            r["failure"] = row.failure;
        } else {
            r.update({{"count", row.count},
                      {"p50_us", row.p50_us},
                      {"p99_us", row.p99_us},
                      {"p999_us", row.p999_us},
                      {"max_us", row.max_us},
                      {"errors", row.errors},
                      {"reader_cpu_percent", row.cpu_percent},
                      {"poll_cpu_percent", row.spin_percent},
                      {"cadence_hits", row.cadence_hits},
                      {"cadence_misses", row.cadence_misses},
                      {"writer_max_late_ms", row.writer_max_late_ms}});
        }
        list.push_back(r);
    }
    return list;
}

} // namespace zbbench
