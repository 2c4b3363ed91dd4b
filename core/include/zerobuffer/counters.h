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
    std::uint64_t frames_copied = 0;      ///< Frames copied in with write().
    std::uint64_t frames_aborted = 0;     ///< Reservations dropped without commit.
    std::uint64_t waits = 0;              ///< Times the writer had to wait for ring space.
    std::uint64_t timeouts = 0;           ///< Waits that hit reader_timeout.
    std::uint64_t wraps = 0;              ///< Times the write position wrapped to the ring start.
    std::uint64_t readers_reclaimed = 0;  ///< Slots of dead readers taken back.
    std::uint64_t format_changes = 0;     ///< Stream metadata generations published.
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
};

} // namespace zerobuffer
