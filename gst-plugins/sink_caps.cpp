// SPDX-License-Identifier: MIT
// zerobuffersink: caps (the stream format readers get), caps queries (which formats upstream should prefer) and
// the allocation query (the pool in the ring).
#include "sink_state.h"

#include <array>

#define GST_CAT_DEFAULT gst_zero_buffer_sink_debug

namespace zerobuffer::gst::sink {

namespace {

// Formats upstream should pick when it has a choice, best first: the sink accepts anything, but an element that
// offers many formats takes the first one a caps query allows, and for videotestsrc that is 8-byte ABGR64_LE.
// These are what readers most often want: 8-bit 4:2:0, then packed RGB, then the rest of the common ones.
constexpr std::array kPreferredVideo{
    "I420", "NV12", "YV12", "NV21", "YUY2", "UYVY",  "RGBA", "BGRA", "RGBx",      "BGRx",      "ARGB",
    "ABGR", "xRGB", "xBGR", "RGB",  "BGR",  "GRAY8", "Y42B", "Y444", "P010_10LE", "I420_10LE", "GRAY16_LE",
};
constexpr std::array kPreferredAudio{"S16LE", "F32LE", "S32LE", "S24LE", "F64LE", "U8"};

// The preferred structures, each with the one format, interleaved audio first.
GstCaps* preferred_caps()
{
    GstCaps* caps = gst_caps_new_empty();
    for (const char* format : kPreferredVideo)
        gst_caps_append_structure(caps, gst_structure_new("video/x-raw", "format", G_TYPE_STRING, format, nullptr));
    for (const char* format : kPreferredAudio)
        gst_caps_append_structure(caps, gst_structure_new("audio/x-raw", "format", G_TYPE_STRING, format, "layout",
                                                          G_TYPE_STRING, "interleaved", nullptr));
    return caps;
}

} // namespace

// Everything upstream offers (the filter), with the preferred formats it offers put first; without a filter, ANY.
GstCaps* get_caps(GstBaseSink* /*sink*/, GstCaps* filter)
{
    if (filter == nullptr)
        return gst_caps_new_any();
    if (gst_caps_is_any(filter) || gst_caps_is_empty(filter))
        return gst_caps_ref(filter);
    GstCaps* preferred = preferred_caps(); // Made per query (a few dozen structures; queries are rare).
    GstCaps* caps = gst_caps_intersect_full(preferred, filter, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref(preferred);
    return gst_caps_merge(caps, gst_caps_ref(filter));
}

gboolean set_caps(GstBaseSink* sink, GstCaps* caps)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    // The new caps are checked on locals: a refused renegotiation leaves the state of the published format.
    auto format = stream_format_from_caps(caps);
    if (!format) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                          ("cannot describe the caps for the ring: %s", format.error().message.c_str()), (nullptr));
        return FALSE;
    }
    const bool raw_video = format->media_type == "video/x-raw";
    GstVideoInfo video_info;
    gst_video_info_init(&video_info);
    if (raw_video && !gst_video_info_from_caps(&video_info, caps))
        return FALSE;
    const bool raw_audio = format->media_type == "audio/x-raw";
    GstAudioInfo audio_info;
    gst_audio_info_init(&audio_info);
    if (raw_audio && !gst_audio_info_from_caps(&audio_info, caps))
        return FALSE;

    if (state.ring && format->caps == state.format.caps)
        return TRUE; // Renegotiated to the same caps: readers need no new generation.
    const guint64 frame_size = raw_video ? GST_VIDEO_INFO_SIZE(&video_info) : 0;
    const guint buffers = state.active.buffers;
    if (state.ring && state.active.size != 0 &&
        state.ring->writer.max_payload_size(kPoolMetadataCapacity) < frame_size) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT,
                          ("ring '%s' of size=%" G_GUINT64_FORMAT " cannot hold the new %" G_GUINT64_FORMAT
                           "-byte frames: set size=%" G_GUINT64_FORMAT " or more (or size=0 to derive it)",
                           state.active.ring.c_str(), state.active.size, frame_size,
                           ring_size_for(frame_size, buffers)),
                          (nullptr));
        return FALSE;
    }
    const guint64 wanted_size = derived_ring_size(state.active, raw_video, video_info);
    if (raw_video && state.ring && state.active.size == 0 && state.ring_size < wanted_size &&
        !drop_ring_for_bigger_caps(self, frame_size, wanted_size))
        return FALSE;
    if (!state.ring && !create_ring(self, wanted_size))
        return FALSE;
    if (raw_video && state.ring->writer.max_payload_size(kPoolMetadataCapacity) < frame_size) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT,
                          ("ring '%s' cannot hold one %" G_GUINT64_FORMAT "-byte frame: set size=%" G_GUINT64_FORMAT
                           " or more",
                           state.active.ring.c_str(), frame_size, ring_size_for(frame_size, buffers)),
                          (nullptr));
        return FALSE;
    }
    if (raw_video && state.active.size != 0 && frames_held(state.active.size, frame_size) < buffers) {
        GST_ELEMENT_WARNING(
            self, RESOURCE, SETTINGS,
            ("ring '%s' of size=%" G_GUINT64_FORMAT " holds only %" G_GUINT64_FORMAT " frames of %" G_GUINT64_FORMAT
             " bytes, fewer than buffers=%u; readers that keep frames (a video "
             "sink's last sample, a queue) can stall it: set size=%" G_GUINT64_FORMAT " (or size=0 to derive it)",
             state.active.ring.c_str(), state.active.size, frames_held(state.active.size, frame_size), frame_size,
             buffers, ring_size_for(frame_size, buffers)),
            (nullptr));
    }
    const VideoLayout layout = raw_video ? video_layout_of(video_info, nullptr) : VideoLayout{};
    if (!publish_format(self, *format))
        return FALSE;
    state.raw_video = raw_video;
    state.video_info = video_info;
    state.raw_audio = raw_audio;
    state.audio_info = audio_info;
    state.format = std::move(*format);
    state.published_layout = layout;
    return TRUE;
}

