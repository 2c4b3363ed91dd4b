// SPDX-License-Identifier: MIT
// zb-ingest's command line: the options, their parsing and the --help text.
#include "options.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string_view>

#include "formats.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace zbffmpeg::ingest {
namespace {

constexpr const char* kHelp = R"(zb-ingest - write the video of any FFmpeg input into a ZeroBuffer ring

Usage: zb-ingest [options] INPUT RING

INPUT is anything libavformat opens: a file (mp4, mkv, ts, h264...), a URL (rtsp://, http://, tcp://,
udp://...), a V4L2 device (/dev/video0 with --format v4l2) or a lavfi source (with --format lavfi).
RING is the ring name (shared-memory object /dev/shm/zb-RING); it is created when the first frame is ready.
Only the best video stream is written, and with --audio-ring the best audio stream into a second ring (its
timestamps on the video's clock). At the end an end-of-stream frame is committed to each ring.

Decode mode writes frames without copying them where it can. Decoders with direct rendering (h264, hevc, vp9,
mpeg2video and most of FFmpeg's own) decode straight into ring memory; frames are published in output order
and the ring keeps the decoder's reference frames intact. One copy per frame remains for decoders without it
(rawvideo, libdav1d, lavfi sources), with --copy, and for pictures the ring has no room for (readers hold many
frames, or --ring-size is too small for the decoder's reference frames). --pix-fmt and --size convert with
libswscale, which writes into the ring itself. The summary line counts the frames written in place and copied,
and says why frames were copied.

Input:
  -f, --format NAME        force the input format (lavfi, v4l2, h264, mpegts...; see 'ffmpeg -formats')
  -o, --input-option K=V   pass an option to the demuxer/protocol/device (repeatable), e.g. -o video_size=1280x720
      --timeout SEC        give up opening or reading a network input after SEC seconds (default 10, 0 = never)
      --loop               start the input again at its end (timestamps keep increasing)
  -r, --realtime           pace frames at the stream's own rate (like ffmpeg -re); default: as fast as possible
  -n, --frames N           stop after N frames
Decoding:
      --no-decode          pass the encoded packets through (H.264/H.265 as Annex-B, one access unit per frame;
                           audio too with --audio-ring)
      --pix-fmt NAME       convert to this pixel format (FFmpeg or GStreamer name: yuv420p/I420, nv12/NV12,
                           rgba/RGBA...); default: keep the decoder's
      --size WxH           scale to this size; default: keep the decoder's
      --copy               decode into the decoder's own memory and copy each frame into the ring once
  -t, --threads N          decoder threads (default 0 = automatic)
Audio:
      --audio-ring NAME    write the input's audio into ring NAME: decoded in the decoder's sample format
                           (AAC: F32LE non-interleaved), one decoded frame per ring frame; an input without
                           audio is an error
      --audio-no-decode    pass the encoded audio packets through (AAC as raw access units with codec_data)
Ring:
      --ring-size BYTES    ring payload size, K/M/G suffixes (default: 64M, or when frames are larger, room for
                           the frames the decoder keeps plus 8 for readers)
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
  zb-ingest --audio-ring cam0-audio clip.mp4 cam0 & zb-record --audio-ring cam0-audio cam0 copy.mp4
)";

AVPixelFormat parse_pixel_format(std::string_view name)
{
    const AVPixelFormat from_gst = pixel_format_from_gst(name);
    if (from_gst != AV_PIX_FMT_NONE) {
        return from_gst;
    }
    return av_get_pix_fmt(std::string(name).c_str());
}

} // namespace

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
            options.audio_decode = false;
        } else if (arg == "--audio-ring") {
            if (!value(text) || text.empty()) {
                return usage("--audio-ring needs a ring name");
            }
            options.audio_ring = text;
        } else if (arg == "--audio-no-decode") {
            options.audio_decode = false;
        } else if (arg == "--copy") {
            options.copy_frames = true;
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
    if (!options.audio_ring.empty() && options.audio_ring == options.ring) {
        return usage("--audio-ring must name another ring than the video ring '" + options.ring + "'");
    }
    if (!options.decode && options.copy_frames) {
        return usage("--copy is about decoded frames: drop --no-decode");
    }
    return std::nullopt;
}

} // namespace zbffmpeg::ingest
