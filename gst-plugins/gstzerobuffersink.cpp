// SPDX-License-Identifier: MIT
// zerobuffersink: writes a pipeline's buffers, caps and timestamps into a ZeroBuffer ring.
//
// The ring is created at the first caps, sized from them (size=0: frame size x buffers, again at every caps that
// would leave it fewer frames than that). Raw video from
// upstream that renders into the pool we propose (gstzerobufferpool) is already in the ring and only committed;
// any other buffer is copied in once, marked as copied, so the ring's counters tell the two paths apart.
#include "gstzerobuffersink.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include <gst/video/video.h>

#include <zerobuffer/stream_format.h>
#include <zerobuffer/writer.h>

#include "format.h"
#include "gstzerobufferpool.h"

GST_DEBUG_CATEGORY_STATIC(gst_zero_buffer_sink_debug);
#define GST_CAT_DEFAULT gst_zero_buffer_sink_debug

namespace {

using zerobuffer::gst::SharedWriter;

enum class Checksum : gint { None = 0, Checksum = 1 };

constexpr guint kDefaultBuffers = 16;
constexpr guint kDefaultMaxReaders = 8;
constexpr guint kDefaultReaderTimeoutMs = 5000;
constexpr guint kDefaultPermissions = 0600;
// Ring size for streams whose frame size caps do not tell (encoded video, audio, other data) when size=0.
constexpr guint64 kDefaultUnsizedRing = guint64{32} << 20;
// Per-frame bytes the ring adds to a payload (record header, 64-byte alignment): see docs/protocol.md.
constexpr guint64 kRecordOverhead = 256;

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

/// The element's C++ state: created in init, destroyed in finalize. Settings are guarded by settings_mutex;
/// the rest is used by the streaming thread (and the pool's threads through SharedWriter's own lock).
struct SinkState {
    std::mutex settings_mutex;
    Settings settings;

    Settings active;                      ///< Settings copied at start(), used while running.
    std::shared_ptr<SharedWriter> ring;   ///< Created at the first caps; pool buffers share it.
    guint64 ring_size = 0;                ///< Payload bytes `ring` was created with.
    bool raw_video = false;
    GstVideoInfo video_info{};
    zerobuffer::StreamFormat format;       ///< What the current caps say, as last published.
    zerobuffer::gst::VideoLayout published_layout;
    bool discont_next = false;
    bool waited_for_reader = false;
    std::atomic<bool> unlocking{false};
    guint64 dropped = 0;
};

} // namespace

struct _GstZeroBufferSink {
    GstBaseSink parent;
    SinkState* state; ///< Owned: created in init, destroyed in finalize.
};

G_DEFINE_TYPE(GstZeroBufferSink, gst_zero_buffer_sink, GST_TYPE_BASE_SINK)

enum {
    PROP_0,
    PROP_RING,
    PROP_SIZE,
    PROP_BUFFERS,
    PROP_MAX_READERS,
    PROP_WAIT_FOR_READER,
    PROP_READER_TIMEOUT,
    PROP_CHECKSUM,
    PROP_SECRET,
    PROP_PERMISSIONS,
};

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GType gst_zero_buffer_checksum_get_type(void)
{
    static GType type = 0;
    static const GEnumValue values[] = {
        {static_cast<gint>(Checksum::None), "No per-frame digest (a secret still enables MACs)", "none"},
        {static_cast<gint>(Checksum::Checksum), "BLAKE2b-256 checksum of every frame, verified by readers", "checksum"},
        {0, nullptr, nullptr},
    };
    if (g_once_init_enter(&type))
        g_once_init_leave(&type, g_enum_register_static("GstZeroBufferChecksum", values));
    return type;
}

