// SPDX-License-Identifier: MIT
// zerobuffersrc: reads frames from a ZeroBuffer ring as zero-copy buffers, with caps from the ring's metadata.
//
// Each output buffer wraps one frame's payload read-only; the frame is released when downstream frees the buffer,
// in any order and from any thread. Every buffer holds a reference to the Reader, so the Reader outlives the
// last buffer even when the element stopped while a queue still held some. Once downstream keeps more than the
// ring can spare (an encoder's lookahead), further frames are copied (frame_buffers.h).
#include "gstzerobuffersrc.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <gst/video/video.h>

#include <zerobuffer/reader.h>
#include <zerobuffer/stream_format.h>

#include "format.h"
#include "frame_buffers.h"

GST_DEBUG_CATEGORY_STATIC(gst_zero_buffer_src_debug);
#define GST_CAT_DEFAULT gst_zero_buffer_src_debug

namespace {

enum class Policy : gint { Lossless = 0, Latest = 1 };

constexpr guint kDefaultTimeoutMs = 0;
constexpr guint kDefaultMaxHeld = 0;
// acquire() waits in slices this long so that unlock() (flushing, stopping) interrupts it promptly. The wait
// itself sleeps on the ring's futex: a frame wakes it at once.
constexpr std::chrono::milliseconds kWaitSlice{50};
// How often a reconnecting source looks for the ring to appear again.
constexpr std::chrono::milliseconds kReconnectPoll{20};

struct Settings {
    std::string ring;
    Policy policy = Policy::Lossless;
    guint timeout_ms = kDefaultTimeoutMs;
    bool reconnect = false;
    std::string secret;
    bool verify_checksum = true;
    guint max_held = kDefaultMaxHeld;
    guint64 max_lag = 0;
    bool commit_timestamp_meta = false;
};

using zerobuffer::gst::SharedReader;

struct CapsDeleter {
    void operator()(GstCaps* caps) const noexcept { gst_caps_unref(caps); }
};
using CapsPtr = std::unique_ptr<GstCaps, CapsDeleter>;

/// The element's C++ state: created in init, destroyed in finalize. Settings are guarded by settings_mutex;
/// the rest belongs to the streaming thread, except `flushing` (set by unlock from any thread).
struct SrcState {
    std::mutex settings_mutex;
    Settings settings;

    Settings active; ///< Copied at start().
    std::shared_ptr<SharedReader> reader;
    zerobuffer::gst::ZeroCopyBudget budget;
    guint64 frames_copied = 0;
    std::mutex caps_mutex;              ///< Guards caps: caps queries come from any thread.
    CapsPtr caps;                       ///< Caps pushed downstream for the current stream format.
    zerobuffer::StreamFormat format;
    bool raw_video = false;
    GstVideoInfo video_info{};
    bool need_caps = true;
    bool need_segment = true;
    bool discont_next = false;
    bool warned_held = false;
    bool warned_copies = false;
    GstClockTime segment_start = GST_CLOCK_TIME_NONE;
    std::atomic<bool> flushing{false};
    /// Caps of the commit-timestamp meta, made once (the meta takes its own reference).
    CapsPtr commit_caps{gst_caps_new_empty_simple("timestamp/x-zerobuffer-commit")};
};

} // namespace

struct _GstZeroBufferSrc {
    GstPushSrc parent;
    SrcState* state; ///< Owned: created in init, destroyed in finalize.
};

G_DEFINE_TYPE(GstZeroBufferSrc, gst_zero_buffer_src, GST_TYPE_PUSH_SRC)

