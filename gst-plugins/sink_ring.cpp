// SPDX-License-Identifier: MIT
// zerobuffersink: creating, sizing and re-making the ring, and publishing the stream format into it.
#include "sink_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_sink_debug

namespace zerobuffer::gst::sink {

guint64 ring_size_for(guint64 frame_size, guint buffers)
{
    return (frame_size + kRecordOverhead) * buffers;
}
guint64 frames_held(guint64 ring_size, guint64 frame_size)
{
    return ring_size / (frame_size + kRecordOverhead);
}

guint64 derived_ring_size(const Settings& settings, bool raw_video, const GstVideoInfo& info)
{
    if (settings.size != 0)
        return settings.size;
    if (!raw_video)
        return kDefaultUnsizedRing;
    return ring_size_for(GST_VIDEO_INFO_SIZE(&info), settings.buffers);
}

bool create_ring(GstZeroBufferSink* self, guint64 ring_size)
{
    SinkState& state = *self->state;
    const Settings& settings = state.active;
    WriterOptions options;
    options.ring_size = static_cast<std::size_t>(ring_size);
    options.max_readers = settings.max_readers;
    options.permissions = settings.permissions;
    // reserve() waits at most one slice; write_frame() repeats it up to reader-timeout, checking for flushes.
    options.reader_timeout =
        std::min<std::chrono::nanoseconds>(std::chrono::milliseconds(settings.reader_timeout_ms), kRingWaitSlice);
    options.max_outstanding = std::max<std::uint32_t>(16, settings.buffers * 2);
    if (!settings.secret.empty()) {
        options.integrity = Integrity::Mac;
        options.secret = settings.secret;
    } else if (settings.checksum == Checksum::Checksum) {
        options.integrity = Integrity::Checksum;
    }
    auto writer = Writer::create(settings.ring, options);
    if (writer) {
        state.ring = std::make_shared<SharedWriter>(std::move(*writer));
        state.ring_size = ring_size;
        state.waited_for_reader = false; // wait-for-reader holds the first frame of every ring, also a recreated one.
        state.eos_frames = 0;
        state.stats.begin_source(-1); // Its counters start at 0: the stats keep what the earlier ring counted.
        GST_INFO_OBJECT(self, "created ring '%s' of %" G_GUINT64_FORMAT " bytes", settings.ring.c_str(), ring_size);
        return true;
    }
    const Error& error = writer.error();
    const std::string& name = settings.ring;
    switch (error.code) {
    case Errc::Busy:
        GST_ELEMENT_ERROR(
            self, RESOURCE, BUSY,
            ("ring '%s' already has a live writer: stop that writer or use another ring name", name.c_str()),
            ("%s", error.message.c_str()));
        break;
    case Errc::SystemError:
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

bool publish_format(GstZeroBufferSink* self, const StreamFormat& format)
{
    SinkState& state = *self->state;
    std::string json;
    try {
        json = to_json(format);
    } catch (const std::exception& error) { // nlohmann refuses caps strings that are not UTF-8: no throw into C.
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("cannot describe the caps as stream metadata: %s", error.what()),
                          (nullptr));
        return false;
    }
    Result<std::uint32_t> generation;
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

// Readers see the old writer go; zerobuffersrc reconnect=true follows. (Other streams keep the ring they find: their
// frames have no fixed size.)
bool drop_ring_for_bigger_caps(GstZeroBufferSink* self, guint64 frame_size, guint64 wanted_size)
{
    SinkState& state = *self->state;
    auto* sink = GST_BASE_SINK(self);
    if (gst_base_sink_is_last_sample_enabled(sink)) {
        // The last-sample may be a pool buffer of the old ring: drop it (toggling clears it).
        gst_base_sink_set_last_sample_enabled(sink, FALSE);
        gst_base_sink_set_last_sample_enabled(sink, TRUE);
    }
    const bool frames_fit = state.ring->writer.max_payload_size(kPoolMetadataCapacity) >= frame_size;
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
    GST_INFO_OBJECT(self,
                    "caps need %" G_GUINT64_FORMAT " bytes for %u frames of %" G_GUINT64_FORMAT
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

} // namespace zerobuffer::gst::sink
