// SPDX-License-Identifier: MIT
// Decoding straight into ring memory: a get_buffer2 that reserves each picture the decoder asks for in the ring.
#include "ring_pictures.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <thread>

#include "formats.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace zbffmpeg::ingest {
namespace {

/// Strides and planes start on 64 bytes: libavcodec's STRIDE_ALIGN with AVX-512, and a cache line.
constexpr int kStrideAlign = 64;
/// Bytes after every plane, as libavcodec's own allocator leaves (16 + STRIDE_ALIGN - 1): SIMD reads past the end.
constexpr std::size_t kPlanePadding = 16 + kStrideAlign;
/// How long a picture request waits for readers to make room before it takes libavcodec's memory instead.
constexpr std::chrono::milliseconds kShortWait{5};
/// One wait on the ring under the lock; other decoder threads get the lock in between.
constexpr std::chrono::milliseconds kShortWaitSlice{1};

/// Where the planes of one picture go in its reservation.
struct PictureLayout {
    std::array<int, 4> linesizes{};
    std::array<std::size_t, 4> offsets{};
    std::array<std::size_t, 4> sizes{};
    std::size_t size = 0;
};

std::size_t align_up(std::size_t value, std::size_t alignment) noexcept
{
    return (value + alignment - 1) / alignment * alignment;
}

/// The layout libavcodec's default allocator would use (update_frame_pool in libavcodec/get_buffer.c), in one
/// piece: dimensions aligned as the decoder needs, strides grown until every plane's is aligned, padding after
/// each plane. nullopt for a frame it cannot lay out.
std::optional<PictureLayout> picture_layout(AVCodecContext& decoder, const AVFrame& frame)
{
    int width = frame.width;
    int height = frame.height;
    std::array<int, AV_NUM_DATA_POINTERS> alignment{};
    avcodec_align_dimensions2(&decoder, &width, &height, alignment.data());
    const auto format = static_cast<AVPixelFormat>(frame.format);
    PictureLayout layout;
    for (int attempt = 0;; ++attempt) {
        if (attempt > 16 || width <= 0 || av_image_fill_linesizes(layout.linesizes.data(), format, width) < 0) {
            return std::nullopt;
        }
        bool aligned = true;
        for (std::size_t i = 0; i < 4; ++i) {
            aligned = aligned && layout.linesizes[i] % std::max(alignment[i], kStrideAlign) == 0;
        }
        if (aligned) {
            break;
        }
        width += width & ~(width - 1); // Double the lowest set bit, as libavcodec does: keeps the planes' ratios.
    }
    std::array<ptrdiff_t, 4> strides{};
    std::copy(layout.linesizes.begin(), layout.linesizes.end(), strides.begin());
    if (av_image_fill_plane_sizes(layout.sizes.data(), format, height, strides.data()) < 0) {
        return std::nullopt;
    }
    constexpr std::size_t kLargest = std::size_t{1} << 32; // Far beyond any frame FFmpeg accepts (16384^2 RGBA64).
    for (std::size_t i = 0; i < 4 && layout.sizes[i] != 0; ++i) {
        if (layout.sizes[i] > kLargest) {
            return std::nullopt;
        }
        layout.offsets[i] = layout.size;
        layout.size = align_up(layout.size + layout.sizes[i] + kPlanePadding, kStrideAlign);
    }
    return layout;
}

/// Gives a picture back: aborted if it was never published, else its memory is left to the readers. Runs on
/// whichever thread drops the last reference (a decoder thread, or the main thread).
extern "C" void free_ring_picture(void* opaque, std::uint8_t* /*data*/) noexcept
{
    std::unique_ptr<RingPicture> picture(static_cast<RingPicture*>(opaque));
    const std::shared_ptr<SharedRing> ring = picture->ring;
    {
        const std::lock_guard lock(ring->mutex);
        picture->reservation.abort();
        picture->retained.release();
        std::erase(ring->pictures, picture.get());
    }
    picture.reset(); // Then `ring`, maybe the Writer's last owner, goes: after the lock.
}

extern "C" int get_ring_buffer(AVCodecContext* decoder, AVFrame* frame, int flags) noexcept
{
    try {
        return static_cast<RingPictures*>(decoder->opaque)->allocate(*decoder, *frame, flags);
    } catch (...) { // No exception may cross into libavcodec; the only one possible is bad_alloc.
        return AVERROR(ENOMEM);
    }
}

} // namespace

