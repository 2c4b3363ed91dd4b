// SPDX-License-Identifier: MIT
// zerobuffersrc: caps come from the ring's stream metadata alone, at the first frame and at every new generation.
#include "src_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_src_debug

namespace zerobuffer::gst::src {

CapsPtr current_caps(SrcState& state)
{
    const std::lock_guard lock(state.caps_mutex);
    return CapsPtr(state.caps ? gst_caps_ref(state.caps.get()) : nullptr);
}

void set_current_caps(SrcState& state, CapsPtr caps)
{
    const std::lock_guard lock(state.caps_mutex);
    state.caps = std::move(caps);
}

bool update_caps(GstZeroBufferSrc* self)
{
    SrcState& state = *self->state;
    const std::string& json = state.reader->reader.stream_metadata();
    StreamFormat format;
    if (json.empty()) {
        format.media_type = "application/octet-stream"; // A writer that never described its stream.
    } else {
        auto parsed = parse_stream_format(json);
        if (!parsed) {
            GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                              ("ring '%s' carries invalid stream metadata: %s", state.active.ring.c_str(),
                               parsed.error().message.c_str()),
                              (nullptr));
            return false;
        }
        format = std::move(*parsed);
    }
    auto caps = caps_from_stream_format(format);
    if (!caps) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                          ("cannot make caps for the stream of ring '%s': %s", state.active.ring.c_str(),
                           caps.error().message.c_str()),
                          (nullptr));
        return false;
    }
    CapsPtr new_caps(*caps);
    state.raw_video = format.media_type == "video/x-raw";
    state.raw_audio = format.media_type == "audio/x-raw";
    state.encoded = !state.raw_video && !state.raw_audio && format.media_type != "application/octet-stream";
    if (state.raw_video && !gst_video_info_from_caps(&state.video_info, new_caps.get())) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                          ("ring '%s' describes raw video GStreamer cannot use", state.active.ring.c_str()), (nullptr));
        return false;
    }
    if (state.raw_audio && !gst_audio_info_from_caps(&state.audio_info, new_caps.get())) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                          ("ring '%s' describes raw audio GStreamer cannot use", state.active.ring.c_str()), (nullptr));
        return false;
    }
    {
        // The latency query's figures follow the new format (note_frame_timing completes them from the frames).
        const std::lock_guard lock(state.caps_mutex);
        const bool rate = format.framerate && format.framerate->num > 0 && format.framerate->den > 0;
        state.frame_duration = rate
                                   ? gst_util_uint64_scale_int(GST_SECOND, format.framerate->den, format.framerate->num)
                                   : GST_CLOCK_TIME_NONE;
        state.ring_frames = 0;
    }
    state.format = std::move(format);
    if (const CapsPtr old_caps = current_caps(state); !old_caps || !gst_caps_is_equal(old_caps.get(), new_caps.get())) {
        GST_DEBUG_OBJECT(self, "caps from ring: %" GST_PTR_FORMAT, static_cast<gpointer>(new_caps.get()));
        if (!gst_base_src_set_caps(GST_BASE_SRC(self), new_caps.get())) {
            GST_ELEMENT_ERROR(self, CORE, NEGOTIATION,
                              ("downstream refused the caps of ring '%s'", state.active.ring.c_str()),
                              ("%" GST_PTR_FORMAT, static_cast<gpointer>(new_caps.get())));
            return false;
        }
        set_current_caps(state, std::move(new_caps));
    }
    state.need_caps = false;
    return true;
}

GstCaps* get_caps(GstBaseSrc* src, GstCaps* filter)
{
    SrcState& state = *GST_ZERO_BUFFER_SRC(src)->state;
    CapsPtr current = current_caps(state);
    GstCaps* caps = current ? current.release() : gst_caps_new_any();
    if (filter != nullptr) {
        GstCaps* intersection = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref(caps);
        return intersection;
    }
    return caps;
}

// Caps come from the ring, at the first frame (or now if already known): nothing to negotiate before.
gboolean negotiate(GstBaseSrc* src)
{
    SrcState& state = *GST_ZERO_BUFFER_SRC(src)->state;
    if (const CapsPtr caps = current_caps(state))
        return gst_base_src_set_caps(src, caps.get());
    return TRUE;
}

} // namespace zerobuffer::gst::src
