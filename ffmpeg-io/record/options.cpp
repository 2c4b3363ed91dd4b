// SPDX-License-Identifier: MIT
// zb-record's command line (see options.h).
#include "options.h"

#include <cstdio>
#include <string_view>

#include "av_handles.h"
#include "formats.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
}

namespace zbffmpeg::record {
namespace {

constexpr const char* kHelp = R"(zb-record - write the video frames of a ZeroBuffer ring into a playable file

Usage: zb-record [options] RING OUTPUT

Raw video rings (zb-ingest, zerobuffersink) are encoded, with libx264 unless --codec names another encoder;
the pixel format is converted when the encoder needs it. Encoded rings (H.264, H.265... from zb-ingest
--no-decode or zerobuffersink after an encoder) are remuxed without re-encoding. OUTPUT is any file
libavformat writes (mp4, mkv, mov, ts...; chosen by its extension or --format).
zb-record waits for the ring to appear and, after its writer dies, for a new writer of the same ring
(recording continues in the same file). The file is finalized at end-of-stream, on SIGINT/SIGTERM,
after --frames, and when the writer is gone and zb-record is not told to wait for it.

Ring:
      --no-wait            fail at once if the ring does not exist
      --no-reconnect       finish the file when the writer dies instead of waiting for it to come back
      --wait-timeout SEC   give up waiting for the ring or its writer after SEC seconds (default 0 = never)
      --latest             read as a 'latest' reader: never slow the writer, skip frames when behind
      --audio-ring NAME    also record the audio ring NAME (zb-ingest --audio-ring, zerobuffersink after
                           audio): raw audio is encoded to AAC, encoded audio remuxed; timestamps follow the
                           video's, audio before the first and after the last video frame is left out
                           (implies --no-reconnect)
  -n, --frames N           stop after N frames
Output:
  -f, --format NAME        container (mp4, matroska, mov, mpegts...; default: from OUTPUT's extension)
  -c, --codec NAME         encoder for raw video (default libx264; e.g. libx265, mpeg4, ffv1, libvpx-vp9)
      --pix-fmt NAME       pixel format to encode in (default: the ring's if the encoder takes it, else yuv420p)
      --preset NAME        encoder preset (libx264/libx265; default veryfast)
      --crf N              constant quality (libx264/libx265; default: encoder's)
      --bitrate BITS       target bitrate, K/M suffixes (e.g. 4M)
  -e, --encoder-option K=V pass an option to the encoder (repeatable), e.g. -e tune=zerolatency
  -t, --threads N          encoder threads (default 0 = automatic)
Other:
  -v, --verbose            show FFmpeg's own messages (default: errors only)
  -h, --help               this help

A progress line (frames, fps, speed, dropped) is shown when stderr is a terminal; a summary line at the end.
Exit status: 0 file written and finalized, 1 runtime failure, 2 usage error, 3 ring unusable (missing
with --no-wait or after --wait-timeout, no or bad stream format, corrupt frames), 4 output cannot be written,
130 interrupted before any frame was recorded (no file is written).

Examples:
  zb-record cam0 cam0.mp4
  zb-record --no-reconnect cam0-h264 copy.mkv
  zb-record --audio-ring cam0-audio cam0 with-sound.mp4
  zb-record --codec libx265 --crf 28 cam0 cam0.mkv
  zb-record --frames 300 --preset ultrafast -e tune=zerolatency cam0 clip.mp4
  gst-launch-1.0 videotestsrc num-buffers=300 ! zerobuffersink ring=test & zb-record test test.mp4
)";

} // namespace

std::optional<Failure> parse_arguments(int argc, char** argv, RecordOptions& options)
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
        if (arg == "--no-wait") {
            options.wait = false;
        } else if (arg == "--no-reconnect") {
            options.reconnect = false;
        } else if (arg == "--wait-timeout") {
            if (!value(text) || !parse_seconds(text, options.wait_timeout_seconds)) {
                return usage("--wait-timeout needs seconds, e.g. --wait-timeout 10");
            }
        } else if (arg == "--latest") {
            options.latest = true;
        } else if (arg == "--audio-ring") {
            if (!value(text) || text.empty()) {
                return usage("--audio-ring needs a ring name");
            }
            options.audio_ring = text;
            options.reconnect = false; // A restarted writer would need both rings rejoined in step.
        } else if (arg == "-n" || arg == "--frames") {
            if (!value(text) || !parse_unsigned(text, options.max_frames) || options.max_frames == 0) {
                return usage(std::string(arg) + " needs a frame count of at least 1");
            }
        } else if (arg == "-f" || arg == "--format") {
            if (!value(text)) {
                return usage(std::string(arg) + " needs a container name, e.g. mp4 or matroska");
            }
            options.container = text;
        } else if (arg == "-c" || arg == "--codec") {
            if (!value(text)) {
                return usage(std::string(arg) + " needs an encoder name, e.g. libx264");
            }
            options.codec = text;
        } else if (arg == "--pix-fmt") {
            if (!value(text)) {
                return usage("--pix-fmt needs a pixel format name");
            }
            const AVPixelFormat from_gst = pixel_format_from_gst(text);
            options.pixel_format = from_gst != AV_PIX_FMT_NONE ? from_gst : av_get_pix_fmt(std::string(text).c_str());
            if (options.pixel_format == AV_PIX_FMT_NONE) {
                return usage("unknown pixel format '" + std::string(text) + "' ('ffmpeg -pix_fmts' lists them)");
            }
        } else if (arg == "--preset") {
            if (!value(text)) {
                return usage("--preset needs a name, e.g. veryfast");
            }
            options.preset = text;
        } else if (arg == "--crf") {
            if (!value(text) || !parse_unsigned(text, number) || number > 63) {
                return usage("--crf needs a number from 0 to 63");
            }
            options.crf = text;
        } else if (arg == "--bitrate") {
            if (!value(text) || text.empty()) {
                return usage("--bitrate needs bits per second, e.g. 4M");
            }
            // K and M mean 1000 and 1000000 here (bit rates are decimal).
            std::uint64_t multiplier = 1;
            if (text.back() == 'K' || text.back() == 'k') {
                multiplier = 1000;
            } else if (text.back() == 'M' || text.back() == 'm') {
                multiplier = 1'000'000;
            }
            if (multiplier != 1) {
                text.remove_suffix(1);
            }
            if (!parse_unsigned(text, number) || number == 0 || number > 10'000'000'000 / multiplier) {
                return usage("--bitrate needs bits per second, e.g. 4M");
            }
            options.bitrate = number * multiplier;
        } else if (arg == "-e" || arg == "--encoder-option") {
            if (!value(text) || text.find('=') == std::string_view::npos || text.front() == '=') {
                return usage(std::string(arg) + " needs KEY=VALUE, e.g. -e tune=zerolatency");
            }
            const auto equals = text.find('=');
            options.encoder_options.emplace_back(text.substr(0, equals), text.substr(equals + 1));
        } else if (arg == "-t" || arg == "--threads") {
            if (!value(text) || !parse_unsigned(text, number) || number > 64) {
                return usage(std::string(arg) + " needs a thread count from 0 (automatic) to 64");
            }
            options.threads = static_cast<int>(number);
        } else if (arg == "-v" || arg == "--verbose") {
            options.verbose = true;
        } else if (arg.size() > 1 && arg.front() == '-') {
            return usage("unknown option '" + std::string(arg) + "'");
        } else {
            positional.push_back(arg);
        }
    }
    if (positional.size() != 2) {
        return usage("expected RING and OUTPUT, got " + std::to_string(positional.size()) + " arguments");
    }
    options.ring = positional[0];
    options.output = positional[1];
    if (options.audio_ring == options.ring) {
        return usage("--audio-ring must name another ring than the video ring '" + options.ring + "'");
    }
    if (!options.container.empty() && av_guess_format(options.container.c_str(), nullptr, nullptr) == nullptr) {
        return usage("unknown container '" + options.container + "' ('ffmpeg -muxers' lists them)");
    }
    if (options.container.empty() && av_guess_format(nullptr, options.output.c_str(), nullptr) == nullptr) {
        return usage("cannot tell the container from '" + options.output +
                     "': give it an extension like .mp4 or .mkv, or pass --format");
    }
    if (!options.codec.empty() && avcodec_find_encoder_by_name(options.codec.c_str()) == nullptr) {
        return usage("unknown encoder '" + options.codec + "' ('ffmpeg -encoders' lists the ones this FFmpeg has)");
    }
    return std::nullopt;
}

} // namespace zbffmpeg::record
