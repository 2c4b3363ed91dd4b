// SPDX-License-Identifier: MIT
// zb-record's command line on CLI11 (see options.h, docs/cli.md).
#include "options.h"

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command_line.h"
#include "formats.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
}

namespace zbffmpeg::record {
namespace {

constexpr const char* kDescription = R"(zb-record - write the video frames of a ZeroBuffer ring into a playable file

Raw video rings (zb-ingest, zerobuffersink) are encoded, with libx264 unless --codec names another
encoder; the pixel format is converted when the encoder needs it. Encoded rings (H.264, H.265...
from zb-ingest --no-decode or zerobuffersink after an encoder) are remuxed without re-encoding.
OUTPUT is any file libavformat writes (mp4, mkv, mov, ts...; chosen by its extension or --format).
zb-record waits for the ring to appear and, after its writer dies, for a new writer of the same ring
(recording continues in the same file). The file is finalized at end-of-stream, on SIGINT/SIGTERM,
after --frames, and when the writer is gone and zb-record is not told to wait for it.
)";

constexpr const char* kProse =
    R"(A progress line (frames, fps, speed, dropped) is shown when stderr is a terminal; a summary line
at the end.
Exit status: 0 file written and finalized, 1 runtime failure, 2 usage error, 3 ring unusable
(missing with --no-wait or after --wait-timeout, no or bad stream format, corrupt frames), 4 output
cannot be written, 130 interrupted before any frame was recorded (no file is written).
)";

constexpr const char* kExamples = R"(zb-record cam0 cam0.mp4
zb-record --no-reconnect cam0-h264 copy.mkv
zb-record --audio-ring cam0-audio cam0 with-sound.mp4
zb-record --codec libx265 --crf 28 cam0 cam0.mkv
zb-record --frames 300 --preset ultrafast -e tune=zerolatency cam0 clip.mp4
gst-launch-1.0 videotestsrc num-buffers=300 ! zerobuffersink ring=test & zb-record test test.mp4)";

AVPixelFormat parse_pixel_format(std::string_view name)
{
    const AVPixelFormat from_gst = pixel_format_from_gst(name);
    return from_gst != AV_PIX_FMT_NONE ? from_gst : av_get_pix_fmt(std::string(name).c_str());
}

/// A check that needs FFmpeg: `known` says whether this FFmpeg has the name, else the error is "BEFORE'NAME' AFTER".
template <typename Known>
CLI::Validator ffmpeg_name(Known known, std::string_view before, std::string_view after)
{
    return CLI::Validator(
        [known, before = std::string(before), after = std::string(after)](std::string& text) -> std::string {
            return known(text) ? std::string() : before + "'" + text + "' " + after;
        },
        "");
}

/// Bits per second with an optional K or M suffix, which mean 1000 and 1000000 here (bit rates are decimal):
/// "4M" becomes "4000000". From 1 bit to 10 Gbit/s.
CLI::Validator bit_rate()
{
    return CLI::Validator(
        [](std::string& text) -> std::string {
            std::string_view number = text;
            std::uint64_t multiplier = 1;
            if (!number.empty() && (number.back() == 'K' || number.back() == 'k')) {
                multiplier = 1000;
            } else if (!number.empty() && (number.back() == 'M' || number.back() == 'm')) {
                multiplier = 1'000'000;
            }
            if (multiplier != 1) {
                number.remove_suffix(1);
            }
            std::uint64_t value = 0;
            const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
            if (number.empty() || error != std::errc{} || end != number.data() + number.size() || value == 0 ||
                value > 10'000'000'000 / multiplier) {
                return "needs bits per second like 4000000, 4000K or 4M (at most 10000M), not '" + text + "'";
            }
            text = std::to_string(value * multiplier);
            return {};
        },
        "");
}

/// The values as CLI11 parses them, before they become RecordOptions.
struct Given {
    std::string pixel_format;
    bool no_wait = false;
    bool no_reconnect = false;
    std::uint64_t crf = 0;
    std::vector<std::string> encoder_options;
};

