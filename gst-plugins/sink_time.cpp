// SPDX-License-Identifier: MIT
// zerobuffersink: the ring's timeline. Each frame carries the writer's segment (frame_meta::Segment), so that a
// reader knows the frame's running time, not only its pts: concat, playlists, segment seeks (looping) and
// splitmuxsrc move the running time on through the segment's base while pts start again, and a reader that used
// pts alone would go back in time.
//
// A flushing seek restarts the writer's running time at 0. The ring's timeline must not go back (readers keep
// running), so the sink adds an offset to the segment's base: at each flush that resets time, the offset becomes
// the end of the latest frame written so far. The offset is shared by the zerobuffersinks of one pipeline (an audio
// and a video ring of one file): each flush moves all of them to the same new offset, so that two rings of one
// writer stay in sync across the seek. The share lives as qdata on the top-level pipeline; `generation` counts
// flushes, so that the first sink to see a flush moves the offset and the others adopt it.
#include <algorithm>

#include "sink_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_sink_debug

namespace zerobuffer::gst::sink {

/// The offset shared by the sinks of one pipeline (see the file comment). Guarded by `mutex`.
struct SharedTimeline {
    std::mutex mutex;
    std::uint64_t generation = 0;
    GstClockTime offset = 0;
    GstClockTime max_end = 0; ///< The latest end of a frame (running time + offset) any of the sinks wrote.
};

namespace {

GQuark timeline_quark()
{
    static const GQuark quark = g_quark_from_static_string("zerobuffer-sink-timeline");
    return quark;
}

void free_timeline(gpointer data)
{
    std::unique_ptr<std::shared_ptr<SharedTimeline>> holder(static_cast<std::shared_ptr<SharedTimeline>*>(data));
}

// The pipeline's shared timeline (made by the first sink that asks), or one of its own for a sink outside a bin.
std::shared_ptr<SharedTimeline> shared_timeline_of(GstElement* element)
{
    GstObject* top = GST_OBJECT(gst_object_ref(element));
    while (GstObject* parent = gst_object_get_parent(top)) {
        gst_object_unref(top);
        top = parent;
    }
    std::shared_ptr<SharedTimeline> timeline;
    if (top == GST_OBJECT(element)) {
        timeline = std::make_shared<SharedTimeline>();
    } else {
        GST_OBJECT_LOCK(top);
        auto* holder =
            static_cast<std::shared_ptr<SharedTimeline>*>(g_object_get_qdata(G_OBJECT(top), timeline_quark()));
        if (holder == nullptr) {
            holder = std::make_unique<std::shared_ptr<SharedTimeline>>(std::make_shared<SharedTimeline>()).release();
            g_object_set_qdata_full(G_OBJECT(top), timeline_quark(), holder, free_timeline);
        }
        timeline = *holder;
        GST_OBJECT_UNLOCK(top);
    }
    gst_object_unref(top);
    return timeline;
}

} // namespace

void timeline_reset(GstZeroBufferSink* self)
{
    Timeline& timeline = self->state->timeline;
    timeline = Timeline{};
    gst_segment_init(&timeline.segment, GST_FORMAT_TIME);
    timeline.shared = shared_timeline_of(GST_ELEMENT(self));
    const std::lock_guard lock(timeline.shared->mutex);
    timeline.generation = timeline.shared->generation;
    timeline.offset = timeline.shared->offset;
}

void timeline_segment(GstZeroBufferSink* self, const GstSegment& segment)
{
    Timeline& timeline = self->state->timeline;
    timeline.have_segment = segment.format == GST_FORMAT_TIME; // Byte segments (raw data) have no running time.
    if (timeline.have_segment)
        timeline.segment = segment;
}

void timeline_flush(GstZeroBufferSink* self, bool reset_time)
{
    Timeline& timeline = self->state->timeline;
    if (!reset_time || !timeline.shared)
        return;
    const std::lock_guard lock(timeline.shared->mutex);
    if (timeline.generation == timeline.shared->generation) { // The first sink of the pipeline to see this flush.
        ++timeline.shared->generation;
        timeline.shared->offset = timeline.shared->max_end;
    }
    timeline.generation = timeline.shared->generation;
    timeline.offset = timeline.shared->offset;
    GST_DEBUG_OBJECT(self, "flush: the timeline goes on from %" GST_TIME_FORMAT, GST_TIME_ARGS(timeline.offset));
}

std::optional<frame_meta::Segment> timeline_record(GstZeroBufferSink* self, GstClockTime pts, GstClockTime duration)
{
    Timeline& timeline = self->state->timeline;
    if (!timeline.have_segment)
        return std::nullopt;
    const GstSegment& segment = timeline.segment;
    frame_meta::Segment record;
    record.flags = static_cast<std::uint32_t>(segment.flags);
    record.rate = segment.rate;
    record.applied_rate = segment.applied_rate;
    record.base = segment.base + timeline.offset;
    record.offset = segment.offset;
    record.start = segment.start;
    record.stop = segment.stop;
    record.time = segment.time;
    record.duration = segment.duration;

    const guint64 running = gst_segment_to_running_time(&segment, GST_FORMAT_TIME, pts);
    if (GST_CLOCK_TIME_IS_VALID(running) && timeline.shared) {
        const GstClockTime end = running + timeline.offset + (GST_CLOCK_TIME_IS_VALID(duration) ? duration : 0);
        const std::lock_guard lock(timeline.shared->mutex);
        timeline.shared->max_end = std::max(timeline.shared->max_end, end);
    }
    return record;
}

} // namespace zerobuffer::gst::sink
