// SPDX-License-Identifier: MIT
// zb-ingest: reads any FFmpeg input (file, URL, device, lavfi source) and writes its video into a ZeroBuffer ring.
//
// Decode mode (default): decode with libavcodec, convert with libswscale only when asked, and write each frame
// straight into a ring reservation (sws_scale into the reservation's planes, or one av_image_copy into them).
// Why not decode into ring memory with a custom get_buffer2: decoders keep reference frames long after output,
// while ring memory must be committed in reservation order and is reused once readers release it.
// Pass-through mode (--no-decode): encoded packets as Annex-B access units with keyframe flags and extradata.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <zerobuffer/zerobuffer.h>

#include "av_handles.h"
#include "cli.h"
#include "error.h"
#include "formats.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#ifdef ZB_HAVE_AVDEVICE
#include <libavdevice/avdevice.h>
#endif
}

namespace zbffmpeg {
namespace {

constexpr const char* kProgram = "zb-ingest";
constexpr AVRational kNanoseconds{1, 1'000'000'000};

constexpr const char* kHelp = R"(zb-ingest - write the video of any FFmpeg input into a ZeroBuffer ring

Usage: zb-ingest [options] INPUT RING

INPUT is anything libavformat opens: a file (mp4, mkv, ts, h264...), a URL (rtsp://, http://, tcp://,
udp://...), a V4L2 device (/dev/video0 with --format v4l2) or a lavfi source (with --format lavfi).
RING is the ring name (shared-memory object /dev/shm/zb-RING); it is created when the first frame is ready.
Only the best video stream is written. At the end an end-of-stream frame is committed.

Input:
  -f, --format NAME        force the input format (lavfi, v4l2, h264, mpegts...; see 'ffmpeg -formats')
  -o, --input-option K=V   pass an option to the demuxer/protocol/device (repeatable), e.g. -o video_size=1280x720
      --timeout SEC        give up opening or reading a network input after SEC seconds (default 10, 0 = never)
      --loop               start the input again at its end (timestamps keep increasing)
  -r, --realtime           pace frames at the stream's own rate (like ffmpeg -re); default: as fast as possible
  -n, --frames N           stop after N frames
Decoding:
      --no-decode          pass the encoded packets through (H.264/H.265 as Annex-B, one access unit per frame)
      --pix-fmt NAME       convert to this pixel format (FFmpeg or GStreamer name: yuv420p/I420, nv12/NV12,
                           rgba/RGBA...); default: keep the decoder's
      --size WxH           scale to this size; default: keep the decoder's
  -t, --threads N          decoder threads (default 0 = automatic)
Ring:
      --ring-size BYTES    ring payload size, K/M/G suffixes (default: 64M, or 8 frames when frames are larger)
      --max-readers N      reader slots (default 8)
      --checksum           protect every frame with a BLAKE2b checksum
      --reader-timeout MS  longest wait for slow lossless readers before a frame is dropped (default 5000)
      --wait-for-reader    hold the first frame until a reader is attached
      --wait-for-readers N hold the first frame until N readers are attached
Other:
  -v, --verbose            show FFmpeg's own messages (default: errors only)
  -h, --help               this help

A progress line (frames, fps, speed, dropped) is shown when stderr is a terminal; a summary line at the end.
Exit status: 0 done (end of input, --frames reached, or SIGINT/SIGTERM: end-of-stream is written),
1 runtime failure, 2 usage error, 3 input unusable (missing, unreachable, corrupt, unsupported),
4 ring cannot be created or written.

Examples:
  zb-ingest clip.mp4 cam0
  zb-ingest --realtime --loop clip.mp4 cam0
  zb-ingest --no-decode clip.mp4 cam0-h264
  zb-ingest --pix-fmt NV12 --size 1280x720 rtsp://camera.local/stream cam0
  zb-ingest --format lavfi testsrc2=size=1920x1080:rate=30 cam0 --frames 300
  zb-ingest --format v4l2 -o video_size=1280x720 -o framerate=30 /dev/video0 cam0
  zb-ingest --wait-for-reader clip.mp4 cam0 & zb-record cam0 copy.mp4
)";

struct IngestOptions {
    std::string input;
    std::string ring;
    std::string format;
    std::vector<std::pair<std::string, std::string>> input_options;
    double timeout_seconds = 10.0;
    bool loop = false;
    bool realtime = false;
    std::uint64_t max_frames = 0; ///< 0: no limit.
    bool decode = true;
    AVPixelFormat pixel_format = AV_PIX_FMT_NONE;
    int width = 0;
    int height = 0;
    int threads = 0;
    zerobuffer::WriterOptions writer;
    bool ring_size_given = false;
    std::uint32_t wait_for_readers = 0; ///< Readers to wait for before the first frame.
    bool verbose = false;
};

/// A failure with the exit code it leads to.
AVPixelFormat parse_pixel_format(std::string_view name)
{
    const AVPixelFormat from_gst = pixel_format_from_gst(name);
    if (from_gst != AV_PIX_FMT_NONE) {
        return from_gst;
    }
    return av_get_pix_fmt(std::string(name).c_str());
}

std::optional<Failure> parse_arguments(int argc, char** argv, IngestOptions& options)
{
    std::vector<std::string_view> positional;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&](std::string_view& out) {
            if (i + 1 >= argc) {
                return false;
            }
            out = argv[++i];
            return true;
        };
        std::string_view text;
        std::uint64_t number = 0;
        if (arg == "-h" || arg == "--help") {
            std::fputs(kHelp, stdout);
            return Failure{kExitOk, ""};
        }
        if (arg == "-f" || arg == "--format") {
            if (!value(text)) {
                return usage(std::string(arg) + " needs a format name");
            }
            options.format = text;
        } else if (arg == "-o" || arg == "--input-option") {
            if (!value(text) || text.find('=') == std::string_view::npos || text.front() == '=') {
                return usage(std::string(arg) + " needs KEY=VALUE, e.g. -o video_size=1280x720");
            }
            const auto equals = text.find('=');
            options.input_options.emplace_back(text.substr(0, equals), text.substr(equals + 1));
        } else if (arg == "--timeout") {
            if (!value(text) || !parse_seconds(text, options.timeout_seconds)) {
                return usage("--timeout needs seconds, e.g. --timeout 5");
            }
        } else if (arg == "--loop") {
            options.loop = true;
        } else if (arg == "-r" || arg == "--realtime") {
            options.realtime = true;
        } else if (arg == "-n" || arg == "--frames") {
            if (!value(text) || !parse_unsigned(text, options.max_frames) || options.max_frames == 0) {
                return usage(std::string(arg) + " needs a frame count of at least 1");
            }
        } else if (arg == "--no-decode") {
            options.decode = false;
        } else if (arg == "--pix-fmt") {
            if (!value(text)) {
                return usage("--pix-fmt needs a pixel format name");
            }
            options.pixel_format = parse_pixel_format(text);
            if (options.pixel_format == AV_PIX_FMT_NONE || gst_format_name(options.pixel_format).empty()) {
                std::string known;
                for (const auto& entry : pixel_format_table()) {
                    known += std::string(known.empty() ? "" : ", ") + std::string(entry.gst_name);
                }
                return usage("unknown or unsupported pixel format '" + std::string(text) + "': use one of " + known);
            }
        } else if (arg == "--size") {
            if (!value(text) || !parse_size(text, options.width, options.height)) {
                return usage("--size needs WIDTHxHEIGHT, e.g. --size 1280x720");
            }
        } else if (arg == "-t" || arg == "--threads") {
            if (!value(text) || !parse_unsigned(text, number) || number > 64) {
                return usage(std::string(arg) + " needs a thread count from 0 (automatic) to 64");
            }
            options.threads = static_cast<int>(number);
        } else if (arg == "--ring-size") {
            if (!value(text) || !parse_bytes(text, number) || number == 0) {
                return usage("--ring-size needs a size in bytes, e.g. --ring-size 256M");
            }
            options.writer.ring_size = number;
            options.ring_size_given = true;
        } else if (arg == "--max-readers") {
            if (!value(text) || !parse_unsigned(text, number) || number < 1 || number > 64) {
                return usage("--max-readers needs a number from 1 to 64");
            }
            options.writer.max_readers = static_cast<std::uint32_t>(number);
        } else if (arg == "--checksum") {
            options.writer.integrity = zerobuffer::Integrity::Checksum;
        } else if (arg == "--reader-timeout") {
            if (!value(text) || !parse_unsigned(text, number) || number > 3'600'000) {
                return usage("--reader-timeout needs milliseconds, e.g. --reader-timeout 1000");
            }
            options.writer.reader_timeout = std::chrono::milliseconds(number);
        } else if (arg == "--wait-for-reader") {
            options.wait_for_readers = std::max<std::uint32_t>(options.wait_for_readers, 1);
        } else if (arg == "--wait-for-readers") {
            if (!value(text) || !parse_unsigned(text, number) || number < 1 || number > 64) {
                return usage("--wait-for-readers needs a reader count from 1 to 64");
            }
            options.wait_for_readers = static_cast<std::uint32_t>(number);
        } else if (arg == "-v" || arg == "--verbose") {
            options.verbose = true;
        } else if (arg.size() > 1 && arg.front() == '-' && !(arg.size() > 1 && positional.empty() && arg == "-")) {
            return usage("unknown option '" + std::string(arg) + "'");
        } else {
            positional.push_back(arg);
        }
    }
    if (positional.size() != 2) {
        return usage("expected INPUT and RING, got " + std::to_string(positional.size()) + " arguments");
    }
    options.input = positional[0];
    options.ring = positional[1];
    if (!options.decode && (options.pixel_format != AV_PIX_FMT_NONE || options.width != 0)) {
        return usage("--pix-fmt and --size need decoding: drop --no-decode");
    }
    return std::nullopt;
}

/// Interrupts blocking FFmpeg I/O on SIGINT/SIGTERM and when a network open or read takes too long.
struct InterruptState {
    std::int64_t deadline_ns = 0; ///< 0: no deadline.

