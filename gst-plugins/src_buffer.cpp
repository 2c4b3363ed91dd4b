// SPDX-License-Identifier: MIT
// zerobuffersrc: a frame's buffer. Its memory wraps the frame's payload read-only (or a copy of it, once downstream
// keeps more of the ring than it can spare: frame_buffers.h); its timestamps and flags are the writer's; raw
// video gets its GstVideoMeta and raw audio its GstAudioMeta; the metas the frame's metadata carried are added.
#include "audio_layout.h"
#include "src_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_src_debug

namespace zerobuffer::gst::src {

namespace {

GstClockTime to_clock_time(std::int64_t ns)
{
    return ns == kNoTimestamp || ns < 0 ? GST_CLOCK_TIME_NONE : static_cast<GstClockTime>(ns);
}

// Once per reader: downstream keeps more of the ring than it can spare, so frames are copied from now on. The ring
// size that would avoid it is at least twice what downstream keeps now (half of the ring is the writer's).
void warn_copies(GstZeroBufferSrc* self, std::uint64_t size)
{
    SrcState& state = *self->state;
    if (state.warned_copies)
        return;
    state.warned_copies = true;
    const std::uint64_t kept = state.reader->kept_bytes.load(std::memory_order_relaxed);
    const std::uint32_t frames = state.reader->kept_frames.load(std::memory_order_relaxed);
    const std::uint64_t wanted = 2 * (kept + size) + size;
    GST_ELEMENT_WARNING(self, RESOURCE, READ,
                        ("downstream keeps %u buffers (%" G_GUINT64_FORMAT " bytes) of ring '%s' (%" G_GSIZE_FORMAT
                         " bytes), more than the ring can spare: further frames are copied so that the writer keeps "
                         "flowing. A ring of at least %" G_GUINT64_FORMAT
                         " bytes (zerobuffersink buffers=%" G_GUINT64_FORMAT
                         " or more) lets them stay zero copy; the element's log at stop says how many downstream kept "
                         "at most",
                         frames, kept, state.active.ring.c_str(), state.reader->reader.ring_size(), wanted,
                         size == 0 ? guint64{0} : (wanted + size - 1) / size),
                        (nullptr));
}

// The frame's payload as a buffer, zero copy while downstream keeps little of the ring, else a copy; with the
// frame's timestamps and flags. nullptr when out of memory.
GstBuffer* wrap_frame(GstZeroBufferSrc* self, Frame frame)
{
    SrcState& state = *self->state;
    const FrameInfo info = frame.info(); // A copy: the frame moves into the buffer below.
    const std::int64_t commit_time = frame.commit_time_ns();
    const bool skipped = frame.frames_skipped() != 0;
    const std::span<const std::byte> payload = frame.payload();

    GstBuffer* buffer = gst_buffer_new();
    if (!payload.empty()) {
        if (state.budget.allows(*state.reader, payload.size())) {
            gst_buffer_append_memory(buffer, wrap_frame_memory(state.reader, std::move(frame)));
        } else {
            warn_copies(self, payload.size());
            GstMemory* copy = copy_frame_memory(state.reader, frame);
            frame.release(); // Back to the writer at once: downstream keeps the copy.
            if (copy == nullptr) {
                gst_buffer_unref(buffer);
                return nullptr;
            }
            gst_buffer_append_memory(buffer, copy);
            ++state.frames_copied;
        }
    }
    gst_buffer_unset_flags(buffer, GST_BUFFER_FLAG_TAG_MEMORY); // Fresh buffer: its memory is not a change.
    GST_BUFFER_PTS(buffer) = to_clock_time(info.pts);
    GST_BUFFER_DTS(buffer) = to_clock_time(info.dts);
    GST_BUFFER_DURATION(buffer) = to_clock_time(info.duration);
    GST_BUFFER_OFFSET(buffer) = info.offset;
    GST_BUFFER_OFFSET_END(buffer) = info.offset_end;
    if ((info.flags & kFrameKeyframe) == 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
    if ((info.flags & kFrameDiscontinuity) != 0 || skipped || state.discont_next)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
    if ((info.flags & kFrameGap) != 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_GAP);
    if ((info.flags & kFrameHeader) != 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_HEADER);
    if ((info.flags & kFrameCorrupted) != 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_CORRUPTED);
    if ((info.flags & kFrameDroppable) != 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DROPPABLE);
    state.discont_next = false;
    if (state.active.commit_timestamp_meta)
        gst_buffer_add_reference_timestamp_meta(buffer, state.commit_caps.get(), static_cast<GstClockTime>(commit_time),
                                                GST_CLOCK_TIME_NONE);
    return buffer;
}

// Warns once per reader about metadata that cannot be used; the frame goes on without it.
void warn_metadata(GstZeroBufferSrc* self, const std::string& what)
{
    SrcState& state = *self->state;
    if (state.warned_meta)
        return;
    state.warned_meta = true;
    GST_ELEMENT_WARNING(self, STREAM, DECODE,
                        ("ring '%s': a frame's metadata cannot all be used, it goes on without: %s (said once)",
                         state.active.ring.c_str(), what.c_str()),
                        (nullptr));
}

} // namespace

frame_meta::FrameMeta frame_metadata(GstZeroBufferSrc* self, const Frame& frame)
{
    // One copy out of shared memory, then every check on the copy: the writer cannot change bytes under the checks.
    const std::span<const std::byte> ring_bytes = frame.metadata();
    if (ring_bytes.size() > frame_meta::kMaxSize) {
        warn_metadata(self, "its " + std::to_string(ring_bytes.size()) + " bytes are more than the limit of " +
                                std::to_string(frame_meta::kMaxSize));
        return {};
    }
    const std::vector<std::byte> bytes(ring_bytes.begin(), ring_bytes.end());
    auto decoded = frame_meta::decode(bytes);
    if (!decoded) {
        warn_metadata(self, decoded.error().message);
        return {};
    }
    return std::move(*decoded);
}

GstBuffer* buffer_for_frame(GstZeroBufferSrc* self, Frame frame, const frame_meta::FrameMeta& meta)
{
    SrcState& state = *self->state;
    const std::size_t size = frame.payload().size();
    GstBuffer* buffer = wrap_frame(self, std::move(frame));
    if (buffer == nullptr) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT,
                          ("out of memory copying a frame of ring '%s'", state.active.ring.c_str()), (nullptr));
        return nullptr;
    }
    if (state.raw_video)
        add_video_meta(buffer, state.video_info, state.format);
    if (state.raw_audio) {
        if (auto added = add_audio_meta(buffer, state.audio_info, meta.audio, size); !added) {
            GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                              ("ring '%s' sent a frame that does not match its stream format: %s",
                               state.active.ring.c_str(), added.error().message.c_str()),
                              (nullptr));
            gst_buffer_unref(buffer);
            return nullptr;
        }
    }
    std::string skipped;
    state.metas.attach(buffer, meta, skipped);
    if (!skipped.empty())
        warn_metadata(self, skipped);
    return buffer;
}

} // namespace zerobuffer::gst::src