gboolean propose_allocation(GstBaseSink* sink, GstQuery* query)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    GstCaps* caps = nullptr;
    gboolean need_pool = FALSE;
    gst_query_parse_allocation(query, &caps, &need_pool);
    gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, nullptr);

    GstVideoInfo info;
    // Only raw video has a fixed frame size to reserve; everything else is copied in at its real size.
    if (caps == nullptr || !state.ring || !gst_video_info_from_caps(&info, caps))
        return TRUE;
    const gsize frame_size = GST_VIDEO_INFO_SIZE(&info);
    if (state.ring->writer.max_payload_size(kPoolMetadataCapacity) < frame_size || frame_size > G_MAXUINT) {
        // No ring frames for frames the ring cannot hold, nor for a pool whose size (a guint) cannot say the frame
        // size (4 GiB or more): upstream allocates its own, and render() says what is wrong.
        GST_DEBUG_OBJECT(self, "no pool for %" G_GSIZE_FORMAT "-byte frames", frame_size);
        return TRUE;
    }
    const auto size = static_cast<guint>(frame_size);
    GstBufferPool* pool =
        gst_zero_buffer_pool_new(state.ring, std::chrono::milliseconds(state.active.reader_timeout_ms));
    GstStructure* config = gst_buffer_pool_get_config(pool);
    gst_buffer_pool_config_set_params(config, caps, size, 0, 0);
    gst_buffer_pool_config_add_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
    if (!gst_buffer_pool_set_config(pool, config)) {
        GST_WARNING_OBJECT(self, "could not configure the ring pool; upstream buffers will be copied");
        gst_object_unref(pool);
        return TRUE;
    }
    gst_query_add_allocation_pool(query, pool, size, 0, 0);
    gst_object_unref(pool);
    return TRUE;
}

} // namespace zerobuffer::gst::sink
