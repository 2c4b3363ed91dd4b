// SPDX-License-Identifier: MIT
// The GOP cache of a publishing route: which frames it keeps, and when a subscriber may resume from it.
#include "gop_cache.h"

#include <cstring>

#include "ring_io.h"

namespace zerobuffer::relay {

GopCache::GopCache(std::string route_name) : route_name_(std::move(route_name))
{
    slots_.reserve(kMaxFrames); // Slots never move; each keeps its buffer's capacity from GOP to GOP.
}

void GopCache::invalidate() noexcept
{
    valid_ = false;
    used_ = 0;
}

void GopCache::clear() noexcept
{
    invalidate();
}

void GopCache::add(const Frame& frame, const FrameInfo& info, bool encoded)
{
    const bool keyframe = (info.flags & kFrameKeyframe) != 0;
    const bool header = (info.flags & kFrameHeader) != 0;
    if (!encoded || (info.flags & kFrameEndOfStream) != 0) {
        invalidate(); // Raw streams need no cache; after end-of-stream the next stream starts afresh.
        return;
    }
    const bool follows = valid_ && used_ > 0 && frame.sequence() == slots_[used_ - 1].sequence + 1 &&
                         (info.flags & kFrameDiscontinuity) == 0;
    if (keyframe || header) {
        // Header frames and the keyframe right after them form the start of one GOP.
        if (!(follows && !has_picture_)) {
            used_ = 0;
            bytes_ = 0;
            valid_ = true;
            has_picture_ = false;
        }
        has_picture_ = has_picture_ || keyframe;
    } else if (!follows || !has_picture_) {
        invalidate(); // A gap or no keyframe yet: nothing decodable to cache until the next keyframe.
        return;
    }
    const std::size_t size = frame.metadata().size() + frame.payload().size();
    if (used_ >= kMaxFrames || bytes_ + size > kMaxBytes) {
        if (!overflow_logged_)
            log_route(route_name_, "a GOP is over the cache bound (" + std::to_string(kMaxFrames) + " frames, " +
                                       std::to_string(kMaxBytes >> 20) +
                                       " MiB): subscribers that join during it wait for the next keyframe");
        overflow_logged_ = true;
        invalidate();
        return;
    }
    if (slots_.size() == used_)
        slots_.emplace_back(); // Grows to the longest GOP seen (at most kMaxFrames), then reused.
    CachedFrame& slot = slots_[used_++];
    slot.sequence = frame.sequence();
    slot.format_generation = frame.format_generation();
    slot.info = info;
    slot.metadata_size = frame.metadata().size();
    slot.bytes.resize(size); // Keeps its capacity: no allocation once the slot has seen a frame this big.
    if (!frame.metadata().empty())
        std::memcpy(slot.bytes.data(), frame.metadata().data(), frame.metadata().size());
    if (!frame.payload().empty())
        std::memcpy(slot.bytes.data() + slot.metadata_size, frame.payload().data(), frame.payload().size());
    bytes_ += size;
}

bool GopCache::can_replay(bool sent_any, std::uint64_t last_sequence, std::uint64_t live_sequence) const
{
    // The cache must end with the live frame (so cache + live has no gap) and be entirely new to the peer (no
    // duplicates): true for a new session, and for a latest subscriber that missed the newest keyframe.
    return valid_ && has_picture_ && used_ >= 2 && slots_[used_ - 1].sequence == live_sequence &&
           (!sent_any || slots_[0].sequence > last_sequence);
}

} // namespace zerobuffer::relay
