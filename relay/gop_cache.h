// SPDX-License-Identifier: MIT
// The publishing side's GOP cache of an encoded stream: copies of the frames from the newest keyframe (with the
// header frames just before it) up to the newest frame read, so that a subscriber that joins or skips starts
// decoding at once instead of a GOP later. Bounded in frames and bytes; its buffers are reused from GOP to GOP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <zerobuffer/reader.h>

namespace zerobuffer::relay {

/// A copy of one frame of the cache. Its buffer keeps its capacity from GOP to GOP (no allocation per frame once
/// every slot has grown to the sizes the stream uses).
struct CachedFrame {
    std::uint64_t sequence = 0;
    std::uint32_t format_generation = 0;
    FrameInfo info;
    std::size_t metadata_size = 0;
    std::vector<std::byte> bytes; ///< The metadata blob, then the payload.

    [[nodiscard]] std::span<const std::byte> metadata() const noexcept { return {bytes.data(), metadata_size}; }
    [[nodiscard]] std::span<const std::byte> payload() const noexcept
    {
        return std::span<const std::byte>(bytes).subspan(metadata_size);
    }
};

class GopCache {
public:
    static constexpr std::size_t kMaxFrames = 300;
    static constexpr std::size_t kMaxBytes = std::size_t{16} << 20;

    explicit GopCache(std::string route_name);

    /// Keeps a copy of `frame` when it belongs to the GOP being cached; a gap, end-of-stream, a raw stream or a
    /// GOP over the bound empties the cache until the next keyframe.
    void add(const Frame& frame, const FrameInfo& info, bool encoded);
    /// Forgets every cached frame (the stream's format changed: they must not reach a subscriber after it).
    void clear() noexcept;
    /// True when a subscriber waiting for a keyframe can get the cache instead: it ends with the live frame (no
    /// gap) and is entirely new to the subscriber (no duplicate), i.e. it sent nothing yet in this session
    /// (`sent_any`) or only frames before the cached keyframe (`last_sequence`).
    [[nodiscard]] bool can_replay(bool sent_any, std::uint64_t last_sequence, std::uint64_t live_sequence) const;
    /// The cached frames, oldest (the keyframe or its header frames) first.
    [[nodiscard]] std::span<const CachedFrame> frames() const noexcept { return {slots_.data(), used_}; }

private:
    void invalidate() noexcept;

    std::string route_name_;
    std::vector<CachedFrame> slots_; ///< Reserved once to kMaxFrames: slots never move.
    std::size_t used_ = 0;
    std::size_t bytes_ = 0;
    bool valid_ = false;       ///< The slots hold a decodable, gap-free run ending at the newest frame read.
    bool has_picture_ = false; ///< A keyframe is cached (not only header frames).
    bool overflow_logged_ = false;
};

} // namespace zerobuffer::relay
