// SPDX-License-Identifier: MIT
// zerobuffersink: writing frames. A pool buffer (raw video upstream rendered into the ring) is only committed; any
// other buffer is copied in once. Each frame carries its per-frame metadata (frame_meta.h): the segment record,
// the audio layout, and the metas that cross the ring (buffer_metas.h).
#include <algorithm>
#include <bit>

#include "audio_layout.h"
#include "buffer_metas.h"
#include "sink_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_sink_debug

namespace zerobuffer::gst::sink {

namespace {

std::int64_t to_ns(GstClockTime time)
{
    return GST_CLOCK_TIME_IS_VALID(time) ? static_cast<std::int64_t>(time) : kNoTimestamp;
}

FrameInfo frame_info_of(GstBuffer* buffer, bool discont)
{
    FrameInfo info;
    info.pts = to_ns(GST_BUFFER_PTS(buffer));
    info.dts = to_ns(GST_BUFFER_DTS(buffer));
    info.duration = to_ns(GST_BUFFER_DURATION(buffer));
    info.offset = GST_BUFFER_OFFSET(buffer);
    info.offset_end = GST_BUFFER_OFFSET_END(buffer);
    std::uint32_t flags = kFrameNone;
    if (!GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT))
        flags |= kFrameKeyframe;
    if (discont || GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DISCONT))
        flags |= kFrameDiscontinuity;
    if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_GAP))
        flags |= kFrameGap;
    if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_HEADER))
        flags |= kFrameHeader;
    if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_CORRUPTED))
        flags |= kFrameCorrupted;
    if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DROPPABLE))
        flags |= kFrameDroppable;
    info.flags = flags;
    return info;
}

// unlock() interrupted a wait for `what`. PLAYING -> PAUSED unlocks without flushing: like every sink, wait there
// for PLAYING (GST_FLOW_OK: the caller carries on with the frame) rather than fail and end upstream's streaming
// task; a flush or a stop returns GST_FLOW_FLUSHING. Needs the PREROLL_LOCK, which render() and serialized events
// hold.
GstFlowReturn wait_until_playing(GstZeroBufferSink* self, const char* what)
{
    GST_INFO_OBJECT(self, "unlocked while waiting for %s on ring '%s': waiting for PLAYING or a flush", what,
                    self->state->active.ring.c_str());
    const GstFlowReturn resumed = gst_base_sink_wait_preroll(GST_BASE_SINK(self));
    GST_INFO_OBJECT(self, "%s",
                    resumed == GST_FLOW_OK ? "playing again: going on with the frame"
                                           : "flushing or stopping: giving the frame up");
    return resumed;
}

// Holds the first frame until a reader attached (wait-for-reader=true); unlock() interrupts.
bool wait_for_reader(GstZeroBufferSink* self)
{
    SinkState& state = *self->state;
    while (!state.unlocking.load(std::memory_order_acquire)) {
        Result<void> waited;
        {
            const std::lock_guard lock(state.ring->mutex);
            waited = state.ring->writer.wait_for_readers(1, std::chrono::milliseconds(50));
        }
        if (waited)
            return true;
    }
    return false;
}

void warn_dropped(GstZeroBufferSink* self, const Error& error)
{
    SinkState& state = *self->state;
    ++state.dropped;
    // One warning message per power of two, so a stuck reader does not flood the bus.
    if ((state.dropped & (state.dropped - 1)) == 0)
        GST_ELEMENT_WARNING(self, RESOURCE, WRITE,
                            ("ring '%s': frame dropped (%" G_GUINT64_FORMAT " so far) because readers made no room "
                             "within reader-timeout=%u ms; a lossless reader is too slow or stuck",
                             state.active.ring.c_str(), state.dropped, state.active.reader_timeout_ms),
                            ("%s", error.message.c_str()));
}