namespace {

std::int64_t to_ns(GstClockTime time)
{
    return GST_CLOCK_TIME_IS_VALID(time) ? static_cast<std::int64_t>(time) : zerobuffer::kNoTimestamp;
}

zerobuffer::FrameInfo frame_info_of(GstBuffer* buffer, bool discont)
{
    zerobuffer::FrameInfo info;
    info.pts = to_ns(GST_BUFFER_PTS(buffer));
    info.dts = to_ns(GST_BUFFER_DTS(buffer));
    info.duration = to_ns(GST_BUFFER_DURATION(buffer));
    info.offset = GST_BUFFER_OFFSET(buffer);
    info.offset_end = GST_BUFFER_OFFSET_END(buffer);
    std::uint32_t flags = zerobuffer::kFrameNone;
    if (!GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT))
        flags |= zerobuffer::kFrameKeyframe;
    if (discont || GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DISCONT))
        flags |= zerobuffer::kFrameDiscontinuity;
    if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_GAP))
        flags |= zerobuffer::kFrameGap;
    if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_HEADER))
        flags |= zerobuffer::kFrameHeader;
    if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_CORRUPTED))
        flags |= zerobuffer::kFrameCorrupted;
    if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DROPPABLE))
        flags |= zerobuffer::kFrameDroppable;
    info.flags = flags;
    return info;
}

// Payload bytes of a ring that holds `buffers` frames of `frame_size` bytes, and the reverse.
guint64 ring_size_for(guint64 frame_size, guint buffers) { return (frame_size + kRecordOverhead) * buffers; }
guint64 frames_held(guint64 ring_size, guint64 frame_size) { return ring_size / (frame_size + kRecordOverhead); }

guint64 derived_ring_size(const Settings& settings, bool raw_video, const GstVideoInfo& info)
{
    if (settings.size != 0)
        return settings.size;
    if (!raw_video)
        return kDefaultUnsizedRing;
    return ring_size_for(GST_VIDEO_INFO_SIZE(&info), settings.buffers);
}

// Creates the ring; on failure posts an error that names the ring and what to do.
bool create_ring(GstZeroBufferSink* self, guint64 ring_size)
{
    SinkState& state = *self->state;
    const Settings& settings = state.active;
    zerobuffer::WriterOptions options;
    options.ring_size = static_cast<std::size_t>(ring_size);
    options.max_readers = settings.max_readers;
    options.permissions = settings.permissions;
    // reserve() waits at most one slice; write_frame() repeats it up to reader-timeout, checking for flushes.
    options.reader_timeout = std::min<std::chrono::nanoseconds>(std::chrono::milliseconds(settings.reader_timeout_ms),
                                                                zerobuffer::gst::kRingWaitSlice);
    options.max_outstanding = std::max<std::uint32_t>(16, settings.buffers * 2);
    if (!settings.secret.empty()) {
        options.integrity = zerobuffer::Integrity::Mac;
        options.secret = settings.secret;
    } else if (settings.checksum == Checksum::Checksum) {
        options.integrity = zerobuffer::Integrity::Checksum;
    }
    auto writer = zerobuffer::Writer::create(settings.ring, options);
    if (writer) {
        state.ring = std::make_shared<SharedWriter>(std::move(*writer));
        state.ring_size = ring_size;
        state.waited_for_reader = false; // wait-for-reader holds the first frame of every ring, also a recreated one.
        GST_INFO_OBJECT(self, "created ring '%s' of %" G_GUINT64_FORMAT " bytes", settings.ring.c_str(), ring_size);
        return true;
    }
    const zerobuffer::Error& error = writer.error();
    const std::string& name = settings.ring;
    switch (error.code) {
    case zerobuffer::Errc::Busy:
        GST_ELEMENT_ERROR(self, RESOURCE, BUSY,
                          ("ring '%s' already has a live writer: stop that writer or use another ring name",
                           name.c_str()),
                          ("%s", error.message.c_str()));
        break;
    case zerobuffer::Errc::SystemError:
        // The core's message names the file, the OS error and what to do (free /dev/shm, zbctl gc, smaller ring).
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
                          ("could not create ring '%s' of %" G_GUINT64_FORMAT " bytes (size/buffers): %s", name.c_str(),
                           ring_size, error.message.c_str()),
                          (nullptr));
        break;
    default:
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                          ("could not create ring '%s': %s", name.c_str(), error.message.c_str()), (nullptr));
        break;
    }
    return false;
}

