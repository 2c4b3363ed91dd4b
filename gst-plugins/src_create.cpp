// SPDX-License-Identifier: MIT
// zerobuffersrc: the frame loop. Waits for the writer (reconnect), acquires frames in slices so that a flush or a
// stop interrupts it, follows caps changes, turns the ring's errors into messages a user can act on.
#include <chrono>
#include <thread>

#include "src_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_src_debug

namespace zerobuffer::gst::src {

namespace {

// acquire() waits in slices this long so that unlock() (flushing, stopping) interrupts it promptly. The wait
// itself sleeps on the ring's futex: a frame wakes it at once.
constexpr std::chrono::milliseconds kWaitSlice{50};
// How often a reconnecting source looks for the ring to appear again.
constexpr std::chrono::milliseconds kReconnectPoll{20};

// Counts a frame about to be pushed: its commit-to-push latency (both ends on CLOCK_MONOTONIC), the stats, and a
// stats message once per stats-interval.
void count_pushed(GstZeroBufferSrc* self, std::uint64_t bytes, bool copied, std::int64_t commit_time_ns)
{
    SrcState& state = *self->state;
    ++state.pushed.frames;
    state.pushed.bytes += bytes;
    ++(copied ? state.pushed.copied : state.pushed.in_place);
    const std::int64_t now = monotonic_now_ns();
    state.stats.latency(now, now - commit_time_ns);
    note_stats(self);
    if (state.stats.post_due(now))
        post_stats(GST_ELEMENT(self), state.stats);
}

// A wait slice ended without a frame: the stats, and a stats message once per stats-interval.
void note_idle(GstZeroBufferSrc* self)
{
    SrcState& state = *self->state;
    note_stats(self);
    if (state.stats.post_due(monotonic_now_ns()))
        post_stats(GST_ELEMENT(self), state.stats);
}

} // namespace

void note_stats(GstZeroBufferSrc* self)
{
    SrcState& state = *self->state;
    state.stats.own_figures(state.pushed);
    if (!state.reader)
        return;
    const ReaderCounters counters = state.reader->reader.counters();
    StatsFigures ring;
    ring.dropped = counters.frames_skipped + counters.checksum_failures;
    ring.waits = counters.waits;
    ring.wait_ns = counters.wait_ns;
    ring.overruns = counters.overruns;
    state.stats.ring_figures(ring);
}

GstFlowReturn create(GstPushSrc* push_src, GstBuffer** out)
{
    auto* self = GST_ZERO_BUFFER_SRC(push_src);
    SrcState& state = *self->state;
    const Settings& settings = state.active;
    const auto started = std::chrono::steady_clock::now();
    const auto timed_out = [&] {
        return settings.timeout_ms != 0 &&
               std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(settings.timeout_ms);
    };

    while (true) {
        if (state.flushing.load(std::memory_order_acquire))
            return GST_FLOW_FLUSHING;
        if (!state.reader) {
            const AttachResult attached = attach(self);
            if (attached == AttachResult::Failed)
                return GST_FLOW_ERROR;
            if (attached == AttachResult::Retry) {
                if (timed_out()) {
                    GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND,
                                      ("no writer created ring '%s' within timeout=%u ms: start the writer or raise "
                                       "timeout (0 waits forever)",
                                       settings.ring.c_str(), settings.timeout_ms),
                                      (nullptr));
                    return GST_FLOW_ERROR;
                }
                std::this_thread::sleep_for(kReconnectPoll);
                continue;
            }
        }

        auto frame = state.reader->reader.acquire(kWaitSlice);
        if (!frame) {
            const Error& error = frame.error();
            switch (error.code) {
            case Errc::Timeout:
                if (timed_out()) {
                    GST_ELEMENT_ERROR(self, RESOURCE, READ,
                                      ("no frame from ring '%s' within timeout=%u ms: is the writer stalled? raise "
                                       "timeout (0 waits forever)",
                                       settings.ring.c_str(), settings.timeout_ms),
                                      (nullptr));
                    return GST_FLOW_ERROR;
                }
                note_idle(self); // Waits keep counting and messages keep coming while the writer is quiet.
                continue;
            case Errc::WriterGone:
                if (settings.reconnect) {
                    GST_INFO_OBJECT(self, "writer of ring '%s' is gone: waiting for a new one", settings.ring.c_str());
                    note_stats(self);
                    state.reader.reset();
                    state.discont_next = true;
                    reset_timeline(self);
                    continue;
                }
                GST_ELEMENT_ERROR(self, RESOURCE, READ,
                                  ("the writer of ring '%s' stopped without end-of-stream (it died or was killed): "
                                   "restart it, and set reconnect=true to survive writer restarts",
                                   settings.ring.c_str()),
                                  ("%s", error.message.c_str()));
                return GST_FLOW_ERROR;
            case Errc::InvalidState:
                // The reader's holds are all taken (copies keep one free, so only when downstream keeps frames of an
                // earlier reader of this element): wait for one to be freed.
                if (!state.warned_held) {
                    GST_WARNING_OBJECT(self, "all %u holds of the reader are taken: waiting for downstream to free one",
                                       state.reader->reader.max_held());
                    state.warned_held = true;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                continue;
            case Errc::ChecksumMismatch:
                GST_ELEMENT_WARNING(self, STREAM, DECODE,
                                    ("a frame of ring '%s' failed its checksum and was dropped", settings.ring.c_str()),
                                    ("%s", error.message.c_str()));
                state.discont_next = true;
                note_stats(self);
                continue;
            case Errc::AuthenticationFailed:
                GST_ELEMENT_ERROR(self, RESOURCE, NOT_AUTHORIZED,
                                  ("a frame of ring '%s' failed its MAC: wrong secret, or the ring was tampered with",
                                   settings.ring.c_str()),
                                  ("%s", error.message.c_str()));
                return GST_FLOW_ERROR;
            default:
                GST_ELEMENT_ERROR(self, RESOURCE, READ,
                                  ("could not read from ring '%s': %s", settings.ring.c_str(), error.message.c_str()),
                                  (nullptr));
                return GST_FLOW_ERROR;
            }
        }

        if ((frame->info().flags & kFrameEndOfStream) != 0) {
            GST_INFO_OBJECT(self, "end of stream from the writer of ring '%s'", settings.ring.c_str());
            return GST_FLOW_EOS;
        }
        if ((frame->format_changed() || state.need_caps) && !update_caps(self))
            return GST_FLOW_NOT_NEGOTIATED;
        if (state.raw_video) {
            if (auto checked = check_video_layout(state.video_info, state.format, frame->payload().size()); !checked) {
                GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                                  ("ring '%s' sent a frame that does not match its stream format: %s",
                                   settings.ring.c_str(), checked.error().message.c_str()),
                                  (nullptr));
                return GST_FLOW_ERROR;
            }
        }
        const frame_meta::FrameMeta meta = frame_metadata(self, *frame);
        const std::uint64_t sequence = frame->sequence();
        request_keyframe_if_needed(self, (frame->info().flags & kFrameKeyframe) != 0);
        note_frame_timing(
            self, frame->info().duration >= 0 ? static_cast<GstClockTime>(frame->info().duration) : GST_CLOCK_TIME_NONE,
            frame->payload().size(), frame->metadata().size());
        const std::int64_t commit_time = frame->commit_time_ns();
        const std::uint64_t bytes = frame->payload().size();
        const guint64 copies_before = state.frames_copied;
        GstBuffer* buffer = buffer_for_frame(self, std::move(*frame), meta);
        if (buffer == nullptr)
            return GST_FLOW_ERROR;
        update_segment(self, meta.segment, sequence, buffer);
        count_pushed(self, bytes, state.frames_copied != copies_before, commit_time);
        *out = buffer;
        return GST_FLOW_OK;
    }
}

} // namespace zerobuffer::gst::src
