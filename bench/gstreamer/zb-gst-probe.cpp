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
//   --pause      takes the pipeline from PLAYING to PAUSED and back mid-stream, as an application would.
// At the end it prints frames, frames/s and the CPU time of this process, and latency percentiles when measured.
//
// Exit status: 0 at end of stream, 1 pipeline error (the element's message is printed), 2 bad arguments,
// 3 --timeout expired, 4 interrupted (SIGINT/SIGTERM twice; the first one sends end-of-stream).
#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/video/video.h>

namespace {

constexpr int kExitOk = 0;
constexpr int kExitPipelineError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitTimeout = 3;
constexpr int kExitInterrupted = 4;

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

struct Options {
    std::string probe_name = "probe";
    bool checksums = false;
    bool stamp = false;
    bool latency = false;
    double report_every_s = 0.0;
    double timeout_s = 0.0;
    // --repack PAD: each raw video buffer is copied into a new one made of two memories whose plane strides are
    // PAD bytes longer than the default (a padded-stride layout described by GstVideoMeta, not from a sink's pool).
    std::uint32_t repack_pad = 0;
    bool repack = false;
    std::uint64_t warmup = 0;     // --warmup: the first buffers count in neither frames/s nor latency
    std::uint64_t max_frames = 0; // --frames: stop after this many buffers (shmsrc never sees end of stream)
    std::string label;
    // --switch-caps N:CAPS: after N buffers, the capsfilter named "switch" gets CAPS (a caps change mid-stream).
    std::uint64_t switch_after = 0;
    std::string switch_caps;
    // --pause N:DELAY:HOLD: DELAY ms after the Nth buffer the pipeline goes to PAUSED, and HOLD ms later back to
    // PLAYING; "state paused" and "state playing" lines on stdout say when.
    bool pause = false;
    std::uint64_t pause_after = 0;
    unsigned pause_delay_ms = 0;
    unsigned pause_hold_ms = 0;
    std::string pipeline;
};

void print_usage(std::FILE* out)
{
    std::fputs(
        "usage: zb-gst-probe [OPTIONS] PIPELINE-DESCRIPTION...\n"
        "  --probe NAME          element whose pad is watched (default: probe); its sink pad, or its src pad\n"
        "  --checksums           print a line per buffer: timestamps, offsets, keyframe, size, SHA-1 of the bytes\n"
        "  --stamp               write CLOCK_MONOTONIC ns into the first 8 bytes of each buffer (writer side)\n"
        "  --latency             measure now - stamp for each buffer (reader side); prints p50/p99/p99.9/max\n"
        "  --report-every S      print frames/s (and latency) every S seconds\n"
        "  --switch-caps N:CAPS  after N buffers set the 'caps' of the capsfilter named 'switch' to CAPS\n"
        "  --pause N:DELAY:HOLD  DELAY ms after N buffers set the pipeline to PAUSED, HOLD ms later to PLAYING\n"
        "  --repack PAD          copy raw video into two-memory buffers with strides PAD bytes longer\n"
        "  --warmup N            leave the first N buffers out of frames/s and latency (connection set-up)\n"
        "  --frames N            stop after N buffers, as at end of stream (for sources without EOS, like shmsrc)\n"
        "  --timeout S           give up after S seconds (exit 3)\n"
        "  --label TEXT          prefix of the summary lines (default: the program name)\n"
        "Exit status: 0 end of stream, 1 pipeline error, 2 bad arguments, 3 timeout, 4 interrupted.\n",
        out);
}

std::optional<double> parse_seconds(std::string_view text)
{
    double value = 0.0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || !(value >= 0.0)) {
        return std::nullopt;
    }
    return value;
}

// Parses all of `text` as a decimal number.
template <typename Number>
bool parse_number(std::string_view text, Number& value)
{
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    return ec == std::errc{} && ptr == end;
}

// N:DELAY:HOLD of --pause.
bool parse_pause(std::string_view text, Options& options)
{
    const auto first = text.find(':');
    const auto second = first == std::string_view::npos ? first : text.find(':', first + 1);
    return second != std::string_view::npos && parse_number(text.substr(0, first), options.pause_after) &&
           parse_number(text.substr(first + 1, second - first - 1), options.pause_delay_ms) &&
           parse_number(text.substr(second + 1), options.pause_hold_ms);
}

