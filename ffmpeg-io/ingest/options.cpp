// SPDX-License-Identifier: MIT
// zb-ingest's command line on CLI11 (docs/cli.md): the options, their checks and the --help text.
#include "options.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command_line.h"
#include "formats.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace zbffmpeg::ingest {
namespace {

constexpr const char* kDescription = R"(zb-ingest - write the video of any FFmpeg input into a ZeroBuffer ring

INPUT is anything libavformat opens: a file (mp4, mkv, ts, h264...), a URL (rtsp://, http://,
tcp://, udp://...), a V4L2 device (/dev/video0 with --format v4l2) or a lavfi source (with --format
lavfi). RING is the ring name (shared-memory object /dev/shm/zb-RING); it is created when the first
frame is ready. Only the best video stream is written, and with --audio-ring the best audio stream
into a second ring (its timestamps on the video's clock). At the end an end-of-stream frame is
committed to each ring.
)";

constexpr const char* kProse =
    R"(Decode mode writes frames without copying them where it can. Decoders with direct rendering (h264,
hevc, vp9, mpeg2video and most of FFmpeg's own) decode straight into ring memory; frames are
published in output order and the ring keeps the decoder's reference frames intact. One copy per
frame remains for decoders without it (rawvideo, libdav1d, lavfi sources), with --copy, and for
pictures the ring has no room for (readers hold many frames, or --ring-size is too small for the
decoder's reference frames). --pix-fmt and --size convert with libswscale, which writes into the
ring itself. The summary line counts the frames written in place and copied, and says why frames
were copied.

A progress line (frames, fps, speed, dropped) is shown when stderr is a terminal; a summary line
at the end.
Exit status: 0 done (end of input, --frames reached, or SIGINT/SIGTERM: end-of-stream is written),
1 runtime failure, 2 usage error, 3 input unusable (missing, unreachable, corrupt, unsupported),
4 ring cannot be created or written.
)";

constexpr const char* kExamples = R"(zb-ingest clip.mp4 cam0
zb-ingest --realtime --loop clip.mp4 cam0
zb-ingest --no-decode clip.mp4 cam0-h264
zb-ingest --pix-fmt NV12 --size 1280x720 rtsp://camera.local/stream cam0
zb-ingest --format lavfi testsrc2=size=1920x1080:rate=30 cam0 --frames 300
zb-ingest --format v4l2 -o video_size=1280x720 -o framerate=30 /dev/video0 cam0
zb-ingest --wait-for-reader clip.mp4 cam0 & zb-record cam0 copy.mp4
zb-ingest --audio-ring cam0-audio clip.mp4 cam0 & zb-record --audio-ring cam0-audio cam0 copy.mp4)";

AVPixelFormat parse_pixel_format(std::string_view name)
{
    const AVPixelFormat from_gst = pixel_format_from_gst(name);
    if (from_gst != AV_PIX_FMT_NONE) {
        return from_gst;
    }
    return av_get_pix_fmt(std::string(name).c_str());
}

/// A pixel format zb-ingest can write (one of the table's, by FFmpeg or GStreamer name).
CLI::Validator writable_pixel_format()
{
    return CLI::Validator(
        [](std::string& text) -> std::string {
            const AVPixelFormat format = parse_pixel_format(text);
            if (format != AV_PIX_FMT_NONE && !gst_format_name(format).empty()) {
                return {};
            }
            std::string known;
            for (const auto& entry : pixel_format_table()) {
                known += std::string(known.empty() ? "" : ", ") + std::string(entry.gst_name);
            }
            return "unknown or unsupported pixel format '" + text + "': use one of " + known;
        },
        "");
}

CLI::Validator picture_size()
{
    return CLI::Validator(
        [](std::string& text) -> std::string {
            int width = 0;
            int height = 0;
            return parse_size(text, width, height) ? std::string()
                                                   : "needs WIDTHxHEIGHT, e.g. --size 1280x720, not '" + text + "'";
        },
        "");
}

/// The values as CLI11 parses them, before they become IngestOptions.
struct Given {
    std::vector<std::string> input_options;
    std::string pixel_format;
    std::string size;
    std::uint64_t ring_size = 0;
    std::uint32_t max_readers = 8;
    std::uint64_t reader_timeout_ms = 5000;
    bool checksum = false;
    bool no_decode = false;
    bool audio_no_decode = false;
    bool wait_for_reader = false;
    std::uint32_t wait_for_readers = 0;
};

void add_input_options(CLI::App& app, IngestOptions& options, Given& given)
{
    app.add_option("INPUT", options.input, "file, URL, V4L2 device or lavfi source graph (see above)")->required();
    app.add_option("RING", options.ring, "name of the ring to create (/dev/shm/zb-RING)")->required();
    app.add_option("-f,--format", options.format,
                   "force the input format (lavfi, v4l2, h264, mpegts...; see\n"
                   "'ffmpeg -formats')")
        ->type_name("NAME")
        ->group("Input");
    app.add_option("-o,--input-option", given.input_options,
                   "pass an option to the demuxer/protocol/device (repeatable),\n"
                   "e.g. -o video_size=1280x720")
        ->type_name("K=V")
        ->check(key_value("e.g. -o video_size=1280x720"))
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false)
        ->group("Input");
    app.add_option("--timeout", options.timeout_seconds,
                   "give up opening or reading a network input after SEC seconds\n"
                   "(default 10, 0 = never)")
        ->type_name("SEC")
        ->check(seconds())
        ->group("Input");
    app.add_flag("--loop", options.loop, "start the input again at its end (timestamps keep increasing)")
        ->group("Input");
    app.add_flag("-r,--realtime", options.realtime,
                 "pace frames at the stream's own rate (like ffmpeg -re);\ndefault: as fast as possible")
        ->group("Input");
    app.add_option("-n,--frames", options.max_frames, "stop after N frames")
        ->type_name("N")
        ->check(count(1))
        ->group("Input");
}

