// SPDX-License-Identifier: MIT
// Frame descriptors: the writer's store of a committed frame's fields, and a reader's validated copy of them.
//
// A descriptor is rewritten for frame s + frame_slots while a latest reader may be copying it for frame s, so
// the copy is made like a seqlock read: tag, fields, tag again; a copy whose tags differ from s + 1 is thrown
// away. The writer clears the tag before it rewrites the fields and sets it last (release).
#pragma once

#include "private.h"

#include <atomic>
#include <cstdint>
#include <string>

#include "layout.h"

namespace zerobuffer::detail {

/// A plain copy of a descriptor's fields (everything but the tag). What the writer digests and the reader checks.
/// Members are left uninitialised on purpose: the writer sets every one, load_descriptor() copies every one, and
/// this is on the frame path of both.
struct DescriptorFields {
    std::uint64_t sequence;
    std::uint64_t extent_offset;
    std::uint64_t extent_size;
    std::uint32_t payload_offset;
    std::uint32_t metadata_size;
    std::uint64_t payload_size;
    std::uint32_t flags;
    std::uint32_t format_generation;
    std::int64_t pts;
    std::int64_t dts;
    std::int64_t duration;
    std::uint64_t offset;
    std::uint64_t offset_end;
    std::int64_t commit_time_ns;
    std::uint64_t digest[4];
};

/// Bytes of DescriptorFields covered by the digest: sequence .. commit_time_ns (not the digest itself).
inline constexpr std::size_t kDigestedFieldBytes = offsetof(DescriptorFields, digest);
static_assert(kDigestedFieldBytes == 96);

/// Writer: publishes `fields` as frame fields.sequence. The tag goes to 0 first, so a reader copying the old
/// frame's descriptor concurrently sees the change; the new tag is stored last, with release.
inline void store_descriptor(FrameDescriptor& d, const DescriptorFields& f) noexcept
{
    constexpr auto kRelaxed = std::memory_order_relaxed;
    d.tag.store(0, kRelaxed);
    std::atomic_thread_fence(std::memory_order_release);
    d.extent_offset.store(f.extent_offset, kRelaxed);
    d.extent_size.store(f.extent_size, kRelaxed);
    d.payload_offset.store(f.payload_offset, kRelaxed);
    d.metadata_size.store(f.metadata_size, kRelaxed);
    d.payload_size.store(f.payload_size, kRelaxed);
    d.flags.store(f.flags, kRelaxed);
    d.format_generation.store(f.format_generation, kRelaxed);
    d.pts.store(f.pts, kRelaxed);
    d.dts.store(f.dts, kRelaxed);
    d.duration.store(f.duration, kRelaxed);
    d.offset.store(f.offset, kRelaxed);
    d.offset_end.store(f.offset_end, kRelaxed);
    d.commit_time_ns.store(f.commit_time_ns, kRelaxed);
    for (int i = 0; i < 4; ++i)
        d.digest[i].store(f.digest[i], kRelaxed);
    d.tag.store(tag_of(f.sequence), std::memory_order_release);
}

/// Reader: copies the descriptor of frame `sequence`. False if the descriptor does not (or no longer) describe
/// that frame: never written, rewritten for a later frame, or changing under the copy.
inline bool load_descriptor(const FrameDescriptor& d, std::uint64_t sequence, DescriptorFields& f) noexcept
{
    constexpr auto kRelaxed = std::memory_order_relaxed;
    if (d.tag.load(std::memory_order_acquire) != tag_of(sequence))
        return false;
    f.sequence = sequence;
    f.extent_offset = d.extent_offset.load(kRelaxed);
    f.extent_size = d.extent_size.load(kRelaxed);
    f.payload_offset = d.payload_offset.load(kRelaxed);
    f.metadata_size = d.metadata_size.load(kRelaxed);
    f.payload_size = d.payload_size.load(kRelaxed);
    f.flags = d.flags.load(kRelaxed);
    f.format_generation = d.format_generation.load(kRelaxed);
    f.pts = d.pts.load(kRelaxed);
    f.dts = d.dts.load(kRelaxed);
    f.duration = d.duration.load(kRelaxed);
    f.offset = d.offset.load(kRelaxed);
    f.offset_end = d.offset_end.load(kRelaxed);
    f.commit_time_ns = d.commit_time_ns.load(kRelaxed);
    for (int i = 0; i < 4; ++i)
        f.digest[i] = d.digest[i].load(kRelaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    return d.tag.load(kRelaxed) == tag_of(sequence);
}

/// Checks a copied descriptor against the ring's geometry. Every value comes from shared memory and may be hostile:
/// nothing here can overflow.
[[nodiscard]] inline bool descriptor_is_sound(const DescriptorFields& f, std::uint64_t capacity) noexcept
{
    return f.extent_offset % kExtentAlign == 0 && f.extent_offset <= capacity && f.extent_size <= capacity - f.extent_offset &&
           f.payload_offset % kExtentAlign == 0 && f.payload_offset <= f.extent_size &&
           f.payload_size <= f.extent_size - f.payload_offset && f.metadata_size <= f.payload_offset;
}

/// What is wrong with a descriptor descriptor_is_sound() refused, for the error message.
inline std::string descriptor_problem(const DescriptorFields& f, std::uint64_t capacity)
{
    if (f.extent_offset % kExtentAlign != 0 || f.extent_offset > capacity || f.extent_size > capacity - f.extent_offset)
        return "frame memory at " + std::to_string(f.extent_offset) + " (+" + std::to_string(f.extent_size) +
               " bytes) lies outside the " + std::to_string(capacity) + "-byte frame area";
    return "frame layout (payload " + std::to_string(f.payload_size) + " bytes at " + std::to_string(f.payload_offset) +
           ", metadata " + std::to_string(f.metadata_size) + ") does not fit its " + std::to_string(f.extent_size) +
           "-byte memory";
}

} // namespace zerobuffer::detail