    static int callback(void* opaque) noexcept
    {
        const auto* state = static_cast<const InterruptState*>(opaque);
        return (stop_requested() || (state->deadline_ns != 0 && monotonic_ns() > state->deadline_ns)) ? 1 : 0;
    }
};

std::string open_hint(int av_error, std::string_view input)
{
    if (av_error == AVERROR(ENOENT)) {
        return "check the path";
    }
    if (av_error == AVERROR(ECONNREFUSED) || av_error == AVERROR(ETIMEDOUT) || av_error == AVERROR_EXIT ||
        av_error == AVERROR(EHOSTUNREACH) || av_error == AVERROR(ENETUNREACH)) {
        return "check the URL and that the server is running and reachable (--timeout sets how long to try)";
    }
    if (av_error == AVERROR_INVALIDDATA) {
        return "the file is corrupt, truncated or not a media file FFmpeg can read";
    }
    if (av_error == AVERROR_PROTOCOL_NOT_FOUND) {
        return "this FFmpeg has no protocol for that URL scheme ('ffmpeg -protocols' lists them)";
    }
    if (input.find("://") != std::string_view::npos) {
        return "check the URL";
    }
    return "check that it exists and is a media file or device FFmpeg can read";
}

/// The ring, created lazily when the first frame's format is known (so a bad input leaves no ring behind).
class RingOutput {
public:
    explicit RingOutput(const IngestOptions& options) : options_(options) {}

