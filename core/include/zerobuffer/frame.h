// SPDX-License-Identifier: MIT
// Per-frame data shared by writer and reader: timing, flags and the views handed out by the ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace zerobuffer {

/// Timestamps are nanoseconds; this value means "not set".
inline constexpr std::int64_t kNoTimestamp = std::numeric_limits<std::int64_t>::min();

/// Bit flags carried with every frame. Values are part of the on-memory protocol.
enum FrameFlags : std::uint32_t {
    kFrameNone = 0,
    kFrameKeyframe = 1u << 0,      ///< A frame a decoder can start from.
    kFrameDiscontinuity = 1u << 1, ///< Something is missing before this frame (restart, drop, seek).
    kFrameEndOfStream = 1u << 2,   ///< The last frame of the stream; it may have no payload.
    kFrameHeader = 1u << 3,        ///< Codec header data (for example H.264 SPS/PPS).
    kFrameCorrupted = 1u << 4,     ///< The producer knows the content is damaged.
    kFrameDroppable = 1u << 5,     ///< Not referenced by other frames.
    kFrameGap = 1u << 6,           ///< No media here, only time passes (GStreamer GAP).
    kFrameUserShift = 16,          ///< Bits 16..31 are free for applications.
};

/// Everything about a frame except its bytes. The writer fills it at commit; the reader gets it back.
struct FrameInfo {
    std::int64_t pts = kNoTimestamp;      ///< Presentation time, ns.
    std::int64_t dts = kNoTimestamp;      ///< Decode time, ns.
    std::int64_t duration = kNoTimestamp; ///< ns.
    std::uint64_t offset = std::numeric_limits<std::uint64_t>::max();     ///< Media offset (GStreamer), or unset.
    std::uint64_t offset_end = std::numeric_limits<std::uint64_t>::max(); ///< Media end offset, or unset.
    std::uint32_t flags = kFrameNone;     ///< FrameFlags.
};

} // namespace zerobuffer
