// SPDX-License-Identifier: MIT
// Rates between snapshots and the Prometheus text exposition of rings (zbctl metrics and zbctl serve).
#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "exposition.h"
#include "zbctl.h"

namespace zbctl {

using zerobuffer::RingSnapshot;

const ReaderRates* RingRates::reader(std::uint32_t slot, std::int32_t pid) const
{
    for (const auto& r : readers) {
        if (r.slot == slot && r.pid == pid) {
            return &r;
        }
    }
    return nullptr;
}

namespace {

double per_second(std::uint64_t now, std::uint64_t before, double seconds)
{
    // Counters only grow within one segment; a smaller value means the slot was reused: no rate.
    return now >= before ? static_cast<double>(now - before) / seconds : 0.0;
}

} // namespace

std::optional<RingRates> rates_between(const RingSnapshot& before, const RingSnapshot& after, double seconds)
{
    if (seconds <= 0 || before.writer_pid != after.writer_pid ||
        before.created_realtime_ns != after.created_realtime_ns) {
        return std::nullopt;
    }
    RingRates rates;
    rates.window_seconds = seconds;
    rates.frames_per_second = per_second(after.writer.frames_written, before.writer.frames_written, seconds);
    rates.bytes_per_second = per_second(after.writer.bytes_written, before.writer.bytes_written, seconds);
    rates.waits_per_second = per_second(after.writer.waits, before.writer.waits, seconds);
    // wait_ns counts finished waits; a wait still going on adds the part that fell into this window.
    double waited = per_second(after.writer.wait_ns, before.writer.wait_ns, seconds) / 1e9;
    if (after.writer_waiting) {
        waited += std::min(static_cast<double>(after.waiting_for_ns) / 1e9, seconds) / seconds;
    }
    rates.waiting_ratio = std::clamp(waited, 0.0, 1.0);
    for (const auto& r : after.readers) {
        const auto earlier = std::find_if(before.readers.begin(), before.readers.end(),
                                          [&](const auto& b) { return b.slot == r.slot && b.pid == r.pid; });
        if (earlier == before.readers.end()) {
            continue; // Attached within the window: a rate from its first look would be wrong.
        }
        rates.readers.push_back(ReaderRates{
            r.slot, r.pid,
            per_second(r.counters.frames_read, earlier->counters.frames_read, seconds),
            per_second(r.counters.bytes_read, earlier->counters.bytes_read, seconds),
            per_second(r.counters.frames_skipped, earlier->counters.frames_skipped, seconds),
        });
    }
    return rates;
}

zerobuffer::Result<Scrape> take_scrape(const std::vector<std::string>& names)
{
    std::vector<std::string> wanted = names;
    const bool all = wanted.empty();
    if (all) {
        auto listed = zerobuffer::list_rings();
        if (!listed) {
            return tl::unexpected(listed.error());
        }
        wanted = std::move(*listed);
    }
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    Scrape scrape;
    for (const auto& name : wanted) {
        auto ring = zerobuffer::inspect_ring(name);
        if (ring) {
            scrape.rings.push_back(RingSample{std::move(*ring), std::nullopt});
        } else if (ring.error().code == zerobuffer::Errc::NotFound) {
            if (!all) {
                scrape.missing.push_back(name); // A listed ring that went away meanwhile is simply gone.
            }
        } else {
            scrape.unreadable.push_back(UnreadableRing{name, ring.error()});
        }
    }
    return scrape;
}

void add_rates(Scrape& now, const Scrape& before, double seconds)
{
    for (auto& sample : now.rings) {
        const auto earlier = std::find_if(before.rings.begin(), before.rings.end(),
                                          [&](const auto& b) { return b.ring.name == sample.ring.name; });
        if (earlier != before.rings.end()) {
            sample.rates = rates_between(earlier->ring, sample.ring, seconds);
        }
    }
}

namespace {

// Label values escape backslash, double quote and newline (text format 0.0.4).
using Labels = std::vector<std::pair<std::string_view, std::string>>;

struct Family {
    const char* name;
    const char* type; // "gauge" or "counter"
    const char* help;
    std::string samples; // Lines "name{labels} value\n".
};

std::string format_value(double value)
{
    if (value == std::floor(value) && std::fabs(value) < 1e15) {
        return strprintf("%.0f", value);
    }
    if (std::fabs(value) >= 1e6) {
        return strprintf("%.3f", value); // Timestamps: keep the milliseconds that %g would round away.
    }
    return strprintf("%.9g", value);
}

// Collects the samples of each metric family so that every family is printed in one block, as the format wants.
class Exposition {
public:
    void add(std::string_view name, const Labels& labels, double value) { add_text(name, labels, format_value(value)); }
    void add(std::string_view name, const Labels& labels, std::uint64_t value)
    {
        add_text(name, labels, std::to_string(value));
    }

