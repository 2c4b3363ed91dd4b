// SPDX-License-Identifier: MIT
// Mapping between GStreamer caps and the ring's stream-metadata schema (zerobuffer::StreamFormat).
#include "format.h"

#include <algorithm>
#include <memory>
#include <string_view>

#include <gst/audio/audio.h>
#include <nlohmann/json.hpp>

namespace zerobuffer::gst {
namespace {

struct CodecName {
    std::string_view media_type;
    std::string_view codec;
};

// GStreamer media types and the FFmpeg codec names the schema uses for them.
constexpr std::array kCodecNames{
    CodecName{"video/x-h264", "h264"},  CodecName{"video/x-h265", "hevc"},    CodecName{"video/x-vp8", "vp8"},
    CodecName{"video/x-vp9", "vp9"},    CodecName{"video/x-av1", "av1"},      CodecName{"image/jpeg", "mjpeg"},
    CodecName{"audio/x-opus", "opus"},  CodecName{"audio/x-flac", "flac"},    CodecName{"audio/x-alaw", "pcm_alaw"},
    CodecName{"audio/x-mulaw", "pcm_mulaw"}, CodecName{"video/x-raw", "raw"}, CodecName{"audio/x-raw", "raw"},
};

struct CapsDeleter {
    void operator()(GstCaps* caps) const noexcept { gst_caps_unref(caps); }
};
using CapsPtr = std::unique_ptr<GstCaps, CapsDeleter>;

struct GCharDeleter {
    void operator()(gchar* text) const noexcept { g_free(text); }
};
using GString = std::unique_ptr<gchar, GCharDeleter>;

std::string codec_for(const GstStructure* structure, std::string_view media_type)
{
    for (const CodecName& entry : kCodecNames)
        if (entry.media_type == media_type)
            return std::string(entry.codec);
    if (media_type == "audio/mpeg") {
        gint version = 0;
        gst_structure_get_int(structure, "mpegversion", &version);
        return version == 1 ? "mp3" : "aac";
    }
    return {};
}

std::optional<Fraction> fraction_field(const GstStructure* structure, const char* name)
{
    gint num = 0;
    gint den = 1;
    if (!gst_structure_get_fraction(structure, name, &num, &den))
        return std::nullopt;
    return Fraction{num, den};
}

std::optional<std::uint32_t> positive_int_field(const GstStructure* structure, const char* name)
{
    gint value = 0;
    if (!gst_structure_get_int(structure, name, &value) || value <= 0)
        return std::nullopt;
    return static_cast<std::uint32_t>(value);
}

// Copies string fields of encoded caps into extra_json (an object text, built with nlohmann::json).
std::string extra_from_fields(const GstStructure* structure, std::initializer_list<std::pair<const char*, const char*>> fields)
{
    nlohmann::json extra = nlohmann::json::object();
    for (const auto& [caps_field, json_key] : fields)
        if (const gchar* value = gst_structure_get_string(structure, caps_field); value != nullptr)
            extra[json_key] = value;
    return extra.empty() ? std::string() : extra.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The value of a string key in extra_json ("" when absent, not a string, or the text is not a JSON object).
std::string extra_value(const std::string& extra_json, const char* key)
{
    if (extra_json.empty())
        return {};
    const nlohmann::json extra = nlohmann::json::parse(extra_json, nullptr, false); // No exceptions: bytes from shm.
    if (!extra.is_object())
        return {};
    const auto found = extra.find(key);
    return found != extra.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::uint32_t plane_height(const GstVideoInfo& info, std::uint32_t plane)
{
    const GstVideoFormatInfo* format_info = info.finfo;
    for (guint component = 0; component < GST_VIDEO_FORMAT_INFO_N_COMPONENTS(format_info); ++component)
        if (GST_VIDEO_FORMAT_INFO_PLANE(format_info, component) == plane)
            return static_cast<std::uint32_t>(
                GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT(format_info, component, GST_VIDEO_INFO_HEIGHT(&info)));
    return static_cast<std::uint32_t>(GST_VIDEO_INFO_HEIGHT(&info));
}

// Bytes of pixel data in one row of `plane` (without padding); 0 when the format does not say (tiled, packed).
std::uint64_t plane_row_bytes(const GstVideoInfo& info, std::uint32_t plane)
{
    const GstVideoFormatInfo* format_info = info.finfo;
    if (GST_VIDEO_FORMAT_INFO_IS_TILED(format_info))
        return 0;
    std::uint64_t bytes = 0;
    for (guint component = 0; component < GST_VIDEO_FORMAT_INFO_N_COMPONENTS(format_info); ++component) {
        if (GST_VIDEO_FORMAT_INFO_PLANE(format_info, component) != plane)
            continue;
        const gint pixel_stride = GST_VIDEO_FORMAT_INFO_PSTRIDE(format_info, component);
        if (pixel_stride <= 0)
            return 0;
        const gint width = GST_VIDEO_FORMAT_INFO_SCALE_WIDTH(format_info, component, GST_VIDEO_INFO_WIDTH(&info));
        bytes = std::max(bytes, static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(pixel_stride));
    }
    return bytes;
}

} // namespace

Result<StreamFormat> stream_format_from_caps(const GstCaps* caps)
{
    if (caps == nullptr || gst_caps_get_size(caps) != 1 || !gst_caps_is_fixed(caps))
        return make_error(Errc::InvalidArgument, "caps are not fixed");
    const GstStructure* structure = gst_caps_get_structure(caps, 0);
    StreamFormat format;
    format.media_type = gst_structure_get_name(structure);
    format.codec = codec_for(structure, format.media_type);
    // Frames reach readers as ordinary memory, whatever memory upstream used (DMABuf, GL...): no caps features.
    CapsPtr system_caps(gst_caps_copy(caps));
    gst_caps_set_features(system_caps.get(), 0, nullptr);
    const GString caps_text(gst_caps_to_string(system_caps.get()));
    format.caps = caps_text.get();

    if (format.media_type == "video/x-raw") {
        GstVideoInfo info;
        if (!gst_video_info_from_caps(&info, caps))
            return make_error(Errc::InvalidArgument, "raw video caps '" + format.caps + "' are incomplete");
        format.pixel_format = gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info));
        format.width = static_cast<std::uint32_t>(GST_VIDEO_INFO_WIDTH(&info));
        format.height = static_cast<std::uint32_t>(GST_VIDEO_INFO_HEIGHT(&info));
        format.framerate = Fraction{GST_VIDEO_INFO_FPS_N(&info), GST_VIDEO_INFO_FPS_D(&info)};
        format.pixel_aspect_ratio = Fraction{GST_VIDEO_INFO_PAR_N(&info), GST_VIDEO_INFO_PAR_D(&info)};
        apply_video_layout(format, video_layout_of(info, nullptr));
    } else if (format.media_type == "audio/x-raw") {
        GstAudioInfo info;
        if (!gst_audio_info_from_caps(&info, caps))
            return make_error(Errc::InvalidArgument, "raw audio caps '" + format.caps + "' are incomplete");
        format.sample_rate = static_cast<std::uint32_t>(GST_AUDIO_INFO_RATE(&info));
        format.channels = static_cast<std::uint32_t>(GST_AUDIO_INFO_CHANNELS(&info));
        format.sample_format = gst_audio_format_to_string(GST_AUDIO_INFO_FORMAT(&info));
        format.extra_json =
            nlohmann::json{{"layout", GST_AUDIO_INFO_LAYOUT(&info) == GST_AUDIO_LAYOUT_INTERLEAVED ? "interleaved"
                                                                                                 : "non-interleaved"}}
                .dump();
    } else {
        format.width = positive_int_field(structure, "width");
        format.height = positive_int_field(structure, "height");
        format.framerate = fraction_field(structure, "framerate");
        format.pixel_aspect_ratio = fraction_field(structure, "pixel-aspect-ratio");
        format.sample_rate = positive_int_field(structure, "rate");
        format.channels = positive_int_field(structure, "channels");
        format.extra_json = extra_from_fields(structure, {{"stream-format", "stream_format"}, {"alignment", "alignment"},
                                                          {"profile", "profile"}, {"level", "level"}});
        if (const GValue* codec_data = gst_structure_get_value(structure, "codec_data");
            codec_data != nullptr && GST_VALUE_HOLDS_BUFFER(codec_data)) {
            GstBuffer* data = gst_value_get_buffer(codec_data);
            format.codec_extradata.resize(gst_buffer_get_size(data));
            gst_buffer_extract(data, 0, format.codec_extradata.data(), format.codec_extradata.size());
        }
    }
    return format;
}

VideoLayout video_layout_of(const GstVideoInfo& info, GstBuffer* buffer)
{
    VideoLayout layout;
    const GstVideoMeta* meta = buffer != nullptr ? gst_buffer_get_video_meta(buffer) : nullptr;
    if (meta != nullptr) {
        layout.n_planes = std::min<std::uint32_t>(meta->n_planes, GST_VIDEO_MAX_PLANES);
        for (std::uint32_t plane = 0; plane < layout.n_planes; ++plane)
            layout.planes[plane] = {meta->offset[plane], static_cast<std::uint32_t>(meta->stride[plane])};
    } else {
        layout.n_planes = GST_VIDEO_INFO_N_PLANES(&info);
        for (std::uint32_t plane = 0; plane < layout.n_planes; ++plane)
            layout.planes[plane] = {GST_VIDEO_INFO_PLANE_OFFSET(&info, plane),
                                    static_cast<std::uint32_t>(GST_VIDEO_INFO_PLANE_STRIDE(&info, plane))};
    }
    layout.frame_size = buffer != nullptr ? gst_buffer_get_size(buffer) : GST_VIDEO_INFO_SIZE(&info);
    return layout;
}

void apply_video_layout(StreamFormat& format, const VideoLayout& layout)
{
    format.planes.assign(layout.planes.begin(), layout.planes.begin() + layout.n_planes);
    format.frame_size = layout.frame_size;
}

Result<GstCaps*> caps_from_stream_format(const StreamFormat& format)
{
    if (!format.caps.empty()) {
        CapsPtr caps(gst_caps_from_string(format.caps.c_str()));
        if (caps && gst_caps_is_fixed(caps.get())) {
            gst_caps_set_features(caps.get(), 0, nullptr); // Our buffers wrap the ring: system memory.
            return caps.release();
        }
        // A caps string we cannot parse (another GStreamer version?): the fields below still describe the stream.
    }
    const std::string& type = format.media_type;
    if (type.find('/') == std::string::npos || type.front() == '/' || type.back() == '/')
        return make_error(Errc::InvalidArgument, "stream media type '" + type + "' is not a GStreamer media type");

    CapsPtr caps(gst_caps_new_empty_simple(type.c_str()));
    GstStructure* structure = gst_caps_get_structure(caps.get(), 0);
    if (type == "video/x-raw") {
        if (!format.width || !format.height || format.pixel_format.empty())
            return make_error(Errc::InvalidArgument, "raw video stream metadata lacks width, height or pixel_format");
        if (gst_video_format_from_string(format.pixel_format.c_str()) == GST_VIDEO_FORMAT_UNKNOWN)
            return make_error(Errc::InvalidArgument,
                              "pixel_format '" + format.pixel_format + "' is not a GStreamer video format name");
        gst_structure_set(structure, "format", G_TYPE_STRING, format.pixel_format.c_str(), nullptr);
    } else if (type == "audio/x-raw") {
        if (!format.sample_rate || !format.channels || format.sample_format.empty())
            return make_error(Errc::InvalidArgument, "raw audio stream metadata lacks sample_rate, channels or sample_format");
        if (gst_audio_format_from_string(format.sample_format.c_str()) == GST_AUDIO_FORMAT_UNKNOWN)
            return make_error(Errc::InvalidArgument,
                              "sample_format '" + format.sample_format + "' is not a GStreamer audio format name");
        const bool interleaved = extra_value(format.extra_json, "layout") != "non-interleaved";
        gst_structure_set(structure, "format", G_TYPE_STRING, format.sample_format.c_str(), "layout", G_TYPE_STRING,
                          interleaved ? "interleaved" : "non-interleaved", nullptr);
        if (*format.channels > 2 && *format.channels <= 64)
            gst_structure_set(structure, "channel-mask", GST_TYPE_BITMASK,
                              gst_audio_channel_get_fallback_mask(static_cast<gint>(*format.channels)), nullptr);
    } else if (type == "video/x-h264" || type == "video/x-h265") {
        std::string stream_format = extra_value(format.extra_json, "stream_format");
        std::string alignment = extra_value(format.extra_json, "alignment");
        gst_structure_set(structure, "stream-format", G_TYPE_STRING,
                          stream_format.empty() ? "byte-stream" : stream_format.c_str(), "alignment", G_TYPE_STRING,
                          alignment.empty() ? "au" : alignment.c_str(), nullptr);
    }
    if (format.width)
        gst_structure_set(structure, "width", G_TYPE_INT, static_cast<gint>(*format.width), nullptr);
    if (format.height)
        gst_structure_set(structure, "height", G_TYPE_INT, static_cast<gint>(*format.height), nullptr);
    if (type.starts_with("video/") || type == "image/jpeg") {
        const Fraction rate = format.framerate.value_or(Fraction{0, 1});
        if (rate.num >= 0 && rate.den > 0)
            gst_structure_set(structure, "framerate", GST_TYPE_FRACTION, rate.num, rate.den, nullptr);
        if (format.pixel_aspect_ratio && format.pixel_aspect_ratio->num > 0 && format.pixel_aspect_ratio->den > 0)
            gst_structure_set(structure, "pixel-aspect-ratio", GST_TYPE_FRACTION, format.pixel_aspect_ratio->num,
                              format.pixel_aspect_ratio->den, nullptr);
    }
    if (format.sample_rate)
        gst_structure_set(structure, "rate", G_TYPE_INT, static_cast<gint>(*format.sample_rate), nullptr);
    if (format.channels)
        gst_structure_set(structure, "channels", G_TYPE_INT, static_cast<gint>(*format.channels), nullptr);
    return caps.release();
}

Result<void> check_video_layout(const GstVideoInfo& info, const StreamFormat& format, std::size_t payload_size)
{
    const std::uint32_t n_planes = GST_VIDEO_INFO_N_PLANES(&info);
    if (format.planes.size() != n_planes)
        return make_error(Errc::CorruptSegment, "stream metadata lists " + std::to_string(format.planes.size()) +
                                                    " planes but " + format.pixel_format + " has " +
                                                    std::to_string(n_planes));
    for (std::uint32_t plane = 0; plane < n_planes; ++plane) {
        const PlaneLayout& layout = format.planes[plane];
        const std::uint64_t rows = plane_height(info, plane);
        const std::uint64_t row_bytes = plane_row_bytes(info, plane);
        if (layout.stride == 0 || layout.stride < row_bytes || layout.stride > static_cast<std::uint32_t>(G_MAXINT))
            return make_error(Errc::CorruptSegment, "plane " + std::to_string(plane) + " stride " +
                                                        std::to_string(layout.stride) + " is smaller than a row or too large");
        // Every row must be inside the payload; the last one needs only its pixels, not the padding.
        const std::uint64_t last_row_end = rows == 0 ? 0 : (rows - 1) * layout.stride + std::max<std::uint64_t>(row_bytes, 1);
        if (layout.offset > payload_size || last_row_end > payload_size - layout.offset)
            return make_error(Errc::CorruptSegment, "plane " + std::to_string(plane) + " (offset " +
                                                        std::to_string(layout.offset) + ", stride " +
                                                        std::to_string(layout.stride) + ") runs past the frame of " +
                                                        std::to_string(payload_size) + " bytes");
    }
    return {};
}

void add_video_meta(GstBuffer* buffer, const GstVideoInfo& info, const StreamFormat& format)
{
    std::array<gsize, GST_VIDEO_MAX_PLANES> offsets{};
    std::array<gint, GST_VIDEO_MAX_PLANES> strides{};
    const std::uint32_t n_planes = std::min<std::uint32_t>(GST_VIDEO_INFO_N_PLANES(&info), GST_VIDEO_MAX_PLANES);
    for (std::uint32_t plane = 0; plane < n_planes && plane < format.planes.size(); ++plane) {
        offsets[plane] = static_cast<gsize>(format.planes[plane].offset);
        strides[plane] = static_cast<gint>(format.planes[plane].stride);
    }
    gst_buffer_add_video_meta_full(buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&info),
                                   static_cast<guint>(GST_VIDEO_INFO_WIDTH(&info)),
                                   static_cast<guint>(GST_VIDEO_INFO_HEIGHT(&info)), n_planes, offsets.data(),
                                   strides.data());
}

} // namespace zerobuffer::gst
