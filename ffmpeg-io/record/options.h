// SPDX-License-Identifier: MIT
// zb-record's command line: the options, their parsing and the --help text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"

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

/// Fills `options` from argv. A Failure to report and exit with (kExitOk after --help), or nullopt to run.
[[nodiscard]] std::optional<Failure> parse_arguments(int argc, char** argv, RecordOptions& options);

} // namespace zbffmpeg::record