// Returns the options, or nullopt after printing why they are wrong.
std::optional<Options> parse_options(int argc, char** argv)
{
    Options options;
    int index = 1;
    const auto value_of = [&](std::string_view flag) -> std::optional<std::string> {
        if (index + 1 >= argc) {
            std::fprintf(stderr, "zb-gst-probe: error: %.*s needs a value - see --help\n",
                         static_cast<int>(flag.size()), flag.data());
            return std::nullopt;
        }
        ++index;
        return std::string(argv[index]);
    };
    for (; index < argc; ++index) {
        const std::string_view arg = argv[index];
        if (arg == "--help" || arg == "-h") {
            print_usage(stdout);
            std::exit(kExitOk);
        } else if (arg == "--checksums") {
            options.checksums = true;
        } else if (arg == "--stamp") {
            options.stamp = true;
        } else if (arg == "--latency") {
            options.latency = true;
        } else if (arg == "--probe" || arg == "--label") {
            const auto value = value_of(arg);
            if (!value) {
                return std::nullopt;
            }
            (arg == "--probe" ? options.probe_name : options.label) = *value;
        } else if (arg == "--report-every" || arg == "--timeout") {
            const auto value = value_of(arg);
            const auto seconds = value ? parse_seconds(*value) : std::nullopt;
            if (!seconds) {
                std::fprintf(stderr, "zb-gst-probe: error: %.*s takes a number of seconds - see --help\n",
                             static_cast<int>(arg.size()), arg.data());
                return std::nullopt;
            }
            (arg == "--timeout" ? options.timeout_s : options.report_every_s) = *seconds;
        } else if (arg == "--repack") {
            const auto value = value_of(arg);
            if (!value) {
                return std::nullopt;
            }
            const char* first = value->data();
            const auto [ptr, ec] = std::from_chars(first, first + value->size(), options.repack_pad);
            if (ec != std::errc{} || ptr != first + value->size() || options.repack_pad % 4 != 0) {
                std::fputs("zb-gst-probe: error: --repack takes a padding in bytes, a multiple of 4\n", stderr);
                return std::nullopt;
            }
            options.repack = true;
        } else if (arg == "--frames" || arg == "--warmup") {
            const auto value = value_of(arg);
            if (!value) {
                return std::nullopt;
            }
            auto& count = arg == "--frames" ? options.max_frames : options.warmup;
            const char* first = value->data();
            const auto [ptr, ec] = std::from_chars(first, first + value->size(), count);
            if (ec != std::errc{} || ptr != first + value->size()) {
                std::fprintf(stderr, "zb-gst-probe: error: %s takes a number of buffers\n", argv[index - 1]);
                return std::nullopt;
            }
        } else if (arg == "--switch-caps") {
            const auto value = value_of(arg);
            const auto colon = value ? value->find(':') : std::string::npos;
            if (colon == std::string::npos) {
                std::fputs("zb-gst-probe: error: --switch-caps takes N:CAPS - see --help\n", stderr);
                return std::nullopt;
            }
            const auto* first = value->data();
            const auto [ptr, ec] = std::from_chars(first, first + colon, options.switch_after);
            if (ec != std::errc{} || ptr != first + colon) {
                std::fputs("zb-gst-probe: error: --switch-caps takes N:CAPS with N a buffer count\n", stderr);
                return std::nullopt;
            }
            options.switch_caps = value->substr(colon + 1);
        } else if (arg == "--pause") {
            const auto value = value_of(arg);
            if (!value || !parse_pause(*value, options)) {
                std::fputs("zb-gst-probe: error: --pause takes N:DELAY:HOLD (a buffer count, then milliseconds)\n",
                           stderr);
                return std::nullopt;
            }
            options.pause = true;
        } else if (arg.starts_with("-")) {
            std::fprintf(stderr, "zb-gst-probe: error: unknown option '%s' - see --help\n", argv[index]);
            return std::nullopt;
        } else {
            break;
        }
    }
    for (; index < argc; ++index) {
        options.pipeline += argv[index];
        options.pipeline += ' ';
    }
    if (options.pipeline.empty()) {
        std::fputs("zb-gst-probe: error: no pipeline description given - see --help\n", stderr);
        return std::nullopt;
    }
    if (options.label.empty()) {
        options.label = "zb-gst-probe";
    }
    return options;
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

    // The raw video layout of the current caps (valid when is_video); set by the CAPS event, streaming thread only.
    GstVideoInfo video_info{};
    bool is_video = false;

    std::uint64_t reported_buffers = 0;
    std::size_t reported_samples = 0;
    std::int64_t reported_ns = 0;
};

