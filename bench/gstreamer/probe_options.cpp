// SPDX-License-Identifier: MIT
// zb-gst-probe's command line.
#include "probe_options.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace zbprobe {

namespace {

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

} // namespace

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
        "  --running-time        buffer lines also give each buffer's running time (running=)\n"
        "  --add-metas           add regions of interest, a reference timestamp, a custom meta and user bytes\n"
        "  --seek N:POS          after N buffers, a flushing seek to POS milliseconds\n"
        "  --loop N              play the stream N times with segment seeks, as a looping player does\n"
        "  --force-key-unit N    after N buffers, send force-key-unit upstream from the watched pad\n"
        "  --warmup N            leave the first N buffers out of frames/s and latency (connection set-up)\n"
        "  --frames N            stop after N buffers, as at end of stream (for sources without EOS, like shmsrc)\n"
        "  --timeout S           give up after S seconds (exit 3)\n"
        "  --label TEXT          prefix of the summary lines (default: the program name)\n"
        "Exit status: 0 end of stream, 1 pipeline error, 2 bad arguments, 3 timeout, 4 interrupted.\n",
        out);
}

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
        } else if (arg == "--running-time") {
            options.running_time = true;
        } else if (arg == "--add-metas") {
            options.add_metas = true;
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
        } else if (arg == "--seek") {
            const auto value = value_of(arg);
            const auto colon = value ? value->find(':') : std::string::npos;
            if (colon == std::string::npos ||
                !parse_number(std::string_view(*value).substr(0, colon), options.seek_after) ||
                !parse_number(std::string_view(*value).substr(colon + 1), options.seek_to_ms)) {
                std::fputs("zb-gst-probe: error: --seek takes N:POS (a buffer count, then milliseconds)\n", stderr);
                return std::nullopt;
            }
            options.seek = true;
        } else if (arg == "--loop" || arg == "--force-key-unit") {
            const auto value = value_of(arg);
            const bool parsed = value && (arg == "--loop" ? parse_number(*value, options.loops)
                                                          : parse_number(*value, options.force_key_unit_after));
            if (!parsed) {
                std::fprintf(stderr, "zb-gst-probe: error: %s takes a count\n", argv[index - 1]);
                return std::nullopt;
            }
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

} // namespace zbprobe
