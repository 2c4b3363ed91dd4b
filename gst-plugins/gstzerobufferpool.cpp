// SPDX-License-Identifier: MIT
// The buffer pool zerobuffersink offers upstream: every buffer's memory is a reservation inside the ring.
//
// Reservations are made when upstream acquires a buffer (not when the pool starts): a reservation idling in a free
// list would keep ring memory from readers for nothing. A buffer is never recycled; its memory's destroy notify
// aborts the reservation unless the sink committed it, and gives a committed frame's memory back to the ring. The
// ring publishes frames in commit order, so buffers upstream keeps (a decoder's reference frames) or drops hold
// back nothing.
#include "gstzerobufferpool.h"

#include <algorithm>

#include <gst/video/video.h>

GST_DEBUG_CATEGORY_STATIC(gst_zero_buffer_pool_debug);
#define GST_CAT_DEFAULT gst_zero_buffer_pool_debug

namespace {

using zerobuffer::gst::PoolReservation;
using zerobuffer::gst::SharedWriter;

GQuark reservation_quark()
{
    static const GQuark quark = g_quark_from_static_string("zerobuffer-pool-reservation");
    return quark;
}

GQuark no_room_quark()
{
    static const GQuark quark = g_quark_from_static_string("zerobuffer-pool-no-room");
    return quark;
}

struct PoolState {
    /// Weak: only buffers in flight keep the Writer alive, so that the sink can replace its ring (bigger caps)
    /// while upstream still holds this pool. Once the ring is gone, the pool hands out ordinary memory.
    std::weak_ptr<SharedWriter> owner;
    std::chrono::nanoseconds timeout{};
    std::size_t frame_size = 0;
};

void release_reservation(gpointer data)
{
    std::unique_ptr<PoolReservation> holder(static_cast<PoolReservation*>(data));
    {
        const std::lock_guard lock(holder->owner->mutex);
        if (holder->reservation.valid()) {
            holder->reservation.abort(); // Dropped before render.
            holder->owner->reservation_closed.notify_all();
        }
        holder->committed.release(); // Rendered: readers may be done with it, upstream is.
        --holder->owner->pool_kept;
    }
    // holder (and maybe the last reference to the Writer) goes away after the lock is released.
}

} // namespace

struct _GstZeroBufferPool {
    GstBufferPool parent;
    PoolState* state; ///< Owned; created in gst_zero_buffer_pool_new, destroyed in finalize.
};

G_DEFINE_TYPE(GstZeroBufferPool, gst_zero_buffer_pool, GST_TYPE_BUFFER_POOL)

namespace zerobuffer::gst {

PoolReservation* pool_reservation_of(GstBuffer* buffer, const SharedWriter* owner)
{
    if (gst_buffer_n_memory(buffer) != 1)
        return nullptr;
    GstMemory* memory = gst_buffer_peek_memory(buffer, 0);
    auto* holder = static_cast<PoolReservation*>(gst_mini_object_get_qdata(GST_MINI_OBJECT_CAST(memory),
                                                                            reservation_quark()));
    if (holder == nullptr || holder->owner.get() != owner || !holder->reservation.valid())
        return nullptr;
    gsize offset = 0;
    gsize max_size = 0;
    const gsize size = gst_memory_get_sizes(memory, &offset, &max_size);
    if (offset != 0 || size > holder->reservation.payload().size())
        return nullptr;
    return holder;
}

std::uint32_t pool_budget(std::size_t ring_size, std::size_t frame_size, std::size_t metadata_capacity) noexcept
{
    const std::size_t extent = (frame_size + 63) / 64 * 64 + (metadata_capacity + 63) / 64 * 64;
    const std::size_t frames = extent == 0 ? 0 : ring_size / extent;
    return static_cast<std::uint32_t>(std::max<std::size_t>(1, frames / 2 > 1 ? frames / 2 - 1 : 1));
}

Result<void> commit_pool_buffer(PoolReservation& pooled, const FrameInfo& info, std::size_t size,
                                std::span<const std::byte> metadata)
{
    const std::span<std::byte> area = pooled.reservation.metadata();
    if (metadata.size() > area.size())
        return make_error(Errc::InvalidArgument, "frame metadata larger than the pool reservation's metadata area");
    std::copy(metadata.begin(), metadata.end(), area.begin());
    auto committed = pooled.owner->writer.commit_retained(pooled.reservation, info, size, metadata.size());
    if (!committed)
        return tl::unexpected(std::move(committed.error()));
    pooled.committed = std::move(*committed);
    return {};
}

bool pool_found_no_room(GstBuffer* buffer)
{
    return gst_mini_object_get_qdata(GST_MINI_OBJECT_CAST(buffer), no_room_quark()) != nullptr;
}

} // namespace zerobuffer::gst

