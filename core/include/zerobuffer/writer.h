// SPDX-License-Identifier: MIT
// The writing end of a ring: creates the shared-memory segment and publishes frames into it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <zerobuffer/counters.h>
#include <zerobuffer/error.h>
#include <zerobuffer/frame.h>
#include <zerobuffer/options.h>

namespace zerobuffer {

namespace detail {
class WriterCore;
} // namespace detail

/// A region of the ring reserved for one frame. The writer fills payload() and metadata() in place,
/// then passes the reservation to Writer::commit(). Dropping it uncommitted aborts it.
/// Owned by the caller; must not outlive its Writer. Move-only.
class FrameReservation {
public:
    FrameReservation() = default;
    FrameReservation(FrameReservation&& other) noexcept;
    FrameReservation& operator=(FrameReservation&& other) noexcept;
    FrameReservation(const FrameReservation&) = delete;
    FrameReservation& operator=(const FrameReservation&) = delete;
    ~FrameReservation();

    /// Writable payload bytes, exactly the size asked for in reserve(). 64-byte aligned.
    [[nodiscard]] std::span<std::byte> payload() const noexcept { return payload_; }
    /// Writable per-frame metadata bytes, exactly the capacity asked for in reserve().
    [[nodiscard]] std::span<std::byte> metadata() const noexcept { return metadata_; }
    [[nodiscard]] bool valid() const noexcept { return core_ != nullptr; }

    /// Gives the region back without publishing anything.
    void abort() noexcept;

    /// Says that the caller fills this region by copying from memory outside the ring (rather than rendering
    /// into it), so that the writer's counters report the frame under frames_copied, not frames_in_place.
    void mark_copied() noexcept;

private:
    friend class Writer;
    friend class detail::WriterCore;
    detail::WriterCore* core_ = nullptr; ///< Owned by the Writer; stable across moves of the Writer.
    std::uint32_t record_ = 0;
    std::span<std::byte> payload_;
    std::span<std::byte> metadata_;
};

/// A committed frame whose memory the writer keeps out of reuse until release() (or destruction): for memory the
/// producer still references after publishing it, such as a GStreamer pool buffer that upstream keeps as a
/// reference frame. Readers see the frame as usual. Move-only; must not outlive its Writer, and is released
/// under the same one-thread-at-a-time rule as every Writer call.
class RetainedFrame {
public:
    RetainedFrame() = default;
    RetainedFrame(RetainedFrame&& other) noexcept;
    RetainedFrame& operator=(RetainedFrame&& other) noexcept;
    RetainedFrame(const RetainedFrame&) = delete;
    RetainedFrame& operator=(const RetainedFrame&) = delete;
    ~RetainedFrame();

    /// Lets the writer reuse the frame's memory once readers are done with it.
    void release() noexcept;
    [[nodiscard]] bool valid() const noexcept { return core_ != nullptr; }
    [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }

private:
    friend class detail::WriterCore;
    detail::WriterCore* core_ = nullptr;
    std::uint32_t record_ = 0;
    std::uint64_t sequence_ = 0;
};

/// The single writer of a ring.
///
/// Contract:
/// - Writer::create() makes a new ring NAME (POSIX shm object "/zb-NAME"), or replaces one whose writer
///   is dead. A ring with a live writer is refused with Errc::Busy naming the owner's pid.
/// - One thread at a time uses a Writer (and its reservations and retained frames).
/// - Several reservations may be open at once and be committed in any order: a frame's sequence number is
///   given at commit, and each frame becomes visible to readers at its own commit. Nothing waits for an older
///   open reservation.
/// - A frame's memory is reused once it is free: no lossless reader still has to read it, no reader holds it,
///   it is not retained (commit_retained) and no open reservation covers it. The writer places each new frame in
///   free memory and goes around frames still in use.
/// - The guarantee: while the ring has a free extent as large as the frame being reserved, reserve() does not
///   wait, whatever latest readers hold and for how long. For frames of one size (raw video) that is whenever
///   the frames held, retained or unread by lossless readers, plus the reservations open, plus one, fit in the
///   ring. reserve() waits only for lossless readers (and frames held or retained) that leave no such room, up to
///   the timeout; dead readers are detected and reclaimed, with everything they held, while waiting.
/// - The newest committed frame stays readable until the writer needs its memory for lack of any other room.
/// - Destroying the Writer marks the ring closed, wakes readers (who get WriterGone after draining)
///   and removes the name, unless a newer writer already took it over.
class Writer {
public:
    [[nodiscard]] static Result<Writer> create(std::string_view name, const WriterOptions& options = {});

    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) noexcept;
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer();

    /// Reserves room for a frame of payload_size bytes with metadata_capacity bytes of per-frame metadata.
    /// Blocks up to `timeout` (default: the reader_timeout option) while readers leave no room.
    [[nodiscard]] Result<FrameReservation> reserve(std::size_t payload_size, std::size_t metadata_capacity = 0);
    [[nodiscard]] Result<FrameReservation> reserve(std::size_t payload_size, std::size_t metadata_capacity,
                                                   std::chrono::nanoseconds timeout);

    /// Publishes a reserved frame with the next sequence number. payload_size and metadata_size may shrink what
    /// was reserved (defaults: all of it). Never blocks.
    [[nodiscard]] Result<void> commit(FrameReservation& reservation, const FrameInfo& info);
    [[nodiscard]] Result<void> commit(FrameReservation& reservation, const FrameInfo& info,
                                      std::size_t payload_size, std::size_t metadata_size);

    /// Like commit(), but the frame's memory is not reused before the returned RetainedFrame is released.
    [[nodiscard]] Result<RetainedFrame> commit_retained(FrameReservation& reservation, const FrameInfo& info,
                                                        std::size_t payload_size, std::size_t metadata_size);

    /// Copying convenience: reserve, copy payload and metadata in, commit.
    [[nodiscard]] Result<void> write(std::span<const std::byte> payload, const FrameInfo& info = {},
                                     std::span<const std::byte> metadata = {});

    /// Publishes a new stream-metadata document (JSON; see stream_format.h) and returns its generation.
    /// Frames committed from now on carry that generation; readers see it before the first such frame.
    [[nodiscard]] Result<std::uint32_t> set_stream_metadata(std::string_view json);

    /// Waits until at least `count` readers are attached.
    [[nodiscard]] Result<void> wait_for_readers(std::uint32_t count, std::chrono::nanoseconds timeout);

    /// Readers attached now (dead ones are reclaimed first).
    [[nodiscard]] std::uint32_t reader_count();

    /// True once for every batch of Reader::request_keyframe() calls since the last time it returned true: an
    /// encoder upstream should make its next frame a keyframe. One load when nothing was asked.
    [[nodiscard]] bool keyframe_requested() noexcept;

    /// The largest payload a frame with `metadata_capacity` bytes of metadata can have in this ring.
    [[nodiscard]] std::size_t max_payload_size(std::size_t metadata_capacity = 0) const noexcept;
    /// Bytes of frame memory (the ring_size option, rounded up to a page).
    [[nodiscard]] std::size_t ring_size() const noexcept;

    [[nodiscard]] WriterCounters counters() const noexcept;
    [[nodiscard]] const std::string& name() const noexcept;

private:
    friend detail::WriterCore& detail_core(Writer& writer) noexcept;
    explicit Writer(std::unique_ptr<detail::WriterCore> core);
    std::unique_ptr<detail::WriterCore> core_;
};

/// White-box access for the core's own tests (the type is only defined inside the library).
[[nodiscard]] detail::WriterCore& detail_core(Writer& writer) noexcept;

} // namespace zerobuffer