// The planes published for this generation must describe this frame exactly (the stream contract): a buffer with
// another layout publishes a new generation first. False after posting an error.
bool publish_layout_of(GstZeroBufferSink* self, GstBuffer* buffer)
{
    SinkState& state = *self->state;
    const VideoLayout layout = video_layout_of(state.video_info, buffer);
    if (layout == state.published_layout)
        return true;
    StreamFormat format = state.format; // Becomes state.format once checked and published.
    apply_video_layout(format, layout);
    // Readers refuse frames whose planes run past the payload: refuse them here, where the cause is.
    if (auto checked = check_video_layout(state.video_info, format, layout.frame_size); !checked) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                          ("upstream sent a %" G_GUINT64_FORMAT
                           "-byte buffer that does not hold a frame of its caps: %s",
                           layout.frame_size, checked.error().message.c_str()),
                          (nullptr));
        return false;
    }
    if (!publish_format(self, format))
        return false;
    state.format = std::move(format);
    state.published_layout = layout;
    return true;
}

// Encodes the frame's metadata into state.encoded_meta. Metadata past the format's limit is left out, with a warning
// (once): readers would refuse it.
std::span<const std::byte> encode_frame_meta(GstZeroBufferSink* self, GstBuffer* buffer)
{
    SinkState& state = *self->state;
    frame_meta::FrameMeta& meta = state.frame_meta;
    meta.clear();
    meta.segment = timeline_record(self, GST_BUFFER_PTS(buffer), GST_BUFFER_DURATION(buffer));
    if (state.raw_audio)
        meta.audio = audio_layout_of(state.audio_info, buffer);
    collect_metas(buffer, meta);
    frame_meta::encode(meta, state.encoded_meta);
    if (state.encoded_meta.size() > frame_meta::kMaxSize) {
        GST_ELEMENT_WARNING(self, STREAM, FORMAT,
                            ("a frame's metas need %zu bytes of per-frame metadata, more than the limit of %zu: "
                             "they are left out of the ring (keep per-frame data small, or send it as its own stream)",
                             state.encoded_meta.size(), frame_meta::kMaxSize),
                            (nullptr));
        state.encoded_meta.clear();
    }
    return state.encoded_meta;
}

} // namespace

Result<void> write_frame(GstZeroBufferSink* self, GstBuffer* buffer, const FrameInfo& info,
                         std::span<const std::byte> metadata, GstFlowReturn& flow)
{
    SinkState& state = *self->state;
    flow = GST_FLOW_OK;
    const gsize size = buffer != nullptr ? gst_buffer_get_size(buffer) : 0;
    const auto timeout = std::chrono::milliseconds(state.active.reader_timeout_ms);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        Result<void> written;
        {
            const std::lock_guard lock(state.ring->mutex);
            // reserve() waits at most one slice (the ring's reader_timeout, see create_ring()).
            auto reservation = state.ring->writer.reserve(size, metadata.size());
            if (reservation) {
                if (size > 0)
                    gst_buffer_extract(buffer, 0, reservation->payload().data(), size);
                std::copy(metadata.begin(), metadata.end(), reservation->metadata().begin());
                reservation->mark_copied();
                written = state.ring->writer.commit(*reservation, info);
            } else {
                written = tl::unexpected(std::move(reservation.error()));
            }
        }
        if (written || written.error().code != Errc::Timeout)
            return written;
        if (state.unlocking.load(std::memory_order_acquire)) {
            flow = wait_until_playing(self, "room");
            if (flow != GST_FLOW_OK)
                return written;
            deadline = std::chrono::steady_clock::now() + timeout;
            continue;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            return written;
    }
}

namespace {

GstFlowReturn render_buffer(GstZeroBufferSink* self, GstBuffer* buffer)
{
    SinkState& state = *self->state;
    if (!state.ring) {
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("no caps before the first buffer"), (nullptr));
        return GST_FLOW_NOT_NEGOTIATED;
    }
    if (state.active.wait_for_reader && !state.waited_for_reader) {
        while (!wait_for_reader(self)) {
            if (const GstFlowReturn resumed = wait_until_playing(self, "a reader"); resumed != GST_FLOW_OK)
                return resumed;
        }
        state.waited_for_reader = true;
    }
    forward_keyframe_requests(self);
    if (state.raw_video && !publish_layout_of(self, buffer))
        return GST_FLOW_ERROR;
    const FrameInfo info = frame_info_of(buffer, state.discont_next);
    state.discont_next = false;
    const std::span<const std::byte> metadata = encode_frame_meta(self, buffer);