std::string format_time(GstClockTime t)
{
    return GST_CLOCK_TIME_IS_VALID(t) ? std::to_string(t) : std::string("none");
}

std::string format_offset(guint64 offset)
{
    return offset == GST_BUFFER_OFFSET_NONE ? std::string("none") : std::to_string(offset);
}

// SHA-1 of the bytes a viewer sees: for raw video the visible part of each row of each plane (so that padding,
// which a layout may leave undefined, does not count), at the offsets and strides of the buffer's GstVideoMeta;
// otherwise every byte. `layout` gets the plane strides, so that a changed layout shows up in the comparison.
std::string content_sha1(Probe& probe, GstBuffer* buffer, std::string& layout)
{
    GChecksum* checksum = g_checksum_new(G_CHECKSUM_SHA1);
    bool mapped = false;
    if (probe.is_video) {
        GstVideoFrame frame{};
        if (gst_video_frame_map(&frame, &probe.video_info, buffer, GST_MAP_READ)) {
            mapped = true;
            layout = " strides=";
            const guint planes = GST_VIDEO_FRAME_N_PLANES(&frame);
            for (guint plane = 0; plane < planes; ++plane) {
                gint components[GST_VIDEO_MAX_COMPONENTS];
                gst_video_format_info_component(frame.info.finfo, plane, components);
                const gint comp = components[0];
                const gint rows = GST_VIDEO_FRAME_COMP_HEIGHT(&frame, comp);
                const gint stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, plane);
                // Formats packed in groups (v210, NV12_10LE32) have no pixel stride: hash whole rows then.
                const gint pixel_stride = GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, comp);
                const auto row_bytes = pixel_stride > 0
                                           ? static_cast<gsize>(GST_VIDEO_FRAME_COMP_WIDTH(&frame, comp)) *
                                                 static_cast<gsize>(pixel_stride)
                                           : static_cast<gsize>(stride);
                const auto* data = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, plane));
                for (gint row = 0; row < rows; ++row) {
                    g_checksum_update(checksum, data + static_cast<std::ptrdiff_t>(row) * stride,
                                      static_cast<gssize>(row_bytes));
                }
                layout += (plane == 0 ? "" : ",") + std::to_string(stride);
            }
            gst_video_frame_unmap(&frame);
        }
    }
    if (!mapped) {
        GstMapInfo map{};
        if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
            g_checksum_free(checksum);
            return "unmappable";
        }
        g_checksum_update(checksum, map.data, static_cast<gssize>(map.size));
        gst_buffer_unmap(buffer, &map);
    }
    std::string digest = g_checksum_get_string(checksum);
    g_checksum_free(checksum);
    return digest;
}

void print_checksum_line(Probe& probe, GstBuffer* buffer)
{
    std::string layout;
    const std::string sha1 = content_sha1(probe, buffer, layout);
    const bool delta = GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
    std::printf("buffer %" PRIu64 " pts=%s dts=%s duration=%s offset=%s offset_end=%s delta=%d%s sha1=%s\n",
                probe.buffers, format_time(buffer->pts).c_str(), format_time(buffer->dts).c_str(),
                format_time(buffer->duration).c_str(), format_offset(buffer->offset).c_str(),
                format_offset(buffer->offset_end).c_str(), delta ? 1 : 0, layout.c_str(), sha1.c_str());
}

