// SPDX-License-Identifier: MIT
// Mapping between FFmpeg's formats and ZeroBuffer's stream metadata (GStreamer names, plane layouts, caps).
#include "formats.h"

#include <array>
#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

extern "C" {
#include <libavcodec/codec_desc.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace zbffmpeg {
namespace {

// The common formats both sides know. Where FFmpeg has two names for one memory layout (yuvj420p is yuv420p in
// full range), the first entry wins when going from GStreamer to FFmpeg.
constexpr std::array kPixelFormats = {
    PixelFormatName{AV_PIX_FMT_YUV420P, "I420"},
    PixelFormatName{AV_PIX_FMT_NV12, "NV12"},
    PixelFormatName{AV_PIX_FMT_NV21, "NV21"},
    PixelFormatName{AV_PIX_FMT_YUV422P, "Y42B"},
    PixelFormatName{AV_PIX_FMT_YUV444P, "Y444"},
    PixelFormatName{AV_PIX_FMT_YUV411P, "Y41B"},
    PixelFormatName{AV_PIX_FMT_YUVA420P, "A420"},
    PixelFormatName{AV_PIX_FMT_YUYV422, "YUY2"},
    PixelFormatName{AV_PIX_FMT_UYVY422, "UYVY"},
    PixelFormatName{AV_PIX_FMT_YVYU422, "YVYU"},
    PixelFormatName{AV_PIX_FMT_NV16, "NV16"},
    PixelFormatName{AV_PIX_FMT_NV24, "NV24"},
    PixelFormatName{AV_PIX_FMT_YUV420P10LE, "I420_10LE"},
    PixelFormatName{AV_PIX_FMT_YUV420P12LE, "I420_12LE"},
    PixelFormatName{AV_PIX_FMT_YUV422P10LE, "I422_10LE"},
    PixelFormatName{AV_PIX_FMT_YUV444P10LE, "Y444_10LE"},
    PixelFormatName{AV_PIX_FMT_P010LE, "P010_10LE"},
    PixelFormatName{AV_PIX_FMT_GRAY8, "GRAY8"},
    PixelFormatName{AV_PIX_FMT_GRAY16LE, "GRAY16_LE"},
    PixelFormatName{AV_PIX_FMT_RGBA, "RGBA"},
    PixelFormatName{AV_PIX_FMT_BGRA, "BGRA"},
    PixelFormatName{AV_PIX_FMT_ARGB, "ARGB"},
    PixelFormatName{AV_PIX_FMT_ABGR, "ABGR"},
    PixelFormatName{AV_PIX_FMT_RGB0, "RGBx"},
    PixelFormatName{AV_PIX_FMT_BGR0, "BGRx"},
    PixelFormatName{AV_PIX_FMT_0RGB, "xRGB"},
    PixelFormatName{AV_PIX_FMT_0BGR, "xBGR"},
    PixelFormatName{AV_PIX_FMT_RGB24, "RGB"},
    PixelFormatName{AV_PIX_FMT_BGR24, "BGR"},
    PixelFormatName{AV_PIX_FMT_RGB565LE, "RGB16"},
    PixelFormatName{AV_PIX_FMT_BGR565LE, "BGR16"},
    PixelFormatName{AV_PIX_FMT_GBRP, "GBR"},
    PixelFormatName{AV_PIX_FMT_GBRP10LE, "GBR_10LE"},
    PixelFormatName{AV_PIX_FMT_YUVJ420P, "I420"},
    PixelFormatName{AV_PIX_FMT_YUVJ422P, "Y42B"},
    PixelFormatName{AV_PIX_FMT_YUVJ444P, "Y444"},
};

// Encoded video: FFmpeg codec, GStreamer media type, and what the caps need beyond the media type.
struct EncodedCodecName {
    AVCodecID codec_id;
    std::string_view media_type;
    std::string_view caps_fields;
};
constexpr std::array kEncodedCodecs = {
    EncodedCodecName{AV_CODEC_ID_H264, "video/x-h264", ", stream-format=(string)byte-stream, alignment=(string)au"},
    EncodedCodecName{AV_CODEC_ID_HEVC, "video/x-h265", ", stream-format=(string)byte-stream, alignment=(string)au"},
    EncodedCodecName{AV_CODEC_ID_VP8, "video/x-vp8", ""},
    EncodedCodecName{AV_CODEC_ID_VP9, "video/x-vp9", ""},
    EncodedCodecName{AV_CODEC_ID_AV1, "video/x-av1", ""},
    EncodedCodecName{AV_CODEC_ID_MJPEG, "image/jpeg", ""},
    EncodedCodecName{AV_CODEC_ID_MPEG4, "video/mpeg", ", mpegversion=(int)4, systemstream=(boolean)false"},
    EncodedCodecName{AV_CODEC_ID_MPEG2VIDEO, "video/mpeg", ", mpegversion=(int)2, systemstream=(boolean)false"},
};

std::string fraction_text(AVRational value)
{
    return std::to_string(value.num) + "/" + std::to_string(value.den);
}

std::optional<zerobuffer::Fraction> to_fraction(AVRational value)
{
    if (value.num <= 0 || value.den <= 0) {
        return std::nullopt;
    }
    return zerobuffer::Fraction{value.num, value.den};
}

} // namespace

std::string_view gst_format_name(AVPixelFormat format) noexcept
{
    for (const auto& entry : kPixelFormats) {
        if (entry.av_format == format) {
            return entry.gst_name;
        }
    }
    return {};
}

AVPixelFormat pixel_format_from_gst(std::string_view name) noexcept
{
    for (const auto& entry : kPixelFormats) {
        if (entry.gst_name == name) {
            return entry.av_format;
        }
    }
    return AV_PIX_FMT_NONE;
}

std::span<const PixelFormatName> pixel_format_table() noexcept
{
    return kPixelFormats;
}

Result<RawLayout> packed_layout(AVPixelFormat format, int width, int height)
{
    std::array<int, 4> linesizes{};
    if (width <= 0 || height <= 0 || av_image_fill_linesizes(linesizes.data(), format, width) < 0) {
        return make_error(FfmpegIoErrc::Unsupported,
                          std::string("cannot lay out ") + std::to_string(width) + "x" + std::to_string(height) +
                              " frames of pixel format " +
                              (av_get_pix_fmt_name(format) ? av_get_pix_fmt_name(format) : "?"));
    }
    std::array<ptrdiff_t, 4> strides{};
    for (std::size_t i = 0; i < 4; ++i) {
        strides[i] = (linesizes[i] + 3) & ~3; // GStreamer rounds strides up to 4 bytes.
    }
    std::array<std::size_t, 4> sizes{};
    if (av_image_fill_plane_sizes(sizes.data(), format, height, strides.data()) < 0) {
        return make_error(FfmpegIoErrc::Unsupported, "frame too large to lay out");
    }
    RawLayout layout;
    for (std::size_t i = 0; i < 4 && strides[i] > 0; ++i) {
        const auto stride = static_cast<std::uint32_t>(strides[i]);
        layout.planes.push_back({layout.frame_size, stride});
        layout.plane_heights.push_back(static_cast<std::uint32_t>(sizes[i] / stride));
        layout.row_bytes.push_back(static_cast<std::uint32_t>(linesizes[i]));
        layout.frame_size += sizes[i];
    }
    return layout;
}

Result<RawLayout> checked_layout(const zerobuffer::StreamFormat& format, AVPixelFormat pixel_format,
                                 std::size_t payload_size)
{
    if (!format.width || !format.height || *format.width == 0 || *format.height == 0 || *format.width > 65536 ||
        *format.height > 65536) {
        return make_error(FfmpegIoErrc::InputInvalid, "the ring's stream format has no valid width and height");
    }
    const int width = static_cast<int>(*format.width);
    const int height = static_cast<int>(*format.height);
    const int plane_count = av_pix_fmt_count_planes(pixel_format);
    if (plane_count <= 0 || plane_count > 4) {
        return make_error(FfmpegIoErrc::Unsupported, "pixel format " + format.pixel_format + " has no plane layout");
    }
    // No planes in the metadata: the producer promises the default packed layout.
    if (format.planes.empty()) {
        auto layout = packed_layout(pixel_format, width, height);
        if (layout && layout->frame_size > payload_size) {
            return make_error(FfmpegIoErrc::InputInvalid,
                              "frame payload of " + std::to_string(payload_size) + " bytes is smaller than a " +
                                  std::to_string(width) + "x" + std::to_string(height) + " " + format.pixel_format +
                                  " frame (" + std::to_string(layout->frame_size) + " bytes)");
        }
        return layout;
    }
    if (format.planes.size() != static_cast<std::size_t>(plane_count)) {
        return make_error(FfmpegIoErrc::InputInvalid, "the ring's stream format lists " +
                                                          std::to_string(format.planes.size()) + " planes, but " +
                                                          format.pixel_format + " has " + std::to_string(plane_count));
    }
    std::array<ptrdiff_t, 4> strides{};
    std::array<int, 4> linesizes{};
    if (av_image_fill_linesizes(linesizes.data(), pixel_format, width) < 0) {
        return make_error(FfmpegIoErrc::Unsupported, "cannot lay out " + format.pixel_format + " frames");
    }
    for (std::size_t i = 0; i < format.planes.size(); ++i) {
        strides[i] = format.planes[i].stride;
        if (format.planes[i].stride < static_cast<std::uint32_t>(linesizes[i])) {
            return make_error(FfmpegIoErrc::InputInvalid,
                              "plane " + std::to_string(i) + " stride " + std::to_string(format.planes[i].stride) +
                                  " is smaller than a row of " + std::to_string(linesizes[i]) + " bytes");
        }
    }
    std::array<std::size_t, 4> sizes{};
    if (av_image_fill_plane_sizes(sizes.data(), pixel_format, height, strides.data()) < 0) {
        return make_error(FfmpegIoErrc::InputInvalid, "the ring's plane strides are out of range");
    }
    RawLayout layout;
    for (std::size_t i = 0; i < format.planes.size(); ++i) {
        const auto& plane = format.planes[i];
        const std::uint64_t rows = sizes[i] / plane.stride;
        // The last row only needs its pixels, not the padding after them.
        const std::uint64_t plane_end =
            rows == 0 ? plane.offset
                      : plane.offset + (rows - 1) * plane.stride + static_cast<std::uint64_t>(linesizes[i]);
        if (plane.offset > payload_size || plane_end > payload_size || plane_end < plane.offset) {
            return make_error(FfmpegIoErrc::InputInvalid,
                              "plane " + std::to_string(i) + " (offset " + std::to_string(plane.offset) + ", stride " +
                                  std::to_string(plane.stride) + ", " + std::to_string(rows) +
                                  " rows) runs past the frame payload of " + std::to_string(payload_size) + " bytes");
        }
        layout.planes.push_back(plane);
        layout.plane_heights.push_back(static_cast<std::uint32_t>(rows));
        layout.row_bytes.push_back(static_cast<std::uint32_t>(linesizes[i]));
        layout.frame_size = std::max<std::size_t>(layout.frame_size, plane_end);
    }
    return layout;
}

zerobuffer::StreamFormat raw_stream_format(AVPixelFormat format, int width, int height, const RawLayout& layout,
                                           AVRational framerate, AVRational pixel_aspect_ratio, AVRational time_base)
{
    zerobuffer::StreamFormat stream;
    stream.media_type = "video/x-raw";
    stream.codec = "raw";
    stream.width = static_cast<std::uint32_t>(width);
    stream.height = static_cast<std::uint32_t>(height);
    stream.pixel_format = std::string(gst_format_name(format));
    stream.planes = layout.planes;
    stream.frame_size = layout.frame_size;
    stream.framerate = to_fraction(framerate);
    if (pixel_aspect_ratio.num <= 0) {
        pixel_aspect_ratio = AVRational{1, 1};
    }
    stream.pixel_aspect_ratio = to_fraction(pixel_aspect_ratio);
    stream.time_base = to_fraction(time_base);
    stream.caps = "video/x-raw, format=(string)" + stream.pixel_format + ", width=(int)" + std::to_string(width) +
                  ", height=(int)" + std::to_string(height) + ", framerate=(fraction)" +
                  (stream.framerate ? fraction_text(framerate) : std::string("0/1")) +
                  ", pixel-aspect-ratio=(fraction)" + fraction_text(pixel_aspect_ratio);
    return stream;
}

Result<zerobuffer::StreamFormat> encoded_stream_format(const AVCodecParameters& parameters, AVRational framerate,
                                                       AVRational time_base)
{
    const AVCodecDescriptor* descriptor = avcodec_descriptor_get(parameters.codec_id);
    if (descriptor == nullptr) {
        return make_error(FfmpegIoErrc::Unsupported, "the input's video codec is unknown to FFmpeg");
    }
    zerobuffer::StreamFormat stream;
    stream.codec = descriptor->name;
    stream.media_type = "application/octet-stream";
    std::string caps_fields;
    for (const auto& entry : kEncodedCodecs) {
        if (entry.codec_id == parameters.codec_id) {
            stream.media_type = std::string(entry.media_type);
            caps_fields = std::string(entry.caps_fields);
        }
    }
    if (parameters.codec_id == AV_CODEC_ID_H264 || parameters.codec_id == AV_CODEC_ID_HEVC) {
        stream.extra_json = R"({"stream_format":"byte-stream","alignment":"au"})";
    }
    if (parameters.width > 0 && parameters.height > 0) {
        stream.width = static_cast<std::uint32_t>(parameters.width);
        stream.height = static_cast<std::uint32_t>(parameters.height);
        caps_fields +=
            ", width=(int)" + std::to_string(parameters.width) + ", height=(int)" + std::to_string(parameters.height);
    }
    stream.framerate = to_fraction(framerate);
    if (stream.framerate) {
        caps_fields += ", framerate=(fraction)" + fraction_text(framerate);
    }
    stream.time_base = to_fraction(time_base);
    if (parameters.extradata != nullptr && parameters.extradata_size > 0) {
        stream.codec_extradata.assign(reinterpret_cast<const char*>(parameters.extradata),
                                      static_cast<std::size_t>(parameters.extradata_size));
    }
    if (stream.media_type != "application/octet-stream") {
        stream.caps = stream.media_type + caps_fields;
    }
    return stream;
}

AVCodecID codec_id_of(const zerobuffer::StreamFormat& format) noexcept
{
    if (!format.codec.empty() && format.codec != "raw") {
        if (const AVCodecDescriptor* descriptor = avcodec_descriptor_get_by_name(format.codec.c_str())) {
            return descriptor->id;
        }
    }
    for (const auto& entry : kEncodedCodecs) {
        if (entry.media_type == format.media_type && entry.media_type != "video/mpeg") {
            return entry.codec_id;
        }
    }
    return AV_CODEC_ID_NONE;
}

std::string extra_string(const zerobuffer::StreamFormat& format, const char* key)
{
    if (format.extra_json.empty()) {
        return {};
    }
    // allow_exceptions = false: bad JSON becomes a 'discarded' value instead of an exception.
    const nlohmann::json extra = nlohmann::json::parse(format.extra_json, nullptr, false);
    if (!extra.is_object()) {
        return {};
    }
    const auto found = extra.find(key);
    return found != extra.end() && found->is_string() ? found->get<std::string>() : std::string();
}

bool parse_size(std::string_view text, int& width, int& height) noexcept
{
    const auto x = text.find('x');
    if (x == std::string_view::npos) {
        return false;
    }
    const auto parse = [](std::string_view part, int& value) {
        const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
        return error == std::errc{} && end == part.data() + part.size() && value > 0 && value <= 16384;
    };
    return parse(text.substr(0, x), width) && parse(text.substr(x + 1), height);
}

AVRational to_rational(const std::optional<zerobuffer::Fraction>& fraction) noexcept
{
    if (!fraction || fraction->num <= 0 || fraction->den <= 0) {
        return AVRational{0, 1};
    }
    return AVRational{fraction->num, fraction->den};
}

} // namespace zbffmpeg