enum {
    PROP_0,
    PROP_RING,
    PROP_POLICY,
    PROP_TIMEOUT,
    PROP_RECONNECT,
    PROP_SECRET,
    PROP_VERIFY_CHECKSUM,
    PROP_MAX_HELD,
    PROP_MAX_LAG,
    PROP_IS_LIVE,
    PROP_COMMIT_TIMESTAMP_META,
};

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GType gst_zero_buffer_policy_get_type(void)
{
    static GType type = 0;
    static const GEnumValue values[] = {
        {static_cast<gint>(Policy::Lossless), "Every frame, in order; the writer waits for this reader", "lossless"},
        {static_cast<gint>(Policy::Latest), "The newest frame at each read (in order with max-lag); never slows the writer",
         "latest"},
        {0, nullptr, nullptr},
    };
    if (g_once_init_enter(&type))
        g_once_init_leave(&type, g_enum_register_static("GstZeroBufferPolicy", values));
    return type;
}

namespace {

GstClockTime to_clock_time(std::int64_t ns)
{
    return ns == zerobuffer::kNoTimestamp || ns < 0 ? GST_CLOCK_TIME_NONE : static_cast<GstClockTime>(ns);
}

// A reference to the caps pushed downstream (nullptr before the first frame).
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

enum class AttachResult { Attached, Retry, Failed };

AttachResult attach(GstZeroBufferSrc* self)
{
    SrcState& state = *self->state;
    const Settings& settings = state.active;
    zerobuffer::ReaderOptions options;
    options.policy = settings.policy == Policy::Latest ? zerobuffer::ReaderPolicy::Latest
                                                       : zerobuffer::ReaderPolicy::Lossless;
    options.max_lag_frames = settings.policy == Policy::Latest ? settings.max_lag : 0;
    options.verify = settings.verify_checksum;
    options.secret = settings.secret;
    auto reader = zerobuffer::Reader::attach(settings.ring, options);
    if (reader) {
        state.reader = std::make_shared<SharedReader>(std::move(*reader));
        state.budget = zerobuffer::gst::ZeroCopyBudget::for_reader(state.reader->reader, settings.max_held);
        state.need_caps = true;
        GST_INFO_OBJECT(self, "attached to ring '%s'", settings.ring.c_str());
        return AttachResult::Attached;
    }
    const zerobuffer::Error& error = reader.error();
    const std::string& name = settings.ring;
    switch (error.code) {
    case zerobuffer::Errc::NotFound:
    case zerobuffer::Errc::WriterGone:
        if (settings.reconnect)
            return AttachResult::Retry;
        GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND,
                          ("ring '%s' does not exist (no writer has created /dev/shm/zb-%s): start the writer first "
                           "or set reconnect=true",
                           name.c_str(), name.c_str()),
                          ("%s", error.message.c_str()));
        break;
    case zerobuffer::Errc::AuthenticationFailed:
        GST_ELEMENT_ERROR(self, RESOURCE, NOT_AUTHORIZED,
                          ("wrong or missing secret for ring '%s': set secret= to the writer's secret",
                           name.c_str()),
                          ("%s", error.message.c_str()));
        break;
    case zerobuffer::Errc::Busy:
        GST_ELEMENT_ERROR(self, RESOURCE, BUSY,
                          ("all reader slots of ring '%s' are taken: stop a reader or raise max-readers on the "
                           "writer",
                           name.c_str()),
                          ("%s", error.message.c_str()));
        break;
    default:
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                          ("could not attach to ring '%s': %s", name.c_str(), error.message.c_str()), (nullptr));
        break;
    }
    return AttachResult::Failed;
}