static const gchar** gst_zero_buffer_pool_get_options(GstBufferPool*)
{
    static const gchar* options[] = {GST_BUFFER_POOL_OPTION_VIDEO_META, nullptr};
    return options;
}

static gboolean gst_zero_buffer_pool_set_config(GstBufferPool* pool, GstStructure* config)
{
    auto* self = GST_ZERO_BUFFER_POOL(pool);
    GstCaps* caps = nullptr;
    guint size = 0;
    guint min_buffers = 0;
    guint max_buffers = 0;
    if (!gst_buffer_pool_config_get_params(config, &caps, &size, &min_buffers, &max_buffers) || size == 0) {
        GST_WARNING_OBJECT(pool, "invalid config");
        return FALSE;
    }
    self->state->frame_size = size;
    return GST_BUFFER_POOL_CLASS(gst_zero_buffer_pool_parent_class)->set_config(pool, config);
}

// Nothing to preallocate: buffers are made per acquire (see the file comment).
static gboolean gst_zero_buffer_pool_start(GstBufferPool*) { return TRUE; }
static gboolean gst_zero_buffer_pool_stop(GstBufferPool*) { return TRUE; }
static void gst_zero_buffer_pool_reset_buffer(GstBufferPool*, GstBuffer*) {}
static void gst_zero_buffer_pool_release_buffer(GstBufferPool*, GstBuffer* buffer)
{
    gst_buffer_unref(buffer); // buffer->pool is already cleared: this frees it, and its memory aborts if open.
}