void add_decoding_options(CLI::App& app, IngestOptions& options, Given& given)
{
    CLI::Option* no_decode = app.add_flag("--no-decode", given.no_decode,
                                          "pass the encoded packets through (H.264/H.265 as Annex-B, one\n"
                                          "access unit per frame; audio too with --audio-ring)")
                                 ->group("Decoding");
    app.add_option("--pix-fmt", given.pixel_format,
                   "convert to this pixel format (FFmpeg or GStreamer name: yuv420p/\n"
                   "I420, nv12/NV12, rgba/RGBA...); default: keep the decoder's")
        ->type_name("NAME")
        ->check(writable_pixel_format())
        ->excludes(no_decode)
        ->group("Decoding");
    app.add_option("--size", given.size, "scale to this size; default: keep the decoder's")
        ->type_name("WxH")
        ->check(picture_size())
        ->excludes(no_decode)
        ->group("Decoding");
    app.add_flag("--copy", options.copy_frames,
                 "decode into the decoder's own memory and copy each frame into the\n"
                 "ring once")
        ->excludes(no_decode)
        ->group("Decoding");
    app.add_option("-t,--threads", options.threads, "decoder threads (default 0 = automatic, at most 64)")
        ->type_name("N")
        ->check(count(0, 64))
        ->group("Decoding");
}

void add_audio_options(CLI::App& app, IngestOptions& options, Given& given)
{
    app.add_option("--audio-ring", options.audio_ring,
                   "write the input's audio into ring NAME: decoded in the decoder's\n"
                   "sample format (AAC: F32LE non-interleaved), one decoded frame per\n"
                   "ring frame; an input without audio is an error")
        ->type_name("NAME")
        ->check(CLI::Validator(
            [](std::string& text) { return text.empty() ? std::string("needs a ring name") : std::string(); }, ""))
        ->group("Audio");
    app.add_flag("--audio-no-decode", given.audio_no_decode,
                 "pass the encoded audio packets through (AAC as raw access units\nwith codec_data)")
        ->group("Audio");
}

void add_ring_options(CLI::App& app, Given& given)
{
    app.add_option("--ring-size", given.ring_size,
                   "ring payload size, K/M/G suffixes (default: 64M, or when frames\n"
                   "are larger, room for the frames the decoder keeps plus 8 for\n"
                   "readers)")
        ->type_name("BYTES")
        ->transform(zerobuffer::cli::byte_size())
        ->check(count(1))
        ->group("Ring");
    app.add_option("--max-readers", given.max_readers, "reader slots (default 8, at most 64)")
        ->type_name("N")
        ->check(count(1, 64))
        ->group("Ring");
    app.add_flag("--checksum", given.checksum, "protect every frame with a BLAKE2b checksum")->group("Ring");
    app.add_option("--reader-timeout", given.reader_timeout_ms,
                   "longest wait for slow lossless readers before a frame is dropped\n(default 5000)")
        ->type_name("MS")
        ->check(count(0, 3'600'000))
        ->group("Ring");
    app.add_flag("--wait-for-reader", given.wait_for_reader, "hold the first frame until a reader is attached")
        ->group("Ring");
    app.add_option("--wait-for-readers", given.wait_for_readers, "hold the first frame until N readers are attached")
        ->type_name("N")
        ->check(count(1, 64))
        ->group("Ring");
}

} // namespace

std::optional<int> parse_arguments(int argc, char** argv, IngestOptions& options)
{
    CLI::App app{kDescription, kProgram};
    configure_program(app, kProgram, kExamples, kProse);
    Given given;
    add_input_options(app, options, given);
    add_decoding_options(app, options, given);
    add_audio_options(app, options, given);
    add_ring_options(app, given);
    add_verbose_flag(app, options.verbose);
    // Checks that need both rings: after parsing, in the same message style.
    app.callback([&options] { check_audio_ring(options.audio_ring, options.ring); });
    if (auto exit_code = zerobuffer::cli::parse(app, argc, argv)) {
        return exit_code;
    }
    options.input_options = key_value_pairs(given.input_options);
    options.decode = !given.no_decode;
    options.audio_decode = !given.no_decode && !given.audio_no_decode;
    if (!given.pixel_format.empty()) {
        options.pixel_format = parse_pixel_format(given.pixel_format);
    }
    if (!given.size.empty()) {
        (void)parse_size(given.size, options.width, options.height); // Checked by picture_size().
    }
    options.ring_size_given = given.ring_size != 0;
    if (options.ring_size_given) {
        options.writer.ring_size = given.ring_size;
    }
    options.writer.max_readers = given.max_readers;
    options.writer.reader_timeout = std::chrono::milliseconds(given.reader_timeout_ms);
    if (given.checksum) {
        options.writer.integrity = zerobuffer::Integrity::Checksum;
    }
    options.wait_for_readers = std::max<std::uint32_t>(given.wait_for_readers, given.wait_for_reader ? 1 : 0);
    return std::nullopt;
}

} // namespace zbffmpeg::ingest
