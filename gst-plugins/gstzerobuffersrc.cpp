// SPDX-License-Identifier: MIT
// zerobuffersrc: reads frames from a ZeroBuffer ring as zero-copy buffers, with caps from the ring's metadata.
//
// Each output buffer wraps one frame's payload read-only; the frame is released when downstream frees the buffer,
// in any order and from any thread. Every buffer holds a reference to the Reader, so the Reader outlives the
// last buffer even when the element stopped while a queue still held some. Once downstream keeps more than the
// ring can spare (an encoder's lookahead), further frames are copied (frame_buffers.h). This file holds the
// GObject side (properties, states, the class); src_state.h lists the files that do the rest.
#include "gstzerobuffersrc.h"

#include "src_state.h"

GST_DEBUG_CATEGORY(gst_zero_buffer_src_debug);
#define GST_CAT_DEFAULT gst_zero_buffer_src_debug

namespace zbsrc = zerobuffer::gst::src;
using zbsrc::Policy;
using zbsrc::Settings;
using zbsrc::SrcState;
using zbsrc::WaitMode;

G_DEFINE_TYPE(GstZeroBufferSrc, gst_zero_buffer_src, GST_TYPE_PUSH_SRC)

enum {
    PROP_0,
    PROP_RING,
    PROP_POLICY,
    PROP_WAIT_MODE,
    PROP_TIMEOUT,
    PROP_RECONNECT,
    PROP_SECRET,
    PROP_VERIFY_CHECKSUM,
    PROP_MAX_HELD,
    PROP_MAX_LAG,
    PROP_IS_LIVE,
    PROP_COMMIT_TIMESTAMP_META,
    PROP_STATS,
    PROP_STATS_INTERVAL,
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

GType gst_zero_buffer_wait_mode_get_type(void)
{
    static GType type = 0;
    static const GEnumValue values[] = {
        {static_cast<gint>(WaitMode::Cadence),
         "On a periodic stream, sleep until just before the next frame is due and poll for it briefly (low "
         "latency, bounded CPU); otherwise as sleep",
         "cadence"},
        {static_cast<gint>(WaitMode::Sleep), "Sleep until the writer's commit wakes this reader", "sleep"},
        {0, nullptr, nullptr},
    };
    if (g_once_init_enter(&type))
        g_once_init_leave(&type, g_enum_register_static("GstZeroBufferWaitMode", values));
    return type;
}

// The ring is attached here, before GstBaseSrc calls start(): a start() that fails makes GstBaseSrc post a second,
// generic "state change failed" error after the one that says what is wrong.
static GstStateChangeReturn gst_zero_buffer_src_change_state(GstElement* element, GstStateChange transition)
{
    auto* self = GST_ZERO_BUFFER_SRC(element);
    if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !zbsrc::prepare(self))
        return GST_STATE_CHANGE_FAILURE;
    return GST_ELEMENT_CLASS(gst_zero_buffer_src_parent_class)->change_state(element, transition);
}

static gboolean gst_zero_buffer_src_start(GstBaseSrc*) { return TRUE; }