    /// Creates the ring on first use (sized for frames of frame_size) and publishes the format when it changed.
    Result<void> publish(const zerobuffer::StreamFormat& format, std::size_t frame_size)
    {
        if (!writer_) {
            zerobuffer::WriterOptions writer_options = options_.writer;
            if (!options_.ring_size_given) {
                writer_options.ring_size = std::max<std::size_t>(writer_options.ring_size, frame_size * 8);
            }
            auto writer = zerobuffer::Writer::create(options_.ring, writer_options);
            if (!writer) {
                return make_error(FfmpegIoErrc::RingError,
                                  "cannot create ring '" + options_.ring + "': " + writer.error().message);
            }
            writer_.emplace(std::move(*writer));
        }
        if (frame_size > writer_->max_payload_size()) {
            return make_error(FfmpegIoErrc::RingError, "a frame of " + std::to_string(frame_size) +
                                                           " bytes does not fit in ring '" + options_.ring +
                                                           "' (at most " + std::to_string(writer_->max_payload_size()) +
                                                           " bytes): use a larger --ring-size");
        }
        std::string json = zerobuffer::to_json(format);
        if (json != published_json_) {
            auto generation = writer_->set_stream_metadata(json);
            if (!generation) {
                return make_error(FfmpegIoErrc::RingError, "cannot publish the stream format on ring '" +
                                                               options_.ring + "': " + generation.error().message);
            }
            published_json_ = std::move(json);
        }
        if (options_.wait_for_readers > 0 && !waited_) {
            std::fprintf(stderr, "%s: waiting for %u reader(s) on ring '%s'\n", kProgram, options_.wait_for_readers,
                         options_.ring.c_str());
            while (!stop_requested()) {
                if (writer_->wait_for_readers(options_.wait_for_readers, std::chrono::milliseconds(200))) {
                    break;
                }
            }
            waited_ = true;
            if (stop_requested()) {
                return make_error(FfmpegIoErrc::Interrupted, "stopped while waiting for a reader");
            }
        }
        return {};
    }

    /// Reserves a frame; an empty optional (and one more drop) when slow lossless readers leave no room in time.
    Result<std::optional<zerobuffer::FrameReservation>> reserve(std::size_t size)
    {
        auto reservation = writer_->reserve(size);
        if (!reservation) {
            if (reservation.error().code == zerobuffer::Errc::Timeout) {
                ++dropped_;
                return std::optional<zerobuffer::FrameReservation>{};
            }
            if (reservation.error().code == zerobuffer::Errc::FrameTooLarge) {
                return make_error(FfmpegIoErrc::RingError, "a frame of " + std::to_string(size) +
                                                               " bytes does not fit in ring '" + options_.ring +
                                                               "': use a larger --ring-size");
            }
            return make_error(FfmpegIoErrc::RingError,
                              "cannot reserve a frame in ring '" + options_.ring + "': " + reservation.error().message);
        }
        return std::optional<zerobuffer::FrameReservation>(std::move(*reservation));
    }

    Result<void> commit(zerobuffer::FrameReservation& reservation, const zerobuffer::FrameInfo& info, std::size_t size)
    {
        auto committed = writer_->commit(reservation, info, size, 0);
        if (!committed) {
            return make_error(FfmpegIoErrc::RingError,
                              "cannot commit a frame to ring '" + options_.ring + "': " + committed.error().message);
        }
        ++frames_;
        return {};
    }

    /// Commits the end-of-stream frame (empty payload), if the ring exists.
    void end_of_stream()
    {
        if (!writer_) {
            return;
        }
        zerobuffer::FrameInfo info;
        info.flags = zerobuffer::kFrameEndOfStream;
        if (auto written = writer_->write({}, info); !written) {
            std::fprintf(stderr, "%s: warning: cannot write the end-of-stream frame: %s\n", kProgram,
                         written.error().message.c_str());
        }
    }

    [[nodiscard]] bool created() const noexcept { return writer_.has_value(); }
    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

private:
    const IngestOptions& options_;
    std::optional<zerobuffer::Writer> writer_;
    std::string published_json_;
    bool waited_ = false;
    std::uint64_t frames_ = 0;
    std::uint64_t dropped_ = 0;
};

/// Timestamps in ns that keep increasing across --loop, and --realtime pacing on them.
class Clock {
public:
    Clock(AVRational time_base, std::int64_t start_time, bool realtime)
        : time_base_(time_base), start_ns_(start_time == AV_NOPTS_VALUE ? 0 : rescale(start_time)), realtime_(realtime)
    {
    }

    [[nodiscard]] std::int64_t to_ns(std::int64_t timestamp) const noexcept
    {
        return timestamp == AV_NOPTS_VALUE ? zerobuffer::kNoTimestamp : rescale(timestamp) + loop_offset_ns_;
    }
    [[nodiscard]] std::int64_t duration_ns(std::int64_t duration) const noexcept
    {
        return duration <= 0 ? zerobuffer::kNoTimestamp : rescale(duration);
    }

