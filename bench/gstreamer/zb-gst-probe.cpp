// SPDX-License-Identifier: MIT
// zb-gst-probe: runs one GStreamer pipeline and watches the buffers at one pad (checksums, latency, frames/s, CPU).
//
//   zb-gst-probe [OPTIONS] PIPELINE-DESCRIPTION...
//
// The pipeline is a gst-launch-1.0 description. The buffers are watched on the element named "probe" (see
// --probe): on its sink pad, or on its src pad when it has no sink pad (a source). It is the measuring half of the
// GStreamer end-to-end tests, the GStreamer benchmark and the main job (scripts/run-main.sh):
//   --checksums  one line per buffer with its timestamps, offsets, keyframe flag, size and the SHA-1 of its bytes,
//                so that what a writer process sent and what a reader process received can be compared with diff;
//   --stamp      writes the CLOCK_MONOTONIC time into the first 8 bytes of each buffer (the writer side) ...
//   --latency    ... and the reader side subtracts it from its own clock: the one-way latency across processes;
//   --pause      takes the pipeline from PLAYING to PAUSED and back mid-stream, as an application would;
//   --seek, --loop  a flushing seek, and looping with segment seeks (the time tests);
//   --add-metas  puts test metas on the buffers (the meta tests); buffer lines list the metas that cross a ring.
// The files: probe_options.cpp (command line), probe_content.cpp (the buffer lines, --repack), probe_metas.cpp
// (test metas and their description), this one (the pipeline, pad probes, bus, summary).
// At the end it prints frames, frames/s and the CPU time of this process, and latency percentiles when measured.
//
// Exit status: 0 at end of stream, 1 pipeline error (the element's message is printed), 2 bad arguments,
// 3 --timeout expired, 4 interrupted (SIGINT/SIGTERM twice; the first one sends end-of-stream).
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "probe_content.h"
#include "probe_metas.h"
#include "probe_options.h"

namespace {

using namespace zbprobe;

// A stamp older than this (or in the future) is not one of ours: the buffer was not stamped.
constexpr std::int64_t kMaxPlausibleLatencyNs = 10'000'000'000;

std::int64_t monotonic_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

long minor_faults()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

double cpu_seconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}


// Latency samples in nanoseconds; the streaming thread appends, the main loop reads at reports and at the end.
class LatencyLog {
public:
    LatencyLog() { samples_.reserve(1 << 20); } // no allocation per frame for runs up to a million frames

    void add(std::int64_t ns)
    {
        const std::lock_guard lock(mutex_);
        samples_.push_back(ns);
    }

    // Copies the samples from index `from` on (the main loop sorts the copy, never the live vector).
    std::vector<std::int64_t> since(std::size_t from) const
    {
        const std::lock_guard lock(mutex_);
        if (from >= samples_.size()) {
            return {};
        }
        return {samples_.begin() + static_cast<std::ptrdiff_t>(from), samples_.end()};
    }

    std::size_t size() const
    {
        const std::lock_guard lock(mutex_);
        return samples_.size();
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::int64_t> samples_;
};

std::string percentiles(std::vector<std::int64_t> samples)
{
    if (samples.empty()) {
        return "no samples";
    }
    std::sort(samples.begin(), samples.end());
    const auto at = [&](double q) {
        const auto last = static_cast<double>(samples.size() - 1);
        return static_cast<double>(samples[static_cast<std::size_t>(std::lround(q * last))]) / 1000.0;
    };
    char text[160];
    std::snprintf(text, sizeof text, "p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us (%zu frames)",
                  at(0.5), at(0.99), at(0.999), at(1.0), samples.size());
    return text;
}

struct Probe {
    Options options;
    GstElement* pipeline = nullptr; // owned by main()
    GstPad* pad = nullptr;          // the watched pad; owned by main()
    GMainLoop* loop = nullptr;      // owned by main()
    int exit_code = kExitOk;
    bool eos_sent = false;
    bool forced_stop = false; // second signal or timeout: the pipeline may be stuck, do not tear it down

    // Written by the streaming thread only; read by the main loop after the pipeline stopped, or approximately
    // (a torn read of a counter costs nothing) in the periodic report.
    std::uint64_t buffers = 0;
    std::int64_t first_buffer_ns = 0;
    std::int64_t last_buffer_ns = 0;
    std::uint64_t unstamped = 0;
    double timed_start_cpu = 0.0; // process CPU time and page faults when the first timed buffer arrived
    long timed_start_faults = 0;
    std::uint64_t stamp_copies = 0;
    LatencyLog latency;

