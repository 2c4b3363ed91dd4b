// SPDX-License-Identifier: MIT
// What a Writer owns: the segment, the map of frame memory, the records of frames not yet free, and the
// reserve/commit/retain/abort logic with its waits for room.
#pragma once

#include "private.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <zerobuffer/writer.h>

#include "descriptor.h"
#include "futex.h"
#include "holds.h"
#include "integrity.h"
#include "layout.h"
#include "placement.h"
#include "segment.h"

namespace zerobuffer::detail {

/// Why a frame's memory is not free yet, as far as the writer knows.
enum class RecordState : std::uint8_t {
    Unused,   ///< On the free list.
    Open,     ///< A reservation being filled.
    Pending,  ///< Committed; not yet examined against the readers (commit order, in pending_).
    Kept,     ///< Committed and found held by a reader, or released from retention: examined again each scan.
    Retained, ///< Committed with commit_retained() and not released yet.
};

/// A frame (or reservation) whose memory is not free. Indexed by the number FrameReservation/RetainedFrame carry.
struct FrameRecord {
    RecordState state = RecordState::Unused;
    bool copied = false;                ///< Filled by copying (counters).
    std::uint32_t extent = 0;           ///< Its extent's index in the placement queue (when size > 0).
    std::uint64_t sequence = 0;         ///< Once committed.
    std::uint64_t offset = 0;           ///< Of its memory in the frame area.
    std::uint64_t size = 0;             ///< Bytes of its memory (0: no extent).
    std::uint64_t payload_capacity = 0; ///< As reserved.
    std::uint64_t metadata_capacity = 0;
};

/// Everything a Writer owns. Lives on the heap so FrameReservations can point at it across Writer moves.
class WriterCore {
public:
    WriterCore(Segment segment, std::string name, const WriterOptions& options, FrameDigester digester);
    WriterCore(const WriterCore&) = delete;
    WriterCore& operator=(const WriterCore&) = delete;
    ~WriterCore();

    Result<FrameReservation> reserve(std::size_t payload_size, std::size_t metadata_capacity,
                                     std::chrono::nanoseconds timeout);
    /// Publishes; with `retained` set, keeps the memory and fills it in.
    Result<void> commit(FrameReservation& reservation, const FrameInfo& info, std::size_t payload_size,
                        std::size_t metadata_size, RetainedFrame* retained);
    void abort(std::uint32_t record) noexcept;
    void release_retained(std::uint32_t record) noexcept;
    void mark_copied(std::uint32_t record) noexcept { records_[record].copied = true; }

    Result<std::uint32_t> set_stream_metadata(std::string_view json);
    Result<void> wait_for_readers(std::uint32_t count, std::chrono::nanoseconds timeout);
    std::uint32_t reader_count();
    bool keyframe_requested() noexcept;

    std::size_t max_payload_size(std::size_t metadata_capacity) const noexcept;
    std::size_t ring_size() const noexcept { return static_cast<std::size_t>(capacity_); }
    WriterCounters counters() const noexcept { return snapshot(control_.counters); }
    const std::string& name() const noexcept { return name_; }
    const WriterOptions& options() const noexcept { return options_; }

    /// For the core's white-box tests: waits that began although a free extent as large as the frame existed
    /// (checked independently of the placement walk; must stay 0), and the largest free extent now.
    std::uint64_t waits_with_room() const noexcept { return waits_with_room_; }
    std::uint64_t largest_free_extent();

private:
    friend class OwnersView;

    /// What placement asks about an extent's owner (a record, or Placement's free marker).
    Placement::Status status_of(std::uint32_t owner) const noexcept;

    /// Tries to place `size` bytes for `record`, scanning the readers as needed, taking frames back at most as
    /// aggressively as `level` allows (0: spare what latest readers read in order and the newest frame; 1: spare
    /// the newest frame; 2: anything not kept). True when placed.
    bool try_place(std::uint64_t size, std::uint32_t record, int level);
    /// Looks at every reader and frees the memory of frames nobody keeps below the new reclaim floor.
    void scan(int level);
    void free_record(std::uint32_t record) noexcept;
    void release_extent(std::uint32_t record) noexcept;
    std::uint32_t take_record() noexcept;

    /// Waits (futex, in slices) until `fits()` holds or the deadline passes.
    template <typename Fits>
    Result<void> wait_until(Fits&& fits, WaitReason reason, LazyDeadline& deadline, std::uint64_t need);
    /// Committed frames plus `extra` open reservations stay within frame_slots of the slowest lossless reader.
    bool frame_slots_free(std::uint64_t extra) noexcept
    {
        return min_lossless_cursor_ == kNoSequence || committed_ + extra <= min_lossless_cursor_ + frame_slots_ ||
               rescan_frame_slots(extra);
    }
    bool rescan_frame_slots(std::uint64_t extra) noexcept;
    void reclaim_dead_readers();
    std::string blockers() const;
    void wake_readers() noexcept;

    Segment segment_;
    ControlBlock& control_;
    std::byte* area_;
    std::uint64_t capacity_;
    std::uint64_t frame_slots_;
    std::string name_;
    WriterOptions options_;
    FrameDigester digester_;

    Placement placement_;
    std::vector<FrameRecord> records_;     ///< Allocated once: no allocation per frame.
    std::vector<std::uint32_t> free_records_;
    std::vector<std::uint32_t> pending_;   ///< Circular, commit order.
    std::size_t pending_head_ = 0;
    std::size_t pending_count_ = 0;
    std::vector<std::uint32_t> kept_;      ///< Records examined again at every scan.
    ReaderScan scan_;
    bool scanned_ = false;                 ///< A scan happened during the current placement attempt.

    std::uint32_t open_ = 0;               ///< Open reservations.
    std::uint64_t committed_ = 0;          ///< Mirror of control_.committed.
    std::uint64_t floor_ = 0;              ///< Mirror of control_.reclaim_floor.
    std::uint64_t min_lossless_cursor_ = 0; ///< Lower bound of every lossless cursor, as of the last look.
    std::uint64_t next_rewind_try_ = 0;    ///< No rewind is tried before the write position reaches this.
    std::uint64_t wraps_published_ = 0;
    std::uint64_t passed_published_ = 0;
    std::uint32_t format_generation_ = 0;
    std::uint32_t keyframe_requests_seen_ = 0;
    std::int64_t next_liveness_check_ns_ = 0;
    std::uint64_t waits_with_room_ = 0;
    std::uint64_t bytes_in_use_ = 0;       ///< Memory of the records' extents (the control block's gauge).
    std::uint64_t frames_in_use_ = 0;
};

} // namespace zerobuffer::detail