    /// Remembers the end of the latest frame (for the next loop's offset and the progress line).
    void saw(std::int64_t pts_ns, std::int64_t duration_ns) noexcept
    {
        if (pts_ns == zerobuffer::kNoTimestamp) {
            return;
        }
        if (first_ns_ == zerobuffer::kNoTimestamp) {
            first_ns_ = pts_ns;
        }
        end_ns_ = std::max(end_ns_, pts_ns + (duration_ns == zerobuffer::kNoTimestamp ? 0 : duration_ns));
    }

    /// A timestamp, or (for inputs without any, like raw .h264) the end of the previous frame.
    [[nodiscard]] std::int64_t or_next(std::int64_t pts_ns) const noexcept
    {
        return pts_ns != zerobuffer::kNoTimestamp ? pts_ns : end_ns_;
    }

    /// The input starts again: its timestamps continue after the latest frame.
    void looped() noexcept { loop_offset_ns_ = end_ns_ - start_ns_; }

    /// With --realtime, sleeps until the frame's time has come relative to the first frame.
    void pace(std::int64_t pts_ns) noexcept
    {
        if (!realtime_ || pts_ns == zerobuffer::kNoTimestamp) {
            return;
        }
        const std::int64_t now = monotonic_ns();
        if (wall_start_ns_ == 0) {
            wall_start_ns_ = now;
            pace_origin_ns_ = pts_ns;
            return;
        }
        std::int64_t wait = wall_start_ns_ + (pts_ns - pace_origin_ns_) - now;
        while (wait > 0 && !stop_requested()) {
            std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(wait, 100'000'000)));
            wait = wall_start_ns_ + (pts_ns - pace_origin_ns_) - monotonic_ns();
        }
    }

    [[nodiscard]] std::int64_t media_time_ns() const noexcept
    {
        return first_ns_ == zerobuffer::kNoTimestamp ? 0 : end_ns_ - first_ns_;
    }

private:
    [[nodiscard]] std::int64_t rescale(std::int64_t value) const noexcept
    {
        return av_rescale_q(value, time_base_, kNanoseconds);
    }

    AVRational time_base_;
    std::int64_t start_ns_;
    bool realtime_;
    std::int64_t loop_offset_ns_ = 0;
    std::int64_t first_ns_ = zerobuffer::kNoTimestamp;
    std::int64_t end_ns_ = 0;
    std::int64_t wall_start_ns_ = 0;
    std::int64_t pace_origin_ns_ = 0;
};

/// What the packet loop hands each frame or packet to.
class Sink {
public:
    Sink() = default;
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;
    virtual ~Sink() = default;
    /// One packet of the video stream; nullptr drains (end of input or before a loop restart).
    [[nodiscard]] virtual Result<void> send(const AVPacket* packet) = 0;
    /// The input restarts from the beginning (--loop).
    virtual void restart() = 0;
};

/// Shared state of both modes: the ring, the clock, counters and the frame limit.
struct Context {
    const IngestOptions& options;
    RingOutput& ring;
    Clock& clock;
    Progress& progress;
    std::uint64_t corrupt = 0;
    bool discontinuity = false; ///< Set after a loop restart or a skipped packet: flags the next frame.

    [[nodiscard]] bool limit_reached() const noexcept
    {
        return options.max_frames != 0 && ring.frames() >= options.max_frames;
    }
    void report_corrupt(const char* what, std::int64_t timestamp_ns, int av_error)
    {
        ++corrupt;
        discontinuity = true;
        if (timestamp_ns == zerobuffer::kNoTimestamp) {
            std::fprintf(stderr, "%s: warning: corrupt %s skipped (%s)\n", kProgram, what,
                         av_error_text(av_error).c_str());
        } else {
            std::fprintf(stderr, "%s: warning: corrupt %s at %.3f s skipped (%s)\n", kProgram, what,
                         static_cast<double>(timestamp_ns) / 1e9, av_error_text(av_error).c_str());
        }
    }
    std::uint32_t take_flags(std::uint32_t flags) noexcept
    {
        if (discontinuity) {
            flags |= zerobuffer::kFrameDiscontinuity;
            discontinuity = false;
        }
        return flags;
    }
};

/// Decode mode: packet -> decoder -> (swscale) -> ring reservation.
class DecodeSink final : public Sink {
public:
    DecodeSink(Context& context, CodecContextPtr decoder, FramePtr frame, AVRational framerate, AVRational time_base)
        : context_(context), decoder_(std::move(decoder)), frame_(std::move(frame)), framerate_(framerate),
          time_base_(time_base)
    {
    }

    Result<void> send(const AVPacket* packet) override
    {
        const int sent = avcodec_send_packet(decoder_.get(), packet);
        if (sent < 0 && sent != AVERROR_EOF) {
            if (sent == AVERROR(EAGAIN)) {
                return make_error(FfmpegIoErrc::Internal, "the decoder refused input while it had no output");
            }
            context_.report_corrupt("packet", packet ? context_.clock.to_ns(packet->pts) : zerobuffer::kNoTimestamp,
                                    sent);
            return {};
        }
        while (!context_.limit_reached()) {
            const int received = avcodec_receive_frame(decoder_.get(), frame_.get());
            if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) {
                break;
            }
            if (received < 0) {
                if (received == AVERROR_INVALIDDATA) {
                    context_.report_corrupt("frame", zerobuffer::kNoTimestamp, received);
                    continue;
                }
                return make_error(FfmpegIoErrc::InputInvalid, "decoding failed: " + av_error_text(received));
            }
            auto written = write_frame(*frame_);
            av_frame_unref(frame_.get());
            if (!written) {
                return written;
            }
        }
        return {};
    }

    void restart() override { avcodec_flush_buffers(decoder_.get()); }