// Publishes `format` as the ring's stream metadata; the caller makes it state.format once this succeeded.
bool publish_format(GstZeroBufferSink* self, const zerobuffer::StreamFormat& format)
{
    SinkState& state = *self->state;
    std::string json;
    try {
        json = zerobuffer::to_json(format);
    } catch (const std::exception& error) { // nlohmann refuses caps strings that are not UTF-8: no throw into C.
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("cannot describe the caps as stream metadata: %s", error.what()),
                          (nullptr));
        return false;
    }
    zerobuffer::Result<std::uint32_t> generation;
    {
        const std::lock_guard lock(state.ring->mutex);
        generation = state.ring->writer.set_stream_metadata(json);
    }
    if (!generation) {
        GST_ELEMENT_ERROR(self, RESOURCE, WRITE,
                          ("could not publish the stream format to ring '%s': %s", state.active.ring.c_str(),
                           generation.error().message.c_str()),
                          (nullptr));
        return false;
    }
    GST_DEBUG_OBJECT(self, "stream format generation %u: %s", *generation, json.c_str());
    return true;
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
    GST_INFO_OBJECT(self, "%s", resumed == GST_FLOW_OK ? "playing again: going on with the frame"
                                                       : "flushing or stopping: giving the frame up");
    return resumed;
}

// Holds the first frame until a reader attached (wait-for-reader=true); unlock() interrupts.
bool wait_for_reader(GstZeroBufferSink* self)
{
    SinkState& state = *self->state;
    while (!state.unlocking.load(std::memory_order_acquire)) {
        zerobuffer::Result<void> waited;
        {
            const std::lock_guard lock(state.ring->mutex);
            waited = state.ring->writer.wait_for_readers(1, std::chrono::milliseconds(50));
        }
        if (waited)
            return true;
    }
    return false;
}

// Copies one frame in, once, from each of the buffer's memories straight into a reservation (marked as copied so
// that the ring's counters tell this path from the pool's), waiting for room in slices up to reader-timeout.
// A null buffer writes an empty frame (end of stream). A pause met while waiting is waited out (the frame is then
// written with a fresh reader-timeout); `flow` is GST_FLOW_OK unless a flush or a stop ended the wait, and then
// the Timeout returned is not a drop but what basesink must get back.
zerobuffer::Result<void> write_frame(GstZeroBufferSink* self, GstBuffer* buffer, const zerobuffer::FrameInfo& info,
                                     GstFlowReturn& flow)
{
    SinkState& state = *self->state;
    flow = GST_FLOW_OK;
    const gsize size = buffer != nullptr ? gst_buffer_get_size(buffer) : 0;
    const auto timeout = std::chrono::milliseconds(state.active.reader_timeout_ms);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        zerobuffer::Result<void> written;
        {
            const std::lock_guard lock(state.ring->mutex);
            // reserve() waits at most one slice (the ring's reader_timeout, see create_ring()).
            auto reservation = state.ring->writer.reserve(size, 0);
            if (reservation) {
                if (size > 0)
                    gst_buffer_extract(buffer, 0, reservation->payload().data(), size);
                reservation->mark_copied();
                written = state.ring->writer.commit(*reservation, info);
            } else {
                written = tl::unexpected(std::move(reservation.error()));
            }
        }
        if (written || written.error().code != zerobuffer::Errc::Timeout)
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

void warn_dropped(GstZeroBufferSink* self, const zerobuffer::Error& error)
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

// With size=0 the ring is sized from the current caps: a change to raw video frames of which it holds fewer than
// `buffers` (bigger frames that may still fit) drops it, and set_caps creates one of `wanted_size`. Readers see the
// old writer go; zerobuffersrc reconnect=true follows. (Other streams keep the ring they find: their frames have
// no fixed size.) Returns false after posting an error.
bool drop_ring_for_bigger_caps(GstZeroBufferSink* self, guint64 frame_size, guint64 wanted_size)
{
    SinkState& state = *self->state;
    auto* sink = GST_BASE_SINK(self);
    if (gst_base_sink_is_last_sample_enabled(sink)) {
        // The last-sample may be a pool buffer of the old ring: drop it (toggling clears it).
        gst_base_sink_set_last_sample_enabled(sink, FALSE);
        gst_base_sink_set_last_sample_enabled(sink, TRUE);
    }
    const bool frames_fit = state.ring->writer.max_payload_size() >= frame_size;
    if (frames_fit && state.ring.use_count() > 1) {
        // Pool buffers in flight upstream (a queue) keep the old Writer, and so the name, until they are freed: no
        // new ring can be made now. The frames fit, so go on with fewer of them.
        GST_ELEMENT_WARNING(self, RESOURCE, BUSY,
                            ("ring '%s' holds only %" G_GUINT64_FORMAT " of the new %" G_GUINT64_FORMAT
                             "-byte frames, fewer than buffers=%u, and cannot grow while upstream holds buffers of "
                             "it; readers that keep frames can stall it: set size=%" G_GUINT64_FORMAT
                             " so that it never needs to grow",
                             state.active.ring.c_str(), frames_held(state.ring_size, frame_size), frame_size,
                             state.active.buffers, wanted_size),
                            (nullptr));
        return true;
    }
    GST_INFO_OBJECT(self, "caps need %" G_GUINT64_FORMAT " bytes for %u frames of %" G_GUINT64_FORMAT
                    " bytes, the ring has %" G_GUINT64_FORMAT ": recreating it",
                    wanted_size, state.active.buffers, frame_size, state.ring_size);
    const std::weak_ptr<SharedWriter> old_ring = state.ring;
    state.ring.reset(); // Readers see WriterGone; zerobuffersrc reconnect=true follows the new ring.
    state.ring_size = 0;
    if (!old_ring.expired()) {
        GST_ELEMENT_ERROR(self, RESOURCE, BUSY,
                          ("ring '%s' must grow for the new caps but upstream still holds buffers of it: set "
                           "size=%" G_GUINT64_FORMAT " so that it never needs to grow",
                           state.active.ring.c_str(), wanted_size),
                          (nullptr));
        return false;
    }
    return true;
}

} // namespace

