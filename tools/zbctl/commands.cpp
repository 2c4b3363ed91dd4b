// SPDX-License-Identifier: MIT
// The list, inspect and gc commands of zbctl. Everything here only reads rings, except gc on stale ones.
#include "zbctl.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace zbctl {

using nlohmann::json;
using zerobuffer::RingSnapshot;

namespace {

// A plain text table: columns padded to their widest cell, the last one not padded.
class Table {
public:
    explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

    void print(std::FILE* out, std::string_view indent = "") const
    {
        std::vector<std::size_t> widths;
        for (const auto& row : rows_) {
            widths.resize(std::max(widths.size(), row.size()), 0);
            for (std::size_t i = 0; i < row.size(); ++i) {
                widths[i] = std::max(widths[i], row[i].size());
            }
        }
        for (const auto& row : rows_) {
            std::string line(indent);
            for (std::size_t i = 0; i < row.size(); ++i) {
                line += row[i];
                if (i + 1 < row.size()) {
                    line.append(widths[i] - row[i].size() + 2, ' ');
                }
            }
            std::fprintf(out, "%s\n", line.c_str());
        }
    }

private:
    std::vector<std::vector<std::string>> rows_;
};

std::string u64(std::uint64_t value)
{
    return std::to_string(value);
}

std::string readers_cell(const RingSnapshot& ring)
{
    const std::uint32_t alive = live_readers(ring);
    std::string text = strprintf("%u/%u", alive, ring.max_readers);
    const auto dead = ring.readers.size() - alive;
    if (dead > 0) {
        text += strprintf(" (+%zu dead)", dead);
    }
    return text;
}

// Why a ring counts as garbage, for gc messages.
std::string stale_reason(const RingSnapshot& ring)
{
    const std::size_t readers = ring.readers.size();
    return strprintf("writer %s, %s", writer_status(ring).c_str(),
                     readers == 0 ? "no readers" : strprintf("%zu dead reader(s)", readers).c_str());
}

// Names of the rings, printing (not failing on) the error if /dev/shm cannot be read.
std::optional<std::vector<std::string>> ring_names()
{
    auto names = zerobuffer::list_rings();
    if (!names) {
        const auto code = zerobuffer::to_string(names.error().code);
        std::fprintf(stderr, "zbctl: cannot list rings: %.*s: %s\n", static_cast<int>(code.size()), code.data(),
                     names.error().message.c_str());
        return std::nullopt;
    }
    std::sort(names->begin(), names->end());
    return std::move(*names);
}

} // namespace

int run_list(const Options& options)
{
    auto names = ring_names();
    if (!names) {
        return kExitFailure;
    }
    json rings = json::array();
    Table table({"NAME", "STATE", "WRITER", "COMMAND", "READERS", "FRAMES", "SIZE", "FORMAT"});
    for (const auto& name : *names) {
        auto ring = zerobuffer::inspect_ring(name);
        if (!ring) {
            if (ring.error().code == zerobuffer::Errc::NotFound) {
                continue; // Removed between listing and inspecting: it is simply gone.
            }
            const auto code = zerobuffer::to_string(ring.error().code);
            if (options.json) {
                rings.push_back(json{{"name", name}, {"state", "unreadable"}, {"error", error_json(ring.error())}});
            } else {
                table.add({name, "unreadable", "-", "-", "-", "-", "-", std::string(code)});
                std::fprintf(stderr, "zbctl: %s: %.*s: %s\n", name.c_str(), static_cast<int>(code.size()),
                             code.data(), ring.error().message.c_str());
            }
            continue;
        }
        if (options.json) {
            rings.push_back(ring_summary_json(*ring));
        } else {
            table.add({ring->name, std::string(ring_state(*ring)), writer_status(*ring),
                       ring->writer_command.empty() ? "-" : ring->writer_command, readers_cell(*ring),
                       u64(ring->writer.frames_written), format_bytes(ring->segment_size),
                       stream_summary(ring->stream_metadata)});
        }
    }
    if (options.json) {
        std::printf("%s\n", json{{"rings", std::move(rings)}}.dump(2).c_str());
    } else if (names->empty()) {
        std::printf("no rings on this machine\n");
    } else {
        table.print(stdout);
    }
    return kExitOk;
}

