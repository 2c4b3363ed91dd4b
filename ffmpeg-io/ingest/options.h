// SPDX-License-Identifier: MIT
// zb-ingest's command line: the options, their parsing and the --help text (CLI11, in options.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <zerobuffer/options.h>

extern "C" {
#include <libavutil/pixfmt.h>
}

namespace zbffmpeg::ingest {

/// The name in every message: "zb-ingest: error: ...".
inline constexpr const char* kProgram = "zb-ingest";

struct IngestOptions {
    std::string input;
    std::string ring;
    std::string audio_ring;   ///< --audio-ring: the input's audio goes to this ring ("": audio is dropped).
    bool audio_decode = true; ///< false: --audio-no-decode or --no-decode, encoded audio packets pass through.
    std::string format;
    std::vector<std::pair<std::string, std::string>> input_options;
    double timeout_seconds = 10.0;
    bool loop = false;
    bool realtime = false;
    std::uint64_t max_frames = 0; ///< 0: no limit.
    bool decode = true;
    bool copy_frames = false; ///< --copy: never decode into ring memory.
    AVPixelFormat pixel_format = AV_PIX_FMT_NONE;
    int width = 0;
    int height = 0;
    int threads = 0;
    zerobuffer::WriterOptions writer;
    bool ring_size_given = false;
    std::uint32_t wait_for_readers = 0; ///< Readers to wait for before the first frame.
    bool verbose = false;
};

/// Fills `options` from argv (CLI11, docs/cli.md). Returns the exit code when the program should not run: 0 after
/// --help, --version or --completion, kExitUsage after a bad command line (the message is printed); else nullopt.
[[nodiscard]] std::optional<int> parse_arguments(int argc, char** argv, IngestOptions& options);

} // namespace zbffmpeg::ingest