static gboolean gst_zero_buffer_sink_start(GstBaseSink* sink)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    {
        const std::lock_guard lock(state.settings_mutex);
        state.active = state.settings;
    }
    if (state.active.ring.empty()) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("no ring name: set the ring property, e.g. ring=cam0"), (nullptr));
        return FALSE;
    }
    state.discont_next = false;
    state.waited_for_reader = false;
    state.unlocking = false;
    state.dropped = 0;
    return TRUE;
}

static gboolean gst_zero_buffer_sink_stop(GstBaseSink* sink)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    if (state.ring) {
        const zerobuffer::WriterCounters counters = state.ring->writer.counters();
        GST_INFO_OBJECT(self,
                        "ring '%s': %" G_GUINT64_FORMAT " frames written (%" G_GUINT64_FORMAT " in place, %" G_GUINT64_FORMAT
                        " copied, %" G_GUINT64_FORMAT " aborted), %" G_GUINT64_FORMAT " dropped on reader timeouts, %"
                        G_GUINT64_FORMAT " waits for room",
                        state.active.ring.c_str(), counters.frames_written, counters.frames_in_place,
                        counters.frames_copied, counters.frames_aborted, state.dropped, counters.waits);
    }
    // Pool buffers still alive upstream keep the Writer until they are freed; the ring closes then.
    state.ring.reset();
    state.ring_size = 0;
    state.format = {};
    state.published_layout = {};
    return TRUE;
}