    // The layout and segment of the watched pad; set by its CAPS and SEGMENT events, streaming thread only.
    Media media;
    unsigned loops_left = 0; // --loop: segment seeks still to make
    bool before_first_seek = false; // --loop: the prerolled buffer before the first seek is flushed, never sent

    std::uint64_t reported_buffers = 0;
    std::size_t reported_samples = 0;
    std::int64_t reported_ns = 0;
};


// Writes now into the first 8 bytes. Makes the buffer writable first if it is shared (a copy, counted).
void stamp_buffer(Probe& probe, GstPadProbeInfo* info)
{
    auto* buffer = static_cast<GstBuffer*>(info->data);
    if (!gst_buffer_is_writable(buffer)) {
        buffer = gst_buffer_make_writable(buffer);
        info->data = buffer;
        ++probe.stamp_copies;
    }
    const std::int64_t now = monotonic_ns();
    if (gst_buffer_get_size(buffer) >= sizeof now) {
        gst_buffer_fill(buffer, 0, &now, sizeof now);
    }
}

void measure_latency(Probe& probe, GstBuffer* buffer, std::int64_t now)
{
    std::int64_t stamp = 0;
    if (gst_buffer_extract(buffer, 0, &stamp, sizeof stamp) != sizeof stamp) {
        ++probe.unstamped;
        return;
    }
    const std::int64_t latency = now - stamp;
    if (latency < 0 || latency > kMaxPlausibleLatencyNs) {
        ++probe.unstamped;
        return;
    }
    probe.latency.add(latency);
}

gboolean on_resume(gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    gst_element_set_state(probe.pipeline, GST_STATE_PLAYING);
    std::printf("state playing\n");
    std::fflush(stdout);
    return G_SOURCE_REMOVE;
}

// --seek, in the main loop as an application would do it: a flushing seek, so the running time starts again at 0.
gboolean on_seek(gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    const auto position = static_cast<gint64>(probe.options.seek_to_ms) * GST_MSECOND;
    const bool done = gst_element_seek_simple(probe.pipeline, GST_FORMAT_TIME,
                                              static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE),
                                              position) != FALSE;
    std::printf("seek %s\n", done ? "done" : "refused");
    std::fflush(stdout);
    return G_SOURCE_REMOVE;
}

// --force-key-unit: the element watched asks upstream for a keyframe, as a decoder does after an error.
gboolean on_force_key_unit(gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    GstEvent* event = gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 1);
    const bool handled = gst_pad_push_event(probe.pad, event) != FALSE;
    std::printf("force-key-unit %s\n", handled ? "sent" : "not handled");
    std::fflush(stdout);
    return G_SOURCE_REMOVE;
}

// --loop: a segment seek from the start, again at each SEGMENT_DONE; the last one without the segment flag, so that
// the stream ends with EOS. Non-flushing, as a looping player does: the running time goes on.
bool seek_segment(Probe& probe, bool flush)
{
    const bool last = probe.loops_left <= 1;
    auto flags = static_cast<GstSeekFlags>((flush ? GST_SEEK_FLAG_FLUSH : 0) | (last ? 0 : GST_SEEK_FLAG_SEGMENT));
    if (probe.loops_left > 0) {
        --probe.loops_left;
    }
    return gst_element_seek(probe.pipeline, 1.0, GST_FORMAT_TIME, flags, GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_NONE,
                            -1) != FALSE;
}

// --pause, in the main loop as an application would do it: PAUSED now, PLAYING again after the hold.
gboolean on_pause(gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    gst_element_set_state(probe.pipeline, GST_STATE_PAUSED);
    std::printf("state paused\n");
    std::fflush(stdout);
    g_timeout_add(probe.options.pause_hold_ms, on_resume, &probe);
    return G_SOURCE_REMOVE;
}

