// SPDX-License-Identifier: MIT
// Counters kept in the segment, readable by any process without disturbing the ring.
#pragma once

#include <cstdint>

namespace zerobuffer {

/// Written only by the writer.
struct WriterCounters {
    std::uint64_t frames_written = 0;
    std::uint64_t bytes_written = 0;      ///< Payload bytes.
    std::uint64_t frames_in_place = 0;    ///< Frames filled in place in a reservation (zero copy).
    std::uint64_t frames_copied = 0;      ///< Frames copied in with write() or marked as copied.
    std::uint64_t frames_aborted = 0;     ///< Reservations dropped without commit.
    std::uint64_t waits = 0;              ///< reserve() calls that had to wait for room.
    std::uint64_t timeouts = 0;           ///< Waits that hit the timeout.
    std::uint64_t wraps = 0;              ///< Times the write position went back to the start of the frame memory.
    std::uint64_t readers_reclaimed = 0;  ///< Slots of dead readers taken back (with every frame they held).
    std::uint64_t format_changes = 0;     ///< Stream metadata generations published.
    std::uint64_t frames_retained = 0;    ///< Frames committed with commit_retained().
    std::uint64_t reclaim_scans = 0;      ///< Times the writer looked at the readers to take memory back.
    std::uint64_t frames_passed = 0;      ///< Frames still in use (held, unread, retained) the writer placed around.
    std::uint64_t rewinds = 0;            ///< Wraps made early to keep the memory in use small (cache).
    std::uint64_t keyframe_requests_seen = 0; ///< Reader keyframe requests reported by keyframe_requested().
    std::uint64_t wait_ns = 0;            ///< Total time reserve() waited for room.
};

/// Written only by the reader owning the slot.
struct ReaderCounters {
    std::uint64_t frames_read = 0;
    std::uint64_t bytes_read = 0;         ///< Payload bytes.
    std::uint64_t frames_skipped = 0;     ///< Latest policy: frames jumped over (drops).
    std::uint64_t sequence_gaps = 0;      ///< Unexpected jumps in sequence numbers.
    std::uint64_t waits = 0;              ///< Times the reader slept for a frame.
    std::uint64_t timeouts = 0;           ///< acquire() calls that ran out of time.
    std::uint64_t checksum_failures = 0;  ///< Frames that failed their checksum or MAC.
    std::uint64_t overruns = 0;           ///< Latest policy: frames the writer took back before this reader got them.
    std::uint64_t wait_ns = 0;            ///< Total time acquire() waited for frames.
    std::uint64_t spin_ns = 0;            ///< Time spent polling (spin option and cadence windows): CPU it cost.
    std::uint64_t cadence_hits = 0;       ///< Frames that arrived while the reader polled in a cadence window.
    std::uint64_t cadence_misses = 0;     ///< Cadence windows that ended without the frame (it was late).
};

} // namespace zerobuffer