    [[nodiscard]] std::string text() const
    {
        std::string out;
        for (const auto& family : families_) {
            if (family.samples.empty()) {
                continue;
            }
            out += strprintf("# HELP %s %s\n# TYPE %s %s\n", family.name, family.help, family.name, family.type);
            out += family.samples;
        }
        return out;
    }

private:
    void add_text(std::string_view name, const Labels& labels, const std::string& value)
    {
        const auto family = std::find_if(families_.begin(), families_.end(),
                                         [&](const Family& f) { return name == f.name; });
        if (family == families_.end()) {
            std::fprintf(stderr, "zbctl: internal error: metric %.*s has no family\n", static_cast<int>(name.size()),
                         name.data());
            return;
        }
        std::string line(name);
        if (!labels.empty()) {
            line += '{';
            for (std::size_t i = 0; i < labels.size(); ++i) {
                line += strprintf("%s%.*s=\"%s\"", i == 0 ? "" : ",", static_cast<int>(labels[i].first.size()),
                                  labels[i].first.data(), zerobuffer::http::escape_label_value(labels[i].second).c_str());
            }
            line += '}';
        }
        family->samples += line + " " + value + "\n";
    }

    // Every metric zbctl exposes, in output order; docs/monitoring.md lists the same.
    std::vector<Family> families_{
        {"zerobuffer_rings", "gauge", "Rings seen in /dev/shm (or named on the command line).", {}},
        {"zerobuffer_ring_unreadable", "gauge", "1 for a segment zbctl cannot read (damaged, foreign, no permission).", {}},
        {"zerobuffer_ring_info", "gauge", "Always 1; labels carry the ring's state, integrity, writer command and format.", {}},
        {"zerobuffer_ring_segment_bytes", "gauge", "Size of the shared-memory segment.", {}},
        {"zerobuffer_ring_capacity_bytes", "gauge", "Bytes of frame memory.", {}},
        {"zerobuffer_ring_in_use_bytes", "gauge", "Frame memory in use (unread, held or retained frames).", {}},
        {"zerobuffer_ring_fill_ratio", "gauge", "Frame memory in use over capacity (0..1).", {}},
        {"zerobuffer_ring_in_use_frames", "gauge", "Frames in use.", {}},
        {"zerobuffer_ring_frame_slots", "gauge", "Frame descriptors: how far a lossless reader may lag, in frames.", {}},
        {"zerobuffer_ring_reader_slots", "gauge", "Reader slots of the ring.", {}},
        {"zerobuffer_ring_readers", "gauge", "Live readers attached.", {}},
        {"zerobuffer_ring_dead_readers", "gauge", "Readers that died and whose slot is not reclaimed yet.", {}},
        {"zerobuffer_ring_format_generation", "gauge", "Generation of the stream metadata.", {}},
        {"zerobuffer_ring_created_timestamp_seconds", "gauge", "When the ring was created (Unix time).", {}},
        {"zerobuffer_writer_up", "gauge", "1 while the writer process holds the ring.", {}},
        {"zerobuffer_writer_closed", "gauge", "1 when the writer closed the ring cleanly.", {}},
        {"zerobuffer_writer_waiting", "gauge", "1 while the writer is blocked waiting for room or frame slots.", {}},
        {"zerobuffer_writer_waiting_seconds", "gauge", "How long the current writer wait lasts so far.", {}},
        {"zerobuffer_writer_last_frame_age_seconds", "gauge", "Seconds since the newest commit.", {}},
        {"zerobuffer_writer_frames_per_second", "gauge", "Frames committed per second over the sampling window.", {}},
        {"zerobuffer_writer_bytes_per_second", "gauge", "Payload bytes committed per second over the sampling window.", {}},
        {"zerobuffer_writer_waits_per_second", "gauge", "Writer waits for room per second over the sampling window.", {}},
        {"zerobuffer_writer_waiting_ratio", "gauge", "Share of the sampling window the writer spent waiting (0..1).", {}},
        {"zerobuffer_writer_frames_total", "counter", "Frames committed.", {}},
        {"zerobuffer_writer_bytes_total", "counter", "Payload bytes committed.", {}},
        {"zerobuffer_writer_frames_in_place_total", "counter", "Frames filled in place (zero copy).", {}},
        {"zerobuffer_writer_frames_copied_total", "counter", "Frames copied into the ring.", {}},
        {"zerobuffer_writer_frames_aborted_total", "counter", "Reservations dropped without commit.", {}},
        {"zerobuffer_writer_waits_total", "counter", "Reservations that had to wait for room.", {}},
        {"zerobuffer_writer_wait_timeouts_total", "counter", "Writer waits that hit the reader timeout.", {}},
        {"zerobuffer_writer_wait_seconds_total", "counter", "Time the writer waited for room.", {}},
        {"zerobuffer_writer_wraps_total", "counter", "Times the write position went back to the start.", {}},
        {"zerobuffer_writer_frames_passed_total", "counter", "Frames in use the writer placed new frames around.", {}},
        {"zerobuffer_writer_readers_reclaimed_total", "counter", "Slots of dead readers taken back.", {}},
        {"zerobuffer_writer_format_changes_total", "counter", "Stream metadata generations published.", {}},
        {"zerobuffer_reader_up", "gauge", "1 while the reader process holds its slot.", {}},
        {"zerobuffer_reader_lag_frames", "gauge", "Committed frames the reader has not read (latest: will skip).", {}},
        {"zerobuffer_reader_lag_bytes", "gauge", "Payload bytes of those frames.", {}},
        {"zerobuffer_reader_held_frames", "gauge", "Frames the reader holds now.", {}},
        {"zerobuffer_reader_held_bytes", "gauge", "Frame memory those holds keep.", {}},
        {"zerobuffer_reader_oldest_hold_seconds", "gauge", "How long the reader has held its oldest frame (0: none).", {}},
        {"zerobuffer_reader_idle_seconds", "gauge", "Seconds since the reader's last acquire.", {}},
        {"zerobuffer_reader_frames_per_second", "gauge", "Frames read per second over the sampling window.", {}},
        {"zerobuffer_reader_bytes_per_second", "gauge", "Payload bytes read per second over the sampling window.", {}},
        {"zerobuffer_reader_frames_skipped_per_second", "gauge", "Frames skipped per second over the sampling window.", {}},
        {"zerobuffer_reader_frames_total", "counter", "Frames read.", {}},
        {"zerobuffer_reader_bytes_total", "counter", "Payload bytes read.", {}},
        {"zerobuffer_reader_frames_skipped_total", "counter", "Latest policy: frames jumped over (drops).", {}},
        {"zerobuffer_reader_overruns_total", "counter", "Latest policy: frames taken back before the reader got them.", {}},
        {"zerobuffer_reader_sequence_gaps_total", "counter", "Unexpected jumps in sequence numbers.", {}},
        {"zerobuffer_reader_waits_total", "counter", "Times the reader slept for a frame.", {}},
        {"zerobuffer_reader_wait_timeouts_total", "counter", "acquire() calls that ran out of time.", {}},
        {"zerobuffer_reader_wait_seconds_total", "counter", "Time the reader waited for frames.", {}},
        {"zerobuffer_reader_checksum_failures_total", "counter", "Frames that failed their checksum or MAC.", {}},
        {"zerobuffer_reader_poll_seconds_total", "counter", "Time spent polling for frames (spin, cadence windows): CPU.", {}},
        {"zerobuffer_reader_cadence_hits_total", "counter", "Cadence windows that saw their frame.", {}},
        {"zerobuffer_reader_cadence_misses_total", "counter", "Cadence windows that ended without the frame.", {}},
        {"zerobuffer_reader_cadence_interval_seconds", "gauge", "Frame interval the cadence wait learnt (0: not periodic).", {}},
    };
};

double seconds(std::int64_t ns)
{
    return static_cast<double>(ns) / 1e9;
}

double seconds(std::uint64_t ns)
{
    return static_cast<double>(ns) / 1e9;
}

void add_writer(Exposition& out, const RingSample& sample)
{
    const RingSnapshot& ring = sample.ring;
    const Labels labels{{"ring", ring.name}, {"pid", std::to_string(ring.writer_pid)}};
    out.add("zerobuffer_writer_up", labels, std::uint64_t{ring.writer_alive});
    out.add("zerobuffer_writer_closed", labels, std::uint64_t{ring.writer_closed});
    out.add("zerobuffer_writer_waiting", labels, std::uint64_t{ring.writer_waiting});
    out.add("zerobuffer_writer_waiting_seconds", labels, ring.writer_waiting ? seconds(ring.waiting_for_ns) : 0.0);
    if (ring.since_last_frame_ns >= 0) {
        out.add("zerobuffer_writer_last_frame_age_seconds", labels, seconds(ring.since_last_frame_ns));
    }
    if (sample.rates) {
        out.add("zerobuffer_writer_frames_per_second", labels, sample.rates->frames_per_second);
        out.add("zerobuffer_writer_bytes_per_second", labels, sample.rates->bytes_per_second);
        out.add("zerobuffer_writer_waits_per_second", labels, sample.rates->waits_per_second);
        out.add("zerobuffer_writer_waiting_ratio", labels, sample.rates->waiting_ratio);
    }
    const auto& c = ring.writer;
    out.add("zerobuffer_writer_frames_total", labels, c.frames_written);
    out.add("zerobuffer_writer_bytes_total", labels, c.bytes_written);
    out.add("zerobuffer_writer_frames_in_place_total", labels, c.frames_in_place);
    out.add("zerobuffer_writer_frames_copied_total", labels, c.frames_copied);
    out.add("zerobuffer_writer_frames_aborted_total", labels, c.frames_aborted);
    out.add("zerobuffer_writer_waits_total", labels, c.waits);
    out.add("zerobuffer_writer_wait_timeouts_total", labels, c.timeouts);
    out.add("zerobuffer_writer_wait_seconds_total", labels, seconds(c.wait_ns));
    out.add("zerobuffer_writer_wraps_total", labels, c.wraps);
    out.add("zerobuffer_writer_frames_passed_total", labels, c.frames_passed);
    out.add("zerobuffer_writer_readers_reclaimed_total", labels, c.readers_reclaimed);
    out.add("zerobuffer_writer_format_changes_total", labels, c.format_changes);
}

void add_reader(Exposition& out, const RingSample& sample, const zerobuffer::ReaderSnapshot& r)
{
    const Labels labels{{"ring", sample.ring.name},
                        {"slot", std::to_string(r.slot)},
                        {"policy", std::string(policy_name(r.policy))},
                        {"pid", std::to_string(r.pid)}};
    out.add("zerobuffer_reader_up", labels, std::uint64_t{r.alive});
    out.add("zerobuffer_reader_lag_frames", labels, r.lag_frames);
    out.add("zerobuffer_reader_lag_bytes", labels, r.lag_bytes);
    out.add("zerobuffer_reader_held_frames", labels, std::uint64_t{r.held_frames});
    out.add("zerobuffer_reader_held_bytes", labels, r.held_bytes);
    out.add("zerobuffer_reader_oldest_hold_seconds", labels,
            r.oldest_hold_age_ns < 0 ? 0.0 : seconds(r.oldest_hold_age_ns));
    if (r.idle_ns >= 0) {
        out.add("zerobuffer_reader_idle_seconds", labels, seconds(r.idle_ns));
    }
    if (sample.rates) {
        if (const ReaderRates* rates = sample.rates->reader(r.slot, r.pid)) {
            out.add("zerobuffer_reader_frames_per_second", labels, rates->frames_per_second);
            out.add("zerobuffer_reader_bytes_per_second", labels, rates->bytes_per_second);
            out.add("zerobuffer_reader_frames_skipped_per_second", labels, rates->skipped_per_second);
        }
    }
    const auto& c = r.counters;
    out.add("zerobuffer_reader_frames_total", labels, c.frames_read);
    out.add("zerobuffer_reader_bytes_total", labels, c.bytes_read);
    out.add("zerobuffer_reader_frames_skipped_total", labels, c.frames_skipped);
    out.add("zerobuffer_reader_overruns_total", labels, c.overruns);
    out.add("zerobuffer_reader_sequence_gaps_total", labels, c.sequence_gaps);
    out.add("zerobuffer_reader_waits_total", labels, c.waits);
    out.add("zerobuffer_reader_wait_timeouts_total", labels, c.timeouts);
    out.add("zerobuffer_reader_wait_seconds_total", labels, seconds(c.wait_ns));
    out.add("zerobuffer_reader_checksum_failures_total", labels, c.checksum_failures);
    out.add("zerobuffer_reader_poll_seconds_total", labels, seconds(c.spin_ns));
    out.add("zerobuffer_reader_cadence_hits_total", labels, c.cadence_hits);
    out.add("zerobuffer_reader_cadence_misses_total", labels, c.cadence_misses);
    out.add("zerobuffer_reader_cadence_interval_seconds", labels, seconds(r.cadence_interval_ns));
}

} // namespace

std::string prometheus_text(const Scrape& scrape)
{
    Exposition out;
    out.add("zerobuffer_rings", {}, std::uint64_t{scrape.rings.size() + scrape.unreadable.size()});
    for (const auto& bad : scrape.unreadable) {
        out.add("zerobuffer_ring_unreadable", {{"ring", bad.name}, {"error", std::string(zerobuffer::to_string(bad.error.code))}},
                std::uint64_t{1});
    }
    for (const auto& sample : scrape.rings) {
        const RingSnapshot& ring = sample.ring;
        const Labels labels{{"ring", ring.name}};
        out.add("zerobuffer_ring_info",
                {{"ring", ring.name},
                 {"state", std::string(ring_state(ring))},
                 {"integrity", std::string(integrity_name(ring.integrity))},
                 {"writer_command", ring.writer_command},
                 {"format", stream_summary(ring.stream_metadata)}},
                std::uint64_t{1});
        out.add("zerobuffer_ring_segment_bytes", labels, ring.segment_size);
        out.add("zerobuffer_ring_capacity_bytes", labels, ring.payload_capacity);
        out.add("zerobuffer_ring_in_use_bytes", labels, ring.bytes_in_use);
        out.add("zerobuffer_ring_fill_ratio", labels,
                ring.payload_capacity == 0
                    ? 0.0
                    : std::min(1.0, static_cast<double>(ring.bytes_in_use) / static_cast<double>(ring.payload_capacity)));
        out.add("zerobuffer_ring_in_use_frames", labels, ring.frames_in_use);
        out.add("zerobuffer_ring_frame_slots", labels, std::uint64_t{ring.frame_slots});
        out.add("zerobuffer_ring_reader_slots", labels, std::uint64_t{ring.max_readers});
        const std::uint32_t alive = live_readers(ring);
        out.add("zerobuffer_ring_readers", labels, std::uint64_t{alive});
        out.add("zerobuffer_ring_dead_readers", labels, std::uint64_t{ring.readers.size() - alive});
        out.add("zerobuffer_ring_format_generation", labels, std::uint64_t{ring.format_generation});
        out.add("zerobuffer_ring_created_timestamp_seconds", labels, seconds(ring.created_realtime_ns));
        add_writer(out, sample);
        for (const auto& reader : ring.readers) {
            add_reader(out, sample, reader);
        }
    }
    return out.text();
}

} // namespace zbctl
