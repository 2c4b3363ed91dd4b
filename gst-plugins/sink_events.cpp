// SPDX-License-Identifier: MIT
// zerobuffersink: events from upstream (end of stream, flushes, segments) and requests from readers (keyframes).
#include <gst/video/video.h>

#include "sink_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_sink_debug

namespace zerobuffer::gst::sink {

void handle_event(GstZeroBufferSink* self, GstEvent* event)
{
    SinkState& state = *self->state;
    switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_EOS:
        if (state.ring) {
            FrameInfo info;
            info.flags = kFrameEndOfStream;
            GstFlowReturn flow = GST_FLOW_OK;
            const Result<void> written = write_frame(self, nullptr, info, {}, flow);
            if (written) {
                ++state.eos_frames;
                note_stats(self);
            }
            if (!written && flow == GST_FLOW_OK) // Not when a flush or a stop ended the wait.
                GST_ELEMENT_WARNING(self, RESOURCE, WRITE,
                                    ("could not write end-of-stream into ring '%s': %s", state.active.ring.c_str(),
                                     written.error().message.c_str()),
                                    (nullptr));
        }
        break;
    case GST_EVENT_FLUSH_STOP: {
        state.discont_next = true; // Readers learn that frames are missing across the seek.
        gboolean reset_time = FALSE;
        gst_event_parse_flush_stop(event, &reset_time);
        timeline_flush(self, reset_time != FALSE);
        break;
    }
    case GST_EVENT_SEGMENT: {
        const GstSegment* segment = nullptr;
        gst_event_parse_segment(event, &segment);
        timeline_segment(self, *segment);
        break;
    }
    default: break;
    }
}

// A reader that joins an encoded stream (or whose downstream asks, for example a decoder after an error) calls
// Reader::request_keyframe(); an encoder upstream makes the next frame a keyframe when it gets this event.
void forward_keyframe_requests(GstZeroBufferSink* self)
{
    SinkState& state = *self->state;
    bool requested = false;
    {
        const std::lock_guard lock(state.ring->mutex);
        requested = state.ring->writer.keyframe_requested();
    }
    if (!requested)
        return;
    ++state.keyframe_requests;
    GST_INFO_OBJECT(
        self, "a reader of ring '%s' asks for a keyframe: sending force-key-unit upstream (%" G_GUINT64_FORMAT ")",
        state.active.ring.c_str(), state.keyframe_requests);
    GstEvent* request = gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE,
                                                                    static_cast<guint>(state.keyframe_requests));
    if (!gst_pad_push_event(GST_BASE_SINK_PAD(self), request))
        GST_DEBUG_OBJECT(self, "no element upstream handles force-key-unit (raw video, or no encoder)");
}

} // namespace zerobuffer::gst::sink
