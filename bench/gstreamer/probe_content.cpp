// SPDX-License-Identifier: MIT
// What zb-gst-probe says about a buffer (see probe_content.h).
#include "probe_content.h"

#include <cinttypes>

#include "probe_metas.h"

namespace zbprobe {

namespace {

std::string format_time(GstClockTime t)
{
    return GST_CLOCK_TIME_IS_VALID(t) ? std::to_string(t) : std::string("none");
}

std::string format_offset(guint64 offset)
{
    return offset == GST_BUFFER_OFFSET_NONE ? std::string("none") : std::to_string(offset);
}

// SHA-1 of the bytes a viewer sees: for raw video the visible part of each row of each plane (so that padding,
// which a layout may leave undefined, does not count), at the offsets and strides of the buffer's GstVideoMeta;
// otherwise every byte. `layout` gets the plane strides, so that a changed layout shows up in the comparison.
std::string content_sha1(const Media& media, GstBuffer* buffer, std::string& layout)
{
    GChecksum* checksum = g_checksum_new(G_CHECKSUM_SHA1);
    bool mapped = false;
    if (media.is_video) {
        GstVideoFrame frame{};
        if (gst_video_frame_map(&frame, &media.video_info, buffer, GST_MAP_READ)) {
            mapped = true;
            layout = " strides=";
            const guint planes = GST_VIDEO_FRAME_N_PLANES(&frame);
            for (guint plane = 0; plane < planes; ++plane) {
                gint components[GST_VIDEO_MAX_COMPONENTS];
                gst_video_format_info_component(frame.info.finfo, plane, components);
                const gint comp = components[0];
                const gint rows = GST_VIDEO_FRAME_COMP_HEIGHT(&frame, comp);
                const gint stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, plane);
                // Formats packed in groups (v210, NV12_10LE32) have no pixel stride: hash whole rows then.
                const gint pixel_stride = GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, comp);
                const auto row_bytes = pixel_stride > 0 ? static_cast<gsize>(GST_VIDEO_FRAME_COMP_WIDTH(&frame, comp)) *
                                                              static_cast<gsize>(pixel_stride)
                                                        : static_cast<gsize>(stride);
                const auto* data = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, plane));
                for (gint row = 0; row < rows; ++row) {
                    g_checksum_update(checksum, data + static_cast<std::ptrdiff_t>(row) * stride,
                                      static_cast<gssize>(row_bytes));
                }
                layout += (plane == 0 ? "" : ",") + std::to_string(stride);
            }
            gst_video_frame_unmap(&frame);
        }
    }
    if (media.is_audio && !mapped) {
        // Raw audio: the valid samples of each plane, through the buffer's GstAudioMeta (planar audio needs one).
        GstAudioBuffer audio{};
        if (!gst_audio_buffer_map(&audio, &media.audio_info, buffer, GST_MAP_READ)) {
            g_checksum_free(checksum);
            return "unmappable";
        }
        mapped = true;
        const auto plane_bytes = static_cast<gssize>(audio.n_samples) *
                                 (GST_AUDIO_INFO_LAYOUT(&media.audio_info) == GST_AUDIO_LAYOUT_INTERLEAVED
                                      ? GST_AUDIO_INFO_BPF(&media.audio_info)
                                      : GST_AUDIO_INFO_BPS(&media.audio_info));
        for (gint plane = 0; plane < audio.n_planes; ++plane) {
            g_checksum_update(checksum, static_cast<const guint8*>(audio.planes[plane]), plane_bytes);
        }
        layout = " samples=" + std::to_string(audio.n_samples) + " planes=" + std::to_string(audio.n_planes);
        gst_audio_buffer_unmap(&audio);
    }
    if (!mapped) {
        GstMapInfo map{};
        if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
            g_checksum_free(checksum);
            return "unmappable";
        }
        g_checksum_update(checksum, map.data, static_cast<gssize>(map.size));
        gst_buffer_unmap(buffer, &map);
    }
    std::string digest = g_checksum_get_string(checksum);
    g_checksum_free(checksum);
    return digest;
}

} // namespace

void note_caps(Media& media, GstCaps* caps)
{
    // gst_video_info_from_caps also accepts encoded video (format ENCODED, no planes): only raw video has rows.
    const GstStructure* structure = gst_caps_get_structure(caps, 0);
    media.is_video = structure != nullptr && gst_structure_has_name(structure, "video/x-raw") &&
                     gst_video_info_from_caps(&media.video_info, caps) &&
                     GST_VIDEO_INFO_N_PLANES(&media.video_info) > 0;
    media.is_audio = structure != nullptr && gst_structure_has_name(structure, "audio/x-raw") &&
                     gst_audio_info_from_caps(&media.audio_info, caps);
}