namespace {

// How the readers wait: the cadence wait's learnt interval and window, and the CPU its polling cost.
void print_reader_waiting(const zerobuffer::RingSnapshot& ring)
{
    std::printf("\nReader waits (cadence: sleep until shortly before a periodic frame is due, then poll)\n");
    Table table({"SLOT", "INTERVAL", "WINDOW", "CADENCE_HITS", "CADENCE_MISSES", "POLLED", "WAITED"});
    for (const auto& r : ring.readers) {
        const auto& c = r.counters;
        const auto ms = [](double ns) { return strprintf("%.3fms", ns / 1e6); };
        table.add({u64(r.slot),
                   r.cadence_interval_ns > 0 ? ms(static_cast<double>(r.cadence_interval_ns)) : std::string("-"),
                   r.cadence_interval_ns > 0 ? strprintf("%.0fus", static_cast<double>(r.cadence_window_ns) / 1e3)
                                             : std::string("-"),
                   u64(c.cadence_hits), u64(c.cadence_misses), ms(static_cast<double>(c.spin_ns)),
                   ms(static_cast<double>(c.wait_ns))});
    }
    table.print(stdout, "  ");
}

void print_inspect(const RingSnapshot& ring)
{
    std::printf("Ring %s\n", ring.name.c_str());
    std::printf("  shm object      %s\n", ring.shm_path.c_str());
    std::printf("  state           %.*s\n", static_cast<int>(ring_state(ring).size()), ring_state(ring).data());
    std::printf("  created         %s (%s)\n", format_local_time(ring.created_realtime_ns).c_str(),
                format_age(ring.created_realtime_ns).c_str());
    std::printf("  protocol        %u\n", ring.protocol_version);
    std::printf("  integrity       %.*s\n", static_cast<int>(integrity_name(ring.integrity).size()),
                integrity_name(ring.integrity).data());

    std::printf("\nLayout\n");
    std::printf("  segment size    %llu bytes (%s)\n", static_cast<unsigned long long>(ring.segment_size),
                format_bytes(ring.segment_size).c_str());
    std::printf("  reader slots    offset %llu, max_readers %u\n",
                static_cast<unsigned long long>(ring.readers_offset), ring.max_readers);
    std::printf("  metadata        offset %llu, capacity %llu bytes (%s)\n",
                static_cast<unsigned long long>(ring.metadata_offset),
                static_cast<unsigned long long>(ring.metadata_capacity), format_bytes(ring.metadata_capacity).c_str());
    std::printf("  descriptors     offset %llu, %u frame slots; %u holds per reader\n",
                static_cast<unsigned long long>(ring.descriptors_offset), ring.frame_slots, ring.holds_per_reader);
    std::printf("  frame memory    offset %llu, capacity %llu bytes (%s), in use %s in %llu frames\n",
                static_cast<unsigned long long>(ring.payload_offset),
                static_cast<unsigned long long>(ring.payload_capacity), format_bytes(ring.payload_capacity).c_str(),
                format_bytes(ring.bytes_in_use).c_str(), static_cast<unsigned long long>(ring.frames_in_use));

    const auto& w = ring.writer;
    std::printf("\nWriter\n");
    std::printf("  pid             %d (%s), %.*s\n", ring.writer_pid,
                ring.writer_command.empty() ? "?" : ring.writer_command.c_str(),
                static_cast<int>(writer_status_word(ring).size()), writer_status_word(ring).data());
    std::printf("  committed       %llu frames (next sequence), reclaim floor %llu\n",
                static_cast<unsigned long long>(ring.next_sequence), static_cast<unsigned long long>(ring.reclaim_floor));
    if (ring.since_last_frame_ns >= 0)
        std::printf("  last frame      %.3f s ago\n", static_cast<double>(ring.since_last_frame_ns) / 1e9);
    if (ring.writer_waiting)
        std::printf("  WAITING         for %s, %.3f s so far\n", ring.wait_reason.c_str(),
                    static_cast<double>(ring.waiting_for_ns) / 1e9);
    const std::pair<const char*, std::uint64_t> counters[] = {
        {"frames_written", w.frames_written},   {"bytes_written", w.bytes_written},
        {"frames_in_place", w.frames_in_place}, {"frames_copied", w.frames_copied},
        {"frames_aborted", w.frames_aborted},   {"waits", w.waits},
        {"timeouts", w.timeouts},               {"wraps", w.wraps},
        {"readers_reclaimed", w.readers_reclaimed}, {"format_changes", w.format_changes},
        {"frames_retained", w.frames_retained}, {"reclaim_scans", w.reclaim_scans},
        {"frames_passed", w.frames_passed},     {"rewinds", w.rewinds},
    };
    for (const auto& [key, value] : counters) {
        std::printf("  %-17s %llu\n", key, static_cast<unsigned long long>(value));
    }

    std::printf("\nStream metadata (generation %u)\n", ring.format_generation);
    if (ring.stream_metadata.empty()) {
        std::printf("  (none: the writer did not set any)\n");
    } else {
        std::printf("  %s\n", stream_summary(ring.stream_metadata).c_str());
        const json parsed = json::parse(ring.stream_metadata, nullptr, false);
        const std::string body = parsed.is_discarded() ? ring.stream_metadata : parsed.dump(2);
        std::string indented = "  ";
        for (const char c : body) {
            indented += c;
            if (c == '\n') {
                indented += "  ";
            }
        }
        std::printf("%s\n", indented.c_str());
    }

    std::printf("\nReaders (%u alive, %zu attached, %u slots)\n", live_readers(ring), ring.readers.size(),
                ring.max_readers);
    if (ring.readers.empty()) {
        std::printf("  (none attached)\n");
        return;
    }
    Table table({"SLOT", "PID", "ALIVE", "POLICY", "LAG_FRAMES", "LAG_BYTES", "HELD", "HELD_BYTES", "OLDEST_HOLD",
                 "FRAMES_READ", "BYTES_READ", "SKIPPED", "OVERRUNS", "GAPS", "WAITS", "TIMEOUTS", "CHECKSUM_FAILURES"});
    for (const auto& r : ring.readers) {
        const auto& c = r.counters;
        const std::string oldest = r.oldest_hold_age_ns < 0
                                       ? std::string("-")
                                       : strprintf("%.3fs", static_cast<double>(r.oldest_hold_age_ns) / 1e9);
        table.add({u64(r.slot), std::to_string(r.pid), r.alive ? "yes" : "no", std::string(policy_name(r.policy)),
                   u64(r.lag_frames), u64(r.lag_bytes), u64(r.held_frames), u64(r.held_bytes), oldest,
                   u64(c.frames_read), u64(c.bytes_read), u64(c.frames_skipped), u64(c.overruns), u64(c.sequence_gaps),
                   u64(c.waits), u64(c.timeouts), u64(c.checksum_failures)});
    }
    table.print(stdout, "  ");
    print_reader_waiting(ring);
}

} // namespace

