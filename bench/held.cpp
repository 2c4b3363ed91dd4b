// SPDX-License-Identifier: MIT
// Section 4 of zb-bench: does a paced writer (a camera) keep its rate, without waiting, while latest readers hold
// the frames they get for a long time (inference)? Ring v2 promises it whenever the holds fit in the ring.
//
// Per row: one writer process (role held-writer) writes frames at absolute deadlines into a 16 MiB ring; each
// reader is its own process (role held-reader) that acquires the newest frame, holds it, releases it, repeats.
// The parent samples inspect_ring() meanwhile, so the table shows what the readers really held at once.
#include "sections.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <zerobuffer/inspect.h>

namespace zbbench {
namespace {

using nlohmann::json;

constexpr std::size_t kHeldRing = 16 * kMiB;
/// Share of the target rate the writer must reach. A frame is lost only when the writer starts more than a whole
/// period late, so this leaves room for one or two scheduling hiccups of a loaded machine, not for a wait.
constexpr double kRateShare = 0.98;

struct HeldCase {
    std::size_t size;
    double fps;
    int readers;
    double hold_ms;
};

/// The grid (1 MB frames; 1080p I420 as well in full runs), then two rows whose holds cannot fit: a
/// 2160p I420 frame takes most of the ring, so one held frame leaves no room for the next.
std::vector<HeldCase> held_plan(bool quick)
{
    std::vector<std::size_t> sizes{kFrame1MB};
    if (!quick) {
        sizes.push_back(kFrame1080I420);
    }
    std::vector<HeldCase> plan;
    for (const auto size : sizes) {
        for (const double fps : {30.0, 60.0}) {
            for (const int readers : {1, 4}) {
                for (const double hold_ms : {0.0, 100.0, 500.0, 2000.0}) {
                    plan.push_back({size, fps, readers, hold_ms});
                }
            }
        }
    }
    plan.push_back({kFrame2160I420, 30.0, 1, 100.0});
    plan.push_back({kFrame2160I420, 30.0, 1, 500.0});
    return plan;
}

/// Long enough for each reader to get and hold a few frames (a reader's cycle is its hold plus up to one period
/// until the next frame), and for a few seconds of pacing.
double schedule_seconds(const HeldCase& c, bool quick)
{
    const double repeats = quick ? 2 : 3;
    const double min_seconds = quick ? 1.0 : 3.0;
    return std::max(min_seconds, repeats * (c.hold_ms / 1000.0 + 1.0 / c.fps));
}

std::string hold_label(double hold_ms)
{
    return hold_ms >= 1000 ? format("%.0f s", hold_ms / 1000) : format("%.0f ms", hold_ms);
}

/// Takes the largest figures of what the readers hold now (inspect_ring() never alters the ring).
void sample_holds(const std::string& ring, HeldRow& row)
{
    const auto snapshot = zerobuffer::inspect_ring(ring);
    if (!snapshot) {
        return; // not created yet, or already gone
    }
    double frames = 0;
    double bytes = 0;
    for (const auto& reader : snapshot->readers) {
        frames += reader.held_frames;
        bytes += static_cast<double>(reader.held_bytes);
        row.max_hold_age_ms = std::max(row.max_hold_age_ms, static_cast<double>(reader.oldest_hold_age_ns) * 1e-6);
    }
    row.max_held_frames = std::max(row.max_held_frames, frames);
    row.max_held_bytes = std::max(row.max_held_bytes, bytes);
}

HeldRow run_held_row(Session& session, const HeldCase& c)
{
    const auto& config = session.config();
    HeldRow row;
    row.label = size_label(c.size);
    row.size = c.size;
    row.fps = c.fps;
    row.readers = c.readers;
    row.hold_ms = c.hold_ms;
    row.seconds = schedule_seconds(c, config.quick);
    row.ring_size = kHeldRing;
    // Frames of one size sit at multiples of their extent (payload rounded up to 64, no per-frame metadata).
    row.ring_frames = kHeldRing / round_up(c.size, 64);
    row.frames_needed = static_cast<std::size_t>(c.readers) + 1;
    session.progress(format("held: %s at %.0f fps, %d latest reader%s holding %s, %.1f s%s", row.label.c_str(), c.fps,
                            c.readers, c.readers > 1 ? "s" : "", hold_label(c.hold_ms).c_str(), row.seconds,
                            row.holds_fit() ? "" : " (holds do not fit)"));
    const auto ring = session.ring_name();
    // Where the holds do not fit the writer waits for releases: up to one hold, never for its whole timeout.
    const auto timeout_ms = static_cast<std::uint64_t>(std::max(5000.0, 2 * c.hold_ms + 1000));
    std::vector<ChildSpec> specs{{"held-writer",
                                  Args{{"cpu", std::to_string(config.cpu_writer)},
                                       {"ring", ring},
                                       {"ring_size", std::to_string(kHeldRing)},
                                       {"size", std::to_string(c.size)},
                                       {"fps", format("%.3f", c.fps)},
                                       {"seconds", format("%.3f", row.seconds)},
                                       {"readers", std::to_string(c.readers)},
                                       {"timeout_ms", std::to_string(timeout_ms)}}}};
    for (int i = 0; i < c.readers; ++i) {
        specs.push_back({"held-reader",
                         Args{{"cpu", std::to_string(config.cpu_reader)},
                              {"ring", ring},
                              {"size", std::to_string(c.size)},
                              {"hold_ns", std::to_string(static_cast<std::uint64_t>(c.hold_ms * 1e6))}}});
    }
    const auto limit =
        std::chrono::seconds(static_cast<std::int64_t>(std::ceil(row.seconds + 2 * c.hold_ms / 1000)) + 60);
    const auto outcomes = session.run(specs, limit, -1, [&ring, &row] { sample_holds(ring, row); });
    row.other_cpu = session.last_other_cpu();
    row.ok = std::all_of(outcomes.begin(), outcomes.end(), [](const ChildOutcome& o) { return o.ok; });
    row.failure = first_failure(outcomes);
    if (!row.ok) {
        return row;
    }
    const auto& w = outcomes[0].values;
    row.frames_written = w.at("frames");
    row.seconds = w.at("seconds");
    row.writer_fps = row.seconds > 0 ? row.frames_written / row.seconds : 0;
    row.late_frames = w.at("late_frames");
    row.max_late_ms = w.at("max_late_ms");
    row.waits = w.at("waits");
    row.wait_ms = w.at("wait_ns") * 1e-6;
    row.timeouts = w.at("timeouts");
    row.frames_passed = w.at("frames_passed");
    row.rewinds = w.at("rewinds");
    for (std::size_t i = 1; i < outcomes.size(); ++i) {
        const auto& r = outcomes[i].values;
        row.reader_frames.push_back(r.at("frames"));
        row.reader_errors += r.at("errors");
        row.frames_skipped += r.at("frames_skipped");
        row.max_frame_age_ms = std::max(row.max_frame_age_ms, r.at("max_age_ms"));
    }
    if (row.reader_errors > 0) {
        session.progress(format("  %.0f frames had a wrong size or changed while held", row.reader_errors));
    }
    return row;
}

std::string frames_per_reader(const HeldRow& row)
{
    if (row.reader_frames.empty()) {
        return "-";
    }
    const auto [low, high] = std::minmax_element(row.reader_frames.begin(), row.reader_frames.end());
    return *low == *high ? format("%.0f", *low) : format("%.0f-%.0f", *low, *high);
}

/// For a row whose holds do not fit: what the guarantee does not cover, and the ring that would fit them.
std::string misfit_note(const HeldRow& row)
{
    const auto fit_bytes = static_cast<double>(row.frames_needed * round_up(row.size, 64));
    const double fit_mib = std::ceil(fit_bytes / static_cast<double>(kMiB));
    return format("holds need room for %zu frames (%d reader%s x 1 held + 1 being written), the ring has room for "
                  "%zu: the guarantee does not apply and the writer waits for releases (%.0f waits, %.0f ms), "
                  "%.1f fps of the %.0f it is paced at; a ring of %.0f MiB would fit them",
                  row.frames_needed, row.readers, row.readers > 1 ? "s" : "", row.ring_frames, row.waits, row.wait_ms,
                  row.writer_fps, row.fps, fit_mib);
}

/// Text broken at spaces into lines of at most `width` characters, each after `indent`.
std::string wrapped(const std::string& text, const std::string& indent, std::size_t width)
{
    std::string out;
    std::string line;
    std::istringstream words(text);
    for (std::string word; words >> word;) {
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += indent + line + "\n";
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
    }
    return line.empty() ? out : out + indent + line + "\n";
}

} // namespace

bool HeldRow::pass() const noexcept
{
    const bool every_reader_got_frames = !reader_frames.empty() && std::all_of(reader_frames.begin(),
                                                                               reader_frames.end(),
                                                                               [](double f) { return f > 0; });
    return ok && holds_fit() && waits == 0 && timeouts == 0 && reader_errors == 0 && every_reader_got_frames &&
           writer_fps >= kRateShare * fps;
}

std::vector<HeldRow> run_held(Session& session)
{
    std::vector<HeldRow> rows;
    for (const auto& c : held_plan(session.config().quick)) {
        if (session.stopped()) {
            break;
        }
        rows.push_back(run_held_row(session, c));
    }
    return rows;
}

void render_held(std::ostream& out, const std::vector<HeldRow>& rows)
{
    out << "\n4. Held frames: a writer paced at absolute deadlines (a camera) copies frames into a 16 MiB ring "
           "(1 MB = 1e6 bytes);\n"
           "   each latest reader, its own process, acquires the newest frame, holds it, releases it, repeats.\n"
           "   room: frames the holds need (readers x 1 + 1) / frames of that size the ring has room for. late: "
           "frames lost\n"
           "   because the writer started a whole period late (it then takes the newest). age: oldest frame a reader "
           "got, ms\n"
           "   after its commit. held: most frames held at once and the longest hold seen, ms (inspect_ring every\n"
           "   100 ms).\n"
           "   Target, where the holds fit: the writer's rate (>= "
        << format("%.0f", 100 * kRateShare) << " %) with zero waits.\n";
    out << format("  %-18s %3s %2s %6s %5s %5s %6s %4s %5s %7s %7s %-10s %6s %4s %5s %5s  %s\n", "frame", "fps", "rd",
                  "hold", "room", "s", "wr fps", "late", "waits", "waits/s", "wait ms", "got/reader", "age", "held",
                  "ms", "other", "target");
    for (const auto& row : rows) {
        const std::string room = format("%zu/%zu", row.frames_needed, row.ring_frames);
        if (!row.ok) {
            out << format("  %-18s %3.0f %2d %6s %5s FAILED: %s\n", row.label.c_str(), row.fps, row.readers,
                          hold_label(row.hold_ms).c_str(), room.c_str(), row.failure.c_str());
            continue;
        }
        const std::string verdict = !row.holds_fit() ? "no fit" : row.pass() ? "PASS" : "MISS";
        out << format("  %-18s %3.0f %2d %6s %5s %5.1f %6.2f %4.0f %5.0f %7.2f %7.1f %-10s %6.1f %4.0f %5.0f %4.0f%%%s "
                      "%s\n",
                      row.label.c_str(), row.fps, row.readers, hold_label(row.hold_ms).c_str(), room.c_str(),
                      row.seconds, row.writer_fps, row.late_frames, row.waits, row.waits_per_s(), row.wait_ms,
                      frames_per_reader(row).c_str(), row.max_frame_age_ms, row.max_held_frames,
                      row.max_hold_age_ms, 100 * row.other_cpu, row.other_cpu > kDisturbed ? "*" : " ",
                      verdict.c_str());
        if (row.reader_errors > 0) {
            out << format("  %-18s !! %.0f frames had a wrong size or changed while held\n", "", row.reader_errors);
        }
        if (!row.holds_fit()) {
            out << wrapped("-> " + misfit_note(row), "     ", 110);
        }
    }
}

json held_json(const std::vector<HeldRow>& rows)
{
    json list = json::array();
    for (const auto& row : rows) {
        json r{{"label", row.label},
               {"size", row.size},
               {"target_fps", row.fps},
               {"readers", row.readers},
               {"hold_ms", row.hold_ms},
               {"ring_size", row.ring_size},
               {"ring_frames", row.ring_frames},
               {"frames_needed", row.frames_needed},
               {"holds_fit", row.holds_fit()},
               {"ok", row.ok},
               {"other_cpu", row.other_cpu}};
        if (!row.ok) {
            r["failure"] = row.failure;
        } else {
            r.update({{"seconds", row.seconds},
                      {"frames_written", row.frames_written},
                      {"writer_fps", row.writer_fps},
                      {"late_frames", row.late_frames},
                      {"max_late_ms", row.max_late_ms},
                      {"writer_waits", row.waits},
                      {"waits_per_s", row.waits_per_s()},
                      {"writer_wait_ms", row.wait_ms},
                      {"writer_timeouts", row.timeouts},
                      {"frames_passed", row.frames_passed},
                      {"rewinds", row.rewinds},
                      {"reader_frames", row.reader_frames},
                      {"frames_skipped", row.frames_skipped},
                      {"reader_errors", row.reader_errors},
                      {"max_frame_age_ms", row.max_frame_age_ms},
                      {"max_held_frames", row.max_held_frames},
                      {"max_held_bytes", row.max_held_bytes},
                      {"max_hold_age_ms", row.max_hold_age_ms}});
            if (row.holds_fit()) {
                r["pass"] = row.pass();
            } else {
                r["note"] = misfit_note(row);
            }
        }
        list.push_back(r);
    }
    return list;
}

} // namespace zbbench