GstPadProbeReturn on_buffer(GstPad* /*pad*/, GstPadProbeInfo* info, gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    if (probe.options.max_frames != 0 && probe.buffers >= probe.options.max_frames) {
        return GST_PAD_PROBE_DROP; // stopping: the buffers that arrive until the pipeline stops are not counted
    }
    const std::int64_t now = monotonic_ns();
    auto* buffer = static_cast<GstBuffer*>(info->data);
    if (probe.before_first_seek) {
        return GST_PAD_PROBE_OK; // the first seek flushes it: not a buffer of the stream
    }
    const bool measured = probe.buffers >= probe.options.warmup;
    if (probe.options.latency && measured) {
        measure_latency(probe, buffer, now);
    }
    if (probe.options.repack) {
        if (GstBuffer* packed = repacked(probe.media, buffer, probe.options.repack_pad)) {
            gst_buffer_unref(buffer);
            buffer = packed;
            info->data = buffer;
        }
    }
    if (probe.options.add_metas) {
        buffer = gst_buffer_make_writable(buffer); // shares the memory: a pool buffer stays one
        info->data = buffer;
        add_test_metas(buffer, probe.buffers);
    }
    if (probe.options.checksums) {
        std::printf("%s\n", buffer_line(probe.media, buffer, probe.buffers, probe.options.running_time).c_str());
    }
    if (probe.options.stamp) {
        stamp_buffer(probe, info);
    }
    if (probe.buffers == probe.options.warmup) {
        probe.first_buffer_ns = now;
        probe.timed_start_cpu = cpu_seconds(); // two getrusage calls once per run, not per frame
        probe.timed_start_faults = minor_faults();
    }
    probe.last_buffer_ns = now;
    ++probe.buffers;
    if (probe.buffers == probe.options.max_frames) {
        g_main_loop_quit(probe.loop); // thread-safe
    }
    if (probe.options.pause && probe.buffers == probe.options.pause_after) {
        g_timeout_add(probe.options.pause_delay_ms, on_pause, &probe); // thread-safe: runs in the main loop
    }
    if (probe.options.seek && probe.buffers == probe.options.seek_after) {
        g_idle_add(on_seek, &probe);
    }
    if (probe.options.force_key_unit_after != 0 && probe.buffers == probe.options.force_key_unit_after) {
        g_idle_add(on_force_key_unit, &probe);
    }
    if (!probe.options.switch_caps.empty() && probe.buffers == probe.options.switch_after) {
        GstElement* filter = gst_bin_get_by_name(GST_BIN(probe.pipeline), "switch");
        GstCaps* caps = gst_caps_from_string(probe.options.switch_caps.c_str());
        if (filter != nullptr && caps != nullptr) {
            g_object_set(filter, "caps", caps, nullptr);
        }
        if (caps != nullptr) {
            gst_caps_unref(caps);
        }
        if (filter != nullptr) {
            gst_object_unref(filter);
        }
    }
    return GST_PAD_PROBE_OK;
}

GstPadProbeReturn on_event(GstPad* /*pad*/, GstPadProbeInfo* info, gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    auto* event = static_cast<GstEvent*>(info->data);
    if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP) {
        probe.before_first_seek = false;
        return GST_PAD_PROBE_OK;
    }
    if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) {
        const GstSegment* segment = nullptr;
        gst_event_parse_segment(event, &segment);
        probe.media.segment = *segment;
        probe.media.have_segment = segment->format == GST_FORMAT_TIME;
        return GST_PAD_PROBE_OK;
    }
    if (GST_EVENT_TYPE(event) != GST_EVENT_CAPS) {
        return GST_PAD_PROBE_OK;
    }
    GstCaps* caps = nullptr;
    gst_event_parse_caps(event, &caps);
    note_caps(probe.media, caps);
    if (probe.options.checksums) {
        gchar* text = gst_caps_to_string(caps);
        std::printf("caps %s\n", text);
        g_free(text);
    }
    return GST_PAD_PROBE_OK;
}

void print_summary(const Probe& probe, std::int64_t start_ns, long start_faults)
{
    const double wall_s = static_cast<double>(monotonic_ns() - start_ns) / 1e9;
    const double cpu_s = cpu_seconds(); // since the process started: includes gst_init and plugin loading
    const char* label = probe.options.label.c_str();
    const double span_s = static_cast<double>(probe.last_buffer_ns - probe.first_buffer_ns) / 1e9;
    const std::uint64_t timed = probe.buffers > probe.options.warmup ? probe.buffers - probe.options.warmup : 0;
    const double fps = timed > 1 && span_s > 0 ? static_cast<double>(timed - 1) / span_s : 0.0;
    std::printf("%s: frames %" PRIu64 " (%" PRIu64 " timed in %.3f s), %.1f frames/s\n", label, probe.buffers,
                timed, span_s, fps);
    std::printf("%s: cpu %.3f s in %.3f s wall (%.1f%% of one core), %ld page faults\n", label, cpu_s, wall_s,
                wall_s > 0 ? 100.0 * cpu_s / wall_s : 0.0, minor_faults() - start_faults);
    if (timed > 0) {
        // From the first timed buffer to the end: the steady state, without set-up and first-touch page faults.
        const double timed_cpu_s = cpu_seconds() - probe.timed_start_cpu;
        std::printf("%s: timed cpu %.3f s, %.3f ms per frame, %ld page faults\n", label, timed_cpu_s,
                    1000.0 * timed_cpu_s / static_cast<double>(timed), minor_faults() - probe.timed_start_faults);
    }
    if (probe.options.latency) {
        std::printf("%s: latency %s\n", label, percentiles(probe.latency.since(0)).c_str());
        if (probe.unstamped > 0) {
            std::printf("%s: %" PRIu64 " buffers carried no stamp\n", label, probe.unstamped);
        }
    }
    if (probe.stamp_copies > 0) {
        std::printf("%s: %" PRIu64 " buffers were shared and copied to be stamped\n", label, probe.stamp_copies);
    }
    std::fflush(stdout);
}

