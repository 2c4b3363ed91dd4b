// SPDX-License-Identifier: MIT
// The on-memory layout of a ring segment (protocol version 1). docs/protocol.md is its prose twin:
// change one, change the other, and bump kProtocolVersion for any incompatible change.
#pragma once

#include "private.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>

#include <zerobuffer/counters.h>
#include <zerobuffer/version.h>

namespace zerobuffer::detail {

inline constexpr std::uint64_t kMagic = 0x31425a4f52455a5aULL; // "ZZEROZB1" little-endian
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kRecordAlign = 64;      ///< Every record starts on a cache line.
inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::uint64_t kNoPosition = std::numeric_limits<std::uint64_t>::max();
inline constexpr std::uint32_t kMetadataSlots = 8;   ///< Stream-metadata generations kept at once.
inline constexpr std::uint32_t kMaxReaders = 64;
inline constexpr std::size_t kMinRingSize = 4096;
inline constexpr std::size_t kMaxMetadataCapacity = std::size_t{16} << 20;

/// Byte offsets in the shm file that processes lock (OFD locks) to show they are alive.
inline constexpr std::int64_t kWriterLockByte = 0;
inline constexpr std::int64_t reader_lock_byte(std::uint32_t slot) { return 1 + static_cast<std::int64_t>(slot); }

constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

enum class WriterState : std::uint32_t { Active = 1, Closed = 2 };

/// Reader slot ownership word: (epoch << 8) | SlotState. CAS on the whole word so a writer reclaiming a
/// dead reader's slot cannot clobber a new reader that claimed it meanwhile.
enum class SlotState : std::uint64_t { Free = 0, Claiming = 1, Active = 2 };
constexpr std::uint64_t make_owner(std::uint64_t epoch, SlotState state) { return (epoch << 8) | static_cast<std::uint64_t>(state); }
constexpr SlotState owner_state(std::uint64_t owner) { return static_cast<SlotState>(owner & 0xff); }
constexpr std::uint64_t owner_epoch(std::uint64_t owner) { return owner >> 8; }

using Counter = std::atomic<std::uint64_t>;

/// Bumps a counter that only one process writes: a plain load and store, no locked instruction.
inline void bump(Counter& counter, std::uint64_t by = 1) noexcept
{
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct SharedWriterCounters {
    Counter frames_written, bytes_written, frames_in_place, frames_copied, frames_aborted, waits, timeouts, wraps,
        readers_reclaimed, format_changes;
};

struct SharedReaderCounters {
    Counter frames_read, bytes_read, frames_skipped, sequence_gaps, waits, timeouts, checksum_failures;
};

/// Public copies of the shared counters, for Writer/Reader::counters() and inspect_ring().
inline WriterCounters snapshot(const SharedWriterCounters& c) noexcept
{
    constexpr auto kRelaxed = std::memory_order_relaxed;
    return {c.frames_written.load(kRelaxed), c.bytes_written.load(kRelaxed), c.frames_in_place.load(kRelaxed),
            c.frames_copied.load(kRelaxed),  c.frames_aborted.load(kRelaxed), c.waits.load(kRelaxed),
            c.timeouts.load(kRelaxed),       c.wraps.load(kRelaxed),          c.readers_reclaimed.load(kRelaxed),
            c.format_changes.load(kRelaxed)};
}

inline ReaderCounters snapshot(const SharedReaderCounters& c) noexcept
{
    constexpr auto kRelaxed = std::memory_order_relaxed;
    return {c.frames_read.load(kRelaxed),   c.bytes_read.load(kRelaxed), c.frames_skipped.load(kRelaxed),
            c.sequence_gaps.load(kRelaxed), c.waits.load(kRelaxed),      c.timeouts.load(kRelaxed),
            c.checksum_failures.load(kRelaxed)};
}

/// At offset 0 of the segment. Identity fields are written once before the segment is published under its
/// name and never change; each group of hot atomics has a cache line of its own to avoid false sharing.
struct ControlBlock {
    // --- identity and geometry (immutable after publication) ---
    std::atomic<std::uint64_t> magic;  ///< kMagic; stored last (release) at creation.
    std::uint32_t protocol_version;
    std::uint32_t control_block_size;  ///< sizeof(ControlBlock)
    std::uint32_t reader_slot_size;    ///< sizeof(ReaderSlot)
    std::uint32_t frame_header_size;   ///< sizeof(FrameHeader)
    std::uint32_t metadata_slot_header_size; ///< sizeof(MetadataSlotHeader)
    std::uint32_t max_readers;
    std::uint64_t segment_size;
    std::uint64_t readers_offset;
    std::uint64_t metadata_offset;
    std::uint64_t metadata_capacity;   ///< Bytes of JSON one metadata slot holds.
    std::uint64_t metadata_slot_stride;
    std::uint64_t payload_offset;
    std::uint64_t payload_capacity;    ///< Ring bytes; a multiple of kRecordAlign.
    std::uint32_t metadata_slots;      ///< kMetadataSlots
    std::uint32_t integrity;           ///< zerobuffer::Integrity
    std::int32_t writer_pid;
    std::uint32_t reserved0;
    std::int64_t created_realtime_ns;
    char writer_command[16];           ///< NUL-padded process name of the writer.
    std::uint8_t key_salt[16];         ///< Integrity::Mac: random salt ...
    std::uint8_t key_check[32];        ///< ... and keyed BLAKE2b of it, so readers detect a wrong secret at attach.

    // --- written by the writer on every commit ---
    alignas(kCacheLine) std::atomic<std::uint64_t> head; ///< End of the committed records (release).
    std::atomic<std::uint64_t> last_frame_pos;           ///< Start of the newest committed frame, or kNoPosition.
    std::atomic<std::uint64_t> next_sequence;            ///< Sequence number the next published frame gets.
    /// Start of the newest wrap padding published on its own (kNoPosition: none). Readers step from there to the
    /// lap end without reading it, so the writer may move a pin sitting there and overwrite the padding.
    std::atomic<std::uint64_t> last_wrap_start;
    /// Odd while the writer updates head, next_sequence and last_frame_pos, so an attaching reader can read
    /// them as one consistent triple.
    std::atomic<std::uint32_t> publish_seqlock;

    // --- written by the writer on every reserve ---
    alignas(kCacheLine) std::atomic<std::uint64_t> reserve_end; ///< The writer may write below reserve_end.

    // --- bumped by readers when they set a pin that may be below the writer's cached minimum ---
    alignas(kCacheLine) std::atomic<std::uint32_t> pin_epoch;

    // --- reader wake-ups: futex word and sleeper count ---
    alignas(kCacheLine) std::atomic<std::uint32_t> data_futex;
    std::uint32_t reserved1;
    /// Bit i set while the reader of slot i sleeps. A bitmask, not a count, so the writer can clear the bit of
    /// a reader that died asleep instead of paying a futex wake on every commit forever.
    std::atomic<std::uint64_t> sleeping_readers;

    // --- writer wake-ups ---
    alignas(kCacheLine) std::atomic<std::uint32_t> space_futex;
    std::atomic<std::uint32_t> writer_waiting;

    // --- rarely changing state ---
    alignas(kCacheLine) std::atomic<std::uint32_t> writer_state;     ///< WriterState
    std::atomic<std::uint32_t> format_generation;                    ///< Newest stream-metadata generation.
    std::atomic<std::uint32_t> reader_join_futex;                    ///< Bumped when a reader attaches.

    alignas(kCacheLine) SharedWriterCounters counters;
};

/// One per possible reader, each on its own cache lines.
struct ReaderSlot {
    std::atomic<std::uint64_t> owner;         ///< make_owner(epoch, SlotState)
    /// The writer must not write at or beyond pin + capacity. kNoPosition: no constraint.
    std::atomic<std::uint64_t> pin;
    std::atomic<std::uint64_t> read_pos;      ///< Next record this reader will look at (statistics).
    std::atomic<std::uint64_t> next_sequence; ///< Sequence it expects next (statistics).
    std::int32_t pid;
    std::uint32_t policy;                     ///< zerobuffer::ReaderPolicy
    alignas(kCacheLine) SharedReaderCounters counters;
};

/// Header of one stream-metadata slot; the JSON text follows. Written under a seqlock.
struct MetadataSlotHeader {
    std::atomic<std::uint32_t> seqlock;    ///< Odd while being written.
    std::uint32_t generation;
    std::uint64_t size;
    std::uint8_t reserved[48];
};

enum class RecordKind : std::uint32_t {
    Frame = 0x314d5246,   ///< "FRM1"
    Padding = 0x31444150, ///< "PAD1": skip record_size bytes (wrap to ring start, aborted reservation, slack)
};

/// Header of every record in the payload ring. A padding record uses only kind and record_size.
struct FrameHeader {
    std::uint32_t kind;            ///< RecordKind
    std::uint32_t flags;           ///< FrameFlags
    std::uint64_t record_size;     ///< Whole record, a multiple of kRecordAlign.
    std::uint64_t sequence;
    std::uint64_t payload_size;
    std::uint32_t payload_offset;  ///< From the record start; a multiple of kRecordAlign.
    std::uint32_t metadata_size;   ///< Per-frame metadata bytes, right after this header.
    std::uint32_t format_generation;
    std::uint32_t reserved0;
    std::int64_t pts;
    std::int64_t dts;
    std::int64_t duration;
    std::uint64_t offset;
    std::uint64_t offset_end;
    std::int64_t commit_time_ns;   ///< CLOCK_MONOTONIC at commit.
    std::uint8_t digest[32];       ///< BLAKE2b-256 (keyed with Integrity::Mac) of bytes [0, 96), metadata, payload.
};
inline constexpr std::size_t kDigestedHeaderBytes = 96;

// The layout is the protocol: pin every size and offset so a change cannot go unnoticed.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && sizeof(std::atomic<std::uint32_t>) == 4);
static_assert(sizeof(FrameHeader) == 128);
static_assert(offsetof(FrameHeader, record_size) == 8);
static_assert(offsetof(FrameHeader, pts) == 48);
static_assert(offsetof(FrameHeader, digest) == kDigestedHeaderBytes);
static_assert(sizeof(MetadataSlotHeader) == 64);
static_assert(sizeof(ReaderSlot) == 128);
static_assert(offsetof(ReaderSlot, counters) == 64);
static_assert(offsetof(ControlBlock, head) == 192);
static_assert(offsetof(ControlBlock, reserve_end) == 256);
static_assert(offsetof(ControlBlock, pin_epoch) == 320);
static_assert(offsetof(ControlBlock, data_futex) == 384);
static_assert(offsetof(ControlBlock, space_futex) == 448);
static_assert(offsetof(ControlBlock, writer_state) == 512);
static_assert(offsetof(ControlBlock, counters) == 576);
static_assert(sizeof(ControlBlock) == 704);

} // namespace zerobuffer::detail