int run_inspect(const Options& options)
{
    const std::string& name = options.names.at(0);
    auto ring = zerobuffer::inspect_ring(name);
    if (!ring) {
        return report_inspect_error(name, ring.error());
    }
    if (options.json) {
        std::printf("%s\n", ring_json(*ring).dump(2).c_str());
    } else {
        print_inspect(*ring);
    }
    return kExitOk;
}

namespace {

// gc NAME...: removes exactly the named rings if they are stale (remove_stale_ring).
int gc_named(const Options& options)
{
    int status = kExitOk;
    for (const auto& name : options.names) {
        auto ring = zerobuffer::inspect_ring(name);
        if (!ring && ring.error().code == zerobuffer::Errc::NotFound) {
            status = report_inspect_error(name, ring.error());
            continue;
        }
        if (ring && has_live_process(*ring)) {
            std::fprintf(stderr, "zbctl: ring '%s' is in use (writer pid %s, %u live reader(s)); not removed\n",
                         name.c_str(), writer_status(*ring).c_str(), live_readers(*ring));
            status = kExitFailure;
            continue;
        }
        const std::string reason = ring ? stale_reason(*ring) : "unreadable segment";
        // The library re-checks liveness under its locks, so a process that attached meanwhile is safe; a dry
        // run asks it the same question without removing anything.
        zerobuffer::GcOptions gc;
        gc.dry_run = options.dry_run;
        auto removed = zerobuffer::remove_stale_ring(name, gc);
        if (removed) {
            std::printf("%s %s (%s)\n", options.dry_run ? "would remove" : "removed", name.c_str(), reason.c_str());
        } else if (removed.error().code == zerobuffer::Errc::Busy) {
            std::fprintf(stderr, "zbctl: ring '%s' is in use: %s; not removed\n", name.c_str(),
                         removed.error().message.c_str());
            status = kExitFailure;
        } else if (removed.error().code == zerobuffer::Errc::NotFound) {
            std::printf("%s is already gone\n", name.c_str());
        } else {
            const auto code = zerobuffer::to_string(removed.error().code);
            std::fprintf(stderr, "zbctl: cannot remove ring '%s': %.*s: %s\n", name.c_str(),
                         static_cast<int>(code.size()), code.data(), removed.error().message.c_str());
            status = kExitFailure;
        }
    }
    return status;
}

} // namespace