std::uint32_t decoder_frames(const AVCodecContext& decoder) noexcept
{
    const int refs = std::clamp(decoder.refs, 4, 16);
    const int delay = std::clamp(decoder.has_b_frames, 0, 16);
    const int threads = std::clamp(decoder.thread_count, 1, 64);
    return static_cast<std::uint32_t>(refs + delay + threads + 2);
}

RingPictures::RingPictures(std::shared_ptr<SharedRing> ring, const IngestOptions& options)
    : ring_(std::move(ring)), convert_to_(options.pixel_format), width_(options.width), height_(options.height)
{
}

std::string RingPictures::refusal(const AVCodec& codec, const AVCodecParameters& parameters,
                                  const IngestOptions& options)
{
    if (options.copy_frames) {
        return "--copy asks for it";
    }
    if ((codec.capabilities & AV_CODEC_CAP_DR1) == 0) {
        return std::string("the ") + codec.name + " decoder cannot decode into memory it is given (no direct rendering)";
    }
    const bool converts = (options.pixel_format != AV_PIX_FMT_NONE && options.pixel_format != parameters.format) ||
                          (options.width != 0 && (options.width != parameters.width || options.height != parameters.height));
    if (converts) {
        return "--pix-fmt/--size convert with libswscale, which writes into the ring itself";
    }
    return {};
}

void RingPictures::install(AVCodecContext& decoder) noexcept
{
    decoder.opaque = this;
    decoder.get_buffer2 = &get_ring_buffer;
#if LIBAVCODEC_VERSION_MAJOR < 60
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // Frame threads call get_buffer2 themselves instead of handing each request to the main thread (libavcodec
    // 60 always does); get_ring_buffer and the free callback lock the ring.
    decoder.thread_safe_callbacks = 1;
#pragma GCC diagnostic pop
#endif
}

void RingPictures::opened(const AVCodecContext& decoder) noexcept
{
    const bool frame_threads = (decoder.active_thread_type & FF_THREAD_FRAME) != 0;
    max_spares_ = frame_threads ? static_cast<std::uint32_t>(std::clamp(decoder.thread_count, 1, 16)) : 1;
}

bool RingPictures::wants(const AVCodecContext& decoder, const AVFrame& frame) const noexcept
{
    const auto format = static_cast<AVPixelFormat>(frame.format);
    const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(format);
    if (descriptor == nullptr || decoder.hw_frames_ctx != nullptr || decoder.hw_device_ctx != nullptr ||
        (descriptor->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM)) != 0) {
        return false;
    }
    // avcodec_align_dimensions2 lays out the decoder's pix_fmt; a frame of another format is not ours to lay out.
    if (format != decoder.pix_fmt || gst_format_name(format).empty() || frame.width <= 0 || frame.height <= 0) {
        return false;
    }
    // Frames the main thread converts are read by libswscale, which writes the ring itself.
    return (convert_to_ == AV_PIX_FMT_NONE || convert_to_ == format) &&
           (width_ == 0 || (width_ == decoder.width && height_ == decoder.height));
}

int RingPictures::allocate(AVCodecContext& decoder, AVFrame& frame, int flags)
{
    std::optional<PictureLayout> layout;
    if (wants(decoder, frame)) {
        layout = picture_layout(decoder, frame);
    }
    if (!layout) {
        reasons_.odd_format.fetch_add(1, std::memory_order_relaxed);
        return avcodec_default_get_buffer2(&decoder, &frame, flags);
    }
    picture_size_.store(layout->size, std::memory_order_relaxed);
    std::unique_ptr<RingPicture> picture = reserve(decoder, layout->size);
    if (!picture) {
        return avcodec_default_get_buffer2(&decoder, &frame, flags);
    }
    auto* base = reinterpret_cast<std::uint8_t*>(picture->reservation.payload().data());
    AVBufferRef* buffer = av_buffer_create(base, layout->size, &free_ring_picture, picture.get(), 0);
    if (buffer == nullptr) {
        free_ring_picture(picture.release(), base);
        return AVERROR(ENOMEM);
    }
    picture.release(); // The buffer owns it now; free_ring_picture deletes it.
    frame.buf[0] = buffer;
    for (std::size_t i = 0; i < AV_NUM_DATA_POINTERS; ++i) {
        const bool plane = i < 4 && layout->sizes[i] != 0;
        frame.data[i] = plane ? base + layout->offsets[i] : nullptr;
        frame.linesize[i] = plane ? layout->linesizes[i] : 0;
    }
    frame.extended_data = frame.data;
    return 0;
}