private:
    /// Sets up the output format (and a scaler when asked or needed) for frames like `frame`.
    Result<void> configure(const AVFrame& frame)
    {
        const auto input_format = static_cast<AVPixelFormat>(frame.format);
        const auto& options = context_.options;
        const AVPixelFormat output_format =
            options.pixel_format != AV_PIX_FMT_NONE ? options.pixel_format : input_format;
        const int width = options.width != 0 ? options.width : frame.width;
        const int height = options.height != 0 ? options.height : frame.height;
        if (gst_format_name(output_format).empty()) {
            const char* name = av_get_pix_fmt_name(output_format);
            return make_error(FfmpegIoErrc::Unsupported,
                              std::string("the decoder outputs pixel format ") + (name ? name : "?") +
                                  ", which has no GStreamer name: pass --pix-fmt, e.g. --pix-fmt I420");
        }
        scaler_.reset();
        if (output_format != input_format || width != frame.width || height != frame.height) {
            scaler_.reset(sws_getContext(frame.width, frame.height, input_format, width, height, output_format,
                                         SWS_BICUBIC, nullptr, nullptr, nullptr));
            if (!scaler_) {
                return make_error(FfmpegIoErrc::Unsupported,
                                  std::string("cannot convert ") + av_get_pix_fmt_name(input_format) + " " +
                                      std::to_string(frame.width) + "x" + std::to_string(frame.height) + " to " +
                                      av_get_pix_fmt_name(output_format) + " " + std::to_string(width) + "x" +
                                      std::to_string(height));
            }
        }
        auto layout = packed_layout(output_format, width, height);
        if (!layout) {
            return tl::unexpected(layout.error());
        }
        layout_ = std::move(*layout);
        output_format_ = output_format;
        output_width_ = width;
        output_height_ = height;
        input_format_ = input_format;
        input_width_ = frame.width;
        input_height_ = frame.height;
        const AVRational aspect = frame.sample_aspect_ratio;
        return context_.ring.publish(
            raw_stream_format(output_format, width, height, layout_, framerate_, aspect, time_base_),
            layout_.frame_size);
    }

    Result<void> write_frame(const AVFrame& frame)
    {
        if (frame.format != input_format_ || frame.width != input_width_ || frame.height != input_height_) {
            if (auto configured = configure(frame); !configured) {
                return configured;
            }
        }
        std::int64_t duration_ns = context_.clock.duration_ns(frame.pkt_duration);
        if (duration_ns == zerobuffer::kNoTimestamp && framerate_.num > 0) {
            duration_ns = av_rescale_q(1, av_inv_q(framerate_), kNanoseconds);
        }
        const std::int64_t pts_ns = context_.clock.or_next(context_.clock.to_ns(frame.best_effort_timestamp));
        context_.clock.pace(pts_ns);
        auto reservation = context_.ring.reserve(layout_.frame_size);
        if (!reservation) {
            return tl::unexpected(reservation.error());
        }
        if (!*reservation) {
            return {}; // Dropped: readers too slow; counted by the ring output.
        }
        std::array<std::uint8_t*, 4> planes{};
        std::array<int, 4> strides{};
        auto* payload = reinterpret_cast<std::uint8_t*>((*reservation)->payload().data());
        for (std::size_t i = 0; i < layout_.planes.size(); ++i) {
            planes[i] = payload + layout_.planes[i].offset;
            strides[i] = static_cast<int>(layout_.planes[i].stride);
        }
        if (scaler_) {
            sws_scale(scaler_.get(), frame.data, frame.linesize, 0, frame.height, planes.data(), strides.data());
        } else {
            // The one copy of decode mode: from the decoder's (reference-counted) frame into the ring.
            (*reservation)->mark_copied();
            for (std::size_t i = 0; i < layout_.planes.size(); ++i) {
                const std::uint32_t rows = layout_.plane_heights[i];
                if (frame.linesize[i] == strides[i] && rows > 0) {
                    // Same stride: one large memcpy (non-temporal stores in glibc) instead of one per row.
                    std::memcpy(planes[i], frame.data[i],
                                static_cast<std::size_t>(strides[i]) * (rows - 1) + layout_.row_bytes[i]);
                } else {
                    av_image_copy_plane(planes[i], strides[i], frame.data[i], frame.linesize[i],
                                        static_cast<int>(layout_.row_bytes[i]), static_cast<int>(rows));
                }
            }
        }
        zerobuffer::FrameInfo info;
        info.pts = pts_ns;
        info.duration = duration_ns;
        std::uint32_t flags = frame.key_frame != 0 ? zerobuffer::kFrameKeyframe : zerobuffer::kFrameNone;
        if ((frame.flags & AV_FRAME_FLAG_CORRUPT) != 0 || frame.decode_error_flags != 0) {
            // The decoder concealed damage: pass the frame on, flagged, and say so.
            flags |= zerobuffer::kFrameCorrupted;
            ++context_.corrupt;
            std::fprintf(stderr,
                         "%s: warning: corrupt data in the frame at %.3f s (concealed by the decoder, "
                         "flagged corrupted)\n",
                         kProgram, static_cast<double>(pts_ns) / 1e9);
        }
        info.flags = context_.take_flags(flags);
        context_.clock.saw(pts_ns, duration_ns);
        return context_.ring.commit(**reservation, info, layout_.frame_size);
    }

    Context& context_;
    CodecContextPtr decoder_;
    FramePtr frame_;
    AVRational framerate_;
    AVRational time_base_;
    SwsContextPtr scaler_;
    RawLayout layout_;
    int input_format_ = AV_PIX_FMT_NONE;
    int input_width_ = 0;
    int input_height_ = 0;
    AVPixelFormat output_format_ = AV_PIX_FMT_NONE;
    int output_width_ = 0;
    int output_height_ = 0;
};

