// SPDX-License-Identifier: MIT
// The reading end of a ring: attaches to a segment and hands out zero-copy views of frames.
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
class ReaderCore;
} // namespace detail

/// A read-only view of one frame in shared memory. The writer will not reuse its memory until it is released,
/// either explicitly with release() or by destroying the Frame; it places newer frames around it meanwhile.
/// Move-only; must not outlive its Reader. Frames may be released in any order and from any thread.
class Frame {
public:
    Frame() = default;
    Frame(Frame&& other) noexcept;
    Frame& operator=(Frame&& other) noexcept;
    Frame(const Frame&) = delete;
    Frame& operator=(const Frame&) = delete;
    ~Frame();

    [[nodiscard]] std::span<const std::byte> payload() const noexcept { return payload_; }
    [[nodiscard]] std::span<const std::byte> metadata() const noexcept { return metadata_; }
    [[nodiscard]] const FrameInfo& info() const noexcept { return info_; }
    [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
    /// Generation of the stream metadata this frame uses (see Reader::stream_metadata()).
    [[nodiscard]] std::uint32_t format_generation() const noexcept { return format_generation_; }
    /// True on the first frame of a new stream-metadata generation.
    [[nodiscard]] bool format_changed() const noexcept { return format_changed_; }
    /// Frames missing between the previous frame this reader got and this one (drops or gaps).
    [[nodiscard]] std::uint64_t frames_skipped() const noexcept { return frames_skipped_; }
    /// CLOCK_MONOTONIC time in ns at which the writer committed the frame (for latency measurement).
    [[nodiscard]] std::int64_t commit_time_ns() const noexcept { return commit_time_ns_; }
    [[nodiscard]] bool valid() const noexcept { return core_ != nullptr; }

    /// Lets the writer reuse this frame's memory. The views are invalid afterwards.
    void release() noexcept;

private:
    friend class detail::ReaderCore;
    detail::ReaderCore* core_ = nullptr; ///< Owned by the Reader; stable across moves of the Reader.
    std::uint32_t hold_ = 0;             ///< Its hold record in the reader's slot.
    std::span<const std::byte> payload_;
    std::span<const std::byte> metadata_;
    FrameInfo info_;
    std::uint64_t sequence_ = 0;
    std::uint64_t frames_skipped_ = 0;
    std::int64_t commit_time_ns_ = 0;
    std::uint32_t format_generation_ = 0;
    bool format_changed_ = false;
};

/// One reader of a ring.
///
/// Contract:
/// - Reader::attach() takes one of the ring's reader slots (Errc::Busy when all are taken) for as long as
///   the Reader lives; a reader that dies is detected through a kernel-held lock and its slot reclaimed.
/// - acquire() is called from one thread at a time; release() (or ~Frame) from any thread.
/// - A lossless reader gets every frame in sequence order. A latest reader gets the newest frame committed at
///   each acquire() (or, with max_lag_frames, frames in order while it is at most that far behind) and never
///   slows the writer; what it skips is counted. Frames either holds are visible in the segment (zbctl).
/// - When the writer has closed or died and every frame this reader still gets has been read, acquire() returns
///   Errc::WriterGone (within about two liveness intervals of a death).
/// - Memory handed out is read-only and stays valid until released, also after the writer died.
class Reader {
public:
    [[nodiscard]] static Result<Reader> attach(std::string_view name, const ReaderOptions& options = {});

    Reader(Reader&&) noexcept;
    Reader& operator=(Reader&&) noexcept;
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    ~Reader();

    /// Waits up to `timeout` for the next frame. A zero timeout polls.
    [[nodiscard]] Result<Frame> acquire(std::chrono::nanoseconds timeout);

    /// Copying convenience: acquires the next frame, copies its payload into `buffer` and releases it.
    /// Returns the payload size; Errc::InvalidArgument (frame consumed and lost) if the buffer is too small.
    [[nodiscard]] Result<std::size_t> read_into(std::span<std::byte> buffer, std::chrono::nanoseconds timeout,
                                                FrameInfo* info = nullptr);

    /// The stream-metadata document (JSON) in effect for the most recently acquired frame, or the ring's
    /// current one before any frame was acquired. Empty if the writer never set one.
    [[nodiscard]] const std::string& stream_metadata() const noexcept;
    [[nodiscard]] std::uint32_t stream_metadata_generation() const noexcept;

    /// True while the writer process holds the ring.
    [[nodiscard]] bool writer_alive() const;

    /// Asks the writer for a keyframe (a reader joining an encoded stream): Writer::keyframe_requested() turns
    /// true. One atomic increment; the writer decides what to do with it.
    void request_keyframe() noexcept;

    /// Frames this reader may hold at once (ReaderOptions::max_held, or the ring's limit).
    [[nodiscard]] std::uint32_t max_held() const noexcept;
    /// Frames it holds now.
    [[nodiscard]] std::uint32_t held() const noexcept;
    /// Bytes of frame memory in the ring.
    [[nodiscard]] std::size_t ring_size() const noexcept;

    [[nodiscard]] ReaderCounters counters() const noexcept;
    [[nodiscard]] std::uint32_t slot_index() const noexcept;
    [[nodiscard]] const std::string& name() const noexcept;

private:
    explicit Reader(std::unique_ptr<detail::ReaderCore> core);
    std::unique_ptr<detail::ReaderCore> core_;
};

} // namespace zerobuffer
