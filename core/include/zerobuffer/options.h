// SPDX-License-Identifier: MIT
// Options for creating a ring (writer side) and attaching to one (reader side).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace zerobuffer {

/// How frames are protected against corruption or tampering. Chosen by the writer at creation.
enum class Integrity : std::uint32_t {
    None = 0,     ///< No per-frame digest.
    Checksum = 1, ///< BLAKE2b-256 over header fields, metadata and payload; any reader can verify.
    Mac = 2,      ///< Keyed BLAKE2b-256 (a MAC) with a shared secret; readers need the same secret.
};

/// How a reader relates to the writer. Chosen by each reader when it attaches.
enum class ReaderPolicy : std::uint32_t {
    /// Sees every frame in order; the writer waits for it (up to its reader_timeout) when the ring is full of
    /// frames this reader has not read yet.
    Lossless = 0,
    /// Never slows the writer: acquire() returns the newest committed frame (or, with max_lag_frames, frames in
    /// order while it is at most that far behind), counting what it skips. Frames it holds stay intact; the
    /// writer places new frames around them.
    Latest = 1,
};

/// How acquire() waits when no frame is there yet.
enum class WaitMode : std::uint32_t {
    /// While the stream is periodic (a live source), learn when the next frame is due, sleep on the ring's futex
    /// until shortly before it, then poll for it in a short window; otherwise (unpaced, irregular, late frames)
    /// as Sleep. Saves the futex wake-up on every frame at a bounded cost (cadence_budget).
    Cadence = 0,
    /// Poll for `spin`, then sleep on the ring's futex until a commit wakes it.
    Sleep = 1,
};

/// Where a new reader starts.
enum class StartAt : std::uint32_t {
    NextFrame = 0,   ///< The first frame committed after attaching.
    NewestFrame = 1, ///< The newest frame already committed, if its memory was not taken back; else the next one.
};

struct WriterOptions {
    std::size_t ring_size = std::size_t{64} << 20;       ///< Bytes of frame memory (rounded up to a page).
    std::uint32_t max_readers = 8;                       ///< Reader slots (1..64).
    std::size_t metadata_capacity = std::size_t{16} << 10; ///< Bytes for one stream-metadata document.
    std::uint32_t permissions = 0600;                    ///< Mode of the shared-memory object; no write bit for others.
    Integrity integrity = Integrity::None;
    std::string secret;                                  ///< Required with Integrity::Mac; high-entropy.
    std::chrono::nanoseconds reader_timeout = std::chrono::seconds(5); ///< Longest wait for room.
    std::chrono::nanoseconds spin = std::chrono::nanoseconds(0); ///< Busy-wait before sleeping when blocked.
    std::uint32_t max_outstanding = 16; ///< Reservations that may be open at once (buffer pools, decoders).
    /// Frames the ring can describe at once (descriptors; rounded up to a power of two, 16..1048576). A lossless
    /// reader may lag at most this many frames. 0: one per 16 KiB of ring_size, at least 64, at most 65536.
    std::uint32_t max_frames = 0;
    /// Frames each reader may hold at once (hold records per reader slot, 1..4096).
    std::uint32_t max_holds_per_reader = 64;
};

struct ReaderOptions {
    ReaderPolicy policy = ReaderPolicy::Lossless;
    StartAt start_at = StartAt::NextFrame;
    std::chrono::nanoseconds spin = std::chrono::nanoseconds(0); ///< Busy-wait before sleeping on a futex.
    WaitMode wait_mode = WaitMode::Cadence;
    /// Cadence: the most of each frame interval the polling window may take (0.03: at most 3 % of a core).
    double cadence_budget = 0.03;
    /// Frames this reader may hold at once; 0: as many as the ring allows (its writer's max_holds_per_reader).
    std::uint32_t max_held = 0;
    /// Latest policy: how many frames older than the newest a frame may be. 0: always the newest frame;
    /// N: frames in order while at most N behind, then a jump to the newest (counted as skipped).
    std::uint64_t max_lag_frames = 0;
    bool verify = true;                 ///< Verify checksums/MACs when the ring carries them.
    std::string secret;                 ///< Needed for rings created with Integrity::Mac.
    /// How often a waiting reader checks that its writer is alive; WriterGone comes within about twice this.
    std::chrono::milliseconds liveness_interval = std::chrono::milliseconds(50);
};

} // namespace zerobuffer
