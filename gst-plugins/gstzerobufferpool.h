// SPDX-License-Identifier: MIT
// The buffer pool zerobuffersink offers upstream: every buffer's memory is a reservation inside the ring.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <cstdint>
#include <mutex>
#include <span>

#include <gst/gst.h>

#include <zerobuffer/writer.h>

namespace zerobuffer::gst {

/// Longest single wait on the ring: waits for room are made of such slices, so that a flush, a state change or
/// another thread needing the writer gets its turn within this time. (The ring's `timeouts` counter counts slices
/// that ran out, so a stall of T ms adds about T/100 to it.)
inline constexpr std::chrono::milliseconds kRingWaitSlice{100};

/// Bytes of per-frame metadata (frame_meta.h) a pool reservation has room for at first: the segment record and a
/// few small metas. A frame that needs more is copied once into a reservation of its size, and the pool reserves
/// that much from then on (SharedWriter::metadata_capacity).
inline constexpr std::size_t kPoolMetadataCapacity = 256;

/// The sink's Writer and the lock that serialises its use: upstream threads reserve through the pool and free
/// buffers (aborting reservations) while the streaming thread commits. Shared by the sink and by every pool
/// buffer's memory (the pool itself holds it weakly), so the Writer outlives the last buffer even after the sink
/// stopped.
struct SharedWriter {
    explicit SharedWriter(Writer ring) : writer(std::move(ring)) {}
    std::mutex mutex;
    /// Notified (under `mutex`) when a reservation is committed or aborted: a pool waiting because too many
    /// reservations are open can try again.
    std::condition_variable reservation_closed;
    Writer writer;
    /// Pool buffers alive that hold ring memory (open, or committed and retained). Guarded by `mutex`.
    std::uint32_t pool_kept = 0;
    /// Per-frame metadata bytes each pool reservation asks for; grows when frames carry more. Guarded by `mutex`.
    std::size_t metadata_capacity = kPoolMetadataCapacity;
};

/// Pool buffers that may hold ring memory at once: about half of the frames (of `frame_size` payload bytes and
/// `metadata_capacity` metadata bytes) the ring holds, less one for the copy path; the other half is for readers
/// (what downstream of zerobuffersrc keeps). Beyond it, upstream gets ordinary memory that the sink copies in, so
/// that a decoder keeping many reference frames never fills the ring.
[[nodiscard]] std::uint32_t pool_budget(std::size_t ring_size, std::size_t frame_size,
                                        std::size_t metadata_capacity) noexcept;

/// What one pool buffer's memory wraps. Created at acquire, destroyed with the memory: an uncommitted
/// reservation is aborted then (a buffer dropped upstream, for example on a flush), and a committed frame's
/// memory is given back to the ring only then, so that an element upstream that still references the buffer
/// after the sink published it (a decoder's reference frame) never sees it overwritten.
struct PoolReservation {
    std::shared_ptr<SharedWriter> owner;
    FrameReservation reservation;
    RetainedFrame committed;
};

/// Publishes a pool buffer's frame with `metadata` (which must fit in the reservation's metadata area), keeping its
/// memory until the buffer is freed. Called with owner->mutex held.
[[nodiscard]] Result<void> commit_pool_buffer(PoolReservation& pooled, const FrameInfo& info, std::size_t size,
                                              std::span<const std::byte> metadata);

/// The reservation wrapped by `buffer` if it is a pool buffer of `owner` whose single memory starts at the
/// reservation's payload and is still open; nullptr for any other buffer (which the sink then copies).
[[nodiscard]] PoolReservation* pool_reservation_of(GstBuffer* buffer, const SharedWriter* owner);

/// True for a buffer the pool handed out in ordinary memory because readers made no room in the ring within the
/// timeout: the sink drops it at once instead of waiting a second time.
[[nodiscard]] bool pool_found_no_room(GstBuffer* buffer);

} // namespace zerobuffer::gst

G_BEGIN_DECLS

#define GST_TYPE_ZERO_BUFFER_POOL (gst_zero_buffer_pool_get_type())
G_DECLARE_FINAL_TYPE(GstZeroBufferPool, gst_zero_buffer_pool, GST, ZERO_BUFFER_POOL, GstBufferPool)

G_END_DECLS

/// A pool whose buffers reserve `frame_size`-byte frames in `owner`'s ring; reserve waits at most `timeout` for
/// room, after which (or when too many reservations are open) it hands out ordinary memory the sink copies.
[[nodiscard]] GstBufferPool* gst_zero_buffer_pool_new(std::shared_ptr<zerobuffer::gst::SharedWriter> owner,
                                                      std::chrono::nanoseconds timeout);
