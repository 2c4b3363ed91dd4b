// SPDX-License-Identifier: MIT
// Section 2 of zb-bench: frames/s and GB/s between two processes, copy-in and in place, next to one-process memcpy.
#include "sections.h"

#include <algorithm>

namespace zbbench {
namespace {

using nlohmann::json;

std::size_t throughput_ring_size(std::size_t size)
{
    return std::max(64 * kMiB, round_up(4 * (size + 4096), 2 * kMiB));
}

void finish_rates(ThroughputRow& row)
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

ThroughputRow run_memcpy(Session& session, std::size_t size)
{
    const auto& config = session.config();
    ThroughputRow row;
    row.label = size_label(size);
    row.size = size;
    row.mode = "memcpy";
    row.ring_size = throughput_ring_size(size);
    session.progress("throughput: " + row.label + ", memcpy baseline (one process)");
    const Args args{{"cpu", std::to_string(config.cpu_writer)},
                    {"size", std::to_string(size)},
                    {"ring_size", std::to_string(row.ring_size)},
                    {"seconds", format("%.3f", config.quick ? 0.2 : 0.5)}};
    const auto outcomes = session.run({{"memcpy", args}}, std::chrono::seconds(300));
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
    row.other_cpu = session.last_other_cpu();
    return row;
}

ThroughputRow run_ring_throughput(Session& session, std::size_t size, const std::string& mode, double spin_us)
{
    const auto& config = session.config();
    ThroughputRow row;
    row.label = size_label(size);
    row.size = size;
    row.mode = mode;
    row.spin_us = spin_us;
    row.ring_size = throughput_ring_size(size);
    // Laps of the ring before timing: the first lap pays the page faults of a fresh segment (a second one,
    // in full runs, settles caches and the page-table walks of both processes).
    const std::uint64_t laps = config.quick ? 1 : 2;
    const std::uint64_t warmup = std::max<std::uint64_t>(4, laps * row.ring_size / (size + 192) + 2);
    session.progress("throughput: " + row.label + ", " + mode +
                     (spin_us > 0 ? format(", spin %.0f us", spin_us) : ""));
    const auto ring = session.ring_name();
    const Args common{{"ring", ring},
                      {"size", std::to_string(size)},
                      {"mode", mode == "in-place" ? "inplace" : "copy"},
                      {"warmup", std::to_string(warmup)},
                      {"spin_ns", std::to_string(static_cast<std::uint64_t>(spin_us * 1000))},
                      {"ring_size", std::to_string(row.ring_size)}};
    auto writer = common;
    writer["cpu"] = std::to_string(config.cpu_writer);
    writer["seconds"] = format("%.3f", config.quick ? 0.3 : 1.0);
    auto reader = common;
    reader["cpu"] = std::to_string(config.cpu_reader);
    const auto outcomes = session.run({{"tput-writer", writer}, {"tput-reader", reader}}, std::chrono::seconds(300));
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
            session.progress(format("  %.0f frames had a wrong size or content", row.errors));
        }
    }
    row.other_cpu = session.last_other_cpu();
    return row;
}

/// The run with the median frame rate, carrying the spread of all rounds.
ThroughputRow median_run(std::vector<ThroughputRow> runs)
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

} // namespace

std::vector<ThroughputRow> run_throughput(Session& session)
{
    // The host's memory bandwidth and CPU grant drift from one second to the next on shared machines, so the
    // baseline and the ring run back to back, several rounds in a full run, and the medians are reported.
    const int rounds = session.config().quick ? 1 : 3;
    const std::size_t sizes[] = {kKiB, kMiB, kFrame1080I420, kFrame1080Rgba, kFrame2160Rgba, kFrame100MB};
    std::vector<ThroughputRow> rows;
    for (const auto size : sizes) {
        std::vector<std::pair<std::string, double>> variants{{"memcpy", 0}, {"copy-in", 0}, {"in-place", 0}};
        if (size == kKiB) {
            // Small frames are where wake-ups dominate: show what spinning buys.
            variants.emplace_back("copy-in", kSpinUs);
            variants.emplace_back("in-place", kSpinUs);
        }
        std::vector<std::vector<ThroughputRow>> runs(variants.size());
        for (int round = 0; round < rounds && !session.stopped(); ++round) {
            for (std::size_t v = 0; v < variants.size(); ++v) {
                auto row = variants[v].first == "memcpy"
                               ? run_memcpy(session, size)
                               : run_ring_throughput(session, size, variants[v].first, variants[v].second);
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
            rows.push_back(std::move(row));
        }
        if (session.stopped()) {
            break;
        }
    }
    return rows;
}

const ThroughputRow* find_throughput(const std::vector<ThroughputRow>& rows, std::size_t size,
                                     const std::string& mode, bool spin)
{
    for (const auto& row : rows) {
        if (row.size == size && row.mode == mode && (row.spin_us > 0) == spin && row.ok) {
            return &row;
        }
    }
    return nullptr;
}

void render_throughput(std::ostream& out, const std::vector<ThroughputRow>& rows)
{
    const int rounds = rows.empty() ? 1 : rows.front().rounds;
    out << "\n2. Cross-process throughput (GB = 1e9 bytes; CPU s/GB over the timed window"
        << (rounds > 1 ? format("; median of %d interleaved rounds, spread = (max - min) / median", rounds)
                       : std::string())
        << ")\n";
    out << format("  %-18s %-15s %10s %6s %7s %6s %7s %7s %9s %5s %6s\n", "frame", "mode", "frames/s", "spread",
                  "GB/s", "/memcpy", "wr s/GB", "rd s/GB", "waits w/r", "ring", "other");
    for (const auto& row : rows) {
        const std::string mode = row.mode == "memcpy"
                                     ? "memcpy 1 proc"
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
        const std::string waits = row.mode == "memcpy" || row.frames <= 0
                                      ? "-"
                                      : format("%.0f/%.0f%%", 100 * std::min(1.0, row.writer_waits / row.frames),
                                               100 * std::min(1.0, row.reader_waits / row.frames));
        out << format("  %-18s %-15s %10.0f %6s %7.2f %7s %7.3f %7s %9s %4zuM %5.0f%%%s\n", row.label.c_str(),
                      mode.c_str(), row.frames_per_s, spread.c_str(), row.gb_per_s,
                      row.vs_memcpy ? format("%.2fx", *row.vs_memcpy).c_str() : "-", row.writer_cpu_s_per_gb,
                      row.mode == "memcpy" ? "-" : format("%.3f", row.reader_cpu_s_per_gb).c_str(), waits.c_str(),
                      row.ring_size / kMiB, 100 * row.other_cpu, row.other_cpu > kDisturbed ? " *" : "");
        if (row.errors > 0) {
            out << format("  %-18s !! %.0f frames had a wrong size or content\n", "", row.errors);
        }
    }
}

json throughput_json(const std::vector<ThroughputRow>& rows)
{
    json list = json::array();
    for (const auto& row : rows) {
        json r{{"label", row.label},         {"size", row.size}, {"mode", row.mode}, {"spin_us", row.spin_us},
               {"ring_size", row.ring_size}, {"ok", row.ok},     {"other_cpu", row.other_cpu}};
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
        list.push_back(r);
    }
    return list;
}

} // namespace zbbench