// Replaces the buffer by a copy in two memories (plane 0, then the other planes) with padded strides.
void repack_buffer(Probe& probe, GstPadProbeInfo* info)
{
    auto* buffer = static_cast<GstBuffer*>(info->data);
    GstVideoFrame source{};
    if (!probe.is_video || !gst_video_frame_map(&source, &probe.video_info, buffer, GST_MAP_READ)) {
        return;
    }
    const guint planes = GST_VIDEO_FRAME_N_PLANES(&source);
    gsize offsets[GST_VIDEO_MAX_PLANES] = {};
    gint strides[GST_VIDEO_MAX_PLANES] = {};
    gsize total = 0;
    gsize first_plane_size = 0;
    for (guint plane = 0; plane < planes; ++plane) {
        gint components[GST_VIDEO_MAX_COMPONENTS];
        gst_video_format_info_component(source.info.finfo, plane, components);
        const gint rows = GST_VIDEO_FRAME_COMP_HEIGHT(&source, components[0]);
        strides[plane] = GST_VIDEO_INFO_PLANE_STRIDE(&probe.video_info, plane) +
                         static_cast<gint>(probe.options.repack_pad);
        offsets[plane] = total;
        total += static_cast<gsize>(strides[plane]) * static_cast<gsize>(rows);
        if (plane == 0) {
            first_plane_size = total;
        }
    }
    GstBuffer* packed = gst_buffer_new();
    gst_buffer_append_memory(packed, gst_allocator_alloc(nullptr, first_plane_size, nullptr));
    if (total > first_plane_size) {
        gst_buffer_append_memory(packed, gst_allocator_alloc(nullptr, total - first_plane_size, nullptr));
    }
    gst_buffer_copy_into(packed, buffer, GST_BUFFER_COPY_METADATA, 0, static_cast<gsize>(-1));
    gst_buffer_memset(packed, 0, 0xAB, total); // recognisable padding
    for (guint plane = 0; plane < planes; ++plane) {
        gint components[GST_VIDEO_MAX_COMPONENTS];
        gst_video_format_info_component(source.info.finfo, plane, components);
        const auto row_bytes = static_cast<gsize>(GST_VIDEO_FRAME_COMP_WIDTH(&source, components[0])) *
                               static_cast<gsize>(GST_VIDEO_FRAME_COMP_PSTRIDE(&source, components[0]));
        const gint rows = GST_VIDEO_FRAME_COMP_HEIGHT(&source, components[0]);
        const auto* data = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&source, plane));
        const gint source_stride = GST_VIDEO_FRAME_PLANE_STRIDE(&source, plane);
        for (gint row = 0; row < rows; ++row) {
            gst_buffer_fill(packed, offsets[plane] + static_cast<gsize>(row) * static_cast<gsize>(strides[plane]),
                            data + static_cast<std::ptrdiff_t>(row) * source_stride, row_bytes);
        }
    }
    gst_video_frame_unmap(&source);
    gst_buffer_add_video_meta_full(packed, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&probe.video_info),
                                   static_cast<guint>(GST_VIDEO_INFO_WIDTH(&probe.video_info)),
                                   static_cast<guint>(GST_VIDEO_INFO_HEIGHT(&probe.video_info)), planes, offsets,
                                   strides);
    gst_buffer_unref(buffer);
    info->data = packed;
}

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
    const bool measured = probe.buffers >= probe.options.warmup;
    if (probe.options.latency && measured) {
        measure_latency(probe, buffer, now);
    }
    if (probe.options.repack) {
        repack_buffer(probe, info);
        buffer = static_cast<GstBuffer*>(info->data);
    }
    if (probe.options.checksums) {
        print_checksum_line(probe, buffer);
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
    if (GST_EVENT_TYPE(event) != GST_EVENT_CAPS) {
        return GST_PAD_PROBE_OK;
    }
    GstCaps* caps = nullptr;
    gst_event_parse_caps(event, &caps);
    // gst_video_info_from_caps also accepts encoded video (format ENCODED, no planes): only raw video has rows.
    const GstStructure* structure = gst_caps_get_structure(caps, 0);
    probe.is_video = structure != nullptr && gst_structure_has_name(structure, "video/x-raw") &&
                     gst_video_info_from_caps(&probe.video_info, caps) &&
                     GST_VIDEO_INFO_N_PLANES(&probe.video_info) > 0;
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
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_event, &probe, nullptr);
    gst_object_unref(pad);
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    gst_init(nullptr, nullptr);
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
    if (gst_element_set_state(probe.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
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
    gst_object_unref(probe.pipeline);
    g_main_loop_unref(probe.loop);
    return probe.exit_code;
}