    if (pool_found_no_room(buffer)) {
        // The pool already waited reader-timeout for room: drop now rather than wait a second time.
        warn_dropped(self, Error{Errc::Timeout, "no room in the ring for a pool buffer", 0});
        state.discont_next = true;
        return GST_FLOW_OK;
    }
    Result<void> written;
    bool committed = false;
    if (auto* pooled = pool_reservation_of(buffer, state.ring.get())) {
        const std::lock_guard lock(state.ring->mutex);
        if (metadata.size() <= pooled->reservation.metadata().size()) {
            written = commit_pool_buffer(*pooled, info, gst_buffer_get_size(buffer), metadata);
            state.ring->reservation_closed.notify_all();
            committed = true;
        } else {
            // More metadata than pool frames have room for: this frame is copied, later reservations get the room.
            const std::size_t grown = std::bit_ceil(metadata.size());
            GST_DEBUG_OBJECT(self, "frame metadata of %zu bytes: pool reservations grow from %zu to %zu bytes",
                             metadata.size(), state.ring->metadata_capacity, grown);
            state.ring->metadata_capacity = std::max(state.ring->metadata_capacity, grown);
        }
    }
    if (!committed) {
        GstFlowReturn flow = GST_FLOW_OK;
        written = write_frame(self, buffer, info, metadata, flow);
        if (flow != GST_FLOW_OK)
            return flow; // A flush or a stop interrupted the wait for room: not a drop to report.
    }
    if (written)
        return GST_FLOW_OK;
    if (written.error().code == Errc::Timeout) {
        warn_dropped(self, written.error()); // A slow or stuck reader must not stop the pipeline.
        state.discont_next = true;
        return GST_FLOW_OK;
    }
    if (written.error().code == Errc::FrameTooLarge) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT,
                          ("a %" G_GSIZE_FORMAT "-byte buffer (with %zu bytes of per-frame metadata) does not fit in "
                           "ring '%s': set a larger size=",
                           gst_buffer_get_size(buffer), metadata.size(), state.active.ring.c_str()),
                          ("%s", written.error().message.c_str()));
        return GST_FLOW_ERROR;
    }
    GST_ELEMENT_ERROR(
        self, RESOURCE, WRITE,
        ("could not write a frame to ring '%s': %s", state.active.ring.c_str(), written.error().message.c_str()),
        (nullptr));
    return GST_FLOW_ERROR;
}

} // namespace

void note_stats(GstZeroBufferSink* self)
{
    SinkState& state = *self->state;
    if (state.ring) {
        const WriterCounters counters = state.ring->writer.counters();
        // The end-of-stream marker is a frame to the ring (an empty copied one), not a buffer of the stream.
        const std::uint64_t eos = std::min<std::uint64_t>(state.eos_frames, counters.frames_copied);
        StatsFigures ring;
        ring.frames = counters.frames_written - eos;
        ring.bytes = counters.bytes_written;
        ring.in_place = counters.frames_in_place;
        ring.copied = counters.frames_copied - eos;
        ring.waits = counters.waits;
        ring.wait_ns = counters.wait_ns;
        state.stats.ring_figures(ring);
    }
    StatsFigures own;
    own.dropped = state.dropped;
    state.stats.own_figures(own);
}

// Renders the buffer and keeps the stats: how long render() took for a frame that went into the ring (not the
// first frame's wait-for-reader hold: that is waiting for a reader, not for the ring) and the counters. The stats
// messages come from the element's StatsTicker, so that they keep their interval when no frames come.
GstFlowReturn render(GstBaseSink* sink, GstBuffer* buffer)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    const std::int64_t started = monotonic_now_ns();
    const guint64 dropped_before = state.dropped;
    const bool holds_for_reader = state.active.wait_for_reader && !state.waited_for_reader;
    const GstFlowReturn flow = render_buffer(self, buffer);
    if (!state.ring)
        return flow;
    const std::int64_t now = monotonic_now_ns();
    if (flow == GST_FLOW_OK && state.dropped == dropped_before && !holds_for_reader)
        state.stats.latency(now, now - started);
    note_stats(self);
    return flow;
}

} // namespace zerobuffer::gst::sink