// Negotiates caps for the stream format in effect; false after posting an error.
bool update_caps(GstZeroBufferSrc* self)
{
    SrcState& state = *self->state;
    const std::string& json = state.reader->reader.stream_metadata();
    zerobuffer::StreamFormat format;
    if (json.empty()) {
        format.media_type = "application/octet-stream"; // A writer that never described its stream.
    } else {
        auto parsed = zerobuffer::parse_stream_format(json);
        if (!parsed) {
            GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                              ("ring '%s' carries invalid stream metadata: %s", state.active.ring.c_str(),
                               parsed.error().message.c_str()),
                              (nullptr));
            return false;
        }
        format = std::move(*parsed);
    }
    auto caps = zerobuffer::gst::caps_from_stream_format(format);
    if (!caps) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                          ("cannot make caps for the stream of ring '%s': %s", state.active.ring.c_str(),
                           caps.error().message.c_str()),
                          (nullptr));
        return false;
    }
    CapsPtr new_caps(*caps);
    state.raw_video = format.media_type == "video/x-raw";
    if (state.raw_video && !gst_video_info_from_caps(&state.video_info, new_caps.get())) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("ring '%s' describes raw video GStreamer cannot use",
                                                 state.active.ring.c_str()),
                          (nullptr));
        return false;
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
                         "flowing. A ring of at least %" G_GUINT64_FORMAT " bytes (zerobuffersink buffers=%" G_GUINT64_FORMAT
                         " or more) lets them stay zero copy; the element's log at stop says how many downstream kept "
                         "at most",
                         frames, kept, state.active.ring.c_str(), state.reader->reader.ring_size(), wanted,
                         size == 0 ? guint64{0} : (wanted + size - 1) / size),
                        (nullptr));
}

GstBuffer* wrap_frame(GstZeroBufferSrc* self, zerobuffer::Frame frame)
{
    SrcState& state = *self->state;
    const zerobuffer::FrameInfo info = frame.info(); // A copy: the frame moves into the buffer below.
    const std::int64_t commit_time = frame.commit_time_ns();
    const bool skipped = frame.frames_skipped() != 0;
    const std::span<const std::byte> payload = frame.payload();

    GstBuffer* buffer = gst_buffer_new();
    if (!payload.empty()) {
        if (state.budget.allows(*state.reader, payload.size())) {
            gst_buffer_append_memory(buffer, zerobuffer::gst::wrap_frame_memory(state.reader, std::move(frame)));
        } else {
            warn_copies(self, payload.size());
            GstMemory* copy = zerobuffer::gst::copy_frame_memory(state.reader, frame);
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
    if ((info.flags & zerobuffer::kFrameKeyframe) == 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
    if ((info.flags & zerobuffer::kFrameDiscontinuity) != 0 || skipped || state.discont_next)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
    if ((info.flags & zerobuffer::kFrameGap) != 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_GAP);
    if ((info.flags & zerobuffer::kFrameHeader) != 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_HEADER);
    if ((info.flags & zerobuffer::kFrameCorrupted) != 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_CORRUPTED);
    if ((info.flags & zerobuffer::kFrameDroppable) != 0)
        GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DROPPABLE);
    state.discont_next = false;
    if (state.active.commit_timestamp_meta)
        gst_buffer_add_reference_timestamp_meta(buffer, state.commit_caps.get(), static_cast<GstClockTime>(commit_time),
                                                GST_CLOCK_TIME_NONE);
    return buffer;
}

// A segment starting at the first frame's pts: a reader attaching to a running ring plays at once instead of
// waiting for the writer's running time, and pts stay the writer's own.
void maybe_new_segment(GstZeroBufferSrc* self, GstClockTime pts)
{
    SrcState& state = *self->state;
    if (!GST_CLOCK_TIME_IS_VALID(pts) || gst_base_src_get_do_timestamp(GST_BASE_SRC(self)))
        return;
    if (!state.need_segment && GST_CLOCK_TIME_IS_VALID(state.segment_start) && pts >= state.segment_start)
        return;
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    segment.start = pts;
    segment.time = pts;
    segment.position = pts;
    if (gst_base_src_is_live(GST_BASE_SRC(self))) {
        // Live: this frame is due now, also when it came seconds after PLAYING (a writer that started late, a
        // reconnect): map its pts to the current running time instead of to 0.
        if (GstClock* clock = gst_element_get_clock(GST_ELEMENT(self)); clock != nullptr) {
            const GstClockTime now = gst_clock_get_time(clock);
            const GstClockTime base_time = gst_element_get_base_time(GST_ELEMENT(self));
            if (GST_CLOCK_TIME_IS_VALID(now) && now > base_time)
                segment.base = now - base_time;
            gst_object_unref(clock);
        }
    }
    if (gst_base_src_new_segment(GST_BASE_SRC(self), &segment)) {
        state.segment_start = pts;
        state.need_segment = false;
    }
}

} // namespace

static gboolean gst_zero_buffer_src_start(GstBaseSrc* src)
{
    auto* self = GST_ZERO_BUFFER_SRC(src);
    SrcState& state = *self->state;
    {
        const std::lock_guard lock(state.settings_mutex);
        state.active = state.settings;
    }
    if (state.active.ring.empty()) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("no ring name: set the ring property, e.g. ring=cam0"), (nullptr));
        return FALSE;
    }
    state.need_caps = true;
    state.need_segment = true;
    state.discont_next = false;
    state.warned_held = false;
    state.warned_copies = false;
    state.frames_copied = 0;
    state.segment_start = GST_CLOCK_TIME_NONE;
    state.flushing = false;
    // Without reconnect a missing ring is an error at once; with it, create() waits for the writer.
    if (!state.active.reconnect && attach(self) != AttachResult::Attached)
        return FALSE;
    return TRUE;
}