/// Pass-through mode: packet -> (Annex-B bitstream filter) -> ring, one access unit per frame.
class PassthroughSink final : public Sink {
public:
    PassthroughSink(Context& context, BsfContextPtr filter, PacketPtr filtered, zerobuffer::StreamFormat format)
        : context_(context), filter_(std::move(filter)), filtered_(std::move(filtered)), format_(std::move(format))
    {
    }

    Result<void> send(const AVPacket* packet) override
    {
        if (packet != nullptr && packet->size == 0) {
            return {};
        }
        if (!filter_) {
            return packet ? write_packet(*packet) : Result<void>{};
        }
        // The filter takes ownership of what it is sent, so give it a reference of its own.
        int sent = 0;
        if (packet != nullptr) {
            if (av_packet_ref(filtered_.get(), packet) < 0) {
                return make_error(FfmpegIoErrc::Internal, "out of memory");
            }
            sent = av_bsf_send_packet(filter_.get(), filtered_.get());
            av_packet_unref(filtered_.get());
        } else {
            sent = av_bsf_send_packet(filter_.get(), nullptr);
        }
        if (sent < 0) {
            context_.report_corrupt("packet", packet ? context_.clock.to_ns(packet->pts) : zerobuffer::kNoTimestamp,
                                    sent);
            return {};
        }
        while (!context_.limit_reached()) {
            const int received = av_bsf_receive_packet(filter_.get(), filtered_.get());
            if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) {
                break;
            }
            if (received < 0) {
                context_.report_corrupt("packet", zerobuffer::kNoTimestamp, received);
                continue;
            }
            auto written = write_packet(*filtered_);
            av_packet_unref(filtered_.get());
            if (!written) {
                return written;
            }
        }
        return {};
    }

    void restart() override
    {
        if (filter_) {
            av_bsf_flush(filter_.get());
        }
    }

private:
    Result<void> write_packet(const AVPacket& packet)
    {
        if (!published_) {
            if (auto published = context_.ring.publish(format_, static_cast<std::size_t>(packet.size)); !published) {
                return published;
            }
            published_ = true;
        }
        const std::int64_t pts_ns = context_.clock.to_ns(packet.pts);
        const std::int64_t dts_ns = context_.clock.to_ns(packet.dts);
        const std::int64_t duration_ns = context_.clock.duration_ns(packet.duration);
        context_.clock.pace(dts_ns != zerobuffer::kNoTimestamp ? dts_ns : pts_ns);
        const auto size = static_cast<std::size_t>(packet.size);
        auto reservation = context_.ring.reserve(size);
        if (!reservation) {
            return tl::unexpected(reservation.error());
        }
        if (!*reservation) {
            return {};
        }
        (*reservation)->mark_copied();
        std::copy_n(reinterpret_cast<const std::byte*>(packet.data), size, (*reservation)->payload().data());
        zerobuffer::FrameInfo info;
        info.pts = pts_ns;
        info.dts = dts_ns;
        info.duration = duration_ns;
        std::uint32_t flags = zerobuffer::kFrameNone;
        if ((packet.flags & AV_PKT_FLAG_KEY) != 0) {
            flags |= zerobuffer::kFrameKeyframe;
        }
        if ((packet.flags & AV_PKT_FLAG_CORRUPT) != 0) {
            // The demuxer knows data is missing (e.g. an MPEG-TS continuity error): pass it on, flagged.
            flags |= zerobuffer::kFrameCorrupted;
            ++context_.corrupt;
            std::fprintf(stderr,
                         "%s: warning: corrupt packet at %.3f s (the demuxer lost data; written flagged corrupted)\n",
                         kProgram, static_cast<double>(pts_ns) / 1e9);
        }
        if ((packet.flags & AV_PKT_FLAG_DISPOSABLE) != 0) {
            flags |= zerobuffer::kFrameDroppable;
        }
        info.flags = context_.take_flags(flags);
        context_.clock.saw(pts_ns, duration_ns);
        return context_.ring.commit(**reservation, info, size);
    }

    Context& context_;
    BsfContextPtr filter_; ///< nullptr when packets go through unchanged.
    PacketPtr filtered_;
    zerobuffer::StreamFormat format_;
    bool published_ = false;
};

Result<std::unique_ptr<Sink>> make_decode_sink(Context& context, const AVStream& stream, AVRational framerate)
{
    const AVCodec* codec = avcodec_find_decoder(stream.codecpar->codec_id);
    if (codec == nullptr) {
        return make_error(FfmpegIoErrc::Unsupported, std::string("no decoder for the input's video codec ") +
                                                         avcodec_get_name(stream.codecpar->codec_id) +
                                                         " in this FFmpeg: use --no-decode");
    }
    CodecContextPtr decoder(avcodec_alloc_context3(codec));
    FramePtr frame = make_frame();
    if (!decoder || !frame || avcodec_parameters_to_context(decoder.get(), stream.codecpar) < 0) {
        return make_error(FfmpegIoErrc::Internal, "cannot set up the decoder: out of memory");
    }
    decoder->pkt_timebase = stream.time_base;
    decoder->thread_count = context.options.threads;
    decoder->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (const int opened = avcodec_open2(decoder.get(), codec, nullptr); opened < 0) {
        return make_error(FfmpegIoErrc::Unsupported,
                          std::string("cannot open the ") + codec->name + " decoder: " + av_error_text(opened));
    }
    return std::make_unique<DecodeSink>(context, std::move(decoder), std::move(frame), framerate, stream.time_base);
}

