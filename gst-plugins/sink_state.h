// SPDX-License-Identifier: MIT
// zerobuffersink's private state and the functions its files share (sink_*.cpp). Not installed.
//
// The element is split by concept: gstzerobuffersink.cpp (properties, start/stop, the class), sink_ring.cpp
// (creating, sizing and re-making the ring, publishing the stream format), sink_caps.cpp (caps, caps queries and
// the allocation query), sink_render.cpp (writing frames, waits for readers and room), sink_time.cpp (the
// timeline: segments, flushes), sink_events.cpp (events, keyframe requests from readers).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gst/audio/audio.h>
#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>

#include <zerobuffer/stream_format.h>
#include <zerobuffer/writer.h>

#include "element_stats.h"
#include "format.h"
#include "frame_meta.h"
#include "gstzerobufferpool.h"
#include "gstzerobuffersink.h"
#include "stats_ticker.h"

GST_DEBUG_CATEGORY_EXTERN(gst_zero_buffer_sink_debug);

namespace zerobuffer::gst::sink {

enum class Checksum : gint { None = 0, Checksum = 1 };

inline constexpr guint kDefaultBuffers = 16;
inline constexpr guint kDefaultMaxReaders = 8;
inline constexpr guint kDefaultReaderTimeoutMs = 5000;
inline constexpr guint kDefaultPermissions = 0600;
/// Ring size for streams whose frame size caps do not tell (encoded video, audio, other data) when size=0.
inline constexpr guint64 kDefaultUnsizedRing = guint64{32} << 20;
/// Per-frame bytes the ring adds to a payload: the metadata area pool frames reserve (kPoolMetadataCapacity)
/// and the 64-byte alignment of the payload (docs/protocol.md, section 3).
inline constexpr guint64 kRecordOverhead = kPoolMetadataCapacity + 64;

struct Settings {
    std::string ring;
    guint64 size = 0;
    guint buffers = kDefaultBuffers;
    guint max_readers = kDefaultMaxReaders;
    bool wait_for_reader = false;
    guint reader_timeout_ms = kDefaultReaderTimeoutMs;
    Checksum checksum = Checksum::None;
    std::string secret;
    guint permissions = kDefaultPermissions;
};

struct SharedTimeline;

/// The ring's timeline for this sink: the writer's running time, moved on at every flushing seek so that it never
/// goes back (sink_time.cpp). Streaming thread only.
struct Timeline {
    GstSegment segment{}; ///< The last TIME segment from upstream.
    bool have_segment = false;
    std::shared_ptr<SharedTimeline> shared; ///< The offset shared by the pipeline's zerobuffersinks.
    std::uint64_t generation = 0;           ///< The flush generation `offset` belongs to.
    GstClockTime offset = 0;                ///< Added to the running time of every frame.
};

/// The element's C++ state: created in init, destroyed in finalize. Settings are guarded by settings_mutex;
/// the rest is used by the streaming thread (and the pool's threads through SharedWriter's own lock).
struct SinkState {
    std::mutex settings_mutex;
    Settings settings;

    Settings active;                    ///< Settings copied at start, used while running.
    std::shared_ptr<SharedWriter> ring; ///< Created at the first caps; pool buffers share it.
    guint64 ring_size = 0;              ///< Payload bytes `ring` was created with.
    bool raw_video = false;
    bool raw_audio = false;
    GstVideoInfo video_info{};
    GstAudioInfo audio_info{};
    zerobuffer::StreamFormat format; ///< What the current caps say, as last published.
    VideoLayout published_layout;
    bool discont_next = false;
    bool waited_for_reader = false;
    std::atomic<bool> unlocking{false};
    guint64 dropped = 0;
    guint64 eos_frames = 0;        ///< End-of-stream frames written into `ring` (the stats leave them out).
    guint64 keyframe_requests = 0; ///< Force-key-unit events sent upstream for readers.
    Timeline timeline;
    frame_meta::FrameMeta frame_meta; ///< Reused per frame, so that no frame allocates for its metadata.
    std::vector<std::byte> encoded_meta;
    ElementStats stats{StatsRole::Sink}; ///< Thread-safe on its own: the stats property reads it from any thread.
    StatsTicker stats_ticker; ///< Posts `stats` every stats-interval from start() to stop(), frames or not.
};

} // namespace zerobuffer::gst::sink

struct _GstZeroBufferSink {
    GstBaseSink parent;
    zerobuffer::gst::sink::SinkState* state; ///< Owned: created in init, destroyed in finalize.
};

namespace zerobuffer::gst::sink {

// sink_ring.cpp
/// Payload bytes of a ring that holds `buffers` frames of `frame_size` bytes, and the reverse.
[[nodiscard]] guint64 ring_size_for(guint64 frame_size, guint buffers);
[[nodiscard]] guint64 frames_held(guint64 ring_size, guint64 frame_size);
[[nodiscard]] guint64 derived_ring_size(const Settings& settings, bool raw_video, const GstVideoInfo& info);
/// Creates the ring; on failure posts an error that names the ring and what to do.
[[nodiscard]] bool create_ring(GstZeroBufferSink* self, guint64 ring_size);
/// Publishes `format` as the ring's stream metadata; the caller makes it state.format once this succeeded.
[[nodiscard]] bool publish_format(GstZeroBufferSink* self, const StreamFormat& format);
/// size=0 and raw video frames of which the ring holds fewer than `buffers`: drops the ring so that set_caps
/// makes one of `wanted_size`, or keeps it with a warning while upstream holds its pool buffers. False after an
/// error.
[[nodiscard]] bool drop_ring_for_bigger_caps(GstZeroBufferSink* self, guint64 frame_size, guint64 wanted_size);

// sink_caps.cpp
gboolean set_caps(GstBaseSink* sink, GstCaps* caps);
GstCaps* get_caps(GstBaseSink* sink, GstCaps* filter);
gboolean propose_allocation(GstBaseSink* sink, GstQuery* query);

// sink_render.cpp
GstFlowReturn render(GstBaseSink* sink, GstBuffer* buffer);
/// Copies one frame into a reservation (a null buffer writes the empty end-of-stream frame), waiting for room in
/// slices up to reader-timeout; `flow` is not GST_FLOW_OK when a flush or a stop ended the wait.
[[nodiscard]] Result<void> write_frame(GstZeroBufferSink* self, GstBuffer* buffer, const FrameInfo& info,
                                       std::span<const std::byte> metadata, GstFlowReturn& flow);
/// Hands the ring's counters and the sink's drops to the stats (after every frame, and at stop).
void note_stats(GstZeroBufferSink* self);

// sink_time.cpp
/// A new segment from upstream (TIME segments only are carried).
void timeline_segment(GstZeroBufferSink* self, const GstSegment& segment);
/// FLUSH_STOP: with reset_time the running time restarts at 0, so the timeline offset moves on.
void timeline_flush(GstZeroBufferSink* self, bool reset_time);
/// The segment record of a frame with these timestamps (nullopt without a TIME segment), noting where the timeline
/// has got to.
[[nodiscard]] std::optional<frame_meta::Segment> timeline_record(GstZeroBufferSink* self, GstClockTime pts,
                                                                 GstClockTime duration);
void timeline_reset(GstZeroBufferSink* self);

// sink_events.cpp
/// What the sink does with an event before GstBaseSink handles it (EOS frame, flushes, segments).
void handle_event(GstZeroBufferSink* self, GstEvent* event);
/// Readers asked for a keyframe since the last frame: sends a force-key-unit event upstream.
void forward_keyframe_requests(GstZeroBufferSink* self);

} // namespace zerobuffer::gst::sink
