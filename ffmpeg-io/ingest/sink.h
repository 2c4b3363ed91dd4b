// SPDX-License-Identifier: MIT
// What zb-ingest's packet loop feeds (decode or pass-through mode), and the state both modes share.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include <zerobuffer/frame.h>

#include "av_handles.h"
#include "clock.h"
#include "program.h"
#include "error.h"
#include "options.h"
#include "ring_output.h"

namespace zbffmpeg::ingest {

/// What the packet loop hands each frame or packet to.
class Sink {
public:
    Sink() = default;
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;
    virtual ~Sink() = default;
    /// One packet of the video stream; nullptr drains (end of input or before a loop restart).
    [[nodiscard]] virtual Result<void> send(const AVPacket* packet) = 0;
    /// The input restarts from the beginning (--loop).
    virtual void restart() = 0;
    /// A line for the end of the run about what the mode did that the user should know (why frames were copied),
    /// or "". `verbose` adds details (--verbose).
    [[nodiscard]] virtual std::string summary_note(bool /*verbose*/) const { return {}; }
};

/// Shared state of both modes: the ring, the clock, counters and the frame limit.
struct Context {
    const IngestOptions& options;
    RingOutput& ring;
    Clock& clock;
    Progress& progress;
    std::uint64_t corrupt = 0;
    bool discontinuity = false; ///< Set after a loop restart or a skipped packet: flags the next frame.

    [[nodiscard]] bool limit_reached() const noexcept
    {
        return options.max_frames != 0 && ring.frames() >= options.max_frames;
    }
    void report_corrupt(const char* what, std::int64_t timestamp_ns, int av_error)
    {
        ++corrupt;
        discontinuity = true;
        if (timestamp_ns == zerobuffer::kNoTimestamp) {
            std::fprintf(stderr, "%s: warning: corrupt %s skipped (%s)\n", kProgram, what,
                         av_error_text(av_error).c_str());
        } else {
            std::fprintf(stderr, "%s: warning: corrupt %s at %.3f s skipped (%s)\n", kProgram, what,
                         static_cast<double>(timestamp_ns) / 1e9, av_error_text(av_error).c_str());
        }
    }
    std::uint32_t take_flags(std::uint32_t flags) noexcept
    {
        if (discontinuity) {
            flags |= zerobuffer::kFrameDiscontinuity;
            discontinuity = false;
        }
        return flags;
    }
};

} // namespace zbffmpeg::ingest
