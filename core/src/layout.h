// SPDX-License-Identifier: MIT
// The on-memory layout of a ring segment (protocol version 2). docs/protocol.md is its prose twin:
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

inline constexpr std::uint64_t kMagic = 0x31425a4f52455a5aULL; // "ZZEROZB1" little-endian; the version tells v1 from v2
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kExtentAlign = 64;      ///< Every frame's memory starts on a cache line.
inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::uint64_t kNoPosition = std::numeric_limits<std::uint64_t>::max();
inline constexpr std::uint64_t kNoSequence = std::numeric_limits<std::uint64_t>::max();
inline constexpr std::uint32_t kMetadataSlots = 8;   ///< Stream-metadata generations kept at once.
inline constexpr std::uint32_t kMaxReaders = 64;
inline constexpr std::size_t kMinRingSize = 4096;
inline constexpr std::size_t kMaxMetadataCapacity = std::size_t{16} << 20;
inline constexpr std::uint32_t kMinFrameSlots = 16;
inline constexpr std::uint32_t kMaxFrameSlots = std::uint32_t{1} << 20;
inline constexpr std::uint32_t kMaxHoldsPerReader = 4096;

/// Byte offsets in the shm file that processes lock (OFD locks) to show they are alive.
inline constexpr std::int64_t kWriterLockByte = 0;
inline constexpr std::int64_t reader_lock_byte(std::uint32_t slot) { return 1 + static_cast<std::int64_t>(slot); }

constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

enum class WriterState : std::uint32_t { Active = 1, Closed = 2 };

/// Why a writer waits (ControlBlock::wait_reason), for tools that explain a blocked writer.
enum class WaitReason : std::uint32_t {
    None = 0,
    Room = 1,         ///< No free extent large enough: unread frames of lossless readers, held or retained frames.
    FrameSlots = 2,   ///< A lossless reader is frame_slots frames behind: no descriptor may be reused yet.
};

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

/// 32 words: the named counters, then room for later ones without a layout change of the neighbours.
struct SharedWriterCounters {
    Counter frames_written, bytes_written, frames_in_place, frames_copied, frames_aborted, waits, timeouts, wraps,
        readers_reclaimed, format_changes, frames_retained, reclaim_scans, frames_passed, rewinds, keyframe_requests_seen,
        wait_ns;
    Counter reserved[16];
};

/// 24 words, like SharedWriterCounters.
struct SharedReaderCounters {
    Counter frames_read, bytes_read, frames_skipped, sequence_gaps, waits, timeouts, checksum_failures, overruns,
        wait_ns, spin_ns, cadence_hits, cadence_misses;
    Counter reserved[12];
};

/// Public copies of the shared counters, for Writer/Reader::counters() and inspect_ring().
inline WriterCounters snapshot(const SharedWriterCounters& c) noexcept
{
    constexpr auto kRelaxed = std::memory_order_relaxed;
    WriterCounters out;
    out.frames_written = c.frames_written.load(kRelaxed);
    out.bytes_written = c.bytes_written.load(kRelaxed);
    out.frames_in_place = c.frames_in_place.load(kRelaxed);
    out.frames_copied = c.frames_copied.load(kRelaxed);
    out.frames_aborted = c.frames_aborted.load(kRelaxed);
    out.waits = c.waits.load(kRelaxed);
    out.timeouts = c.timeouts.load(kRelaxed);
    out.wraps = c.wraps.load(kRelaxed);
    out.readers_reclaimed = c.readers_reclaimed.load(kRelaxed);
    out.format_changes = c.format_changes.load(kRelaxed);
    out.frames_retained = c.frames_retained.load(kRelaxed);
    out.reclaim_scans = c.reclaim_scans.load(kRelaxed);
    out.frames_passed = c.frames_passed.load(kRelaxed);
    out.rewinds = c.rewinds.load(kRelaxed);
    out.keyframe_requests_seen = c.keyframe_requests_seen.load(kRelaxed);
    out.wait_ns = c.wait_ns.load(kRelaxed);
    return out;
}

inline ReaderCounters snapshot(const SharedReaderCounters& c) noexcept
{
    constexpr auto kRelaxed = std::memory_order_relaxed;
    ReaderCounters out;
    out.frames_read = c.frames_read.load(kRelaxed);
    out.bytes_read = c.bytes_read.load(kRelaxed);
    out.frames_skipped = c.frames_skipped.load(kRelaxed);
    out.sequence_gaps = c.sequence_gaps.load(kRelaxed);
    out.waits = c.waits.load(kRelaxed);
    out.timeouts = c.timeouts.load(kRelaxed);
    out.checksum_failures = c.checksum_failures.load(kRelaxed);
    out.overruns = c.overruns.load(kRelaxed);
    out.wait_ns = c.wait_ns.load(kRelaxed);
    out.spin_ns = c.spin_ns.load(kRelaxed);
    out.cadence_hits = c.cadence_hits.load(kRelaxed);
    out.cadence_misses = c.cadence_misses.load(kRelaxed);
    return out;
}