static GstFlowReturn gst_zero_buffer_pool_acquire_buffer(GstBufferPool* pool, GstBuffer** buffer,
                                                         GstBufferPoolAcquireParams* params)
{
    auto* self = GST_ZERO_BUFFER_POOL(pool);
    PoolState& state = *self->state;
    const bool dont_wait = params != nullptr && (params->flags & GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT) != 0;
    const auto deadline = std::chrono::steady_clock::now() + state.timeout;
    const auto slice = dont_wait ? std::chrono::nanoseconds(0)
                                 : std::min<std::chrono::nanoseconds>(zerobuffer::gst::kRingWaitSlice, state.timeout);
    const std::shared_ptr<SharedWriter> shared_owner = state.owner.lock();
    if (!shared_owner) {
        GST_DEBUG_OBJECT(pool, "the sink replaced its ring: ordinary memory until upstream renegotiates");
        *buffer = gst_buffer_new_allocate(nullptr, state.frame_size, nullptr);
        return *buffer != nullptr ? GST_FLOW_OK : GST_FLOW_ERROR;
    }
    SharedWriter& owner = *shared_owner;
    std::unique_lock lock(owner.mutex);
    while (true) {
        if (GST_BUFFER_POOL_IS_FLUSHING(pool))
            return GST_FLOW_FLUSHING;
        if (owner.pool_kept >=
            zerobuffer::gst::pool_budget(owner.writer.ring_size(), state.frame_size, owner.metadata_capacity)) {
            lock.unlock();
            GST_LOG_OBJECT(pool, "upstream keeps %u ring buffers (its share of the ring): ordinary memory", owner.pool_kept);
            *buffer = gst_buffer_new_allocate(nullptr, state.frame_size, nullptr);
            return *buffer != nullptr ? GST_FLOW_OK : GST_FLOW_ERROR;
        }
        auto reserved = owner.writer.reserve(state.frame_size, owner.metadata_capacity, slice);
        if (reserved) {
            ++owner.pool_kept;
            lock.unlock();
            auto holder = std::make_unique<PoolReservation>(PoolReservation{shared_owner, std::move(*reserved), {}});
            const std::span<std::byte> payload = holder->reservation.payload();
            GstMemory* memory = gst_memory_new_wrapped(static_cast<GstMemoryFlags>(0), payload.data(), payload.size(), 0,
                                                       payload.size(), holder.get(), release_reservation);
            gst_mini_object_set_qdata(GST_MINI_OBJECT_CAST(memory), reservation_quark(), holder.release(), nullptr);
            *buffer = gst_buffer_new();
            gst_buffer_append_memory(*buffer, memory);
            return GST_FLOW_OK;
        }
        const zerobuffer::Errc code = reserved.error().code;
        const bool time_left = !dont_wait && std::chrono::steady_clock::now() < deadline;
        if (code == zerobuffer::Errc::Timeout && time_left) {
            lock.unlock(); // Let the streaming thread commit between slices.
            lock.lock();
            continue;
        }
        lock.unlock();
        // No room (slow readers, too many open reservations, a frame larger than the ring): hand out ordinary
        // memory; the sink copies it in at render time, where a lasting lack of room is reported.
        GST_DEBUG_OBJECT(pool, "ring reservation failed (%s), falling back to system memory",
                         reserved.error().message.c_str());
        *buffer = gst_buffer_new_allocate(nullptr, state.frame_size, nullptr);
        if (*buffer == nullptr)
            return GST_FLOW_ERROR;
        if (code == zerobuffer::Errc::Timeout && !dont_wait)
            gst_mini_object_set_qdata(GST_MINI_OBJECT_CAST(*buffer), no_room_quark(), *buffer, nullptr);
        return GST_FLOW_OK;
    }
}

static void gst_zero_buffer_pool_finalize(GObject* object)
{
    auto* self = GST_ZERO_BUFFER_POOL(object);
    std::unique_ptr<PoolState> state(self->state);
    self->state = nullptr;
    G_OBJECT_CLASS(gst_zero_buffer_pool_parent_class)->finalize(object);
}

static void gst_zero_buffer_pool_class_init(GstZeroBufferPoolClass* klass)
{
    auto* object_class = G_OBJECT_CLASS(klass);
    auto* pool_class = GST_BUFFER_POOL_CLASS(klass);
    object_class->finalize = gst_zero_buffer_pool_finalize;
    pool_class->get_options = gst_zero_buffer_pool_get_options;
    pool_class->set_config = gst_zero_buffer_pool_set_config;
    pool_class->start = gst_zero_buffer_pool_start;
    pool_class->stop = gst_zero_buffer_pool_stop;
    pool_class->acquire_buffer = gst_zero_buffer_pool_acquire_buffer;
    pool_class->reset_buffer = gst_zero_buffer_pool_reset_buffer;
    pool_class->release_buffer = gst_zero_buffer_pool_release_buffer;
    GST_DEBUG_CATEGORY_INIT(gst_zero_buffer_pool_debug, "zerobufferpool", 0, "ZeroBuffer ring buffer pool");
}

static void gst_zero_buffer_pool_init(GstZeroBufferPool* self) { self->state = nullptr; }

GstBufferPool* gst_zero_buffer_pool_new(std::shared_ptr<zerobuffer::gst::SharedWriter> owner,
                                        std::chrono::nanoseconds timeout)
{
    auto* self = GST_ZERO_BUFFER_POOL(g_object_new(GST_TYPE_ZERO_BUFFER_POOL, nullptr));
    self->state = std::make_unique<PoolState>(PoolState{std::move(owner), timeout, 0}).release();
    gst_object_ref_sink(self);
    return GST_BUFFER_POOL(self);
}