Result<std::unique_ptr<Sink>> make_passthrough_sink(Context& context, const AVStream& stream, AVRational framerate)
{
    const AVCodecID codec_id = stream.codecpar->codec_id;
    BsfContextPtr filter;
    const AVCodecParameters* parameters = stream.codecpar;
    if (codec_id == AV_CODEC_ID_H264 || codec_id == AV_CODEC_ID_HEVC) {
        // Converts length-prefixed (mp4/mkv) streams to Annex-B and puts SPS/PPS before keyframes;
        // streams that are Annex-B already pass unchanged.
        const AVBitStreamFilter* annexb =
            av_bsf_get_by_name(codec_id == AV_CODEC_ID_H264 ? "h264_mp4toannexb" : "hevc_mp4toannexb");
        AVBSFContext* raw_filter = nullptr;
        if (annexb == nullptr || av_bsf_alloc(annexb, &raw_filter) < 0) {
            return make_error(FfmpegIoErrc::Unsupported, "this FFmpeg lacks the mp4toannexb bitstream filters");
        }
        filter.reset(raw_filter);
        if (avcodec_parameters_copy(filter->par_in, stream.codecpar) < 0) {
            return make_error(FfmpegIoErrc::Internal, "out of memory");
        }
        filter->time_base_in = stream.time_base;
        if (const int initialised = av_bsf_init(filter.get()); initialised < 0) {
            return make_error(FfmpegIoErrc::InputInvalid, "cannot convert the input's " +
                                                              std::string(avcodec_get_name(codec_id)) +
                                                              " stream to Annex-B: " + av_error_text(initialised) +
                                                              " (its codec headers are damaged)");
        }
        parameters = filter->par_out;
    }
    auto format = encoded_stream_format(*parameters, framerate, stream.time_base);
    if (!format) {
        return tl::unexpected(format.error());
    }
    PacketPtr filtered = make_packet();
    if (!filtered) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    return std::make_unique<PassthroughSink>(context, std::move(filter), std::move(filtered), std::move(*format));
}

struct Input {
    InputContextPtr context;
    int stream_index = -1;
};