void add_ring_options(CLI::App& app, RecordOptions& options, Given& given)
{
    app.add_option("RING", options.ring, "name of the ring to record (/dev/shm/zb-RING)")->required();
    app.add_option("OUTPUT", options.output, "the file to write (its extension chooses the container)")->required();
    app.add_flag("--no-wait", given.no_wait, "fail at once if the ring does not exist")->group("Ring");
    app.add_flag("--no-reconnect", given.no_reconnect,
                 "finish the file when the writer dies instead of waiting for it\nto come back")
        ->group("Ring");
    app.add_option("--wait-timeout", options.wait_timeout_seconds,
                   "give up waiting for the ring or its writer after SEC seconds\n(default 0 = never)")
        ->type_name("SEC")
        ->check(seconds())
        ->group("Ring");
    app.add_flag("--latest", options.latest,
                 "read as a 'latest' reader: never slow the writer, skip frames\nwhen behind")
        ->group("Ring");
    app.add_option("--audio-ring", options.audio_ring,
                   "also record the audio ring NAME (zb-ingest --audio-ring,\n"
                   "zerobuffersink after audio): raw audio is encoded to AAC, encoded\n"
                   "audio remuxed; timestamps follow the video's, audio before the\n"
                   "first and after the last video frame is left out (implies\n"
                   "--no-reconnect)")
        ->type_name("NAME")
        ->check(CLI::Validator(
            [](std::string& text) { return text.empty() ? std::string("needs a ring name") : std::string(); }, ""))
        ->group("Ring");
    app.add_option("-n,--frames", options.max_frames, "stop after N frames")
        ->type_name("N")
        ->check(count(1))
        ->group("Ring");
}

void add_output_options(CLI::App& app, RecordOptions& options, Given& given)
{
    app.add_option("-f,--format", options.container,
                   "container (mp4, matroska, mov, mpegts...; default: from OUTPUT's\nextension)")
        ->type_name("NAME")
        ->check(ffmpeg_name(
            [](const std::string& name) { return av_guess_format(name.c_str(), nullptr, nullptr) != nullptr; },
            "unknown container ", "('ffmpeg -muxers' lists them)"))
        ->group("Output");
    app.add_option("-c,--codec", options.codec,
                   "encoder for raw video (default libx264; e.g. libx265, mpeg4, ffv1,\nlibvpx-vp9)")
        ->type_name("NAME")
        ->check(
            ffmpeg_name([](const std::string& name) { return avcodec_find_encoder_by_name(name.c_str()) != nullptr; },
                        "unknown encoder ", "('ffmpeg -encoders' lists the ones this FFmpeg has)"))
        ->group("Output");
    app.add_option("--pix-fmt", given.pixel_format,
                   "pixel format to encode in (default: the ring's if the encoder\ntakes it, else yuv420p)")
        ->type_name("NAME")
        ->check(ffmpeg_name([](const std::string& name) { return parse_pixel_format(name) != AV_PIX_FMT_NONE; },
                            "unknown pixel format ", "('ffmpeg -pix_fmts' lists them)"))
        ->group("Output");
    app.add_option("--preset", options.preset, "encoder preset (libx264/libx265; default veryfast)")
        ->type_name("NAME")
        ->group("Output");
    app.add_option("--crf", given.crf, "constant quality, 0 to 63 (libx264/libx265; default: encoder's)")
        ->type_name("N")
        ->check(count(0, 63))
        ->group("Output");
    app.add_option("--bitrate", options.bitrate, "target bitrate, K/M suffixes (e.g. 4M = 4000000)")
        ->type_name("BITS")
        ->transform(bit_rate())
        ->group("Output");
    app.add_option("-e,--encoder-option", given.encoder_options,
                   "pass an option to the encoder (repeatable), e.g. -e tune=zerolatency")
        ->type_name("K=V")
        ->check(key_value("e.g. -e tune=zerolatency"))
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false)
        ->group("Output");
    app.add_option("-t,--threads", options.threads, "encoder threads (default 0 = automatic, at most 64)")
        ->type_name("N")
        ->check(count(0, 64))
        ->group("Output");
}

} // namespace

std::optional<int> parse_arguments(int argc, char** argv, RecordOptions& options)
{
    CLI::App app{kDescription, kProgram};
    configure_program(app, kProgram, kExamples, kProse);
    Given given;
    add_ring_options(app, options, given);
    add_output_options(app, options, given);
    add_verbose_flag(app, options.verbose);
    // Checks that need the positional arguments: after parsing, reported by CLI11 like the others.
    app.callback([&options] {
        check_audio_ring(options.audio_ring, options.ring);
        if (options.container.empty() && av_guess_format(nullptr, options.output.c_str(), nullptr) == nullptr) {
            throw CLI::ValidationError("cannot tell the container from '" + options.output +
                                       "': give it an extension like .mp4 or .mkv, or pass --format");
        }
    });
    CLI::Option* crf = app.get_option("--crf");
    if (auto exit_code = zerobuffer::cli::parse(app, argc, argv)) {
        return exit_code;
    }
    options.wait = !given.no_wait;
    // --audio-ring: a restarted writer would need both rings rejoined in step.
    options.reconnect = !given.no_reconnect && options.audio_ring.empty();
    if (!given.pixel_format.empty()) {
        options.pixel_format = parse_pixel_format(given.pixel_format);
    }
    if (crf->count() != 0) {
        options.crf = std::to_string(given.crf);
    }
    options.encoder_options = key_value_pairs(given.encoder_options);
    return std::nullopt;
}

} // namespace zbffmpeg::record
