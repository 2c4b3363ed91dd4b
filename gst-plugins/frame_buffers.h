// SPDX-License-Identifier: MIT
// How zerobuffersrc turns ring frames into GstBuffers: zero copy while downstream keeps little of the ring, a copy
// once it keeps more than the ring can spare, so that what downstream keeps never stalls the writer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <gst/gst.h>

#include <zerobuffer/reader.h>

namespace zerobuffer::gst {

/// The Reader an element shares with every buffer it hands out, and what those buffers keep of the ring. Buffers
/// hold a reference, so the Reader outlives the last of them even after the element stopped.
struct SharedReader {
    explicit SharedReader(Reader attached) : reader(std::move(attached)) {}
    Reader reader;
    std::atomic<std::uint64_t> kept_bytes{0};  ///< Payload bytes of zero-copy buffers still alive downstream.
    std::atomic<std::uint32_t> kept_frames{0};
    std::atomic<std::uint32_t> alive{0};       ///< Buffers alive downstream, zero copy or copied.
    std::atomic<std::uint32_t> peak_alive{0};  ///< Most buffers downstream kept at once.
    std::atomic<std::uint64_t> peak_bytes{0};  ///< Most payload bytes downstream kept at once.
    std::atomic<std::uint64_t> alive_bytes{0};
};

/// How much of the ring downstream may keep as zero-copy buffers. Half of the ring by default: the other half is
/// for the writer (its open and retained frames, the frames lossless readers have not read yet).
struct ZeroCopyBudget {
    std::uint32_t frames = 0;
    std::uint64_t bytes = 0;

    /// max_held 0: as many frames as the reader may hold; else at most that many.
    static ZeroCopyBudget for_reader(const Reader& reader, std::uint32_t max_held);
    [[nodiscard]] bool allows(const SharedReader& shared, std::uint64_t size) const noexcept;
};

/// Read-only memory over the frame's payload; freeing it releases the frame. Counts it in shared's kept figures.
[[nodiscard]] GstMemory* wrap_frame_memory(std::shared_ptr<SharedReader> shared, Frame frame);

/// A copy of the frame's payload in ordinary memory (the caller releases the frame right after). Counted in
/// shared's alive figures until freed.
[[nodiscard]] GstMemory* copy_frame_memory(const std::shared_ptr<SharedReader>& shared, const Frame& frame);

} // namespace zerobuffer::gst
