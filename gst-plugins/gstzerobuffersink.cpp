// SPDX-License-Identifier: MIT
// zerobuffersink: writes a pipeline's buffers, caps and timestamps into a ZeroBuffer ring.
//
// The ring is created at the first caps, sized from them (size=0: frame size x buffers, again at every caps that
// would leave it fewer frames than that). Raw video from upstream that renders into the pool we propose
// (gstzerobufferpool) is already in the ring and only committed; any other buffer is copied in once, marked as
// copied, so the ring's counters tell the two paths apart. This file holds the GObject side (properties, states,
// the class); sink_state.h lists the files that do the rest.
#include "gstzerobuffersink.h"

#include "sink_state.h"

GST_DEBUG_CATEGORY(gst_zero_buffer_sink_debug);
#define GST_CAT_DEFAULT gst_zero_buffer_sink_debug

namespace zbsink = zerobuffer::gst::sink;
using zbsink::Checksum;
using zbsink::Settings;
using zbsink::SinkState;

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
    PROP_STATS,
    PROP_STATS_INTERVAL,
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

// The settings are checked here, before GstBaseSink calls start(): a start() that fails makes GstBaseSink post a
// second, generic "state change failed" error after ours.
static GstStateChangeReturn gst_zero_buffer_sink_change_state(GstElement* element, GstStateChange transition)
{
    auto* self = GST_ZERO_BUFFER_SINK(element);
    SinkState& state = *self->state;
    if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
        {
            const std::lock_guard lock(state.settings_mutex);
            state.active = state.settings;
        }
        if (state.active.ring.empty()) {
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("no ring name: set the ring property, e.g. ring=cam0"),
                              (nullptr));
            return GST_STATE_CHANGE_FAILURE;
        }
    }
    return GST_ELEMENT_CLASS(gst_zero_buffer_sink_parent_class)->change_state(element, transition);
}

static gboolean gst_zero_buffer_sink_start(GstBaseSink* sink)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    state.discont_next = false;
    state.waited_for_reader = false;
    state.unlocking = false;
    state.dropped = 0;
    state.keyframe_requests = 0;
    state.eos_frames = 0;
    state.stats.reset(state.active.ring);
    state.stats_ticker.start(GST_ELEMENT(self), state.stats);
    zbsink::timeline_reset(self);
    return TRUE;
}

static gboolean gst_zero_buffer_sink_stop(GstBaseSink* sink)
{
    auto* self = GST_ZERO_BUFFER_SINK(sink);
    SinkState& state = *self->state;
    state.stats_ticker.stop();
    zbsink::note_stats(self); // The stats property keeps the final figures after stop.
    if (state.ring) {
        const zerobuffer::WriterCounters counters = state.ring->writer.counters();
        GST_INFO_OBJECT(self,
                        "ring '%s': %" G_GUINT64_FORMAT " frames written (%" G_GUINT64_FORMAT " in place, %" G_GUINT64_FORMAT
                        " copied, %" G_GUINT64_FORMAT " aborted), %" G_GUINT64_FORMAT " dropped on reader timeouts, %"
                        G_GUINT64_FORMAT " waits for room, %" G_GUINT64_FORMAT " keyframe requests",
                        state.active.ring.c_str(), counters.frames_written, counters.frames_in_place,
                        counters.frames_copied, counters.frames_aborted, state.dropped, counters.waits,
                        state.keyframe_requests);
    }
    // Pool buffers still alive upstream keep the Writer until they are freed; the ring closes then.
    state.ring.reset();
    state.ring_size = 0;
    state.format = {};
    state.published_layout = {};
    state.timeline = {};
    return TRUE;
}