static gboolean gst_zero_buffer_sink_set_caps(GstBaseSink* sink, GstCaps* caps)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    // The new caps are checked on locals: a refused renegotiation leaves the state of the published format.
    auto format = zerobuffer::gst::stream_format_from_caps(caps);
    if (!format) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("cannot describe the caps for the ring: %s", format.error().message.c_str()),
                          (nullptr));
        return FALSE;
    }
    const bool raw_video = format->media_type == "video/x-raw";
    GstVideoInfo video_info;
    gst_video_info_init(&video_info);
    if (raw_video && !gst_video_info_from_caps(&video_info, caps))
        return FALSE;

    if (state.ring && format->caps == state.format.caps)
        return TRUE; // Renegotiated to the same caps: readers need no new generation.
    const guint64 frame_size = raw_video ? GST_VIDEO_INFO_SIZE(&video_info) : 0;
    const guint buffers = state.active.buffers;
    if (state.ring && state.active.size != 0 && state.ring->writer.max_payload_size() < frame_size) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT,
                          ("ring '%s' of size=%" G_GUINT64_FORMAT " cannot hold the new %" G_GUINT64_FORMAT
                           "-byte frames: set size=%" G_GUINT64_FORMAT " or more (or size=0 to derive it)",
                           state.active.ring.c_str(), state.active.size, frame_size,
                           ring_size_for(frame_size, buffers)),
                          (nullptr));
        return FALSE;
    }
    const guint64 wanted_size = derived_ring_size(state.active, raw_video, video_info);
    if (raw_video && state.ring && state.active.size == 0 && state.ring_size < wanted_size &&
        !drop_ring_for_bigger_caps(self, frame_size, wanted_size))
        return FALSE;
    if (!state.ring && !create_ring(self, wanted_size))
        return FALSE;
    if (raw_video && state.ring->writer.max_payload_size() < frame_size) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT,
                          ("ring '%s' cannot hold one %" G_GUINT64_FORMAT "-byte frame: set size=%" G_GUINT64_FORMAT
                           " or more",
                           state.active.ring.c_str(), frame_size, ring_size_for(frame_size, buffers)),
                          (nullptr));
        return FALSE;
    }
    if (raw_video && state.active.size != 0 && frames_held(state.active.size, frame_size) < buffers) {
        GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS,
                            ("ring '%s' of size=%" G_GUINT64_FORMAT " holds only %" G_GUINT64_FORMAT " frames of %"
                             G_GUINT64_FORMAT " bytes, fewer than buffers=%u; readers that keep frames (a video "
                             "sink's last sample, a queue) can stall it: set size=%" G_GUINT64_FORMAT
                             " (or size=0 to derive it)",
                             state.active.ring.c_str(), state.active.size, frames_held(state.active.size, frame_size),
                             frame_size, buffers, ring_size_for(frame_size, buffers)),
                            (nullptr));
    }
    const zerobuffer::gst::VideoLayout layout =
        raw_video ? zerobuffer::gst::video_layout_of(video_info, nullptr) : zerobuffer::gst::VideoLayout{};
    if (!publish_format(self, *format))
        return FALSE;
    state.raw_video = raw_video;
    state.video_info = video_info;
    state.format = std::move(*format);
    state.published_layout = layout;
    return TRUE;
}

static gboolean gst_zero_buffer_sink_propose_allocation(GstBaseSink* sink, GstQuery* query)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    GstCaps* caps = nullptr;
    gboolean need_pool = FALSE;
    gst_query_parse_allocation(query, &caps, &need_pool);
    gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, nullptr);

    GstVideoInfo info;
    // Only raw video has a fixed frame size to reserve; everything else is copied in at its real size.
    if (caps == nullptr || !state.ring || !gst_video_info_from_caps(&info, caps))
        return TRUE;
    const gsize frame_size = GST_VIDEO_INFO_SIZE(&info);
    if (state.ring->writer.max_payload_size() < frame_size || frame_size > G_MAXUINT) {
        // No ring frames for frames the ring cannot hold, nor for a pool whose size (a guint) cannot say the frame
        // size (4 GiB or more): upstream allocates its own, and render() says what is wrong.
        GST_DEBUG_OBJECT(self, "no pool for %" G_GSIZE_FORMAT "-byte frames", frame_size);
        return TRUE;
    }
    const auto size = static_cast<guint>(frame_size);
    GstBufferPool* pool = gst_zero_buffer_pool_new(state.ring, std::chrono::milliseconds(state.active.reader_timeout_ms));
    GstStructure* config = gst_buffer_pool_get_config(pool);
    gst_buffer_pool_config_set_params(config, caps, size, 0, 0);
    gst_buffer_pool_config_add_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
    if (!gst_buffer_pool_set_config(pool, config)) {
        GST_WARNING_OBJECT(self, "could not configure the ring pool; upstream buffers will be copied");
        gst_object_unref(pool);
        return TRUE;
    }
    gst_query_add_allocation_pool(query, pool, size, 0, 0);
    gst_object_unref(pool);
    return TRUE;
}

