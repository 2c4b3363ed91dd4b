// SPDX-License-Identifier: MIT
// What readers keep: the frames each reader holds and the cursor of each lossless reader, written by the readers
// into their slots, and the writer's scan of them before it takes frame memory back.
//
// The rule. The writer may reuse the memory of committed frame s only when
//   (a) every lossless reader has read it: s < its cursor, and
//   (b) no reader holds it: no hold record of any reader says s.
// Readers that already have a frame keep it safe by (a) or (b). The difficulty is a reader that is about to take a
// frame that nothing protects yet: a latest reader picking the newest frame, or a reader attaching with
// StartAt::NewestFrame. For those, the writer first raises reclaim_floor, the sequence below which readers may
// no longer newly take frames, and only then looks at the readers; such a reader first publishes its hold (or its
// cursor), and only then looks at the floor. Both sides separate the store from the load by a seq_cst fence:
//
//   writer: reclaim_floor = F;   fence(seq_cst);   scan cursors and hold records;   reuse unkept frames < F
//   reader: hold record = s;     fence(seq_cst);   if s < reclaim_floor: give the hold back (the frame is gone)
//
// In the single total order of the two fences, either the reader's fence comes first, and the writer's scan sees
// its hold record (C++20 [atomics.fences]: the scan reads that store or a later one), so s is kept; or the writer's
// fence comes first, and the reader sees a floor of at least F, so a frame s < F is refused. No interleaving lets
// both miss each other, so a frame a reader keeps is never reused, and the writer never waits for a reader that
// has not yet taken the frame. The floor only grows; frames at or above it are never reused, whatever readers do.
//
// A lossless reader needs no fence to take frame s = cursor: the cursor already protects s, and the reader stores
// the hold record before it moves the cursor past s (release). A writer that reads the new cursor (acquire) also
// reads the hold record; one that reads the old cursor keeps s because of it.
//
// Releasing a frame clears its record with a seq_cst store and then reads writer_waiting (a second Dekker pair with
// the writer, which sets writer_waiting before its last scan and its futex sleep): a writer waiting for room is
// always woken by the release that makes room.
//
// A reader that dies keeps its records until the writer frees its slot (its liveness lock is gone); a slot's
// records are only looked at while the slot is not free.
#pragma once

#include "private.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "futex.h"
#include "layout.h"

namespace zerobuffer::detail {

/// Guards a reader's hold bookkeeping. Held only for a few instructions by acquire() and release(); nearly always
/// uncontended, where it costs one atomic exchange instead of std::mutex's two read-modify-writes.
class SpinLock {
public:
    void lock() noexcept
    {
        while (locked_.exchange(true, std::memory_order_acquire))
            while (locked_.load(std::memory_order_relaxed))
                cpu_relax();
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

/// A reader's hold records in its slot and which of them are in use. Not thread-safe: the owner locks.
class ReaderHolds {
public:
    ReaderHolds(ReaderSlot& slot, HoldRecord* records, std::uint32_t capacity)
        : slot_(slot), records_(records), capacity_(capacity), used_((capacity + 63) / 64, 0)
    {
    }

    /// Empties every record (at claim time: the slot may hold a dead reader's records).
    void reset() noexcept
    {
        for (std::uint32_t i = 0; i < capacity_; ++i) {
            records_[i].sequence.store(kNoSequence, std::memory_order_relaxed);
            records_[i].acquired_ns.store(0, std::memory_order_relaxed);
            records_[i].bytes.store(0, std::memory_order_relaxed);
        }
        std::fill(used_.begin(), used_.end(), 0);
        count_ = 0;
        high_ = 0;
        slot_.hold_high.store(0, std::memory_order_relaxed);
    }

    [[nodiscard]] std::uint32_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }

    /// Publishes a hold on frame `sequence` in the lowest free record and returns its index; the caller checked
    /// count() < capacity(). Relaxed stores: the caller orders them (a fence, or the cursor's release store).
    std::uint32_t publish(std::uint64_t sequence, std::uint64_t bytes, std::int64_t now_ns) noexcept
    {
        std::uint32_t index = 0;
        for (std::size_t word = 0; word < used_.size(); ++word) {
            if (used_[word] != ~std::uint64_t{0}) {
                index = static_cast<std::uint32_t>(word * 64 + static_cast<std::size_t>(__builtin_ctzll(~used_[word])));
                break;
            }
        }
        used_[index / 64] |= std::uint64_t{1} << (index % 64);
        ++count_;
        HoldRecord& record = records_[index];
        record.acquired_ns.store(now_ns, std::memory_order_relaxed);
        record.bytes.store(bytes, std::memory_order_relaxed);
        if (index >= high_) { // Before the record: the writer reads hold_high, then the records below it.
            high_ = index + 1;
            slot_.hold_high.store(high_, std::memory_order_relaxed);
        }
        record.sequence.store(sequence, std::memory_order_relaxed);
        return index;
    }

    /// Gives a hold back. seq_cst: ordered before the caller's load of writer_waiting (see the file comment).
    void clear(std::uint32_t index) noexcept
    {
        records_[index].sequence.store(kNoSequence, std::memory_order_seq_cst);
        used_[index / 64] &= ~(std::uint64_t{1} << (index % 64));
        --count_;
        while (high_ != 0 && (used_[(high_ - 1) / 64] & (std::uint64_t{1} << ((high_ - 1) % 64))) == 0)
            --high_;
        slot_.hold_high.store(high_, std::memory_order_relaxed);
    }

    [[nodiscard]] bool in_use(std::uint32_t index) const noexcept
    {
        return index < capacity_ && (used_[index / 64] & (std::uint64_t{1} << (index % 64))) != 0;
    }

private:
    ReaderSlot& slot_;
    HoldRecord* records_;
    std::uint32_t capacity_;
    std::vector<std::uint64_t> used_; ///< Bit i: record i is in use.
    std::uint32_t count_ = 0;
    std::uint32_t high_ = 0;          ///< Mirror of slot_.hold_high.
};

/// What the writer learns from one look at every reader slot.
struct ReaderScan {
    std::uint64_t min_lossless_cursor = kNoSequence; ///< Lowest cursor of a lossless reader.
    std::uint64_t min_in_order_cursor = kNoSequence; ///< Lowest cursor of a latest reader that reads in order.
    std::vector<std::uint64_t> held;                 ///< Every held sequence, sorted (capacity reserved once).

    [[nodiscard]] bool is_held(std::uint64_t sequence) const noexcept
    {
        return std::binary_search(held.begin(), held.end(), sequence);
    }
};

/// Reads the cursors of all non-free slots (no hold records): the cheap look before choosing a floor.
void scan_cursors(const class Segment& segment, ReaderScan& out) noexcept;

/// Reads cursors and hold records of all non-free slots. For a lossless slot the cursor is read first (acquire),
/// then its records, as the file comment requires.
void scan_readers(const class Segment& segment, ReaderScan& out);

} // namespace zerobuffer::detail