/// At offset 0 of the segment. Identity fields are written once before the segment is published under its
/// name and never change; each group of hot atomics has a cache line of its own to avoid false sharing.
struct ControlBlock {
    // --- identity and geometry (immutable after publication) ---
    std::atomic<std::uint64_t> magic;  ///< kMagic; stored last (release) at creation.
    std::uint32_t protocol_version;
    std::uint32_t control_block_size;  ///< sizeof(ControlBlock)
    std::uint32_t reader_slot_size;    ///< Bytes of one reader slot: sizeof(ReaderSlot) + holds table.
    std::uint32_t descriptor_size;     ///< sizeof(FrameDescriptor)
    std::uint32_t metadata_slot_header_size; ///< sizeof(MetadataSlotHeader)
    std::uint32_t max_readers;
    std::uint64_t segment_size;
    std::uint64_t readers_offset;
    std::uint64_t descriptors_offset;
    std::uint64_t metadata_offset;
    std::uint64_t metadata_capacity;   ///< Bytes of JSON one metadata slot holds.
    std::uint64_t metadata_slot_stride;
    std::uint64_t payload_offset;
    std::uint64_t payload_capacity;    ///< Bytes of frame memory; a multiple of kPageSize.
    std::uint32_t frame_slots;         ///< Descriptors; a power of two. Frame `s` is described by descriptor s % frame_slots.
    std::uint32_t holds_per_reader;    ///< Hold records in each reader slot.
    std::uint32_t metadata_slots;      ///< kMetadataSlots
    std::uint32_t integrity;           ///< zerobuffer::Integrity
    std::int32_t writer_pid;
    std::uint32_t reserved0;
    std::int64_t created_realtime_ns;
    char writer_command[16];           ///< NUL-padded process name of the writer.
    std::uint8_t key_salt[16];         ///< Integrity::Mac: random salt ...
    std::uint8_t key_check[32];        ///< ... and keyed BLAKE2b of it, so readers detect a wrong secret at attach.

    // --- written by the writer on every commit ---
    alignas(kCacheLine) std::atomic<std::uint64_t> committed; ///< Frames committed = sequence of the next one (release).
    std::atomic<std::int64_t> last_commit_ns;                 ///< CLOCK_MONOTONIC of the newest commit (tools).
    std::atomic<std::uint64_t> bytes_in_use;                  ///< Frame memory not free at the last reclaim scan (tools).
    std::atomic<std::uint64_t> frames_in_use;                 ///< Frames whose memory is not free, same time (tools).
    /// Readers may newly take frames from this sequence on; the writer raises it before taking memory back
    /// (holds.h explains the handshake).
    std::atomic<std::uint64_t> reclaim_floor;

    // --- reader wake-ups: futex word and sleepers ---
    alignas(kCacheLine) std::atomic<std::uint32_t> data_futex;
    std::uint32_t reserved1;
    /// Bit i set while the reader of slot i sleeps. A bitmask, not a count, so the writer can clear the bit of
    /// a reader that died asleep instead of paying a futex wake on every commit forever.
    std::atomic<std::uint64_t> sleeping_readers;

    // --- writer wake-ups, and why the writer waits (tools) ---
    alignas(kCacheLine) std::atomic<std::uint32_t> space_futex;
    std::atomic<std::uint32_t> writer_waiting;
    std::atomic<std::uint32_t> wait_reason;   ///< WaitReason while waiting, else None.
    std::atomic<std::int32_t> wait_blocker;   ///< Reader slot most to blame, or -1.
    std::atomic<std::int64_t> wait_since_ns;  ///< CLOCK_MONOTONIC start of the current wait, or 0.

    // --- rarely changing state ---
    alignas(kCacheLine) std::atomic<std::uint32_t> writer_state;     ///< WriterState
    std::atomic<std::uint32_t> format_generation;                    ///< Newest stream-metadata generation.
    std::atomic<std::uint32_t> reader_join_futex;                    ///< Bumped when a reader attaches.
    std::atomic<std::uint32_t> keyframe_requests;                    ///< Bumped by readers that ask for a keyframe.

    alignas(kCacheLine) SharedWriterCounters counters;
    std::uint8_t reserved_tail[64];
};

/// Header of a reader slot; `holds_per_reader` HoldRecords follow it. Only the owning reader writes it (the
/// writer frees the slot of a dead reader).
struct ReaderSlot {
    std::atomic<std::uint64_t> owner;         ///< make_owner(epoch, SlotState)
    /// Sequence of the next frame this reader reads. For a lossless reader it protects every frame from it on;
    /// for a latest reader it is only the frame it expects next (statistics).
    std::atomic<std::uint64_t> cursor;
    std::atomic<std::uint32_t> hold_high;     ///< Hold records [0, hold_high) may be in use.
    std::atomic<std::uint32_t> policy;        ///< zerobuffer::ReaderPolicy
    std::atomic<std::int32_t> pid;
    std::atomic<std::uint32_t> flags;         ///< kSlotReadsInOrder
    std::atomic<std::int64_t> last_acquire_ns; ///< CLOCK_MONOTONIC(_COARSE) of the newest acquire (tools).
    std::atomic<std::int64_t> cadence_interval_ns; ///< Frame interval the reader learnt (0: not periodic), tools.
    std::atomic<std::int64_t> cadence_window_ns;   ///< Its polling window around each due frame, tools.
    std::uint8_t reserved1[8];
    alignas(kCacheLine) SharedReaderCounters counters;
};