static gboolean gst_zero_buffer_src_stop(GstBaseSrc* src)
{
    SrcState& state = *GST_ZERO_BUFFER_SRC(src)->state;
    if (state.reader && state.frames_copied != 0)
        GST_INFO_OBJECT(src, "ring '%s': %" G_GUINT64_FORMAT " frames copied; downstream kept at most %u buffers (%" G_GUINT64_FORMAT
                             " bytes) at once: a ring of %" G_GUINT64_FORMAT " bytes would have kept them all zero copy",
                        state.active.ring.c_str(), state.frames_copied, state.reader->peak_alive.load(),
                        state.reader->peak_bytes.load(), 2 * state.reader->peak_bytes.load());
    zbsrc::note_stats(GST_ZERO_BUFFER_SRC(src)); // The stats property keeps the final figures after stop.
    state.reader.reset(); // Buffers still downstream keep the Reader until they are freed.
    zbsrc::set_current_caps(state, nullptr);
    state.format = {};
    if (state.keyframe_requests != 0)
        GST_INFO_OBJECT(src, "ring '%s': asked the writer for %" G_GUINT64_FORMAT " keyframes", state.active.ring.c_str(),
                        state.keyframe_requests);
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


static gboolean gst_zero_buffer_src_query(GstBaseSrc* src, GstQuery* query)
{
    if (GST_QUERY_TYPE(query) == GST_QUERY_LATENCY)
        return zbsrc::answer_latency(GST_ZERO_BUFFER_SRC(src), query);
    return GST_BASE_SRC_CLASS(gst_zero_buffer_src_parent_class)->query(src, query);
}

static gboolean gst_zero_buffer_src_event(GstBaseSrc* src, GstEvent* event)
{
    if (zbsrc::handle_upstream_event(GST_ZERO_BUFFER_SRC(src), event))
        return TRUE;
    return GST_BASE_SRC_CLASS(gst_zero_buffer_src_parent_class)->event(src, event);
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
    if (prop_id == PROP_STATS_INTERVAL) { // The stats' own lock: settable while playing.
        state.stats.set_interval(g_value_get_uint(value));
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
    case PROP_WAIT_MODE:
        settings.wait_mode = static_cast<WaitMode>(g_value_get_enum(value));
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
    case PROP_POLICY:
        g_value_set_enum(value, static_cast<gint>(settings.policy));
        break;
    case PROP_WAIT_MODE:
        g_value_set_enum(value, static_cast<gint>(settings.wait_mode));
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
        object_class, PROP_WAIT_MODE,
        g_param_spec_enum("wait-mode", "Wait mode",
                          "How a read waits for the next frame: cadence (default) learns a live stream's frame "
                          "interval and wakes just before each frame, for low latency at a bounded CPU cost; sleep "
                          "waits for the writer's wake-up (docs/latency.md)",
                          GST_TYPE_ZERO_BUFFER_WAIT_MODE, static_cast<gint>(WaitMode::Cadence), flags));
    g_object_class_install_property(
        object_class, PROP_TIMEOUT,
        g_param_spec_uint("timeout", "Timeout (ms)",
                          "Milliseconds to wait for the next frame (or, with reconnect, for a writer) before posting "
                          "an error; 0 = wait forever",
                          0, G_MAXUINT, zbsrc::kDefaultTimeoutMs, flags));
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
                          0, 4096, zbsrc::kDefaultMaxHeld, flags));
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
    g_object_class_install_property(
        object_class, PROP_STATS,
        g_param_spec_boxed("stats", "Statistics",
                           "zerobuffer-stats since start: frames, bytes, in-place (zero copy), copied, dropped "
                           "(skipped or corrupt), overruns, waits and wait-time-us for frames, lag-frames (behind the "
                           "writer), readers, latency-p50/p90/p99/max-us from the writer's commit to the push over "
                           "the last second (docs/gstreamer.md)",
                           GST_TYPE_STRUCTURE, static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
    g_object_class_install_property(
        object_class, PROP_STATS_INTERVAL,
        g_param_spec_uint("stats-interval", "Statistics interval (ms)",
                          "Post the stats as a zerobuffer-stats element message every this many milliseconds while "
                          "frames flow; 0 = never",
                          0, G_MAXUINT, 0,
                          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                   GST_PARAM_MUTABLE_PLAYING)));

    gst_element_class_add_static_pad_template(element_class, &src_template);
    element_class->change_state = gst_zero_buffer_src_change_state;
    gst_element_class_set_static_metadata(
        element_class, "ZeroBuffer source", "Source/Video/Audio",
        "Reads frames that zerobuffersink (or zb-ingest) writes into a shared-memory ZeroBuffer ring, as zero-copy "
        "buffers with the ring's caps, timestamps, running time and metas; no caps filter needed. Example: "
        "gst-launch-1.0 zerobuffersrc ring=cam0 ! videoconvert ! autovideosink",
        "ZeroBuffer developers");

    base_src_class->start = gst_zero_buffer_src_start;
    base_src_class->stop = gst_zero_buffer_src_stop;
    base_src_class->get_caps = zbsrc::get_caps;
    base_src_class->negotiate = zbsrc::negotiate;
    base_src_class->query = gst_zero_buffer_src_query;
    base_src_class->event = gst_zero_buffer_src_event;
    base_src_class->decide_allocation = gst_zero_buffer_src_decide_allocation;
    base_src_class->is_seekable = gst_zero_buffer_src_is_seekable;
    base_src_class->unlock = gst_zero_buffer_src_unlock;
    base_src_class->unlock_stop = gst_zero_buffer_src_unlock_stop;
    push_src_class->create = zbsrc::create;

    gst_type_mark_as_plugin_api(GST_TYPE_ZERO_BUFFER_POLICY, static_cast<GstPluginAPIFlags>(0));
    gst_type_mark_as_plugin_api(GST_TYPE_ZERO_BUFFER_WAIT_MODE, static_cast<GstPluginAPIFlags>(0));
    GST_DEBUG_CATEGORY_INIT(gst_zero_buffer_src_debug, "zerobuffersrc", 0, "ZeroBuffer ring source");
}
