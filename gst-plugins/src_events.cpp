// SPDX-License-Identifier: MIT
// zerobuffersrc: keyframe requests to the writer. A reader that joins an encoded stream between keyframes cannot
// decode until the next one, which an encoder with a long keyframe interval may make minutes later; the writer's
// zerobuffersink turns the request into a force-key-unit event for the encoder upstream of it.
#include <gst/video/video.h>

#include "src_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_src_debug

namespace zerobuffer::gst::src {

namespace {

void ask_writer_for_keyframe(GstZeroBufferSrc* self, const char* why)
{
    SrcState& state = *self->state;
    if (!state.reader)
        return;
    state.reader->reader.request_keyframe();
    ++state.keyframe_requests;
    GST_INFO_OBJECT(self, "asking the writer of ring '%s' for a keyframe: %s", state.active.ring.c_str(), why);
}

} // namespace

void request_keyframe_if_needed(GstZeroBufferSrc* self, bool keyframe)
{
    SrcState& state = *self->state;
    if (!state.need_keyframe)
        return;
    state.need_keyframe = false; // Once per attach: the first frame tells.
    if (state.encoded && !keyframe)
        ask_writer_for_keyframe(self, "joined an encoded stream between keyframes");
}

bool handle_upstream_event(GstZeroBufferSrc* self, GstEvent* event)
{
    if (!gst_video_event_is_force_key_unit(event) || GST_EVENT_TYPE(event) != GST_EVENT_CUSTOM_UPSTREAM)
        return false;
    ask_writer_for_keyframe(self, "downstream sent force-key-unit");
    return true;
}

} // namespace zerobuffer::gst::src
