// SPDX-License-Identifier: MIT
// Section 1 of zb-bench: cross-process round trips through two rings, next to bare futex and spin ping-pongs.
#include "sections.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

namespace zbbench {
namespace {

using nlohmann::json;

void fill_latency(LatencyRow& row, const ChildOutcome& ping)
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

/// Records a ping-pong row: ok only if both children were; figures come from the ping side.
LatencyRow finish_latency_row(Session& session, LatencyRow row, const std::vector<ChildOutcome>& outcomes)
{
    row.ok = outcomes[0].ok && outcomes[1].ok;
    row.failure = first_failure(outcomes);
    if (row.ok) {
        fill_latency(row, outcomes[0]);
    }
    row.other_cpu = session.last_other_cpu();
    return row;
}

LatencyRow run_bare(Session& session, const std::string& mode, std::uint64_t count, std::uint64_t warmup)
{
    const auto& config = session.config();
    LatencyRow row;
    row.kind = "bare-" + mode;
    row.label = mode == "futex" ? "bare futex ping-pong" : "bare spin ping-pong";
    session.progress("latency: " + row.label + ", " + std::to_string(count) + " round trips");
    // The page is a memfd handed to both children as fd 3: shared memory without a name in /dev/shm.
    const int fd = memfd_create("zb-bench-pingpong", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 4096) != 0) {
        throw BenchFailure(std::string("memfd_create: ") + std::strerror(errno));
    }
    const Args args{{"mode", mode}, {"count", std::to_string(count)}, {"warmup", std::to_string(warmup)}};
    auto ping = args;
    ping["cpu"] = std::to_string(config.cpu_writer);
    auto pong = args;
    pong["cpu"] = std::to_string(config.cpu_reader);
    const auto outcomes = session.run({{"bare-ping", ping}, {"bare-pong", pong}}, std::chrono::seconds(300), fd);
    ::close(fd);
    return finish_latency_row(session, row, outcomes);
}

LatencyRow run_ring_latency(Session& session, std::size_t size, double spin_us, std::uint64_t count,
                            std::uint64_t min_warmup)
{
    const auto& config = session.config();
    LatencyRow row;
    row.kind = "ring";
    row.size = size;
    row.spin_us = spin_us;
    row.label = "ring " + size_label(size) + (spin_us > 0 ? format(", spin %.0f us", spin_us) : ", sleeping");
    // A small ring that the warm-up laps twice: the timed part sees faulted-in, steady-state memory.
    row.ring_size = std::max(kMiB, round_up(8 * (size + 4096), kMiB));
    const std::uint64_t warmup = std::max<std::uint64_t>(min_warmup, 2 * row.ring_size / (size + 192) + 1);
    session.progress("latency: " + row.label + ", " + std::to_string(count) + " round trips");
    const auto ring1 = session.ring_name();
    const auto ring2 = session.ring_name();
    const Args common{{"size", std::to_string(size)},
                      {"count", std::to_string(count)},
                      {"warmup", std::to_string(warmup)},
                      {"spin_ns", std::to_string(static_cast<std::uint64_t>(spin_us * 1000))},
                      {"ring_size", std::to_string(row.ring_size)}};
    auto ping = common;
    ping["cpu"] = std::to_string(config.cpu_writer);
    ping["out"] = ring1;
    ping["in"] = ring2;
    auto pong = common;
    pong["cpu"] = std::to_string(config.cpu_reader);
    pong["out"] = ring2;
    pong["in"] = ring1;
    const auto outcomes = session.run({{"lat-ping", ping}, {"lat-pong", pong}}, std::chrono::seconds(600));
    return finish_latency_row(session, row, outcomes);
}

} // namespace

std::vector<LatencyRow> run_latency(Session& session)
{
    const bool quick = session.config().quick;
    const std::uint64_t count = quick ? 20'000 : 100'000;
    const std::uint64_t count_large = quick ? 2'000 : 10'000;
    const std::uint64_t warmup = quick ? 1'000 : 5'000;
    std::vector<LatencyRow> rows;
    rows.push_back(run_bare(session, "futex", count, warmup));
    rows.push_back(run_bare(session, "spin", count, warmup));
    for (const double spin_us : {0.0, kSpinUs}) {
        for (const std::size_t size : {std::size_t{64}, kKiB, kMiB}) {
            if (session.stopped()) {
                return rows;
            }
            rows.push_back(run_ring_latency(session, size, spin_us, size >= kMiB ? count_large : count,
                                            size >= kMiB ? 100 : warmup));
        }
    }
    return rows;
}

const LatencyRow* find_latency(const std::vector<LatencyRow>& rows, const std::string& kind, std::size_t size,
                               bool spin)
{
    for (const auto& row : rows) {
        if (row.kind == kind && row.size == size && (row.spin_us > 0) == spin && row.ok) {
            return &row;
        }
    }
    return nullptr;
}

void render_latency(std::ostream& out, const std::vector<LatencyRow>& rows)
{
    const auto* futex = find_latency(rows, "bare-futex", 0, false);
    const auto* spin = find_latency(rows, "bare-spin", 0, false);
    out << "\n1. Cross-process round trip (us): A writes ring 1, B acquires and writes it back into ring 2, A "
           "acquires\n";
    out << format("  %-24s %7s %8s %8s %8s %8s | %-15s | %-15s | %5s\n", "", "trips", "p50", "p99", "p99.9", "max",
                  "/futex p50 p99", "/spin p50 p99", "other");
    for (const auto& row : rows) {
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

json latency_json(const std::vector<LatencyRow>& rows)
{
    const auto* futex = find_latency(rows, "bare-futex", 0, false);
    const auto* spin = find_latency(rows, "bare-spin", 0, false);
    json list = json::array();
    for (const auto& row : rows) {
        json r{{"label", row.label},         {"kind", row.kind}, {"size", row.size}, {"spin_us", row.spin_us},
               {"ring_size", row.ring_size}, {"ok", row.ok},     {"other_cpu", row.other_cpu}};
        if (!row.ok) {
            r["failure"] = row.failure;
        } else {
            r.update({{"round_trips", row.count}, {"p50_us", row.p50_us}, {"p99_us", row.p99_us},
                      {"p999_us", row.p999_us},   {"min_us", row.min_us}, {"mean_us", row.mean_us},
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
        list.push_back(r);
    }
    return list;
}

} // namespace zbbench