/// ReaderSlot::flags: a latest reader that reads in order while at most max_lag_frames behind. The writer takes
/// frames it has not read back only when it needs their room (its cursor is a preference, not a protection).
inline constexpr std::uint32_t kSlotReadsInOrder = 1;

/// One frame a reader holds. `sequence` is what the writer checks; the rest is for tools.
struct HoldRecord {
    std::atomic<std::uint64_t> sequence;      ///< kNoSequence: unused.
    std::atomic<std::int64_t> acquired_ns;    ///< CLOCK_MONOTONIC(_COARSE, a few ms late) when acquired.
    std::atomic<std::uint64_t> bytes;         ///< Frame memory the hold keeps (its extent).
    std::uint64_t reserved;
};

/// Header of one stream-metadata slot; the JSON text follows. Written under a seqlock.
struct MetadataSlotHeader {
    std::atomic<std::uint32_t> seqlock;    ///< Odd while being written.
    std::uint32_t generation;
    std::uint64_t size;
    std::uint8_t reserved[48];
};

/// Descriptor tag: 0 unused or being rewritten, `sequence + 1` while the frame may be read, with kTagReclaimed
/// set while (or once) the writer takes the frame's memory back.
inline constexpr std::uint64_t kTagReclaimed = std::uint64_t{1} << 63;
constexpr std::uint64_t tag_of(std::uint64_t sequence) { return sequence + 1; }

/// Describes committed frame `sequence` in descriptor sequence % frame_slots. Written only by the writer, at commit;
/// every field is atomic because a latest reader may copy a descriptor while the writer rewrites it (it then
/// sees the tag change and discards the copy).
struct FrameDescriptor {
    std::atomic<std::uint64_t> tag;
    std::atomic<std::uint64_t> extent_offset;   ///< From the payload area start; multiple of kExtentAlign.
    std::atomic<std::uint64_t> extent_size;     ///< Bytes of the frame's memory: metadata area + payload.
    std::atomic<std::uint32_t> payload_offset;  ///< From the extent start; multiple of kExtentAlign.
    std::atomic<std::uint32_t> metadata_size;   ///< Per-frame metadata bytes at the extent start.
    std::atomic<std::uint64_t> payload_size;
    std::atomic<std::uint32_t> flags;           ///< FrameFlags
    std::atomic<std::uint32_t> format_generation;
    std::atomic<std::int64_t> pts;
    std::atomic<std::int64_t> dts;
    std::atomic<std::int64_t> duration;
    std::atomic<std::uint64_t> offset;
    std::atomic<std::uint64_t> offset_end;
    std::atomic<std::int64_t> commit_time_ns;   ///< CLOCK_MONOTONIC at commit.
    std::atomic<std::uint64_t> digest[4];       ///< BLAKE2b-256 (keyed for Integrity::Mac); see integrity.h.
};

// The layout is the protocol: pin every size and offset so a change cannot go unnoticed.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && sizeof(std::atomic<std::uint32_t>) == 4);
static_assert(sizeof(SharedWriterCounters) == 256 && sizeof(SharedReaderCounters) == 192);
static_assert(sizeof(FrameDescriptor) == 128);
static_assert(offsetof(FrameDescriptor, payload_offset) == 24);
static_assert(offsetof(FrameDescriptor, pts) == 48);
static_assert(offsetof(FrameDescriptor, commit_time_ns) == 88);
static_assert(offsetof(FrameDescriptor, digest) == 96);
static_assert(sizeof(HoldRecord) == 32);
static_assert(sizeof(MetadataSlotHeader) == 64);
static_assert(sizeof(ReaderSlot) == 256);
static_assert(offsetof(ReaderSlot, last_acquire_ns) == 32);
static_assert(offsetof(ReaderSlot, counters) == 64);
static_assert(offsetof(ControlBlock, frame_slots) == 96);
static_assert(offsetof(ControlBlock, key_check) == 160);
static_assert(offsetof(ControlBlock, committed) == 192);
static_assert(offsetof(ControlBlock, reclaim_floor) == 224);
static_assert(offsetof(ControlBlock, data_futex) == 256);
static_assert(offsetof(ControlBlock, space_futex) == 320);
static_assert(offsetof(ControlBlock, wait_since_ns) == 336);
static_assert(offsetof(ControlBlock, writer_state) == 384);
static_assert(offsetof(ControlBlock, counters) == 448);
static_assert(sizeof(ControlBlock) == 768);

/// Bytes of one reader slot with its hold records, rounded to whole cache lines.
constexpr std::uint64_t reader_slot_stride(std::uint32_t holds_per_reader)
{
    return align_up(sizeof(ReaderSlot) + std::uint64_t{holds_per_reader} * sizeof(HoldRecord), kCacheLine);
}

} // namespace zerobuffer::detail