gboolean on_report(gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    const std::int64_t now = monotonic_ns();
    const std::uint64_t buffers = probe.buffers;
    const double seconds = static_cast<double>(now - probe.reported_ns) / 1e9;
    std::string line = std::to_string(static_cast<long long>(std::llround(
                           static_cast<double>(buffers - probe.reported_buffers) / seconds))) +
                       " frames/s";
    if (probe.options.latency) {
        line += ", latency " + percentiles(probe.latency.since(probe.reported_samples));
        probe.reported_samples = probe.latency.size();
    }
    std::printf("%s: %s\n", probe.options.label.c_str(), line.c_str());
    std::fflush(stdout);
    probe.reported_buffers = buffers;
    probe.reported_ns = now;
    return G_SOURCE_CONTINUE;
}

gboolean on_timeout(gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    std::fprintf(stderr, "zb-gst-probe: error: no end of stream after %.1f s (%" PRIu64
                 " buffers seen) - is the other process running?\n",
                 probe.options.timeout_s, probe.buffers);
    probe.exit_code = kExitTimeout;
    probe.forced_stop = true;
    g_main_loop_quit(probe.loop);
    return G_SOURCE_REMOVE;
}

// First signal: end of stream, so that a writer writes its EOS frame; second: stop at once. The EOS is sent from
// its own thread: sending it can block while a streaming thread is stuck, and the main loop must stay free to
// see the second signal.
gboolean on_signal(gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    if (!probe.eos_sent) {
        probe.eos_sent = true;
        std::thread([pipeline = probe.pipeline] { gst_element_send_event(pipeline, gst_event_new_eos()); })
            .detach();
        return G_SOURCE_CONTINUE;
    }
    probe.exit_code = kExitInterrupted;
    probe.forced_stop = true;
    g_main_loop_quit(probe.loop);
    return G_SOURCE_CONTINUE;
}

gboolean on_bus_message(GstBus* /*bus*/, GstMessage* message, gpointer user_data)
{
    auto& probe = *static_cast<Probe*>(user_data);
    switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_SEGMENT_DONE:
        if (!seek_segment(probe, false)) {
            std::fputs("zb-gst-probe: error: the pipeline refused the looping seek\n", stderr);
            probe.exit_code = kExitPipelineError;
            g_main_loop_quit(probe.loop);
        }
        break;
    case GST_MESSAGE_EOS:
        if (probe.eos_sent && probe.exit_code == kExitOk) {
            probe.exit_code = kExitInterrupted;
        }
        g_main_loop_quit(probe.loop);
        break;
    case GST_MESSAGE_ERROR: {
        GError* error = nullptr;
        gchar* debug = nullptr;
        gst_message_parse_error(message, &error, &debug);
        std::fprintf(stderr, "zb-gst-probe: error: from %s: %s\n  (%s)\n", GST_OBJECT_NAME(message->src),
                     error->message, debug != nullptr ? debug : "no details");
        g_clear_error(&error);
        g_free(debug);
        probe.exit_code = kExitPipelineError;
        g_main_loop_quit(probe.loop);
        break;
    }
    case GST_MESSAGE_WARNING: {
        GError* error = nullptr;
        gst_message_parse_warning(message, &error, nullptr);
        std::fprintf(stderr, "zb-gst-probe: warning: from %s: %s\n", GST_OBJECT_NAME(message->src), error->message);
        g_clear_error(&error);
        break;
    }
    default:
        break;
    }
    return G_SOURCE_CONTINUE;
}

// Attaches the probes to the watched element's sink pad (or src pad for a source). False if it is missing.
bool attach_probes(Probe& probe)
{
    GstElement* element = gst_bin_get_by_name(GST_BIN(probe.pipeline), probe.options.probe_name.c_str());
    if (element == nullptr) {
        std::fprintf(stderr, "zb-gst-probe: error: the pipeline has no element named '%s' - add name=%s to the "
                     "element to watch\n", probe.options.probe_name.c_str(), probe.options.probe_name.c_str());
        return false;
    }
    GstPad* pad = gst_element_get_static_pad(element, "sink");
    if (pad == nullptr) {
        pad = gst_element_get_static_pad(element, "src");
    }
    gst_object_unref(element);
    if (pad == nullptr) {
        std::fprintf(stderr, "zb-gst-probe: error: element '%s' has no static sink or src pad to watch\n",
                     probe.options.probe_name.c_str());
        return false;
    }
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &probe, nullptr);
    gst_pad_add_probe(pad, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_EVENT_FLUSH),
                      on_event, &probe, nullptr);
    probe.pad = pad; // owned by main()
    return true;
}

