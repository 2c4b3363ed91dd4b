// SPDX-License-Identifier: MIT
// zb-record's command line: the options, their parsing and the --help text (CLI11, in options.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

extern "C" {
#include <libavutil/pixfmt.h>
}

namespace zbffmpeg::record {

/// The name in every message: "zb-record: error: ...".
inline constexpr const char* kProgram = "zb-record";
/// Ring frames the encoder may hold in place at once; more wait for a copy.
inline constexpr std::size_t kHeldFrameSlots = 16;

struct RecordOptions {
    std::string ring;
    std::string audio_ring;
    std::string output;
    std::string container;
    std::string codec;
    AVPixelFormat pixel_format = AV_PIX_FMT_NONE;
    std::string preset = "veryfast";
    std::string crf;
    std::uint64_t bitrate = 0;
    std::vector<std::pair<std::string, std::string>> encoder_options;
    int threads = 0;
    bool wait = true;
    bool reconnect = true;
    double wait_timeout_seconds = 0.0;
    bool latest = false;
    std::uint64_t max_frames = 0;
    bool verbose = false;
};

/// Fills `options` from argv (CLI11, docs/cli.md). Returns the exit code when the program should not run: 0 after
/// --help, --version or --completion, kExitUsage after a bad command line (the message is printed); else nullopt.
[[nodiscard]] std::optional<int> parse_arguments(int argc, char** argv, RecordOptions& options);

} // namespace zbffmpeg::record
