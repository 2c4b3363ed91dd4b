// SPDX-License-Identifier: MIT
// Mapping between GStreamer caps and the ring's stream-metadata schema (zerobuffer::StreamFormat).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include <gst/gst.h>
#include <gst/video/video.h>

#include <zerobuffer/error.h>
#include <zerobuffer/stream_format.h>

namespace zerobuffer::gst {

/// Where the planes of one raw video frame lie in its payload. Fixed size: computed per frame without allocating.
struct VideoLayout {
    std::array<PlaneLayout, GST_VIDEO_MAX_PLANES> planes{};
    std::uint32_t n_planes = 0;
    std::uint64_t frame_size = 0;
    friend bool operator==(const VideoLayout&, const VideoLayout&) = default;
};

/// Describes fixed caps in the core schema: media type, codec, raw-video planes (the default layout of the caps),
/// audio fields, and the caps string itself. Errors name the caps that could not be described.
[[nodiscard]] Result<StreamFormat> stream_format_from_caps(const GstCaps* caps);

/// The layout of the frame in `buffer`: from its GstVideoMeta when it has one, else the caps' default layout.
/// frame_size is the buffer's size.
[[nodiscard]] VideoLayout video_layout_of(const GstVideoInfo& info, GstBuffer* buffer);

/// Writes `layout` into the raw-video fields of `format`.
void apply_video_layout(StreamFormat& format, const VideoLayout& layout);

/// Caps for a stream format read from a ring: its `caps` string when present and valid, else caps built from the
/// fields (rings written by zb-ingest may carry no caps). Returns owned caps, or an error naming the missing field.
[[nodiscard]] Result<GstCaps*> caps_from_stream_format(const StreamFormat& format);

/// Checks the planes of a raw-video stream format against the video info of its caps and a payload size: every
/// plane's rows must lie inside the payload. Never trusts sizes from shared memory.
[[nodiscard]] Result<void> check_video_layout(const GstVideoInfo& info, const StreamFormat& format,
                                              std::size_t payload_size);

/// Adds a GstVideoMeta for `format`'s planes to `buffer` (layout checked with check_video_layout first).
void add_video_meta(GstBuffer* buffer, const GstVideoInfo& info, const StreamFormat& format);

} // namespace zerobuffer::gst