static gboolean gst_zero_buffer_src_stop(GstBaseSrc* src)
{
    SrcState& state = *GST_ZERO_BUFFER_SRC(src)->state;
    if (state.reader && state.frames_copied != 0)
        GST_INFO_OBJECT(src, "ring '%s': %" G_GUINT64_FORMAT " frames copied; downstream kept at most %u buffers (%" G_GUINT64_FORMAT
                             " bytes) at once: a ring of %" G_GUINT64_FORMAT " bytes would have kept them all zero copy",
                        state.active.ring.c_str(), state.frames_copied, state.reader->peak_alive.load(),
                        state.reader->peak_bytes.load(), 2 * state.reader->peak_bytes.load());
    state.reader.reset(); // Buffers still downstream keep the Reader until they are freed.
    set_current_caps(state, nullptr);
    state.format = {};
    return TRUE;
}

static GstCaps* gst_zero_buffer_src_get_caps(GstBaseSrc* src, GstCaps* filter)
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
static gboolean gst_zero_buffer_src_negotiate(GstBaseSrc* src)
{
    SrcState& state = *GST_ZERO_BUFFER_SRC(src)->state;
    if (const CapsPtr caps = current_caps(state))
        return gst_base_src_set_caps(src, caps.get());
    return TRUE;
}

// A ring is a stream that only moves forward: seeking in it is refused.
static gboolean gst_zero_buffer_src_is_seekable(GstBaseSrc*) { return FALSE; }

// Buffers wrap ring frames: no pool is needed, and activating one downstream offers would allocate frames for
// nothing (two 4K frames for a typical video sink).
static gboolean gst_zero_buffer_src_decide_allocation(GstBaseSrc*, GstQuery* query)
{
    while (gst_query_get_n_allocation_pools(query) > 0)
        gst_query_remove_nth_allocation_pool(query, 0);
    return TRUE;
}

