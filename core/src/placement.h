// SPDX-License-Identifier: MIT
// Where frames live in the frame area: the writer's private map of the memory in use, and where the next frame goes.
//
// The map is a queue of extents in position order. Positions are byte counters that only grow; the byte of
// position p is at p % capacity, and an extent never crosses the end of the area. Every extent lies within one
// capacity of the oldest (the front), so the free room ahead of the write position ends at front + capacity.
//
// Placing a frame: put it right after the newest extent (next fit) if it fits before the front comes round again
// and before the end of the area; otherwise look at the front extent. A free one is dropped, which makes room. One
// still in use (a frame a reader holds or has yet to read, an open reservation, a retained frame) is passed: it
// moves to the back of the queue one capacity later, and the write position skips over it. So the writer goes
// around kept frames instead of waiting for them, and waits only when it has passed every extent without finding
// a gap as large as the frame: when no such gap exists. An extent whose state the writer does not know yet stops
// the walk (NeedScan): the writer asks the readers and tries again.
//
// Rewind keeps the memory in use small while readers keep up: far enough into a lap, if the first gap from the
// start of the area that fits the frame lies below the write position, the write position jumps to the next lap
// (the rest of this lap is free anyway) and placing proceeds from there. Frames then cycle through the first few
// extents, which stay in the CPU caches, instead of walking through the whole area.
#pragma once

#include "private.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace zerobuffer::detail {

class Placement {
public:
    enum class Status { Free, Busy, Unknown };
    enum class Outcome { Placed, NeedScan, NoRoom };
    /// Owner of an extent whose memory is free again; it is dropped when the walk reaches it.
    static constexpr std::uint32_t kFree = 0xffffffffu;

    struct Extent {
        std::uint64_t position = 0;
        std::uint64_t size = 0;
        std::uint32_t owner = kFree; ///< The writer's record of what lives here, or kFree.
    };

    /// Room for at least `max_extents` extents (rounded up to a power of two, so indexing is a mask).
    Placement(std::uint64_t capacity, std::uint32_t max_extents)
        : capacity_(capacity), queue_(std::bit_ceil(std::max<std::uint32_t>(max_extents, 2))), mask_(queue_.size() - 1)
    {
    }

