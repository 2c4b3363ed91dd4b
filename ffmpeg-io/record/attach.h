// SPDX-License-Identifier: MIT
// zb-record's attaching to its rings: waiting for them (and for a restarted writer), and the video ring with
// --audio-ring's together.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <zerobuffer/zerobuffer.h>

#include "audio_track.h"
#include "program.h"
#include "error.h"
#include "options.h"

namespace zbffmpeg::record {

/// How a wait for the ring ended.
enum class Attached { Yes, Stopped, TimedOut, Refused, NotYet };

/// Tells one incarnation of a ring from the next one a restarted writer creates under the same name.
struct RingIdentity {
    std::int32_t writer_pid = 0;
    std::int64_t created_realtime_ns = 0;
    friend bool operator==(const RingIdentity&, const RingIdentity&) = default;
};

struct AttachResult {
    Attached outcome;
    std::optional<zerobuffer::Reader> reader;
    RingIdentity identity;
    std::string message;
};

/// Attaches to `ring` once it exists (or at once with --no-wait). A ring whose writer is no longer alive is
/// taken too - a short writer may finish between our attach and our first look, leaving frames for us - unless it
/// is the very ring we already read to its end (`finished`): a dead writer's ring stays until a new writer
/// replaces it, and then we wait for that one. `single_try`: look once, NotYet when the ring does not exist yet.
[[nodiscard]] AttachResult attach(const RecordOptions& options, const std::string& ring,
                                  const std::optional<RingIdentity>& finished, bool single_try = false);

/// Attaches to the video ring and --audio-ring's together: a writer waiting for a reader on whichever ring it
/// made first (zb-ingest --wait-for-reader) must get it before it makes the other. Then reads the audio's format.
/// Returns the video ring's attach.
[[nodiscard]] AttachResult attach_with_audio(const RecordOptions& options, AudioTrack& audio);

/// The exit code and message of an error.
[[nodiscard]] Failure failure_of(const FfmpegIoError& error);

} // namespace zbffmpeg::record