static GstFlowReturn gst_zero_buffer_sink_render(GstBaseSink* sink, GstBuffer* buffer)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
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
    if (state.raw_video) {
        // The planes published for this generation must describe this frame exactly (the stream contract).
        const zerobuffer::gst::VideoLayout layout = zerobuffer::gst::video_layout_of(state.video_info, buffer);
        if (!(layout == state.published_layout)) {
            zerobuffer::StreamFormat format = state.format; // Becomes state.format once checked and published.
            zerobuffer::gst::apply_video_layout(format, layout);
            // Readers refuse frames whose planes run past the payload: refuse them here, where the cause is.
            if (auto checked = zerobuffer::gst::check_video_layout(state.video_info, format, layout.frame_size);
                !checked) {
                GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                                  ("upstream sent a %" G_GUINT64_FORMAT "-byte buffer that does not hold a frame of its "
                                   "caps: %s",
                                   layout.frame_size, checked.error().message.c_str()),
                                  (nullptr));
                return GST_FLOW_ERROR;
            }
            if (!publish_format(self, format))
                return GST_FLOW_ERROR;
            state.format = std::move(format);
            state.published_layout = layout;
        }
    }
    const zerobuffer::FrameInfo info = frame_info_of(buffer, state.discont_next);
    state.discont_next = false;

    if (zerobuffer::gst::pool_found_no_room(buffer)) {
        // The pool already waited reader-timeout for room: drop now rather than wait a second time.
        warn_dropped(self, zerobuffer::Error{zerobuffer::Errc::Timeout, "no room in the ring for a pool buffer", 0});
        state.discont_next = true;
        return GST_FLOW_OK;
    }
    zerobuffer::Result<void> written;
    if (auto* pooled = zerobuffer::gst::pool_reservation_of(buffer, state.ring.get())) {
        const std::lock_guard lock(state.ring->mutex);
        written = zerobuffer::gst::commit_pool_buffer(*pooled, info, gst_buffer_get_size(buffer));
        state.ring->reservation_closed.notify_all();
    } else {
        GstFlowReturn flow = GST_FLOW_OK;
        written = write_frame(self, buffer, info, flow);
        if (flow != GST_FLOW_OK)
            return flow; // A flush or a stop interrupted the wait for room: not a drop to report.
    }
    if (written)
        return GST_FLOW_OK;
    if (written.error().code == zerobuffer::Errc::Timeout) {
        warn_dropped(self, written.error()); // A slow or stuck reader must not stop the pipeline.
        state.discont_next = true;
        return GST_FLOW_OK;
    }
    if (written.error().code == zerobuffer::Errc::FrameTooLarge) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT,
                          ("a %" G_GSIZE_FORMAT "-byte buffer does not fit in ring '%s': set a larger size=",
                           gst_buffer_get_size(buffer), state.active.ring.c_str()),
                          ("%s", written.error().message.c_str()));
        return GST_FLOW_ERROR;
    }
    GST_ELEMENT_ERROR(self, RESOURCE, WRITE,
                      ("could not write a frame to ring '%s': %s", state.active.ring.c_str(),
                       written.error().message.c_str()),
                      (nullptr));
    return GST_FLOW_ERROR;
}

static gboolean gst_zero_buffer_sink_event(GstBaseSink* sink, GstEvent* event)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_EOS:
        if (state.ring) {
            zerobuffer::FrameInfo info;
            info.flags = zerobuffer::kFrameEndOfStream;
            GstFlowReturn flow = GST_FLOW_OK;
            const zerobuffer::Result<void> written = write_frame(self, nullptr, info, flow);
            if (!written && flow == GST_FLOW_OK) // Not when a flush or a stop ended the wait.
                GST_ELEMENT_WARNING(self, RESOURCE, WRITE,
                                    ("could not write end-of-stream into ring '%s': %s", state.active.ring.c_str(),
                                     written.error().message.c_str()),
                                    (nullptr));
        }
        break;
    case GST_EVENT_FLUSH_STOP:
        state.discont_next = true; // Readers learn that frames are missing across the seek.
        break;
    default:
        break;
    }
    return GST_BASE_SINK_CLASS(gst_zero_buffer_sink_parent_class)->event(sink, event);
}

