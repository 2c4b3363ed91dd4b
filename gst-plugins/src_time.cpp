// SPDX-License-Identifier: MIT
// zerobuffersrc: running time downstream of the source, and the latency query.
//
// Frames of zerobuffersink carry the writer's segment (sink_time.cpp): its running time of the frame's pts is the
// writer's timeline, which goes on across concat, playlists, segment seeks, splitmuxsrc and flushing seeks. The
// source pushes that segment with its running time moved by `shift`, so that downstream's running time goes on
// exactly as the writer's does, while pts, stream time (position queries) and rate stay the writer's.
// The shift is chosen once per anchor (the first frame, a reconnect):
// - a reader that gets the writer's first frame (sequence 0) keeps the writer's running time (shift 0): two
//   readers of two rings of one pipeline (audio and video) then keep their sync exactly;
// - a reader that joins later starts where it would play at once: running time 0, or where it had got to
//   (after a reconnect);
// - a live reader (is-live=true) maps the anchor frame to the running time at which it arrived, so that it is due
//   now for a synchronising sink, however long after PLAYING the writer started.
// Frames without a segment (zb-ingest, programs using the core) get a segment that starts at the anchor frame's
// pts, as before; a frame whose running time would fall before the reader's (pts that jump back) re-anchors.
#include "src_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_src_debug

