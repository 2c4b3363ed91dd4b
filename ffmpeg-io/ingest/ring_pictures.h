// SPDX-License-Identifier: MIT
// Decoding straight into ring memory: a get_buffer2 that reserves each picture the decoder asks for in the ring.
//
// Each picture is one ring reservation laid out as libavcodec's own allocator would lay it out (dimensions from
// avcodec_align_dimensions2, strides and planes 64-byte aligned, padding after every plane), wrapped in an
// AVBuffer. The decoder fills it and may keep it as a reference frame; when it outputs the frame, the main thread
// publishes it with Writer::commit_retained (in output order), and the ring keeps its memory out of reuse until
// the AVBuffer's last reference goes. A picture that is never output (a flush, an error, a frame the decoder only
// uses as reference) is aborted then.
//
// Waiting for room happens in the main thread: before it sends a packet, it reserves the next picture ahead
// (stock), waiting for lossless readers as long as --reader-timeout allows, and get_buffer2 takes that
// reservation. A picture request that finds none waits only a few ms; pictures the ring has no room for by then,
// or beyond the decoder's share of the ring, come from libavcodec's default allocator and are copied once at
// output.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "options.h"
#include "ring_output.h"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace zbffmpeg::ingest {

/// Why a frame of decode mode was copied into the ring rather than decoded into it.
struct CopyReasons {
    std::atomic<std::uint64_t> no_room{0};     ///< Ring full (readers) or the decoder at its share of it.
    std::atomic<std::uint64_t> odd_format{0};  ///< Hardware, paletted or unmapped format, or not the stream's.
    std::atomic<std::uint64_t> no_ring{0};     ///< The ring could not be created (reported by the main thread).
};

/// The get_buffer2 of decode mode. Created before the decoder is opened and destroyed after it is freed
/// (AVCodecContext.opaque points here); the pictures themselves only need the SharedRing.
class RingPictures {
public:
    RingPictures(std::shared_ptr<SharedRing> ring, const IngestOptions& options);
    RingPictures(const RingPictures&) = delete;
    RingPictures& operator=(const RingPictures&) = delete;

    /// Why `codec` cannot decode into ring memory with these options ("" when it can): --copy, a decoder without
    /// AV_CODEC_CAP_DR1, or a conversion asked for with --pix-fmt/--size (libswscale writes into the ring then).
    [[nodiscard]] static std::string refusal(const AVCodec& codec, const AVCodecParameters& parameters,
                                             const IngestOptions& options);

    /// Makes `decoder` (not opened yet) allocate its pictures here, from every decoding thread.
    void install(AVCodecContext& decoder) noexcept;
    /// After avcodec_open2: how many threads may ask for a picture at once.
    void opened(const AVCodecContext& decoder) noexcept;

    /// Called by the main thread before it sends a packet: reserves the decoder's next picture ahead (the size of
    /// its latest one), waiting up to `timeout` for readers to make room; the waiting for lossless readers happens
    /// here rather than in the decoder's threads. False when no room came in time (the ring is full of frames
    /// readers hold or have not read). Does nothing before the first picture, or while the decoder is at its
    /// share of the ring.
    [[nodiscard]] Result<bool> stock(RingOutput& ring, std::chrono::nanoseconds timeout);

    /// The ring picture `frame` was decoded into if it is still unpublished, else nullptr (a frame of libavcodec's
    /// own allocator, or one the decoder outputs a second time). Valid while `frame` references it.
    [[nodiscard]] RingPicture* open_picture_of(const AVFrame& frame);

    /// get_buffer2's work, from any thread of the decoder (several at once): a ring picture, or libavcodec's
    /// default allocator when the ring cannot take this one.
    int allocate(AVCodecContext& decoder, AVFrame& frame, int flags);

    [[nodiscard]] const CopyReasons& copy_reasons() const noexcept { return reasons_; }
    /// The most ring pictures alive at once (open and retained): what the decoder really kept.
    [[nodiscard]] std::uint32_t most_pictures() const noexcept { return most_pictures_.load(std::memory_order_relaxed); }

private:
    [[nodiscard]] bool wants(const AVCodecContext& decoder, const AVFrame& frame) const noexcept;
    [[nodiscard]] std::unique_ptr<RingPicture> reserve(const AVCodecContext& decoder, std::size_t size);
    void note_pictures() noexcept; ///< With the lock held, after a picture was added.

    std::shared_ptr<SharedRing> ring_;
    std::vector<Reservation> spares_;        ///< Reserved ahead by stock(). Guarded by ring_->mutex.
    std::uint32_t max_spares_ = 1;           ///< One per frame thread, which may each want a picture at once.
    std::atomic<std::size_t> picture_size_{0}; ///< Bytes of the latest picture laid out.
    AVPixelFormat convert_to_;
    int width_;
    int height_;
    CopyReasons reasons_;
    std::atomic<std::uint32_t> most_pictures_{0};
};

/// Ring pictures a decoder keeps at once, from what it told about the stream: reference frames, reordering delay,
/// frames in flight in its threads, plus the frame being output and an error-concealment reference.
[[nodiscard]] std::uint32_t decoder_frames(const AVCodecContext& decoder) noexcept;

} // namespace zbffmpeg::ingest