static gboolean gst_zero_buffer_sink_event(GstBaseSink* sink, GstEvent* event)
{
    zbsink::handle_event(GST_ZERO_BUFFER_SINK(sink), event);
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
    if (prop_id == PROP_STATS_INTERVAL) { // The stats' own lock: settable while playing.
        state.stats.set_interval(g_value_get_uint(value));
        state.stats_ticker.interval_changed();
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
    if (prop_id == PROP_STATS) {
        g_value_take_boxed(value, state.stats.structure());
        return;
    }
    if (prop_id == PROP_STATS_INTERVAL) {
        g_value_set_uint(value, state.stats.interval());
        return;
    }
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
                            "Bytes of frame memory in the ring; 0 = derive from the caps: raw video (frame size + 320) x buffers "
                            "(again when new caps would leave fewer frames), 32 MiB for other streams",
                            0, G_MAXUINT64, 0, flags));
    g_object_class_install_property(
        object_class, PROP_BUFFERS,
        g_param_spec_uint("buffers", "Buffers",
                          "Raw video frames the ring holds when size=0 (an explicit size that holds fewer warns)", 2,
                          1024, zbsink::kDefaultBuffers, flags));
    g_object_class_install_property(
        object_class, PROP_MAX_READERS,
        g_param_spec_uint("max-readers", "Maximum readers", "Reader slots of the ring", 1, 64, zbsink::kDefaultMaxReaders,
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
                          1, G_MAXUINT, zbsink::kDefaultReaderTimeoutMs, flags));
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
                          "File mode of the shared-memory object, octal on the command line: permissions=0600 (owner only) or 0660 "
                          "(group may read); gst-inspect shows it in decimal (384 = 0600)", 0,
                          0777, zbsink::kDefaultPermissions, flags));
    g_object_class_install_property(
        object_class, PROP_STATS,
        g_param_spec_boxed("stats", "Statistics",
                           "zerobuffer-stats since start: frames, bytes, in-place (zero copy), copied, dropped (on "
                           "reader-timeout), waits and wait-time-us for room, lag-frames (furthest live reader), "
                           "readers, latency-p50/p90/p99/max-us of render() over the last second (docs/gstreamer.md)",
                           GST_TYPE_STRUCTURE, static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
    g_object_class_install_property(
        object_class, PROP_STATS_INTERVAL,
        g_param_spec_uint("stats-interval", "Statistics interval (ms)",
                          "Post the stats as a zerobuffer-stats element message every this many milliseconds from "
                          "start to stop, also while no frames come; 0 = never",
                          0, G_MAXUINT, 0,
                          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                   GST_PARAM_MUTABLE_PLAYING)));

    gst_element_class_add_static_pad_template(element_class, &sink_template);
    element_class->change_state = gst_zero_buffer_sink_change_state;
    gst_element_class_set_static_metadata(
        element_class, "ZeroBuffer sink", "Sink/Video/Audio",
        "Writes buffers, caps, timestamps, segments and metas into a shared-memory ZeroBuffer ring that "
        "zerobuffersrc reads in other processes (zero copy from upstream through its buffer pool). Example: "
        "gst-launch-1.0 videotestsrc ! video/x-raw,width=1920,height=1080 ! zerobuffersink ring=cam0",
        "ZeroBuffer developers");

    sink_class->start = gst_zero_buffer_sink_start;
    sink_class->stop = gst_zero_buffer_sink_stop;
    sink_class->set_caps = zbsink::set_caps;
    sink_class->get_caps = zbsink::get_caps;
    sink_class->propose_allocation = zbsink::propose_allocation;
    sink_class->render = zbsink::render;
    sink_class->event = gst_zero_buffer_sink_event;
    sink_class->unlock = gst_zero_buffer_sink_unlock;
    sink_class->unlock_stop = gst_zero_buffer_sink_unlock_stop;

    gst_type_mark_as_plugin_api(GST_TYPE_ZERO_BUFFER_CHECKSUM, static_cast<GstPluginAPIFlags>(0));
    GST_DEBUG_CATEGORY_INIT(gst_zero_buffer_sink_debug, "zerobuffersink", 0, "ZeroBuffer ring sink");
}
