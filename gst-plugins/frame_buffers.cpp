// SPDX-License-Identifier: MIT
// Zero-copy and copied buffers of ring frames (see frame_buffers.h).
#include "frame_buffers.h"

#include <algorithm>
#include <cstring>

namespace zerobuffer::gst {

namespace {

/// What a zero-copy buffer's memory owns: the frame (released first) and a reference to its Reader.
struct FrameHolder {
    std::shared_ptr<SharedReader> shared;
    Frame frame;
};

void count_alive(SharedReader& shared, std::uint64_t size) noexcept
{
    const std::uint32_t alive = shared.alive.fetch_add(1, std::memory_order_relaxed) + 1;
    const std::uint64_t bytes = shared.alive_bytes.fetch_add(size, std::memory_order_relaxed) + size;
    if (alive > shared.peak_alive.load(std::memory_order_relaxed))
        shared.peak_alive.store(alive, std::memory_order_relaxed); // Streaming thread only: no lost update.
    if (bytes > shared.peak_bytes.load(std::memory_order_relaxed))
        shared.peak_bytes.store(bytes, std::memory_order_relaxed);
}

void count_gone(SharedReader& shared, std::uint64_t size) noexcept
{
    shared.alive.fetch_sub(1, std::memory_order_relaxed);
    shared.alive_bytes.fetch_sub(size, std::memory_order_relaxed);
}

void release_frame(gpointer data)
{
    std::unique_ptr<FrameHolder> holder(static_cast<FrameHolder*>(data));
    const std::uint64_t size = holder->frame.payload().size();
    holder->shared->kept_bytes.fetch_sub(size, std::memory_order_relaxed);
    holder->shared->kept_frames.fetch_sub(1, std::memory_order_relaxed);
    count_gone(*holder->shared, size);
    holder->frame.release();
}

/// Attached to a copied buffer's memory: uncounts it when the memory is freed.
struct CopyHolder {
    std::shared_ptr<SharedReader> shared;
    std::uint64_t size = 0;
};

void release_copy(gpointer data)
{
    std::unique_ptr<CopyHolder> holder(static_cast<CopyHolder*>(data));
    count_gone(*holder->shared, holder->size);
}

GQuark copy_quark()
{
    static const GQuark quark = g_quark_from_static_string("zerobuffer-src-copy");
    return quark;
}

} // namespace

ZeroCopyBudget ZeroCopyBudget::for_reader(const Reader& reader, std::uint32_t max_held)
{
    ZeroCopyBudget budget;
    // One hold stays free for the frame being looked at (a copy still acquires it first).
    const std::uint32_t holds = reader.max_held() > 1 ? reader.max_held() - 1 : 1;
    budget.frames = max_held == 0 ? holds : std::min(max_held, holds);
    budget.bytes = reader.ring_size() / 2;
    return budget;
}

bool ZeroCopyBudget::allows(const SharedReader& shared, std::uint64_t size) const noexcept
{
    return shared.kept_frames.load(std::memory_order_relaxed) < frames &&
           shared.kept_bytes.load(std::memory_order_relaxed) + size <= bytes;
}

GstMemory* wrap_frame_memory(std::shared_ptr<SharedReader> shared, Frame frame)
{
    const std::span<const std::byte> payload = frame.payload();
    shared->kept_bytes.fetch_add(payload.size(), std::memory_order_relaxed);
    shared->kept_frames.fetch_add(1, std::memory_order_relaxed);
    count_alive(*shared, payload.size());
    auto holder = std::make_unique<FrameHolder>(FrameHolder{std::move(shared), std::move(frame)});
    // The ring is mapped read-only in readers: the memory says so, and writers downstream copy.
    gpointer data = const_cast<std::byte*>(payload.data());
    return gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, data, payload.size(), 0, payload.size(), holder.release(),
                                  release_frame);
}

GstMemory* copy_frame_memory(const std::shared_ptr<SharedReader>& shared, const Frame& frame)
{
    const std::span<const std::byte> payload = frame.payload();
    GstMemory* memory = gst_allocator_alloc(nullptr, payload.size(), nullptr);
    if (memory == nullptr)
        return nullptr;
    GstMapInfo map;
    if (!gst_memory_map(memory, &map, GST_MAP_WRITE)) {
        gst_memory_unref(memory);
        return nullptr;
    }
    std::memcpy(map.data, payload.data(), payload.size());
    gst_memory_unmap(memory, &map);
    count_alive(*shared, payload.size());
    gst_mini_object_set_qdata(GST_MINI_OBJECT_CAST(memory), copy_quark(), std::make_unique<CopyHolder>(CopyHolder{shared, payload.size()}).release(),
                              release_copy);
    return memory;
}

} // namespace zerobuffer::gst