std::unique_ptr<RingPicture> RingPictures::reserve(const AVCodecContext& decoder, std::size_t size)
{
    auto picture = std::make_unique<RingPicture>();
    picture->ring = ring_;
    const std::uint32_t wanted = decoder_frames(decoder);
    const auto deadline = std::chrono::steady_clock::now() + kShortWait;
    while (true) {
        std::unique_lock lock(ring_->mutex);
        if (ring_->failed) {
            reasons_.no_ring.fetch_add(1, std::memory_order_relaxed);
            return nullptr;
        }
        auto writer = ring_->writer(size, wanted);
        if (!writer) {
            ring_->failed = true; // The main thread makes the ring itself at its first frame, and reports why not.
            reasons_.no_ring.fetch_add(1, std::memory_order_relaxed);
            return nullptr;
        }
        if (ring_->pictures.size() >= picture_budget((*writer)->ring_size(), size)) {
            // The rest of the ring is the readers': the decoder keeps more than its share.
            reasons_.no_room.fetch_add(1, std::memory_order_relaxed);
            return nullptr;
        }
        ring_->pictures.reserve(ring_->pictures.size() + 1); // So that the push_backs below cannot throw.
        // A picture the main thread reserved ahead, if it has the size (else it is of an older layout).
        while (!spares_.empty()) {
            zerobuffer::FrameReservation spare = std::move(spares_.back().locked());
            spares_.pop_back(); // Empty now: its destructor does not take the lock.
            if (spare.payload().size() == size) {
                picture->reservation = std::move(spare);
                ring_->pictures.push_back(picture.get());
                note_pictures();
                return picture;
            }
            spare.abort();
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now());
        auto reserved = (*writer)->reserve(size, 0, std::clamp<std::chrono::nanoseconds>(left, {}, kShortWaitSlice));
        if (reserved) {
            picture->reservation = std::move(*reserved);
            ring_->pictures.push_back(picture.get());
            note_pictures();
            return picture;
        }
        if (reserved.error().code == zerobuffer::Errc::Timeout && left > kShortWaitSlice) {
            lock.unlock();
            std::this_thread::yield();
            continue;
        }
        // No room within the short wait (readers hold or have not read frames), too many open reservations, or
        // frames larger than the ring (the main thread reports that one at output).
        reasons_.no_room.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
    }
}

void RingPictures::note_pictures() noexcept
{
    const auto alive = static_cast<std::uint32_t>(ring_->pictures.size());
    if (alive > most_pictures_.load(std::memory_order_relaxed)) {
        most_pictures_.store(alive, std::memory_order_relaxed);
    }
}

Result<bool> RingPictures::stock(RingOutput& ring, std::chrono::nanoseconds timeout)
{
    const std::size_t size = picture_size_.load(std::memory_order_relaxed);
    if (size == 0) {
        return true;
    }
    {
        const std::lock_guard lock(ring_->mutex);
        zerobuffer::Writer* writer = ring_->existing();
        if (writer == nullptr || spares_.size() >= max_spares_ ||
            ring_->pictures.size() + spares_.size() + 1 > picture_budget(writer->ring_size(), size)) {
            return true;
        }
        spares_.reserve(max_spares_); // So that the push_back below cannot throw.
    }
    auto reserved = ring.reserve_within(size, timeout);
    if (!reserved) {
        return tl::unexpected(reserved.error());
    }
    if (!*reserved) {
        return false;
    }
    const std::lock_guard lock(ring_->mutex);
    spares_.push_back(std::move(**reserved));
    return true;
}

RingPicture* RingPictures::open_picture_of(const AVFrame& frame)
{
    if (frame.buf[0] == nullptr || frame.buf[1] != nullptr) {
        return nullptr;
    }
    const std::lock_guard lock(ring_->mutex);
    for (RingPicture* picture : ring_->pictures) {
        const auto payload = picture->reservation.payload();
        if (picture->reservation.valid() && reinterpret_cast<std::uint8_t*>(payload.data()) == frame.buf[0]->data &&
            payload.size() == frame.buf[0]->size) {
            return picture;
        }
    }
    return nullptr;
}

} // namespace zbffmpeg::ingest