    [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t size() const noexcept { return count_; }
    [[nodiscard]] bool full() const noexcept { return count_ == queue_.size(); }
    [[nodiscard]] std::uint64_t write_position() const noexcept { return write_; }
    [[nodiscard]] std::uint64_t wraps() const noexcept { return wraps_; }
    [[nodiscard]] std::uint64_t passed() const noexcept { return passed_; }

    /// Finds room for `size` bytes (1..capacity) and records it for `owner`. Owners provides
    /// `Status status(std::uint32_t owner)` (Busy or Unknown; kFree owners are free) and
    /// `void moved(std::uint32_t owner, std::uint32_t slot)` (an extent passed to the back got a new slot).
    /// Placed: `position` is the new extent's position and `slot` its slot. A full queue is handled like a lack of
    /// room: the walk drops free extents (or passes kept ones) until a slot is free.
    template <typename Owners>
    Outcome place(std::uint64_t size, std::uint32_t owner, Owners& owners, std::uint64_t& position, std::uint32_t& slot)
    {
        std::uint32_t passes = 0;
        std::uint64_t passed = 0; // Counted only when the frame is placed: a walk that finds no room passes nothing.
        while (true) {
            std::uint64_t at = write_;
            if (at % capacity_ + size > capacity_)
                at += capacity_ - at % capacity_; // Does not fit before the end of the area: next lap.
            if (count_ == 0 || (at + size <= front().position + capacity_ && count_ < queue_.size())) {
                if (at / capacity_ != lap_) {
                    lap_ = at / capacity_;
                    ++wraps_;
                }
                slot = push_back({at, size, owner});
                write_ = at + size;
                position = at;
                passed_ += passed;
                return Outcome::Placed;
            }
            Extent first = front();
            switch (status(owners, first.owner)) {
            case Status::Free:
                pop_front();
                continue;
            case Status::Unknown:
                return Outcome::NeedScan;
            case Status::Busy:
                if (passes++ >= count_)
                    return Outcome::NoRoom; // Went all the way round: no gap of `size` bytes.
                pop_front();
                first.position += capacity_;
                owners.moved(first.owner, push_back(first));
                write_ = first.position + first.size;
                ++passed;
                continue;
            }
        }
    }

    /// Rewind check (see the file comment): true, with the write position moved to the next lap, when placing a
    /// `size`-byte frame from the start of the area lands lower than the write position. `need_scan` is set when
    /// an extent of unknown state decides it.
    template <typename Owners>
    bool rewind(std::uint64_t size, std::uint64_t min_offset, Owners& owners, bool& need_scan)
    {
        need_scan = false;
        const std::uint64_t offset = write_ % capacity_;
        if (offset == 0 || offset < std::max(size, min_offset))
            return false;
        const std::uint64_t this_lap = write_ - offset;
        const std::uint64_t lap_start = this_lap + capacity_;
        // Extents of the previous lap lie ahead of the write position in the area, up to its end: all must be
        // free, as the rest of this lap is given up. Free ones at the front go now (the walk would drop them
        // anyway), so that this costs one look per extent over the ring's life.
        while (count_ != 0 && front().position < this_lap) {
            const Status state = status(owners, front().owner);
            if (state != Status::Free) {
                need_scan = state == Status::Unknown;
                return false;
            }
            pop_front();
        }
        // First fit from the area start among this lap's extents (seen from the next lap, one capacity later); it
        // stops at the first extent that starts beyond the candidate.
        std::uint64_t at = lap_start;
        for (std::uint32_t i = 0; i < count_ && at - lap_start < offset; ++i) {
            const Extent& extent = queue_[index(i)];
            const std::uint64_t start = extent.position + capacity_;
            if (at + size <= start)
                break;
            const Status state = status(owners, extent.owner);
            if (state == Status::Unknown) {
                need_scan = true;
                return false;
            }
            if (state == Status::Free)
                continue;
            at = std::max(at, start + extent.size);
        }
        if (at - lap_start + size > offset || at % capacity_ + size > capacity_)
            return false;
        write_ = lap_start;
        return true;
    }

    /// Frees the extent in `slot`: dropped at once if it is the newest (so its room is reserved again next),
    /// else when the walk reaches it.
    void free(std::uint32_t slot) noexcept
    {
        if (count_ != 0 && index(count_ - 1) == slot) {
            const Extent gone = back();
            --count_;
            write_ = count_ != 0 ? back().position + back().size : gone.position;
            return;
        }
        queue_[slot].owner = kFree;
    }

    /// Shrinks the extent in `slot` to `size` bytes if it is the newest, so the next frame follows right after
    /// the part used; true if it did.
    bool shrink(std::uint32_t slot, std::uint64_t size) noexcept
    {
        if (count_ == 0 || index(count_ - 1) != slot || size == 0 || size >= back().size)
            return false;
        back().size = size;
        write_ = back().position + size;
        return true;
    }

    /// Calls fn(const Extent&) for every extent (free ones included), oldest position first.
    template <typename Fn>
    void for_each(Fn&& fn) const
    {
        for (std::uint32_t i = 0; i < count_; ++i)
            fn(queue_[index(i)]);
    }

private:
    [[nodiscard]] std::size_t index(std::uint32_t i) const noexcept { return (head_ + i) & mask_; }
    Extent& front() noexcept { return queue_[head_]; }
    Extent& back() noexcept { return queue_[index(count_ - 1)]; }
    void pop_front() noexcept
    {
        head_ = (head_ + 1) & mask_;
        --count_;
    }
    std::uint32_t push_back(const Extent& extent) noexcept
    {
        const std::size_t slot = index(count_);
        queue_[slot] = extent;
        ++count_;
        return static_cast<std::uint32_t>(slot);
    }
    template <typename Owners>
    static Status status(Owners& owners, std::uint32_t owner)
    {
        return owner == kFree ? Status::Free : owners.status(owner);
    }

    std::uint64_t capacity_;
    std::vector<Extent> queue_; ///< Circular, allocated once: placing never allocates.
    std::size_t mask_;          ///< queue_.size() - 1
    std::size_t head_ = 0;
    std::uint32_t count_ = 0;
    std::uint64_t write_ = 0;   ///< End of the newest extent: where next fit starts.
    std::uint64_t lap_ = 0;     ///< Lap of the newest placement (for the wrap count).
    std::uint64_t wraps_ = 0;
    std::uint64_t passed_ = 0;
};

} // namespace zerobuffer::detail
