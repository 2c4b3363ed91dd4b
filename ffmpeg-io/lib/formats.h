// SPDX-License-Identifier: MIT
// Mapping between FFmpeg's formats and ZeroBuffer's stream metadata (GStreamer names, plane layouts, caps).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zerobuffer/stream_format.h>

#include "error.h"

extern "C" {
#include <libavcodec/codec_par.h>
#include <libavutil/pixfmt.h>
#include <libavutil/rational.h>
}

namespace zbffmpeg {

/// GStreamer video format name of an FFmpeg pixel format ("I420" for yuv420p), or "" when we have no mapping.
[[nodiscard]] std::string_view gst_format_name(AVPixelFormat format) noexcept;

/// FFmpeg pixel format of a GStreamer video format name, or AV_PIX_FMT_NONE.
[[nodiscard]] AVPixelFormat pixel_format_from_gst(std::string_view name) noexcept;

/// Every (FFmpeg, GStreamer) pair of the table, for --help and docs.
struct PixelFormatName {
    AVPixelFormat av_format;
    std::string_view gst_name;
};
[[nodiscard]] std::span<const PixelFormatName> pixel_format_table() noexcept;

/// Where each plane of a raw frame lives in a ring payload.
struct RawLayout {
    std::vector<zerobuffer::PlaneLayout> planes;
    std::vector<std::uint32_t> plane_heights; ///< Rows of each plane.
    std::vector<std::uint32_t> row_bytes;     ///< Bytes of pixels in one row of each plane (stride minus padding).
    std::size_t frame_size = 0;
};

/// The layout zb-ingest writes: planes one after the other, strides rounded up to 4 bytes (GStreamer's default).
[[nodiscard]] Result<RawLayout> packed_layout(AVPixelFormat format, int width, int height);

/// Checks the planes of a stream format against the pixel format, size and a frame's payload size, and returns
/// them as a layout. Never trusts the ring: every offset, stride and plane end is bounds-checked.
[[nodiscard]] Result<RawLayout> checked_layout(const zerobuffer::StreamFormat& format, AVPixelFormat pixel_format,
                                               std::size_t payload_size);

/// Stream metadata for raw video in `layout` (with a GStreamer caps string so zerobuffersrc negotiates by itself).
[[nodiscard]] zerobuffer::StreamFormat raw_stream_format(AVPixelFormat format, int width, int height,
                                                         const RawLayout& layout, AVRational framerate,
                                                         AVRational pixel_aspect_ratio, AVRational time_base);

/// Stream metadata for an encoded video stream; extradata must already be Annex-B for H.264/H.265.
[[nodiscard]] Result<zerobuffer::StreamFormat> encoded_stream_format(const AVCodecParameters& parameters,
                                                                     AVRational framerate, AVRational time_base);

/// The FFmpeg codec of an encoded stream format (by codec name, else by media type), or AV_CODEC_ID_NONE.
[[nodiscard]] AVCodecID codec_id_of(const zerobuffer::StreamFormat& format) noexcept;

/// A string field of the stream format's extra_json ("stream_format", "alignment"...), or "" when absent.
/// Never throws: malformed JSON from the ring reads as absent.
[[nodiscard]] std::string extra_string(const zerobuffer::StreamFormat& format, const char* key);

/// "1920x1080" -> width, height; false on anything else (both 1..16384).
[[nodiscard]] bool parse_size(std::string_view text, int& width, int& height) noexcept;

/// A fraction as an AVRational, or {0, 1} when absent.
[[nodiscard]] AVRational to_rational(const std::optional<zerobuffer::Fraction>& fraction) noexcept;

} // namespace zbffmpeg