// --loop: prerolls, then makes the first segment seek (flushing) before PLAYING. False after printing why not.
bool start_looping(Probe& probe)
{
    gst_element_set_state(probe.pipeline, GST_STATE_PAUSED);
    if (gst_element_get_state(probe.pipeline, nullptr, nullptr, 30 * GST_SECOND) != GST_STATE_CHANGE_SUCCESS) {
        std::fputs("zb-gst-probe: error: the pipeline did not preroll for --loop (a live source cannot loop)\n", stderr);
        return false;
    }
    if (!seek_segment(probe, true)) {
        std::fputs("zb-gst-probe: error: the pipeline refused the segment seek of --loop (not seekable?)\n", stderr);
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    gst_init(nullptr, nullptr);
    register_test_metas();
    auto options = parse_options(argc, argv);
    if (!options) {
        print_usage(stderr);
        return kExitUsage;
    }
    Probe probe;
    probe.options = std::move(*options);
    if (probe.options.checksums) {
        std::setvbuf(stdout, nullptr, _IOLBF, 0); // a test watching the output sees each buffer line at once
    }

    GError* error = nullptr;
    probe.pipeline = gst_parse_launch(probe.options.pipeline.c_str(), &error);
    if (probe.pipeline == nullptr || error != nullptr) {
        std::fprintf(stderr, "zb-gst-probe: error: bad pipeline description: %s - check element names and that "
                     "GST_PLUGIN_PATH includes the plugin\n", error != nullptr ? error->message : "unknown");
        g_clear_error(&error);
        if (probe.pipeline != nullptr) {
            gst_object_unref(probe.pipeline);
        }
        return kExitUsage;
    }
    if (!attach_probes(probe)) {
        gst_object_unref(probe.pipeline);
        return kExitUsage;
    }

    probe.loop = g_main_loop_new(nullptr, FALSE);
    GstBus* bus = gst_element_get_bus(probe.pipeline);
    const guint bus_watch = gst_bus_add_watch(bus, on_bus_message, &probe);
    gst_object_unref(bus);
    g_unix_signal_add(SIGINT, on_signal, &probe);
    g_unix_signal_add(SIGTERM, on_signal, &probe);
    if (probe.options.timeout_s > 0) {
        g_timeout_add(static_cast<guint>(probe.options.timeout_s * 1000), on_timeout, &probe);
    }
    if (probe.options.report_every_s > 0) {
        g_timeout_add(static_cast<guint>(probe.options.report_every_s * 1000), on_report, &probe);
    }

    const std::int64_t start_ns = monotonic_ns();
    const long start_faults = minor_faults();
    probe.reported_ns = start_ns;
    probe.loops_left = probe.options.loops;
    probe.before_first_seek = probe.options.loops > 0;
    if (probe.options.loops > 0 && !start_looping(probe)) {
        probe.exit_code = kExitPipelineError;
    } else if (gst_element_set_state(probe.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        // The failing element posted an error with the reason on the bus: print it rather than wait.
        GstBus* failed_bus = gst_element_get_bus(probe.pipeline);
        GstMessage* message = gst_bus_pop_filtered(failed_bus, GST_MESSAGE_ERROR);
        if (message != nullptr) {
            on_bus_message(failed_bus, message, &probe);
            gst_message_unref(message);
        } else {
            std::fputs("zb-gst-probe: error: the pipeline could not start (no element said why)\n", stderr);
        }
        gst_object_unref(failed_bus);
        probe.exit_code = kExitPipelineError;
    } else {
        g_main_loop_run(probe.loop);
    }
    if (probe.forced_stop) {
        // A stuck streaming thread would block the state change to NULL forever: report and leave.
        print_summary(probe, start_ns, start_faults);
        std::fflush(stderr);
        std::_Exit(probe.exit_code);
    }
    gst_element_set_state(probe.pipeline, GST_STATE_NULL);

    print_summary(probe, start_ns, start_faults);
    g_source_remove(bus_watch);
    gst_object_unref(probe.pad);
    gst_object_unref(probe.pipeline);
    g_main_loop_unref(probe.loop);
    return probe.exit_code;
}
