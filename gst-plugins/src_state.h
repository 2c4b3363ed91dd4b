// SPDX-License-Identifier: MIT
// zerobuffersrc's private state and the functions its files share (src_*.cpp). Not installed.
//
// The element is split by concept: gstzerobuffersrc.cpp (properties, states, the class), src_attach.cpp
// (attaching to the ring and its errors), src_caps.cpp (caps from the stream metadata), src_create.cpp (the
// frame loop, and a frame's buffer with its flags and metas), src_time.cpp (segments from the writer's timeline,
// the latency query), src_events.cpp (keyframe requests to the writer).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <gst/audio/audio.h>
#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>

#include <zerobuffer/reader.h>
#include <zerobuffer/stream_format.h>

#include "buffer_metas.h"
#include "element_stats.h"
#include "format.h"
#include "frame_buffers.h"
#include "frame_meta.h"
#include "gstzerobuffersrc.h"

GST_DEBUG_CATEGORY_EXTERN(gst_zero_buffer_src_debug);

namespace zerobuffer::gst::src {

enum class Policy : gint { Lossless = 0, Latest = 1 };
/// The values match zerobuffer::WaitMode (docs/latency.md).
enum class WaitMode : gint { Cadence = 0, Sleep = 1 };

inline constexpr guint kDefaultTimeoutMs = 0;
inline constexpr guint kDefaultMaxHeld = 0;

struct Settings {
    std::string ring;
    Policy policy = Policy::Lossless;
    WaitMode wait_mode = WaitMode::Cadence;
    guint timeout_ms = kDefaultTimeoutMs;
    bool reconnect = false;
    std::string secret;
    bool verify_checksum = true;
    guint max_held = kDefaultMaxHeld;
    guint64 max_lag = 0;
    bool commit_timestamp_meta = false;
};

struct CapsDeleter {
    void operator()(GstCaps* caps) const noexcept { gst_caps_unref(caps); }
};
using CapsPtr = std::unique_ptr<GstCaps, CapsDeleter>;

/// How the reader's running time follows the writer's timeline (src_time.cpp): reader running time = the frame's
/// running time in the writer's timeline + shift. Streaming thread only.
struct ReaderTimeline {
    bool anchored = false;     ///< shift is chosen (at the first frame, again after a reconnect)
    bool from_segment = false; ///< the anchor frame carried the writer's segment
    std::int64_t shift = 0;
    GstSegment writer_segment{}; ///< The writer's segment pushed last (its running times are the timeline)
    GstClockTime end = 0;        ///< Reader running time at the end of the last frame pushed
    bool pushed = false;         ///< a frame was pushed since start (so `end` means something)
};

/// The element's C++ state: created in init, destroyed in finalize. Settings are guarded by settings_mutex;
/// the rest belongs to the streaming thread, except what is atomic or guarded by caps_mutex.
struct SrcState {
    std::mutex settings_mutex;
    Settings settings;

    Settings active; ///< Copied when the element goes to PAUSED.
    std::shared_ptr<SharedReader> reader;
    ZeroCopyBudget budget;
    guint64 frames_copied = 0;
    std::mutex caps_mutex; ///< Guards caps, frame_duration and ring_frames: queries come from any thread.
    CapsPtr caps;          ///< Caps pushed downstream for the current stream format.
    GstClockTime frame_duration = GST_CLOCK_TIME_NONE; ///< From the framerate or the frames, for the latency query
    guint64 ring_frames = 0; ///< Frames of the current size the ring holds, for the latency query
    StreamFormat format;
    bool raw_video = false;
    bool raw_audio = false;
    bool encoded = false; ///< Not raw media: a decoder needs a keyframe to start
    GstVideoInfo video_info{};
    GstAudioInfo audio_info{};
    bool need_caps = true;
    bool need_keyframe = false; ///< Attached to an encoded stream and no keyframe yet
    bool discont_next = false;
    bool warned_held = false;
    bool warned_copies = false;
    bool warned_meta = false;
    std::atomic<bool> flushing{false};
    ReaderTimeline timeline;
    MetaAttacher metas;
    std::uint64_t keyframe_requests = 0;
    /// Caps of the commit-timestamp meta, made once (the meta takes its own reference).
    CapsPtr commit_caps{gst_caps_new_empty_simple("timestamp/x-zerobuffer-commit")};
    StatsFigures pushed;                ///< Frames pushed since start (frames, bytes, in-place, copied).
    ElementStats stats{StatsRole::Src}; ///< Thread-safe on its own: the stats property reads it from any thread.
};

} // namespace zerobuffer::gst::src