std::string buffer_line(const Media& media, GstBuffer* buffer, std::uint64_t index, bool running_time)
{
    std::string layout;
    const std::string sha1 = content_sha1(media, buffer, layout);
    const bool delta = GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
    std::string line = "buffer " + std::to_string(index) + " pts=" + format_time(buffer->pts) +
                       " dts=" + format_time(buffer->dts) + " duration=" + format_time(buffer->duration) +
                       " offset=" + format_offset(buffer->offset) + " offset_end=" + format_offset(buffer->offset_end) +
                       " delta=" + (delta ? "1" : "0") + layout;
    if (running_time) {
        const guint64 running = media.have_segment
                                    ? gst_segment_to_running_time(&media.segment, GST_FORMAT_TIME, buffer->pts)
                                    : GST_CLOCK_TIME_NONE;
        line += " running=" + format_time(running);
    }
    line += describe_metas(buffer);
    line += " sha1=" + sha1;
    return line;
}

// A copy of the buffer in two memories (plane 0, then the other planes) with padded strides.
GstBuffer* repacked(const Media& media, GstBuffer* buffer, std::uint32_t pad)
{
    GstVideoFrame source{};
    if (!media.is_video || !gst_video_frame_map(&source, &media.video_info, buffer, GST_MAP_READ)) {
        return nullptr;
    }
    const guint planes = GST_VIDEO_FRAME_N_PLANES(&source);
    gsize offsets[GST_VIDEO_MAX_PLANES] = {};
    gint strides[GST_VIDEO_MAX_PLANES] = {};
    gsize total = 0;
    gsize first_plane_size = 0;
    for (guint plane = 0; plane < planes; ++plane) {
        gint components[GST_VIDEO_MAX_COMPONENTS];
        gst_video_format_info_component(source.info.finfo, plane, components);
        const gint rows = GST_VIDEO_FRAME_COMP_HEIGHT(&source, components[0]);
        strides[plane] = GST_VIDEO_INFO_PLANE_STRIDE(&media.video_info, plane) + static_cast<gint>(pad);
        offsets[plane] = total;
        total += static_cast<gsize>(strides[plane]) * static_cast<gsize>(rows);
        if (plane == 0) {
            first_plane_size = total;
        }
    }
    GstBuffer* packed = gst_buffer_new();
    gst_buffer_append_memory(packed, gst_allocator_alloc(nullptr, first_plane_size, nullptr));
    if (total > first_plane_size) {
        gst_buffer_append_memory(packed, gst_allocator_alloc(nullptr, total - first_plane_size, nullptr));
    }
    gst_buffer_copy_into(packed, buffer, GST_BUFFER_COPY_METADATA, 0, static_cast<gsize>(-1));
    gst_buffer_memset(packed, 0, 0xAB, total); // recognisable padding
    for (guint plane = 0; plane < planes; ++plane) {
        gint components[GST_VIDEO_MAX_COMPONENTS];
        gst_video_format_info_component(source.info.finfo, plane, components);
        const auto row_bytes = static_cast<gsize>(GST_VIDEO_FRAME_COMP_WIDTH(&source, components[0])) *
                               static_cast<gsize>(GST_VIDEO_FRAME_COMP_PSTRIDE(&source, components[0]));
        const gint rows = GST_VIDEO_FRAME_COMP_HEIGHT(&source, components[0]);
        const auto* data = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&source, plane));
        const gint source_stride = GST_VIDEO_FRAME_PLANE_STRIDE(&source, plane);
        for (gint row = 0; row < rows; ++row) {
            gst_buffer_fill(packed, offsets[plane] + static_cast<gsize>(row) * static_cast<gsize>(strides[plane]),
                            data + static_cast<std::ptrdiff_t>(row) * source_stride, row_bytes);
        }
    }
    gst_video_frame_unmap(&source);
    gst_buffer_add_video_meta_full(packed, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&media.video_info),
                                   static_cast<guint>(GST_VIDEO_INFO_WIDTH(&media.video_info)),
                                   static_cast<guint>(GST_VIDEO_INFO_HEIGHT(&media.video_info)), planes, offsets,
                                   strides);
    return packed;
}
} // namespace zbprobe
