// SPDX-License-Identifier: MIT
// The writer's look at the readers' cursors and hold records (the protocol is in holds.h).
#include "holds.h"

#include <zerobuffer/options.h>

#include "segment.h"

namespace zerobuffer::detail {

namespace {

void note_cursor(const ReaderSlot& slot, ReaderScan& out) noexcept
{
    const std::uint64_t cursor = slot.cursor.load(std::memory_order_acquire);
    if (slot.policy.load(std::memory_order_relaxed) == static_cast<std::uint32_t>(ReaderPolicy::Lossless))
        out.min_lossless_cursor = std::min(out.min_lossless_cursor, cursor);
    else if ((slot.flags.load(std::memory_order_relaxed) & kSlotReadsInOrder) != 0)
        out.min_in_order_cursor = std::min(out.min_in_order_cursor, cursor);
}

} // namespace

void scan_cursors(const Segment& segment, ReaderScan& out) noexcept
{
    out.min_lossless_cursor = kNoSequence;
    out.min_in_order_cursor = kNoSequence;
    for (std::uint32_t i = 0; i < segment.geometry().max_readers; ++i) {
        const ReaderSlot& slot = segment.reader_slot(i);
        if (owner_state(slot.owner.load(std::memory_order_acquire)) != SlotState::Free)
            note_cursor(slot, out);
    }
}

void scan_readers(const Segment& segment, ReaderScan& out)
{
    out.min_lossless_cursor = kNoSequence;
    out.min_in_order_cursor = kNoSequence;
    out.held.clear();
    const std::uint32_t capacity = segment.geometry().holds_per_reader;
    for (std::uint32_t i = 0; i < segment.geometry().max_readers; ++i) {
        const ReaderSlot& slot = segment.reader_slot(i);
        if (owner_state(slot.owner.load(std::memory_order_acquire)) == SlotState::Free)
            continue;
        note_cursor(slot, out); // Cursor first, then the records (holds.h).
        const std::uint32_t high = std::min(slot.hold_high.load(std::memory_order_acquire), capacity);
        const HoldRecord* records = segment.hold_records(i);
        for (std::uint32_t j = 0; j < high; ++j) {
            const std::uint64_t sequence = records[j].sequence.load(std::memory_order_relaxed);
            if (sequence != kNoSequence)
                out.held.push_back(sequence); // Capacity reserved by the owner: max_readers x holds_per_reader.
        }
    }
    std::sort(out.held.begin(), out.held.end());
}

} // namespace zerobuffer::detail
