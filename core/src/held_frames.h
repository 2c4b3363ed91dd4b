// SPDX-License-Identifier: MIT
// The frames a reader holds, in the order it acquired them, so it knows its oldest one (its pin).
#pragma once

#include "private.h"

#include "futex.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

namespace zerobuffer::detail {

/// Guards a reader's held frames. Held only for a few instructions by acquire() and release(); nearly always
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

/// Frames are identified by a hold id (0, 1, 2, ... per reader) and released in any order; the oldest
/// unreleased frame decides how far the writer may go. Entries leave the table only from the front, so
/// released frames behind a held one stay until it goes: the table doubles when it fills (rare, amortised),
/// while the number of *unreleased* frames is what max_held limits. Not thread-safe: the owner locks.
class HeldFrames {
public:
    explicit HeldFrames(std::uint32_t initial_capacity) : entries_(std::max<std::uint32_t>(initial_capacity, 4)) {}

    [[nodiscard]] std::uint64_t unreleased() const noexcept { return unreleased_; }
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    /// Start position of the oldest frame still held. Only valid when !empty().
    [[nodiscard]] std::uint64_t oldest_position() const noexcept { return entries_[index(first_id_)].position; }

    /// Records a newly acquired frame and returns its hold id.
    std::uint64_t push(std::uint64_t position)
    {
        if (count_ == entries_.size())
            grow();
        const std::uint64_t id = first_id_ + count_;
        entries_[index(id)] = {position, false};
        ++count_;
        ++unreleased_;
        return id;
    }

    /// Marks a frame released. Returns false if the id is unknown or already released.
    bool release(std::uint64_t id) noexcept
    {
        if (id < first_id_ || id >= first_id_ + count_ || entries_[index(id)].released)
            return false;
        entries_[index(id)].released = true;
        --unreleased_;
        while (count_ != 0 && entries_[index(first_id_)].released) {
            ++first_id_;
            --count_;
        }
        return true;
    }

private:
    struct Entry {
        std::uint64_t position = 0;
        bool released = false;
    };

    [[nodiscard]] std::size_t index(std::uint64_t id) const noexcept { return static_cast<std::size_t>(id % entries_.size()); }

    void grow()
    {
        std::vector<Entry> larger(entries_.size() * 2);
        for (std::uint64_t id = first_id_; id < first_id_ + count_; ++id)
            larger[static_cast<std::size_t>(id % larger.size())] = entries_[index(id)];
        entries_.swap(larger);
    }

    std::vector<Entry> entries_;
    std::uint64_t first_id_ = 0;
    std::uint64_t count_ = 0;
    std::uint64_t unreleased_ = 0;
};

} // namespace zerobuffer::detail