static GstFlowReturn gst_zero_buffer_src_create(GstPushSrc* push_src, GstBuffer** out)
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
            const zerobuffer::Error& error = frame.error();
            switch (error.code) {
            case zerobuffer::Errc::Timeout:
                if (timed_out()) {
                    GST_ELEMENT_ERROR(self, RESOURCE, READ,
                                      ("no frame from ring '%s' within timeout=%u ms: is the writer stalled? raise "
                                       "timeout (0 waits forever)",
                                       settings.ring.c_str(), settings.timeout_ms),
                                      (nullptr));
                    return GST_FLOW_ERROR;
                }
                continue;
            case zerobuffer::Errc::WriterGone:
                if (settings.reconnect) {
                    GST_INFO_OBJECT(self, "writer of ring '%s' is gone: waiting for a new one", settings.ring.c_str());
                    state.reader.reset();
                    state.discont_next = true;
                    state.need_segment = true;
                    continue;
                }
                GST_ELEMENT_ERROR(self, RESOURCE, READ,
                                  ("the writer of ring '%s' stopped without end-of-stream (it died or was killed): "
                                   "restart it, and set reconnect=true to survive writer restarts",
                                   settings.ring.c_str()),
                                  ("%s", error.message.c_str()));
                return GST_FLOW_ERROR;
            case zerobuffer::Errc::InvalidState:
                // The reader's holds are all taken (copies keep one free, so only when downstream keeps frames of an
                // earlier reader of this element): wait for one to be freed.
                if (!state.warned_held) {
                    GST_WARNING_OBJECT(self, "all %u holds of the reader are taken: waiting for downstream to free one",
                                       state.reader->reader.max_held());
                    state.warned_held = true;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                continue;
            case zerobuffer::Errc::ChecksumMismatch:
                GST_ELEMENT_WARNING(self, STREAM, DECODE,
                                    ("a frame of ring '%s' failed its checksum and was dropped",
                                     settings.ring.c_str()),
                                    ("%s", error.message.c_str()));
                state.discont_next = true;
                continue;
            case zerobuffer::Errc::AuthenticationFailed:
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

        if ((frame->info().flags & zerobuffer::kFrameEndOfStream) != 0) {
            GST_INFO_OBJECT(self, "end of stream from the writer of ring '%s'", settings.ring.c_str());
            return GST_FLOW_EOS;
        }
        if ((frame->format_changed() || state.need_caps) && !update_caps(self))
            return GST_FLOW_NOT_NEGOTIATED;
        if (state.raw_video) {
            if (auto checked = zerobuffer::gst::check_video_layout(state.video_info, state.format, frame->payload().size());
                !checked) {
                GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                                  ("ring '%s' sent a frame that does not match its stream format: %s",
                                   settings.ring.c_str(), checked.error().message.c_str()),
                                  (nullptr));
                return GST_FLOW_ERROR;
            }
        }
        GstBuffer* buffer = wrap_frame(self, std::move(*frame));
        if (buffer == nullptr) {
            GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT, ("out of memory copying a frame of ring '%s'", settings.ring.c_str()),
                              (nullptr));
            return GST_FLOW_ERROR;
        }
        if (state.raw_video)
            zerobuffer::gst::add_video_meta(buffer, state.video_info, state.format);
        maybe_new_segment(self, GST_BUFFER_PTS(buffer));
        *out = buffer;
        return GST_FLOW_OK;
    }
}

static gboolean gst_zero_buffer_src_unlock(GstBaseSrc* src)
{
    GST_ZERO_BUFFER_SRC(src)->state->flushing.store(true, std::memory_order_release);
    return TRUE;
}

static gboolean gst_zero_buffer_src_unlock_stop(GstBaseSrc* src)
{
    GST_ZERO_BUFFER_SRC(src)->state->flushing.store(false, std::memory_order_release);
    return TRUE;
}

