// SPDX-License-Identifier: MIT
// zbctl doctor: reads every ring and says in words what is wrong with it and what to do, from one snapshot.
#include <algorithm>
#include <cstdio>

#include <zerobuffer/stream_format.h>

#include "metrics.h"
#include "zbctl.h"

namespace zbctl {

using nlohmann::json;
using zerobuffer::ReaderSnapshot;
using zerobuffer::RingSnapshot;

namespace {

// Thresholds of the diagnosis (docs/zbctl.md). Generous on purpose: doctor reports trouble, not tuning.
constexpr std::int64_t kBlockedWriterNs = 1'000'000'000; // A writer waiting this long is blocked, not busy.
constexpr std::int64_t kLongHoldNs = 2'000'000'000;      // Frames held this long pin ring memory.
constexpr std::uint64_t kSkipSampleFrames = 20;          // Frames a latest reader must have seen to judge it.
constexpr double kMostlySkipped = 0.5;                   // Share of skipped frames that means "most".
constexpr std::uint64_t kFramesThatShouldFit = 4;        // Fewer average frames in the ring: too small.

enum class Severity { Warning, Problem };

struct Finding {
    Severity severity = Severity::Problem;
    std::string code;    // Stable name for scripts: "writer-blocked", "stale-ring", ...
    std::string message; // What is wrong, with the numbers.
    std::string advice;  // What to do.
    std::optional<std::uint32_t> slot;
    std::optional<std::int32_t> pid;
};

double secs(std::int64_t ns)
{
    return static_cast<double>(ns) / 1e9;
}

std::string reader_name(const ReaderSnapshot& r)
{
    return strprintf("%.*s reader in slot %u (pid %d)", static_cast<int>(policy_name(r.policy).size()),
                     policy_name(r.policy).data(), r.slot, r.pid);
}

void check_writer(const RingSnapshot& ring, std::vector<Finding>& out)
{
    if (!ring.writer_alive && !ring.writer_closed) {
        out.push_back({Severity::Problem, "writer-dead",
                       strprintf("the writer (pid %d, %s) died without closing the ring; %u reader(s) still attached",
                                 ring.writer_pid, ring.writer_command.c_str(), live_readers(ring)),
                       "restart the writer (readers get WriterGone and must attach again); once every reader has "
                       "detached, 'zbctl gc " + ring.name + "' removes the ring",
                       std::nullopt, ring.writer_pid});
    }
    if (!ring.writer_waiting || ring.waiting_for_ns < kBlockedWriterNs) {
        return;
    }
    // Who it waits for: the lossless reader furthest behind, else the reader holding the most memory.
    const ReaderSnapshot* culprit = nullptr;
    for (const auto& r : ring.readers) {
        if (r.policy == zerobuffer::ReaderPolicy::Lossless && (!culprit || r.lag_frames > culprit->lag_frames)) {
            culprit = &r;
        }
    }
    if (culprit == nullptr) {
        for (const auto& r : ring.readers) {
            if (!culprit || r.held_bytes > culprit->held_bytes) {
                culprit = &r;
            }
        }
    }
    std::string message = strprintf("the writer (pid %d) has been blocked for %.1f s waiting for %s",
                                    ring.writer_pid, secs(ring.waiting_for_ns), ring.wait_reason.c_str());
    std::string advice;
    if (culprit != nullptr) {
        message += strprintf(" on the %s, which lags %llu frames and holds %u", reader_name(*culprit).c_str(),
                             static_cast<unsigned long long>(culprit->lag_frames), culprit->held_frames);
        advice = strprintf("look at pid %d: it reads too slowly or has stopped reading%s; the writer fails its "
                           "write after its reader timeout. Make that reader faster, attach it with policy "
                           "'latest' if it may miss frames, or give the ring more memory",
                           culprit->pid, culprit->alive ? "" : " (it is dead and not reclaimed yet)");
    } else {
        advice = "no reader is attached: this should not last; report it with 'zbctl inspect " + ring.name + " --json'";
    }
    out.push_back({Severity::Problem, "writer-blocked", message, advice,
                   culprit ? std::optional(culprit->slot) : std::nullopt,
                   culprit ? std::optional(culprit->pid) : std::optional(ring.writer_pid)});
}

void check_reader(const RingSnapshot& ring, const ReaderSnapshot& r, std::vector<Finding>& out)
{
    if (!r.alive) {
        out.push_back({Severity::Warning, "dead-reader",
                       strprintf("the %s died and its slot is not reclaimed yet; it still holds %u frame(s) "
                                 "(%s) and lags %llu frames",
                                 reader_name(r).c_str(), r.held_frames, format_bytes(r.held_bytes).c_str(),
                                 static_cast<unsigned long long>(r.lag_frames)),
                       ring.writer_alive ? "nothing, usually: the writer takes the slot back, with its frames, "
                                           "the next time it needs room; restart the reader if it should be there"
                                         : "the writer is gone too: 'zbctl gc " + ring.name +
                                               "' removes the ring once no process holds it",
                       r.slot, r.pid});
        return;
    }
    if (r.oldest_hold_age_ns >= kLongHoldNs) {
        out.push_back({Severity::Warning, "long-hold",
                       strprintf("the %s has held %u frame(s) (%s of ring memory) for %.1f s", reader_name(r).c_str(),
                                 r.held_frames, format_bytes(r.held_bytes).c_str(), secs(r.oldest_hold_age_ns)),
                       "release frames when done with them (let the Frame go out of scope or call release()): the "
                       "writer must place new frames around held ones; if it holds them on purpose (a paused "
                       "pipeline), give the ring room for them",
                       r.slot, r.pid});
    }
    const std::uint64_t seen = r.counters.frames_read + r.counters.frames_skipped;
    if (r.policy == zerobuffer::ReaderPolicy::Latest && seen >= kSkipSampleFrames &&
        static_cast<double>(r.counters.frames_skipped) > kMostlySkipped * static_cast<double>(seen)) {
        out.push_back({Severity::Warning, "latest-skipping",
                       strprintf("the %s skipped %.0f%% of the frames (%llu of %llu): it is slower than the writer",
                                 reader_name(r).c_str(),
                                 100.0 * static_cast<double>(r.counters.frames_skipped) / static_cast<double>(seen),
                                 static_cast<unsigned long long>(r.counters.frames_skipped),
                                 static_cast<unsigned long long>(seen)),
                       "fine if it only needs the newest frame (a preview); otherwise make it faster, or attach it "
                       "lossless (the writer then waits for it) or with max_lag_frames",
                       r.slot, r.pid});
    }
    if (r.counters.checksum_failures > 0) {
        out.push_back({Severity::Problem, "checksum-failures",
                       strprintf("the %s saw %llu frame(s) fail their checksum or MAC", reader_name(r).c_str(),
                                 static_cast<unsigned long long>(r.counters.checksum_failures)),
                       "a process other than the writer wrote into the ring, or the reader has the wrong secret: "
                       "see docs/security.md",
                       r.slot, r.pid});
    }
}

void check_size(const RingSnapshot& ring, std::vector<Finding>& out)
{
    if (ring.writer.frames_written == 0) {
        return;
    }
    const std::uint64_t average = ring.writer.bytes_written / ring.writer.frames_written;
    if (average > 0 && ring.payload_capacity < kFramesThatShouldFit * average) {
        out.push_back({Severity::Problem, "ring-too-small",
                       strprintf("frames average %s but the ring has %s of frame memory: only %llu fit, so a reader "
                                 "holding one frame or a short stall blocks the writer",
                                 format_bytes(average).c_str(), format_bytes(ring.payload_capacity).c_str(),
                                 static_cast<unsigned long long>(ring.payload_capacity / average)),
                       strprintf("create the ring with at least %s (8 frames; ring_size, or the sink's ring-size "
                                 "property)",
                                 format_bytes(8 * average).c_str()),
                       std::nullopt, ring.writer_pid});
    }
}

void check_metadata(const RingSnapshot& ring, std::vector<Finding>& out)
{
    if (ring.stream_metadata.empty()) {
        out.push_back({Severity::Warning, "no-metadata",
                       "the writer set no stream metadata: readers, zbctl and the GStreamer and FFmpeg tools cannot "
                       "tell what the frames are",
                       "have the writer call set_stream_metadata() before its first frame (docs/stream-format.md)",
                       std::nullopt, ring.writer_pid});
    } else if (!zerobuffer::parse_stream_format(ring.stream_metadata)) {
        out.push_back({Severity::Warning, "bad-metadata",
                       "the stream metadata is not a zerobuffer.stream-format/1 document",
                       "fix the writer's metadata (docs/stream-format.md); 'zbctl inspect " + ring.name +
                           "' shows it",
                       std::nullopt, ring.writer_pid});
    }
}

std::vector<Finding> diagnose(const RingSnapshot& ring)
{
    std::vector<Finding> out;
    if (!has_live_process(ring)) {
        out.push_back({Severity::Problem, "stale-ring",
                       strprintf("no live process holds the ring (writer %s, %zu dead reader(s)); it only takes "
                                 "up %s of shared memory",
                                 writer_status(ring).c_str(), ring.readers.size(), format_bytes(ring.segment_size).c_str()),
                       "'zbctl gc " + ring.name + "' removes it",
                       std::nullopt, ring.writer_pid});
        return out; // Nothing else about a ring nobody uses matters.
    }
    check_writer(ring, out);
    for (const auto& r : ring.readers) {
        check_reader(ring, r, out);
    }
    check_size(ring, out);
    check_metadata(ring, out);
    return out;
}

std::string_view severity_name(Severity severity)
{
    return severity == Severity::Problem ? "problem" : "warning";
}

json finding_json(const Finding& f)
{
    json j{{"severity", severity_name(f.severity)}, {"code", f.code}, {"message", f.message}, {"advice", f.advice}};
    j["slot"] = f.slot ? json(*f.slot) : json(nullptr);
    j["pid"] = f.pid ? json(*f.pid) : json(nullptr);
    return j;
}

} // namespace

int run_doctor(const Options& options)
{
    auto scrape = take_scrape(options.names);
    if (!scrape) {
        const auto code = zerobuffer::to_string(scrape.error().code);
        std::fprintf(stderr, "zbctl: cannot list rings: %.*s: %s\n", static_cast<int>(code.size()), code.data(),
                     scrape.error().message.c_str());
        return kExitFailure;
    }
    std::size_t problems = scrape->missing.size() + scrape->unreadable.size();
    std::size_t warnings = 0;
    json rings = json::array();
    for (const auto& name : scrape->missing) {
        report_inspect_error(name, zerobuffer::Error{zerobuffer::Errc::NotFound, {}});
        rings.push_back(json{{"name", name}, {"state", "missing"}, {"findings", json::array()}});
    }
    for (const auto& bad : scrape->unreadable) {
        const auto code = zerobuffer::to_string(bad.error.code);
        const std::string message = "cannot read the segment: " + std::string(code) + ": " + bad.error.message;
        const std::string advice = "if no process uses it, 'zbctl gc " + bad.name +
                                   "' removes it; a ring of another user needs that user (or root)";
        if (options.json) {
            rings.push_back(json{{"name", bad.name},
                                 {"state", "unreadable"},
                                 {"findings", json::array({json{{"severity", "problem"},
                                                                {"code", "unreadable"},
                                                                {"message", message},
                                                                {"advice", advice},
                                                                {"slot", nullptr},
                                                                {"pid", nullptr}}})}});
        } else {
            std::printf("%s: problem (unreadable): %s\n    what to do: %s\n", bad.name.c_str(), message.c_str(),
                        advice.c_str());
        }
    }
    for (const auto& sample : scrape->rings) {
        const auto findings = diagnose(sample.ring);
        json list = json::array();
        for (const auto& f : findings) {
            (f.severity == Severity::Problem ? problems : warnings) += 1;
            list.push_back(finding_json(f));
            if (!options.json) {
                std::printf("%s: %.*s (%s): %s\n    what to do: %s\n", sample.ring.name.c_str(),
                            static_cast<int>(severity_name(f.severity).size()), severity_name(f.severity).data(),
                            f.code.c_str(), f.message.c_str(), f.advice.c_str());
            }
        }
        if (findings.empty() && !options.json) {
            std::printf("%s: ok (%.*s, %u reader(s), %llu frames)\n", sample.ring.name.c_str(),
                        static_cast<int>(ring_state(sample.ring).size()), ring_state(sample.ring).data(),
                        live_readers(sample.ring), static_cast<unsigned long long>(sample.ring.writer.frames_written));
        }
        rings.push_back(json{{"name", sample.ring.name}, {"state", ring_state(sample.ring)}, {"findings", list}});
    }
    const std::size_t checked = scrape->rings.size() + scrape->unreadable.size();
    if (options.json) {
        std::printf("%s\n", json{{"healthy", problems == 0 && warnings == 0},
                                 {"problems", problems},
                                 {"warnings", warnings},
                                 {"rings", std::move(rings)}}
                                .dump(2)
                                .c_str());
    } else if (checked == 0 && scrape->missing.empty()) {
        std::printf("no rings on this machine\n");
    } else {
        std::printf("%zu ring(s) checked: %zu problem(s), %zu warning(s)\n", checked, problems, warnings);
    }
    if (problems > 0) {
        return kExitFailure;
    }
    return warnings > 0 ? kExitWarnings : kExitOk;
}

} // namespace zbctl
