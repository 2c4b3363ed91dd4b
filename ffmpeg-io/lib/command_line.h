// SPDX-License-Identifier: MIT
// The CLI11 pieces zb-ingest's and zb-record's command lines share (ingest/options.cpp, record/options.cpp): value
// checks in the programs' words, the version text and the help footer. Only the options files include this (CLI11
// is slow to compile).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <zerobuffer/version.h>

#include "cli.h"

extern "C" {
#include <libavutil/avutil.h>
}

namespace zbffmpeg {

/// A whole decimal number from `min` to `max`. CLI11's own conversion takes "-5" as a huge unsigned number and
/// "010" as octal, so counts are checked as digits first.
[[nodiscard]] inline CLI::Validator count(std::uint64_t min,
                                          std::uint64_t max = std::numeric_limits<std::uint64_t>::max())
{
    const std::string range = max == std::numeric_limits<std::uint64_t>::max()
                                  ? "of at least " + std::to_string(min)
                                  : "from " + std::to_string(min) + " to " + std::to_string(max);
    return CLI::Validator(
        [min, max, range](std::string& text) -> std::string {
            std::uint64_t value = 0;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value < min ||
                value > max) {
                return "needs a whole number " + range + ", not '" + text + "'";
            }
            return {};
        },
        "");
}

/// Seconds with an optional fraction ("2.5"), from 0 to below 1e9 (no sign, no "nan" or "inf").
[[nodiscard]] inline CLI::Validator seconds()
{
    return CLI::Validator(
        [](std::string& text) -> std::string {
            double value = 0.0;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (text.empty() || error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) ||
                value < 0.0 || value >= 1e9) {
                return "needs seconds like 10 or 2.5, not '" + text + "'";
            }
            return {};
        },
        "");
}

/// "KEY=VALUE" with a non-empty key; `example` ends the message ("e.g. -o video_size=1280x720").
[[nodiscard]] inline CLI::Validator key_value(std::string example)
{
    return CLI::Validator(
        [example = std::move(example)](std::string& text) -> std::string {
            if (text.find('=') == std::string::npos || text.front() == '=') {
                return "needs KEY=VALUE, " + example + ", not '" + text + "'";
            }
            return {};
        },
        "");
}

/// Splits the "KEY=VALUE" strings key_value() accepted.
[[nodiscard]] inline std::vector<std::pair<std::string, std::string>>
key_value_pairs(const std::vector<std::string>& texts)
{
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const std::string& text : texts) {
        const std::size_t equals = text.find('=');
        pairs.emplace_back(text.substr(0, equals), text.substr(equals + 1));
    }
    return pairs;
}

/// What --version prints: "zb-ingest 0.1.0 (libzerobuffer 0.1.0, protocol 2, FFmpeg 5.1.6)".
[[nodiscard]] inline std::string version_text(std::string_view program)
{
    return std::string(program) + " " + zerobuffer::kLibraryVersion + " (libzerobuffer " + zerobuffer::kLibraryVersion +
           ", protocol " + std::to_string(zerobuffer::kProtocolVersion) + ", FFmpeg " + av_version_info() + ")";
}

/// Sets up `app` the way both programs read their command line, before any option is added: the shared
/// conventions (cli::configure), the help's prose paragraphs before the "Examples:" footer, a 30-column option
/// list, and the last of a repeated option counts.
inline void configure_program(CLI::App& app, std::string_view program, std::string_view examples,
                              std::string_view prose)
{
    zerobuffer::cli::configure(app, version_text(program), examples);
    app.footer("\n" + std::string(prose) + app.get_footer());
    app.get_formatter()->column_width(30);
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

/// -v/--verbose, the last option of both programs.
inline void add_verbose_flag(CLI::App& app, bool& verbose)
{
    app.add_flag("-v,--verbose", verbose, "show FFmpeg's own messages (default: errors only)")->group("Other");
}

/// For an app.callback() (CLI11 reports what it throws like any bad option): the audio ring must be another ring.
inline void check_audio_ring(const std::string& audio_ring, const std::string& video_ring)
{
    if (!audio_ring.empty() && audio_ring == video_ring) {
        throw CLI::ValidationError("--audio-ring must name another ring than the video ring '" + video_ring + "'");
    }
}

} // namespace zbffmpeg
