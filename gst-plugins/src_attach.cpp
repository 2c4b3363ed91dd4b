// SPDX-License-Identifier: MIT
// zerobuffersrc: attaching to the ring, and the errors a user sees when that fails.
#include "src_state.h"

#define GST_CAT_DEFAULT gst_zero_buffer_src_debug

namespace zerobuffer::gst::src {

AttachResult attach(GstZeroBufferSrc* self)
{
    SrcState& state = *self->state;
    const Settings& settings = state.active;
    ReaderOptions options;
    options.policy = settings.policy == Policy::Latest ? ReaderPolicy::Latest : ReaderPolicy::Lossless;
    options.max_lag_frames = settings.policy == Policy::Latest ? settings.max_lag : 0;
    options.wait_mode = settings.wait_mode == WaitMode::Sleep ? zerobuffer::WaitMode::Sleep : zerobuffer::WaitMode::Cadence;
    options.verify = settings.verify_checksum;
    options.secret = settings.secret;
    auto reader = Reader::attach(settings.ring, options);
    if (reader) {
        state.reader = std::make_shared<SharedReader>(std::move(*reader));
        state.budget = ZeroCopyBudget::for_reader(state.reader->reader, settings.max_held);
        state.stats.begin_source(state.reader->reader.slot_index()); // Its counters start at 0: keep the totals.
        state.need_caps = true;
        state.need_keyframe = true; // Until the first frame says whether the stream is encoded.
        GST_INFO_OBJECT(self, "attached to ring '%s'", settings.ring.c_str());
        return AttachResult::Attached;
    }
    const Error& error = reader.error();
    const std::string& name = settings.ring;
    switch (error.code) {
    case Errc::NotFound:
    case Errc::WriterGone:
        if (settings.reconnect)
            return AttachResult::Retry;
        GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND,
                          ("ring '%s' does not exist (no writer has created /dev/shm/zb-%s): start the writer first "
                           "or set reconnect=true",
                           name.c_str(), name.c_str()),
                          ("%s", error.message.c_str()));
        break;
    case Errc::AuthenticationFailed:
        GST_ELEMENT_ERROR(self, RESOURCE, NOT_AUTHORIZED,
                          ("wrong or missing secret for ring '%s': set secret= to the writer's secret", name.c_str()),
                          ("%s", error.message.c_str()));
        break;
    case Errc::Busy:
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

bool prepare(GstZeroBufferSrc* self)
{
    SrcState& state = *self->state;
    {
        const std::lock_guard lock(state.settings_mutex);
        state.active = state.settings;
    }
    if (state.active.ring.empty()) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("no ring name: set the ring property, e.g. ring=cam0"), (nullptr));
        return false;
    }
    state.need_caps = true;
    state.need_keyframe = false;
    state.discont_next = false;
    state.warned_held = false;
    state.warned_copies = false;
    state.warned_meta = false;
    state.frames_copied = 0;
    state.keyframe_requests = 0;
    state.pushed = {};
    state.stats.reset(state.active.ring);
    state.flushing = false;
    reset_timeline(self);
    // Without reconnect a missing ring is an error at once; with it, create() waits for the writer.
    return state.active.reconnect || attach(self) == AttachResult::Attached;
}

} // namespace zerobuffer::gst::src