struct _GstZeroBufferSrc {
    GstPushSrc parent;
    zerobuffer::gst::src::SrcState* state; ///< Owned: created in init, destroyed in finalize.
};

namespace zerobuffer::gst::src {

// src_attach.cpp
enum class AttachResult { Attached, Retry, Failed };
/// Attaches a Reader; Failed after posting an error that names the ring and what to do, Retry when the ring does
/// not exist (yet) and reconnect is on.
[[nodiscard]] AttachResult attach(GstZeroBufferSrc* self);
/// READY -> PAUSED: takes the settings, and without reconnect attaches at once (a missing ring is an error now,
/// posted once). False after posting the error.
[[nodiscard]] bool prepare(GstZeroBufferSrc* self);

// src_caps.cpp
/// A reference to the caps pushed downstream (nullptr before the first frame).
[[nodiscard]] CapsPtr current_caps(SrcState& state);
void set_current_caps(SrcState& state, CapsPtr caps);
/// Negotiates caps for the stream format in effect; false after posting an error.
[[nodiscard]] bool update_caps(GstZeroBufferSrc* self);
GstCaps* get_caps(GstBaseSrc* src, GstCaps* filter);
gboolean negotiate(GstBaseSrc* src);

// src_create.cpp
GstFlowReturn create(GstPushSrc* push_src, GstBuffer** out);
/// Hands the reader's counters and the frames pushed to the stats (after every frame, before the reader goes).
void note_stats(GstZeroBufferSrc* self);

// src_buffer.cpp
/// The frame's metadata, decoded from a private copy (the ring's bytes are read once, then checked). Metadata that
/// breaks the format's rules gets a warning (once per reader) and is left out; the frame goes on.
[[nodiscard]] frame_meta::FrameMeta frame_metadata(GstZeroBufferSrc* self, const Frame& frame);
/// The frame's buffer: zero copy or copied, timestamps and flags, video or audio meta and the metas it carried.
/// nullptr after posting an error (out of memory, audio planes outside the frame).
[[nodiscard]] GstBuffer* buffer_for_frame(GstZeroBufferSrc* self, Frame frame, const frame_meta::FrameMeta& meta);

// src_time.cpp
/// Pushes the segment that maps this frame onto the reader's running time when it changes (the first frame, a
/// new segment from the writer, a reconnect). `writer` is the frame's segment record, if it has one.
void update_segment(GstZeroBufferSrc* self, const std::optional<frame_meta::Segment>& writer, std::uint64_t sequence,
                    GstBuffer* buffer);
/// The next frame starts a new anchor (start, reconnect).
void reset_timeline(GstZeroBufferSrc* self);
/// Answers a LATENCY query: live as is-live, minimum one frame interval, maximum what the ring can hold.
gboolean answer_latency(GstZeroBufferSrc* self, GstQuery* query);
/// Remembers the frame interval and how many frames the ring holds, for the latency query; posts a latency message
/// when they change it.
void note_frame_timing(GstZeroBufferSrc* self, GstClockTime duration, std::size_t payload_size,
                       std::size_t metadata_size);

// src_events.cpp
/// Handles an event from downstream; true if it was the source's (force-key-unit), false to let GstBaseSrc have it.
[[nodiscard]] bool handle_upstream_event(GstZeroBufferSrc* self, GstEvent* event);
/// Asks the writer for a keyframe while attached to an encoded stream that has not given one yet.
void request_keyframe_if_needed(GstZeroBufferSrc* self, bool keyframe);

} // namespace zerobuffer::gst::src