namespace {

// What collect_garbage() removed (or would remove), with why it was garbage when zbctl could inspect it before.
void print_collected(const zerobuffer::GcEntry& entry, const std::map<std::string, RingSnapshot, std::less<>>& before,
                     bool dry_run)
{
    const char* verb = dry_run ? "would remove" : "removed";
    if (entry.temporary) {
        std::printf("%s /dev/shm/%s (leftover of an interrupted creation)\n", verb, entry.name.c_str());
        return;
    }
    const auto it = before.find(entry.name);
    if (it == before.end()) {
        std::printf("%s %s (unreadable segment, no process holds it)\n", verb, entry.name.c_str());
    } else {
        std::printf("%s %s (%s)\n", verb, entry.name.c_str(), stale_reason(it->second).c_str());
    }
}

void print_skipped(const zerobuffer::GcSkipped& skipped)
{
    const auto code = zerobuffer::to_string(skipped.error.code);
    const std::string what = skipped.entry.temporary ? "/dev/shm/" + skipped.entry.name : "ring '" + skipped.entry.name + "'";
    std::fprintf(stderr, "zbctl: left %s in place, cannot judge it: %.*s: %s\n", what.c_str(),
                 static_cast<int>(code.size()), code.data(), skipped.error.message.c_str());
}

} // namespace

int run_gc(const Options& options)
{
    if (!options.names.empty()) {
        return gc_named(options);
    }
    // Snapshots taken before collecting, to say why each removed ring was garbage. The library alone decides.
    std::map<std::string, RingSnapshot, std::less<>> before;
    if (auto names = zerobuffer::list_rings()) {
        for (const auto& name : *names) {
            if (auto ring = zerobuffer::inspect_ring(name)) {
                before.emplace(name, std::move(*ring));
            }
        }
    }
    zerobuffer::GcOptions gc;
    gc.dry_run = options.dry_run;
    auto report = zerobuffer::collect_garbage(gc);
    if (!report) {
        const auto code = zerobuffer::to_string(report.error().code);
        std::fprintf(stderr, "zbctl: gc failed: %.*s: %s\n", static_cast<int>(code.size()), code.data(),
                     report.error().message.c_str());
        return kExitFailure;
    }
    for (const auto& entry : report->removed) {
        print_collected(entry, before, options.dry_run);
    }
    std::fflush(stdout); // What was removed first, then what was left, also when both go to one file.
    for (const auto& skipped : report->skipped) {
        print_skipped(skipped);
    }
    if (report->removed.empty() && report->complete()) {
        std::printf("nothing to remove\n");
    }
    if (!report->complete()) {
        std::fprintf(stderr, "zbctl: gc left %zu object(s) in /dev/shm that it could not judge\n",
                     report->skipped.size());
        return kExitFailure;
    }
    return kExitOk;
}

} // namespace zbctl
