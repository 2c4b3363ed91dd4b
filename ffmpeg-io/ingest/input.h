// SPDX-License-Identifier: MIT
// zb-ingest's input: opening any FFmpeg input (file, URL, device, lavfi) and finding its video stream.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "av_handles.h"
#include "program.h"
#include "error.h"
#include "options.h"

namespace zbffmpeg::ingest {

/// Interrupts blocking FFmpeg I/O on SIGINT/SIGTERM and when a network open or read takes too long.
struct InterruptState {
    std::int64_t deadline_ns = 0; ///< 0: no deadline.

    static int callback(void* opaque) noexcept
    {
        const auto* state = static_cast<const InterruptState*>(opaque);
        return (stop_requested() || (state->deadline_ns != 0 && monotonic_ns() > state->deadline_ns)) ? 1 : 0;
    }
};

/// What to tell the user to check after FFmpeg failed with `av_error` on `input`.
[[nodiscard]] std::string open_hint(int av_error, std::string_view input);

/// An opened input and the index of the video stream that is written.
struct Input {
    InputContextPtr context;
    int stream_index = -1;
    int audio_stream_index = -1; ///< With --audio-ring: the audio stream written to it.
};

/// Opens the input (with --format, --input-option, --timeout) and picks its best video stream (and, with
/// --audio-ring, its best audio stream: an input without one is an error).
[[nodiscard]] Result<Input> open_input(const IngestOptions& options, InterruptState& interrupt);

} // namespace zbffmpeg::ingest
