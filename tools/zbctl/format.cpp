// SPDX-License-Identifier: MIT
// Formatting helpers of zbctl: units, times, ring states and the JSON documents of list and inspect.
#include "zbctl.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <ctime>

#include <zerobuffer/stream_format.h>

namespace zbctl {

using nlohmann::json;
using zerobuffer::RingSnapshot;

std::string strprintf(const char* format, ...)
{
    va_list args;
    va_start(args, format);
    va_list copy;
    va_copy(copy, args);
    const int needed = std::vsnprintf(nullptr, 0, format, copy);
    va_end(copy);
    std::string text;
    if (needed > 0) {
        text.resize(static_cast<std::size_t>(needed) + 1);
        std::vsnprintf(text.data(), text.size(), format, args);
        text.resize(static_cast<std::size_t>(needed));
    }
    va_end(args);
    return text;
}

std::string format_bytes(std::uint64_t bytes)
{
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        return strprintf("%llu B", static_cast<unsigned long long>(bytes));
    }
    auto value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
        value /= 1024.0;
        ++unit;
    }
    return strprintf("%.1f %s", value, kUnits[unit]);
}

std::string format_mbps(double bytes_per_second)
{
    return strprintf("%.1f", bytes_per_second / 1e6);
}

namespace {

bool to_tm(std::int64_t realtime_ns, bool utc, std::tm& out)
{
    if (realtime_ns <= 0) {
        return false;
    }
    const auto seconds = static_cast<std::time_t>(realtime_ns / 1'000'000'000);
    return utc ? gmtime_r(&seconds, &out) != nullptr : localtime_r(&seconds, &out) != nullptr;
}

} // namespace

std::string format_local_time(std::int64_t realtime_ns)
{
    std::tm tm{};
    if (!to_tm(realtime_ns, false, tm)) {
        return "-";
    }
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    return text;
}

std::string format_iso_utc(std::int64_t realtime_ns)
{
    std::tm tm{};
    if (!to_tm(realtime_ns, true, tm)) {
        return {};
    }
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::string format_age(std::int64_t realtime_ns)
{
    if (realtime_ns <= 0) {
        return "-";
    }
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const std::int64_t now_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
    const std::int64_t age = std::max<std::int64_t>(0, (now_ns - realtime_ns) / 1'000'000'000);
    if (age < 60) {
        return strprintf("%llds ago", static_cast<long long>(age));
    }
    if (age < 3600) {
        return strprintf("%lldm ago", static_cast<long long>(age / 60));
    }
    if (age < 86400) {
        return strprintf("%lldh ago", static_cast<long long>(age / 3600));
    }
    return strprintf("%lldd ago", static_cast<long long>(age / 86400));
}

std::uint32_t live_readers(const RingSnapshot& ring)
{
    return static_cast<std::uint32_t>(
        std::count_if(ring.readers.begin(), ring.readers.end(), [](const auto& r) { return r.alive; }));
}

bool has_live_process(const RingSnapshot& ring)
{
    return ring.writer_alive || live_readers(ring) > 0;
}

std::string_view ring_state(const RingSnapshot& ring)
{
    if (ring.writer_alive) {
        return "active";
    }
    if (live_readers(ring) > 0) {
        // Readers may still drain frames: after a clean close that is normal, after a crash it is not.
        return ring.writer_closed ? "draining" : "orphaned";
    }
    return "stale"; // Nobody holds it: `zbctl gc` removes it.
}

std::string_view writer_status_word(const RingSnapshot& ring)
{
    if (ring.writer_alive) {
        return "alive";
    }
    return ring.writer_closed ? "closed" : "dead";
}

std::string writer_status(const RingSnapshot& ring)
{
    return strprintf("%d %.*s", ring.writer_pid, static_cast<int>(writer_status_word(ring).size()),
                     writer_status_word(ring).data());
}

std::string_view policy_name(zerobuffer::ReaderPolicy policy)
{
    switch (policy) {
    case zerobuffer::ReaderPolicy::Lossless:
        return "lossless";
    case zerobuffer::ReaderPolicy::Latest:
        return "latest";
    }
    return "unknown";
}

std::string_view integrity_name(zerobuffer::Integrity integrity)
{
    switch (integrity) {
    case zerobuffer::Integrity::None:
        return "none";
    case zerobuffer::Integrity::Checksum:
        return "checksum";
    case zerobuffer::Integrity::Mac:
        return "mac";
    }
    return "unknown";
}

std::string stream_summary(const std::string& metadata_json)
{
    if (metadata_json.empty()) {
        return "-";
    }
    auto format = zerobuffer::parse_stream_format(metadata_json);
    if (!format) {
        return "(not zerobuffer.stream-format/1)";
    }
    std::string text = format->media_type;
    if (!format->codec.empty()) {
        text += " " + format->codec;
    }
    if (format->width && format->height) {
        text += strprintf(" %ux%u", *format->width, *format->height);
    }
    if (!format->pixel_format.empty()) {
        text += " " + format->pixel_format;
    }
    if (format->sample_rate) {
        text += strprintf(" %u Hz", *format->sample_rate);
    }
    if (format->channels) {
        text += strprintf(" %u ch", *format->channels);
    }
    if (!format->sample_format.empty()) {
        text += " " + format->sample_format;
    }
    if (format->framerate && format->framerate->num != 0) {
        text += strprintf(" %d/%d fps", format->framerate->num, format->framerate->den);
    }
    return text;
}

json writer_counters_json(const zerobuffer::WriterCounters& c)
{
    return json{
        {"frames_written", c.frames_written},
        {"bytes_written", c.bytes_written},
        {"frames_in_place", c.frames_in_place},
        {"frames_copied", c.frames_copied},
        {"frames_aborted", c.frames_aborted},
        {"waits", c.waits},
        {"timeouts", c.timeouts},
        {"wraps", c.wraps},
        {"readers_reclaimed", c.readers_reclaimed},
        {"format_changes", c.format_changes},
        {"frames_retained", c.frames_retained},
        {"reclaim_scans", c.reclaim_scans},
        {"frames_passed", c.frames_passed},
        {"rewinds", c.rewinds},
        {"keyframe_requests_seen", c.keyframe_requests_seen},
        {"wait_ns", c.wait_ns},
    };
}

json reader_counters_json(const zerobuffer::ReaderCounters& c)
{
    return json{
        {"frames_read", c.frames_read},
        {"bytes_read", c.bytes_read},
        {"frames_skipped", c.frames_skipped},
        {"sequence_gaps", c.sequence_gaps},
        {"waits", c.waits},
        {"timeouts", c.timeouts},
        {"checksum_failures", c.checksum_failures},
        {"overruns", c.overruns},
        {"wait_ns", c.wait_ns},
    };
}

namespace {

// The stream metadata as a JSON value when it parses (so that jq can reach into it), else as text.
json metadata_value(const std::string& text)
{
    if (text.empty()) {
        return nullptr;
    }
    json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
        return text;
    }
    return parsed;
}

} // namespace

json ring_json(const RingSnapshot& ring)
{
    json readers = json::array();
    for (const auto& r : ring.readers) {
        readers.push_back(json{
            {"slot", r.slot},
            {"pid", r.pid},
            {"alive", r.alive},
            {"policy", policy_name(r.policy)},
            {"reads_in_order", r.reads_in_order},
            {"cursor", r.cursor},
            {"lag_frames", r.lag_frames},
            {"lag_bytes", r.lag_bytes},
            {"held_frames", r.held_frames},
            {"held_bytes", r.held_bytes},
            {"oldest_hold_age_ns", r.oldest_hold_age_ns},
            {"idle_ns", r.idle_ns},
            {"counters", reader_counters_json(r.counters)},
        });
    }
    return json{
        {"name", ring.name},
        {"shm_path", ring.shm_path},
        {"state", ring_state(ring)},
        {"protocol_version", ring.protocol_version},
        {"integrity", integrity_name(ring.integrity)},
        {"layout",
         {
             {"segment_size", ring.segment_size},
             {"metadata_offset", ring.metadata_offset},
             {"metadata_capacity", ring.metadata_capacity},
             {"readers_offset", ring.readers_offset},
             {"max_readers", ring.max_readers},
             {"holds_per_reader", ring.holds_per_reader},
             {"descriptors_offset", ring.descriptors_offset},
             {"frame_slots", ring.frame_slots},
             {"payload_offset", ring.payload_offset},
             {"payload_capacity", ring.payload_capacity},
         }},
        {"writer",
         {
             {"pid", ring.writer_pid},
             {"command", ring.writer_command},
             {"status", writer_status_word(ring)},
             {"alive", ring.writer_alive},
             {"closed", ring.writer_closed},
             {"created_realtime_ns", ring.created_realtime_ns},
             {"created", format_iso_utc(ring.created_realtime_ns)},
             {"waiting", ring.writer_waiting},
             {"wait_reason", ring.wait_reason},
             {"waiting_for_ns", ring.waiting_for_ns},
             {"since_last_frame_ns", ring.since_last_frame_ns},
             {"counters", writer_counters_json(ring.writer)},
         }},
        {"position",
         {
             {"next_sequence", ring.next_sequence},
             {"reclaim_floor", ring.reclaim_floor},
             {"format_generation", ring.format_generation},
         }},
        {"memory",
         {
             {"bytes_in_use", ring.bytes_in_use},
             {"frames_in_use", ring.frames_in_use},
             {"capacity", ring.payload_capacity},
         }},
        {"stream_metadata", metadata_value(ring.stream_metadata)},
        {"readers_alive", live_readers(ring)},
        {"readers", std::move(readers)},
    };
}

json ring_summary_json(const RingSnapshot& ring)
{
    return json{
        {"name", ring.name},
        {"state", ring_state(ring)},
        {"writer_pid", ring.writer_pid},
        {"writer_status", writer_status_word(ring)},
        {"writer_alive", ring.writer_alive},
        {"writer_closed", ring.writer_closed},
        {"writer_command", ring.writer_command},
        {"readers_alive", live_readers(ring)},
        {"readers_attached", ring.readers.size()},
        {"max_readers", ring.max_readers},
        {"segment_size", ring.segment_size},
        {"frames_written", ring.writer.frames_written},
        {"bytes_written", ring.writer.bytes_written},
        {"format", stream_summary(ring.stream_metadata)},
        {"created", format_iso_utc(ring.created_realtime_ns)},
    };
}

json error_json(const zerobuffer::Error& error)
{
    return json{
        {"code", zerobuffer::to_string(error.code)},
        {"message", error.message},
    };
}

std::optional<std::string> normalize_ring_name(std::string_view given, std::string& name)
{
    constexpr std::string_view kShmPrefix = "/dev/shm/zb-";
    if (given.starts_with(kShmPrefix)) {
        given.remove_prefix(kShmPrefix.size());
    }
    if (given.empty() || given.size() > 200) {
        return "a ring name has 1 to 200 characters";
    }
    for (const char c : given) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) {
            return strprintf("invalid ring name '%.*s': use only A-Z a-z 0-9 . _ -", static_cast<int>(given.size()),
                             given.data());
        }
    }
    if (given.front() == '-') {
        return strprintf("invalid ring name '%.*s': it must not begin with '-'", static_cast<int>(given.size()),
                         given.data());
    }
    name.assign(given);
    return std::nullopt;
}

int report_inspect_error(std::string_view name, const zerobuffer::Error& error)
{
    const int n = static_cast<int>(name.size());
    if (error.code == zerobuffer::Errc::NotFound) {
        std::fprintf(stderr, "zbctl: no ring named '%.*s' on this machine (no /dev/shm/zb-%.*s); see 'zbctl list'\n",
                     n, name.data(), n, name.data());
        if (name.starts_with("zb-")) {
            std::fprintf(stderr, "zbctl: ring names do not include the zb- prefix: try '%.*s'\n", n - 3,
                         name.data() + 3);
        }
    } else {
        const auto code = zerobuffer::to_string(error.code);
        std::fprintf(stderr, "zbctl: cannot inspect ring '%.*s': %.*s: %s\n", n, name.data(),
                     static_cast<int>(code.size()), code.data(), error.message.c_str());
    }
    return kExitFailure;
}

} // namespace zbctl