namespace zerobuffer::gst::src {

namespace {

GstSegment segment_of(const frame_meta::Segment& record)
{
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    segment.flags = static_cast<GstSegmentFlags>(record.flags);
    segment.rate = record.rate;
    segment.applied_rate = record.applied_rate;
    segment.base = record.base;
    segment.offset = record.offset;
    segment.start = record.start;
    segment.stop = record.stop;
    segment.time = record.time;
    segment.duration = record.duration;
    return segment;
}

// A segment in which the running time of a pts is the pts itself, starting at `pts` (stream time = pts).
GstSegment pts_segment(GstClockTime pts)
{
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    segment.start = pts;
    segment.time = pts;
    segment.position = pts;
    segment.base = pts;
    return segment;
}

// The running time of the element's clock now, or 0 without a clock.
GstClockTime running_time_now(GstElement* element)
{
    GstClock* clock = gst_element_get_clock(element);
    if (clock == nullptr)
        return 0;
    const GstClockTime now = gst_clock_get_time(clock);
    gst_object_unref(clock);
    const GstClockTime base_time = gst_element_get_base_time(element);
    return GST_CLOCK_TIME_IS_VALID(now) && now > base_time ? now - base_time : 0;
}

// The earliest running time the frame needs: of its dts when it has one (B-frames have pts before their dts's
// frame), else of its pts.
GstClockTime anchor_time(const GstSegment& segment, GstBuffer* buffer)
{
    const guint64 pts = gst_segment_to_running_time(&segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
    const guint64 dts = GST_BUFFER_DTS_IS_VALID(buffer)
                            ? gst_segment_to_running_time(&segment, GST_FORMAT_TIME, GST_BUFFER_DTS(buffer))
                            : GST_CLOCK_TIME_NONE;
    if (!GST_CLOCK_TIME_IS_VALID(pts))
        return dts;
    return GST_CLOCK_TIME_IS_VALID(dts) ? std::min(pts, dts) : pts;
}

std::int64_t signed_time(GstClockTime time)
{
    return static_cast<std::int64_t>(time);
}

} // namespace

void reset_timeline(GstZeroBufferSrc* self)
{
    ReaderTimeline& timeline = self->state->timeline;
    timeline.anchored = false;
    gst_segment_init(&timeline.writer_segment, GST_FORMAT_TIME);
}

void update_segment(GstZeroBufferSrc* self, const std::optional<frame_meta::Segment>& writer, std::uint64_t sequence,
                    GstBuffer* buffer)
{
    SrcState& state = *self->state;
    ReaderTimeline& timeline = state.timeline;
    auto* base_src = GST_BASE_SRC(self);
    if (gst_base_src_get_do_timestamp(base_src))
        return; // GstBaseSrc's own segment and timestamps.
    const GstClockTime pts = GST_BUFFER_PTS(buffer);
    bool anchor = !timeline.anchored || timeline.from_segment != writer.has_value();
    GstSegment segment;
    if (writer) {
        segment = segment_of(*writer);
    } else {
        if (!GST_CLOCK_TIME_IS_VALID(pts))
            return;
        anchor = anchor || pts < timeline.writer_segment.start;
        segment = anchor ? pts_segment(pts) : timeline.writer_segment;
    }
    const GstClockTime writer_time = anchor_time(segment, buffer);
    if (!anchor && GST_CLOCK_TIME_IS_VALID(writer_time) && signed_time(writer_time) + timeline.shift < 0) {
        GST_DEBUG_OBJECT(self, "frame before the reader's running time: re-anchoring");
        anchor = true;
    }
    if (anchor) {
        if (!GST_CLOCK_TIME_IS_VALID(writer_time))
            return; // Anchor on a frame with a time.
        const GstClockTime target = gst_base_src_is_live(base_src) ? running_time_now(GST_ELEMENT(self))
                                    : timeline.pushed              ? timeline.end
                                                                   : 0;
        std::int64_t shift = signed_time(target) - signed_time(writer_time);
        if (writer && sequence == 0 && !gst_base_src_is_live(base_src))
            shift = std::max<std::int64_t>(0, shift); // From the writer's start: its own running time.
        timeline.shift = shift;
        timeline.anchored = true;
        timeline.from_segment = writer.has_value();
        GST_DEBUG_OBJECT(self,
                         "anchored at frame %" G_GUINT64_FORMAT " (writer running time %" GST_TIME_FORMAT
                         "): shift %" G_GINT64_FORMAT " ns",
                         sequence, GST_TIME_ARGS(writer_time), shift);
    }
    if (anchor || !gst_segment_is_equal(&segment, &timeline.writer_segment)) {
        GstSegment pushed = segment;
        if (!gst_segment_offset_running_time(&pushed, GST_FORMAT_TIME, timeline.shift)) {
            GST_WARNING_OBJECT(self,
                               "cannot move the writer's segment by %" G_GINT64_FORMAT " ns: starting at the frame",
                               timeline.shift);
            pushed = pts_segment(pts);
            pushed.base = 0;
        }
        // The ring's stream ends only with the writer's end-of-stream: the writer's stop (a segment seek, a looping
        // player's) must not make GstBaseSrc end it, or post SEGMENT_DONE, at the first pass.
        pushed.flags = static_cast<GstSegmentFlags>(pushed.flags & ~GST_SEGMENT_FLAG_SEGMENT);
        if (pushed.rate > 0)
            pushed.stop = GST_CLOCK_TIME_NONE;
        if (!gst_base_src_new_segment(base_src, &pushed))
            return;
        timeline.writer_segment = segment;
    }
    const GstClockTime running = gst_segment_to_running_time(&segment, GST_FORMAT_TIME, pts);
    if (GST_CLOCK_TIME_IS_VALID(running) && signed_time(running) + timeline.shift >= 0) {
        const GstClockTime duration = GST_BUFFER_DURATION_IS_VALID(buffer) ? GST_BUFFER_DURATION(buffer) : 0;
        timeline.end = std::max<GstClockTime>(
            timeline.end, static_cast<GstClockTime>(signed_time(running) + timeline.shift) + duration);
        timeline.pushed = true;
    }
}

void note_frame_timing(GstZeroBufferSrc* self, GstClockTime duration, std::size_t payload_size,
                       std::size_t metadata_size)
{
    SrcState& state = *self->state;
    bool changed = false;
    {
        const std::lock_guard lock(state.caps_mutex);
        if (!GST_CLOCK_TIME_IS_VALID(state.frame_duration) && GST_CLOCK_TIME_IS_VALID(duration) && duration > 0) {
            state.frame_duration = duration; // No framerate in the caps (audio, variable rate): the frames say.
            changed = true;
        }
        // A frame takes its payload and its metadata area in the ring, each rounded up to 64 bytes.
        const std::size_t extent = (payload_size + 63) / 64 * 64 + (metadata_size + 63) / 64 * 64;
        const guint64 frames = state.reader && extent != 0 ? state.reader->reader.ring_size() / extent : 0;
        if (state.ring_frames == 0 && frames != 0) {
            state.ring_frames = frames;
            changed = true;
        }
    }
    if (changed && gst_base_src_is_live(GST_BASE_SRC(self)))
        gst_element_post_message(GST_ELEMENT(self), gst_message_new_latency(GST_OBJECT(self)));
}

gboolean answer_latency(GstZeroBufferSrc* self, GstQuery* query)
{
    SrcState& state = *self->state;
    GstClockTime frame = GST_CLOCK_TIME_NONE;
    guint64 frames = 0;
    Policy policy = Policy::Lossless;
    {
        const std::lock_guard lock(state.caps_mutex);
        frame = state.frame_duration;
        frames = state.ring_frames;
        policy = state.active.policy;
    }
    // A frame is due one interval after its timestamp, as with any live source. A lossless reader's frames wait in
    // the ring until it reads them, up to what the ring holds; a latest reader is never waited for (the newest
    // frame replaces the others), like videotestsrc: no maximum.
    const GstClockTime min = GST_CLOCK_TIME_IS_VALID(frame) ? frame : 0;
    const GstClockTime max = policy == Policy::Lossless && GST_CLOCK_TIME_IS_VALID(frame) && frames > 0
                                 ? std::max<GstClockTime>(frames * frame, min)
                                 : GST_CLOCK_TIME_NONE;
    gst_query_set_latency(query, gst_base_src_is_live(GST_BASE_SRC(self)), min, max);
    GST_DEBUG_OBJECT(self, "latency: min %" GST_TIME_FORMAT " max %" GST_TIME_FORMAT, GST_TIME_ARGS(min),
                     GST_TIME_ARGS(max));
    return TRUE;
}

} // namespace zerobuffer::gst::src