static void gst_zero_buffer_src_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec)
{
    auto* self = GST_ZERO_BUFFER_SRC(object);
    SrcState& state = *self->state;
    if (prop_id == PROP_IS_LIVE) {
        gst_base_src_set_live(GST_BASE_SRC(self), g_value_get_boolean(value));
        return;
    }
    const std::lock_guard lock(state.settings_mutex);
    Settings& settings = state.settings;
    switch (prop_id) {
    case PROP_RING: {
        const gchar* name = g_value_get_string(value);
        settings.ring = name != nullptr ? name : "";
        break;
    }
    case PROP_POLICY:
        settings.policy = static_cast<Policy>(g_value_get_enum(value));
        break;
    case PROP_TIMEOUT:
        settings.timeout_ms = g_value_get_uint(value);
        break;
    case PROP_RECONNECT:
        settings.reconnect = g_value_get_boolean(value);
        break;
    case PROP_SECRET: {
        const gchar* secret = g_value_get_string(value);
        settings.secret = secret != nullptr ? secret : "";
        break;
    }
    case PROP_VERIFY_CHECKSUM:
        settings.verify_checksum = g_value_get_boolean(value);
        break;
    case PROP_MAX_HELD:
        settings.max_held = g_value_get_uint(value);
        break;
    case PROP_MAX_LAG:
        settings.max_lag = g_value_get_uint64(value);
        break;
    case PROP_COMMIT_TIMESTAMP_META:
        settings.commit_timestamp_meta = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
}

static void gst_zero_buffer_src_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec)
{
    auto* self = GST_ZERO_BUFFER_SRC(object);
    SrcState& state = *self->state;
    if (prop_id == PROP_IS_LIVE) {
        g_value_set_boolean(value, gst_base_src_is_live(GST_BASE_SRC(self)));
        return;
    }
    const std::lock_guard lock(state.settings_mutex);
    const Settings& settings = state.settings;
    switch (prop_id) {
    case PROP_RING:
        g_value_set_string(value, settings.ring.empty() ? nullptr : settings.ring.c_str());
        break;
    case PROP_POLICY:
        g_value_set_enum(value, static_cast<gint>(settings.policy));
        break;
    case PROP_TIMEOUT:
        g_value_set_uint(value, settings.timeout_ms);
        break;
    case PROP_RECONNECT:
        g_value_set_boolean(value, settings.reconnect);
        break;
    case PROP_SECRET:
        g_value_set_string(value, settings.secret.empty() ? nullptr : "********"); // Never reveal it.
        break;
    case PROP_VERIFY_CHECKSUM:
        g_value_set_boolean(value, settings.verify_checksum);
        break;
    case PROP_MAX_HELD:
        g_value_set_uint(value, settings.max_held);
        break;
    case PROP_MAX_LAG:
        g_value_set_uint64(value, settings.max_lag);
        break;
    case PROP_COMMIT_TIMESTAMP_META:
        g_value_set_boolean(value, settings.commit_timestamp_meta);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
}

static void gst_zero_buffer_src_finalize(GObject* object)
{
    auto* self = GST_ZERO_BUFFER_SRC(object);
    std::unique_ptr<SrcState> state(self->state);
    self->state = nullptr;
    G_OBJECT_CLASS(gst_zero_buffer_src_parent_class)->finalize(object);
}

static void gst_zero_buffer_src_init(GstZeroBufferSrc* self)
{
    self->state = std::make_unique<SrcState>().release();
    gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
}

static void gst_zero_buffer_src_class_init(GstZeroBufferSrcClass* klass)
{
    auto* object_class = G_OBJECT_CLASS(klass);
    auto* element_class = GST_ELEMENT_CLASS(klass);
    auto* base_src_class = GST_BASE_SRC_CLASS(klass);
    auto* push_src_class = GST_PUSH_SRC_CLASS(klass);

    object_class->set_property = gst_zero_buffer_src_set_property;
    object_class->get_property = gst_zero_buffer_src_get_property;
    object_class->finalize = gst_zero_buffer_src_finalize;

    const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
    g_object_class_install_property(
        object_class, PROP_RING,
        g_param_spec_string("ring", "Ring name", "Name of the ring to read (shared memory /dev/shm/zb-NAME). Required",
                            nullptr, flags));
    g_object_class_install_property(
        object_class, PROP_POLICY,
        g_param_spec_enum("policy", "Reader policy",
                          "lossless: every frame, the writer waits for this reader; latest: the newest frame at each "
                          "read, never slows the writer, what it skips is marked DISCONT (see max-lag)",
                          GST_TYPE_ZERO_BUFFER_POLICY, static_cast<gint>(Policy::Lossless), flags));
    g_object_class_install_property(
        object_class, PROP_TIMEOUT,
        g_param_spec_uint("timeout", "Timeout (ms)",
                          "Milliseconds to wait for the next frame (or, with reconnect, for a writer) before posting "
                          "an error; 0 = wait forever",
                          0, G_MAXUINT, kDefaultTimeoutMs, flags));
    g_object_class_install_property(
        object_class, PROP_RECONNECT,
        g_param_spec_boolean("reconnect", "Reconnect",
                             "Wait for a writer to create the ring, and for a new writer after the writer died or "
                             "restarted, then continue with a DISCONT buffer and new caps. Off: post an error",
                             FALSE, flags));
    g_object_class_install_property(
        object_class, PROP_SECRET,
        g_param_spec_string("secret", "Secret", "The writer's shared secret, for rings with keyed MACs", nullptr,
                            flags));
    g_object_class_install_property(
        object_class, PROP_VERIFY_CHECKSUM,
        g_param_spec_boolean("verify-checksum", "Verify checksums",
                             "Verify each frame's checksum or MAC when the ring carries them (frames that fail are "
                             "dropped with a warning; a MAC failure is an error)",
                             TRUE, flags));
    g_object_class_install_property(
        object_class, PROP_MAX_HELD,
        g_param_spec_uint("max-held", "Maximum zero-copy frames",
                          "Frames downstream may keep as zero-copy buffers (queues, encoders, tee branches); later "
                          "frames are copied, as they are once downstream keeps half of the ring. 0 = as many as the "
                          "ring lets a reader hold",
                          0, 4096, kDefaultMaxHeld, flags));
    g_object_class_install_property(
        object_class, PROP_MAX_LAG,
        g_param_spec_uint64("max-lag", "Maximum lag (frames)",
                            "policy=latest: read frames in order while at most this many behind the newest, then jump "
                            "to the newest; 0 = always the newest frame",
                            0, G_MAXUINT64, 0, flags));
    g_object_class_install_property(
        object_class, PROP_IS_LIVE,
        g_param_spec_boolean("is-live", "Is live", "Act as a live source (for a writer fed by a camera or a clock)",
                             FALSE, static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
    g_object_class_install_property(
        object_class, PROP_COMMIT_TIMESTAMP_META,
        g_param_spec_boolean("commit-timestamp-meta", "Commit timestamp meta",
                             "Attach a GstReferenceTimestampMeta (caps timestamp/x-zerobuffer-commit) holding the "
                             "CLOCK_MONOTONIC ns at which the writer committed the frame (latency measurement)",
                             FALSE, flags));

    gst_element_class_add_static_pad_template(element_class, &src_template);
    gst_element_class_set_static_metadata(element_class, "ZeroBuffer source", "Source/Video/Audio",
                                          "Reads frames from a shared-memory ZeroBuffer ring as zero-copy buffers, "
                                          "with caps and timestamps from the ring",
                                          "ZeroBuffer developers");

    base_src_class->start = gst_zero_buffer_src_start;
    base_src_class->stop = gst_zero_buffer_src_stop;
    base_src_class->get_caps = gst_zero_buffer_src_get_caps;
    base_src_class->negotiate = gst_zero_buffer_src_negotiate;
    base_src_class->decide_allocation = gst_zero_buffer_src_decide_allocation;
    base_src_class->is_seekable = gst_zero_buffer_src_is_seekable;
    base_src_class->unlock = gst_zero_buffer_src_unlock;
    base_src_class->unlock_stop = gst_zero_buffer_src_unlock_stop;
    push_src_class->create = gst_zero_buffer_src_create;

    gst_type_mark_as_plugin_api(GST_TYPE_ZERO_BUFFER_POLICY, static_cast<GstPluginAPIFlags>(0));
    GST_DEBUG_CATEGORY_INIT(gst_zero_buffer_src_debug, "zerobuffersrc", 0, "ZeroBuffer ring source");
}