Result<Input> open_input(const IngestOptions& options, InterruptState& interrupt)
{
    const AVInputFormat* input_format = nullptr;
    if (!options.format.empty()) {
        input_format = av_find_input_format(options.format.c_str());
        if (input_format == nullptr) {
            return make_error(FfmpegIoErrc::InvalidArgument,
                              "unknown input format '" + options.format +
                                  "': 'ffmpeg -formats' and 'ffmpeg -devices' list the ones this FFmpeg has");
        }
    }
    Dictionary dictionary;
    for (const auto& [key, value] : options.input_options) {
        dictionary.set(key.c_str(), value.c_str());
    }
    if (options.timeout_seconds > 0.0) {
        // Network protocols stop waiting for data after this long (microseconds), so a dead stream ends.
        const auto microseconds = static_cast<long long>(options.timeout_seconds * 1e6);
        av_dict_set_int(dictionary.address(), "rw_timeout", microseconds, AV_DICT_DONT_OVERWRITE);
        interrupt.deadline_ns = monotonic_ns() + static_cast<std::int64_t>(options.timeout_seconds * 1e9);
    }
    AVFormatContext* raw_context = avformat_alloc_context();
    if (raw_context == nullptr) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    raw_context->interrupt_callback = AVIOInterruptCB{&InterruptState::callback, &interrupt};
    const int opened = avformat_open_input(&raw_context, options.input.c_str(), input_format, dictionary.address());
    if (opened < 0) { // avformat_open_input frees the context on failure.
        if (stop_requested()) {
            return make_error(FfmpegIoErrc::Interrupted, "interrupted while opening '" + options.input + "'");
        }
        const bool timed_out = opened == AVERROR_EXIT;
        return make_error(FfmpegIoErrc::InputUnavailable,
                          "cannot open input '" + options.input + "': " +
                              (timed_out ? std::string("no answer within the timeout") : av_error_text(opened)) +
                              " - " + open_hint(opened, options.input));
    }
    Input input;
    input.context.reset(raw_context);
    if (const AVDictionaryEntry* unused = dictionary.first_left();
        unused != nullptr && unused->key != std::string("rw_timeout")) {
        return make_error(FfmpegIoErrc::InvalidArgument, std::string("input option '") + unused->key +
                                                             "' is not known to the " + input.context->iformat->name +
                                                             " demuxer or its protocol: check the name");
    }
    if (const int found = avformat_find_stream_info(input.context.get(), nullptr); found < 0) {
        return make_error(FfmpegIoErrc::InputInvalid, "cannot read stream information from '" + options.input +
                                                          "': " + av_error_text(found) + " - " +
                                                          open_hint(found, options.input));
    }
    interrupt.deadline_ns = 0; // Reads are bounded by rw_timeout from now on; the callback only checks signals.
    input.stream_index = av_find_best_stream(input.context.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (input.stream_index < 0) {
        return make_error(FfmpegIoErrc::InputInvalid,
                          "input '" + options.input + "' has no video stream (only video is ingested)");
    }
    return input;
}

Failure failure_from(const FfmpegIoError& error)
{
    switch (error.code) {
    case FfmpegIoErrc::InvalidArgument: return Failure{kExitUsage, error.message};
    case FfmpegIoErrc::InputUnavailable:
    case FfmpegIoErrc::InputInvalid:
    case FfmpegIoErrc::Unsupported: return Failure{kExitInput, error.message};
    case FfmpegIoErrc::RingError:
    case FfmpegIoErrc::OutputError: return Failure{kExitOutput, error.message};
    case FfmpegIoErrc::Interrupted: return Failure{kExitOk, error.message};
    case FfmpegIoErrc::Internal: return Failure{kExitFailure, error.message};
    }
    return Failure{kExitFailure, error.message};
}

/// Reads packets until the end (or the limit, or a signal) and feeds the sink.
Result<void> pump(const IngestOptions& options, Input& input, Context& context, Sink& sink)
{
    PacketPtr packet = make_packet();
    if (!packet) {
        return make_error(FfmpegIoErrc::Internal, "out of memory");
    }
    int consecutive_errors = 0;
    bool any_packet_since_start = false;
    while (!stop_requested() && !context.limit_reached()) {
        const int read = av_read_frame(input.context.get(), packet.get());
        if (read == AVERROR(EAGAIN)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        if (read == AVERROR_EOF || (read < 0 && avio_feof(input.context->pb) != 0 && read != AVERROR_INVALIDDATA)) {
            if (auto drained = sink.send(nullptr); !drained) {
                return drained;
            }
            if (!options.loop || !any_packet_since_start || context.limit_reached()) {
                return {};
            }
            // Loop: rewind, reset the decoder, and continue the timestamps after the last frame.
            if (const int sought = avformat_seek_file(input.context.get(), -1, INT64_MIN, 0, 0, 0); sought < 0) {
                return make_error(FfmpegIoErrc::InputInvalid, "cannot loop: seeking to the start failed (" +
                                                                  av_error_text(sought) + "); live inputs cannot loop");
            }
            sink.restart();
            context.clock.looped();
            context.discontinuity = true;
            any_packet_since_start = false;
            continue;
        }
        if (read < 0) {
            if (stop_requested()) {
                break;
            }
            if (read == AVERROR_INVALIDDATA && ++consecutive_errors < 100) {
                context.report_corrupt("packet", zerobuffer::kNoTimestamp, read);
                continue;
            }
            return make_error(FfmpegIoErrc::InputInvalid, "reading '" + options.input +
                                                              "' failed: " + av_error_text(read) + " - " +
                                                              open_hint(read, options.input));
        }
        consecutive_errors = 0;
        if (packet->stream_index == input.stream_index) {
            any_packet_since_start = true;
            auto sent = sink.send(packet.get());
            av_packet_unref(packet.get());
            if (!sent) {
                return sent;
            }
            context.progress.update(context.ring.frames(), context.ring.dropped(), context.clock.media_time_ns());
        } else {
            av_packet_unref(packet.get());
        }
    }
    return {};
}

int run(const IngestOptions& options)
{
    av_log_set_level(options.verbose ? AV_LOG_INFO : AV_LOG_ERROR);
#ifdef ZB_HAVE_AVDEVICE
    avdevice_register_all();
#endif
    avformat_network_init();
    install_stop_handlers();

    InterruptState interrupt;
    auto input = open_input(options, interrupt);
    if (!input) {
        const Failure failure = failure_from(input.error());
        std::fprintf(stderr, failure.exit_code == kExitOk ? "%s: %s\n" : "%s: error: %s\n", kProgram,
                     failure.message.c_str());
        return failure.exit_code;
    }
    const AVStream& stream = *input->context->streams[input->stream_index];
    const AVRational framerate =
        av_guess_frame_rate(input->context.get(), input->context->streams[input->stream_index], nullptr);

    RingOutput ring(options);
    Clock clock(stream.time_base, stream.start_time, options.realtime);
    Progress progress(kProgram);
    Context context{options, ring, clock, progress};
    auto sink = options.decode ? make_decode_sink(context, stream, framerate)
                               : make_passthrough_sink(context, stream, framerate);
    Result<void> result = sink ? pump(options, *input, context, **sink) : tl::unexpected(sink.error());

    // Whatever happened, readers get a clean end of stream; open reservations were aborted by their destructors.
    ring.end_of_stream();
    const std::string extra = std::to_string(context.corrupt) + " corrupt packets or frames" +
                              (stop_requested() ? ", stopped by signal" : "");
    if (ring.created() || result) {
        progress.summary(ring.frames(), ring.dropped(), clock.media_time_ns(), extra);
    }
    if (!result) {
        const Failure failure = failure_from(result.error());
        std::fprintf(stderr, failure.exit_code == kExitOk ? "%s: %s\n" : "%s: error: %s\n", kProgram,
                     failure.message.c_str());
        return failure.exit_code;
    }
    if (!ring.created() && !stop_requested()) {
        std::fprintf(stderr, "%s: error: input '%s' gave no video frame - check that it is not empty or corrupt\n",
                     kProgram, options.input.c_str());
        return kExitInput;
    }
    return kExitOk;
}

} // namespace
} // namespace zbffmpeg

int main(int argc, char** argv)
{
    zbffmpeg::IngestOptions options;
    if (auto failure = zbffmpeg::parse_arguments(argc, argv, options)) {
        if (failure->exit_code != zbffmpeg::kExitOk) {
            std::fprintf(stderr, "zb-ingest: error: %s\nTry 'zb-ingest --help'.\n", failure->message.c_str());
        }
        return failure->exit_code;
    }
    return zbffmpeg::run(options);
}