static gboolean gst_zero_buffer_sink_unlock(GstBaseSink* sink)
{
    GST_ZERO_BUFFER_SINK(sink)->state->unlocking.store(true, std::memory_order_release);
    return TRUE;
}

static gboolean gst_zero_buffer_sink_unlock_stop(GstBaseSink* sink)
{
    GST_ZERO_BUFFER_SINK(sink)->state->unlocking.store(false, std::memory_order_release);
    return TRUE;
}

static void gst_zero_buffer_sink_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec)
{
    auto* self = GST_ZERO_BUFFER_SINK(object);
    SinkState& state = *self->state;
    const std::lock_guard lock(state.settings_mutex);
    Settings& settings = state.settings;
    switch (prop_id) {
    case PROP_RING: {
        const gchar* name = g_value_get_string(value);
        settings.ring = name != nullptr ? name : "";
        break;
    }
    case PROP_SIZE:
        settings.size = g_value_get_uint64(value);
        break;
    case PROP_BUFFERS:
        settings.buffers = g_value_get_uint(value);
        break;
    case PROP_MAX_READERS:
        settings.max_readers = g_value_get_uint(value);
        break;
    case PROP_WAIT_FOR_READER:
        settings.wait_for_reader = g_value_get_boolean(value);
        break;
    case PROP_READER_TIMEOUT:
        settings.reader_timeout_ms = g_value_get_uint(value);
        break;
    case PROP_CHECKSUM:
        settings.checksum = static_cast<Checksum>(g_value_get_enum(value));
        break;
    case PROP_SECRET: {
        const gchar* secret = g_value_get_string(value);
        settings.secret = secret != nullptr ? secret : "";
        break;
    }
    case PROP_PERMISSIONS:
        settings.permissions = g_value_get_uint(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
}

static void gst_zero_buffer_sink_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec)
{
    auto* self = GST_ZERO_BUFFER_SINK(object);
    SinkState& state = *self->state;
    const std::lock_guard lock(state.settings_mutex);
    const Settings& settings = state.settings;
    switch (prop_id) {
    case PROP_RING:
        g_value_set_string(value, settings.ring.empty() ? nullptr : settings.ring.c_str());
        break;
    case PROP_SIZE:
        g_value_set_uint64(value, settings.size);
        break;
    case PROP_BUFFERS:
        g_value_set_uint(value, settings.buffers);
        break;
    case PROP_MAX_READERS:
        g_value_set_uint(value, settings.max_readers);
        break;
    case PROP_WAIT_FOR_READER:
        g_value_set_boolean(value, settings.wait_for_reader);
        break;
    case PROP_READER_TIMEOUT:
        g_value_set_uint(value, settings.reader_timeout_ms);
        break;
    case PROP_CHECKSUM:
        g_value_set_enum(value, static_cast<gint>(settings.checksum));
        break;
    case PROP_SECRET:
        g_value_set_string(value, settings.secret.empty() ? nullptr : "********"); // Never reveal it.
        break;
    case PROP_PERMISSIONS:
        g_value_set_uint(value, settings.permissions);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
}

static void gst_zero_buffer_sink_finalize(GObject* object)
{
    auto* self = GST_ZERO_BUFFER_SINK(object);
    std::unique_ptr<SinkState> state(self->state);
    self->state = nullptr;
    G_OBJECT_CLASS(gst_zero_buffer_sink_parent_class)->finalize(object);
}

static void gst_zero_buffer_sink_init(GstZeroBufferSink* self)
{
    self->state = std::make_unique<SinkState>().release();
    // The ring is the clock-less pipe between processes: render as fast as upstream delivers.
    gst_base_sink_set_sync(GST_BASE_SINK(self), FALSE);
    // The last sample would keep a pool buffer, and so ring memory, for nothing: readers have the frame.
    gst_base_sink_set_last_sample_enabled(GST_BASE_SINK(self), FALSE);
}

static void gst_zero_buffer_sink_class_init(GstZeroBufferSinkClass* klass)
{
    auto* object_class = G_OBJECT_CLASS(klass);
    auto* element_class = GST_ELEMENT_CLASS(klass);
    auto* sink_class = GST_BASE_SINK_CLASS(klass);

    object_class->set_property = gst_zero_buffer_sink_set_property;
    object_class->get_property = gst_zero_buffer_sink_get_property;
    object_class->finalize = gst_zero_buffer_sink_finalize;

    const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
    g_object_class_install_property(
        object_class, PROP_RING,
        g_param_spec_string("ring", "Ring name",
                            "Name of the ring to create (shared memory /dev/shm/zb-NAME; letters, digits, '-', '_', "
                            "'.'). Required",
                            nullptr, flags));
    g_object_class_install_property(
        object_class, PROP_SIZE,
        g_param_spec_uint64("size", "Ring size",
                            "Payload bytes of the ring; 0 = derive from the caps: raw video frame size x buffers "
                            "(again when new caps would leave fewer frames), 32 MiB for other streams",
                            0, G_MAXUINT64, 0, flags));
    g_object_class_install_property(
        object_class, PROP_BUFFERS,
        g_param_spec_uint("buffers", "Buffers",
                          "Raw video frames the ring holds when size=0 (an explicit size that holds fewer warns)", 2,
                          1024, kDefaultBuffers, flags));
    g_object_class_install_property(
        object_class, PROP_MAX_READERS,
        g_param_spec_uint("max-readers", "Maximum readers", "Reader slots of the ring", 1, 64, kDefaultMaxReaders,
                          flags));
    g_object_class_install_property(
        object_class, PROP_WAIT_FOR_READER,
        g_param_spec_boolean("wait-for-reader", "Wait for a reader",
                             "Hold the first frame until at least one reader is attached (again after the ring was "
                             "recreated for bigger caps)",
                             FALSE, flags));
    g_object_class_install_property(
        object_class, PROP_READER_TIMEOUT,
        g_param_spec_uint("reader-timeout", "Reader timeout (ms)",
                          "Longest wait in milliseconds for lossless readers to make room; then the frame is "
                          "dropped with a warning and the pipeline continues (dead readers are reclaimed meanwhile)",
                          1, G_MAXUINT, kDefaultReaderTimeoutMs, flags));
    g_object_class_install_property(
        object_class, PROP_CHECKSUM,
        g_param_spec_enum("checksum", "Checksum",
                          "Per-frame digest readers verify (ignored when secret is set: then keyed MACs are used)",
                          GST_TYPE_ZERO_BUFFER_CHECKSUM, static_cast<gint>(Checksum::None), flags));
    g_object_class_install_property(
        object_class, PROP_SECRET,
        g_param_spec_string("secret", "Secret",
                            "Shared secret: every frame carries a keyed BLAKE2b MAC and readers need the same secret "
                            "(use a long random string)",
                            nullptr, flags));
    g_object_class_install_property(
        object_class, PROP_PERMISSIONS,
        g_param_spec_uint("permissions", "Permissions",
                          "File mode of the shared-memory object, e.g. 0600 (owner only) or 0660 (group may read)", 0,
                          0777, kDefaultPermissions, flags));

    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_set_static_metadata(element_class, "ZeroBuffer sink", "Sink/Video/Audio",
                                          "Writes buffers, caps and timestamps into a shared-memory ZeroBuffer ring "
                                          "(zero copy from upstream through its buffer pool)",
                                          "ZeroBuffer developers");

    sink_class->start = gst_zero_buffer_sink_start;
    sink_class->stop = gst_zero_buffer_sink_stop;
    sink_class->set_caps = gst_zero_buffer_sink_set_caps;
    sink_class->propose_allocation = gst_zero_buffer_sink_propose_allocation;
    sink_class->render = gst_zero_buffer_sink_render;
    sink_class->event = gst_zero_buffer_sink_event;
    sink_class->unlock = gst_zero_buffer_sink_unlock;
    sink_class->unlock_stop = gst_zero_buffer_sink_unlock_stop;

    gst_type_mark_as_plugin_api(GST_TYPE_ZERO_BUFFER_CHECKSUM, static_cast<GstPluginAPIFlags>(0));
    GST_DEBUG_CATEGORY_INIT(gst_zero_buffer_sink_debug, "zerobuffersink", 0, "ZeroBuffer ring sink");
}
