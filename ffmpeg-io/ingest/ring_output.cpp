// SPDX-License-Identifier: MIT
// zb-ingest's ring: created on first use and sized for the frames, publishes the stream format, reserves and
// commits frames, and ends with an end-of-stream frame.
#include "ring_output.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "program.h"

namespace zbffmpeg::ingest {
namespace {

/// Longest single wait for room while the main thread holds the ring's lock: the decoder's threads free pictures
/// between slices. (The ring's `timeouts` counter counts slices that ran out.)
constexpr std::chrono::milliseconds kReserveSlice{10};
/// Longest single wait for readers in --wait-for-readers.
constexpr std::chrono::milliseconds kReaderWaitSlice{200};
/// Every frame's memory starts on a cache line (the core's extent alignment).
constexpr std::size_t kExtentAlign = 64;

} // namespace

std::uint64_t frames_in(std::size_t ring_size, std::size_t frame_size) noexcept
{
    const std::size_t extent = (std::max<std::size_t>(frame_size, 1) + kExtentAlign - 1) / kExtentAlign * kExtentAlign;
    return ring_size / extent;
}

std::uint32_t picture_budget(std::size_t ring_size, std::size_t frame_size) noexcept
{
    const std::uint64_t frames = frames_in(ring_size, frame_size);
    const std::uint64_t readers = std::min<std::uint64_t>(kReaderFrames, frames / 2);
    return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(frames - readers, 1, 4000));
}

Result<zerobuffer::Writer*> SharedRing::writer(std::size_t frame_size, std::uint32_t decoder_frames)
{
    if (writer_) {
        return &*writer_;
    }
    zerobuffer::WriterOptions options = options_;
    if (!size_given_) {
        const std::size_t extent = (frame_size + kExtentAlign - 1) / kExtentAlign * kExtentAlign;
        options.ring_size = std::max<std::size_t>(options.ring_size, extent * (decoder_frames + kReaderFrames));
    }
    // Every picture the decoder keeps may be an open reservation (decoded, not output yet), plus the copy path's.
    options.max_outstanding = std::clamp<std::uint32_t>(
        picture_budget(options.ring_size, frame_size) + 2, options.max_outstanding, 4096);
    auto created = zerobuffer::Writer::create(name_, options);
    if (!created) {
        return make_error(FfmpegIoErrc::RingError, "cannot create ring '" + name_ + "': " + created.error().message);
    }
    writer_.emplace(std::move(*created));
    return &*writer_;
}

Reservation::~Reservation()
{
    if (reservation_.valid()) {
        const std::lock_guard lock(ring_->mutex);
        reservation_.abort();
    }
}

RingOutput::RingOutput(const IngestOptions& options, const std::string& name)
    : options_(options), shared_(std::make_shared<SharedRing>(name, options.writer, options.ring_size_given))
{
}

Result<void> RingOutput::publish(const zerobuffer::StreamFormat& format, std::size_t frame_size)
{
    std::unique_lock lock(shared_->mutex);
    auto writer = shared_->writer(frame_size, 0);
    if (!writer) {
        return tl::unexpected(writer.error());
    }
    if (frame_size > (*writer)->max_payload_size()) {
        return make_error(FfmpegIoErrc::RingError, "a frame of " + std::to_string(frame_size) +
                                                       " bytes does not fit in ring '" + shared_->name() +
                                                       "' (at most " + std::to_string((*writer)->max_payload_size()) +
                                                       " bytes): use a larger --ring-size");
    }
    std::string json = zerobuffer::to_json(format);
    if (json != published_json_) {
        auto generation = (*writer)->set_stream_metadata(json);
        if (!generation) {
            return make_error(FfmpegIoErrc::RingError, "cannot publish the stream format on ring '" + shared_->name() +
                                                           "': " + generation.error().message);
        }
        published_json_ = std::move(json);
    }
    if (options_.wait_for_readers > 0 && !waited_) {
        std::fprintf(stderr, "%s: waiting for %u reader(s) on ring '%s'\n", kProgram, options_.wait_for_readers,
                     shared_->name().c_str());
        while (!stop_requested()) {
            if ((*writer)->wait_for_readers(options_.wait_for_readers, kReaderWaitSlice)) {
                break;
            }
            lock.unlock(); // The decoder's threads may free pictures meanwhile.
            lock.lock();
        }
        waited_ = true;
        if (stop_requested()) {
            return make_error(FfmpegIoErrc::Interrupted, "stopped while waiting for a reader");
        }
    }
    return {};
}

Result<std::optional<Reservation>> RingOutput::reserve(std::size_t size)
{
    auto reservation = reserve_within(size, options_.writer.reader_timeout);
    if (reservation && !*reservation) {
        ++dropped_;
    }
    return reservation;
}

Result<std::optional<Reservation>> RingOutput::reserve_within(std::size_t size, std::chrono::nanoseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        std::unique_lock lock(shared_->mutex);
        zerobuffer::Writer* writer = shared_->existing();
        if (writer == nullptr) {
            return make_error(FfmpegIoErrc::Internal, "reserve before the ring was created");
        }
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now());
        auto reservation = writer->reserve(size, 0, std::clamp<std::chrono::nanoseconds>(left, {}, kReserveSlice));
        if (reservation) {
            return std::optional<Reservation>(std::in_place, shared_, std::move(*reservation));
        }
        const zerobuffer::Errc code = reservation.error().code;
        if (code == zerobuffer::Errc::Timeout && left > kReserveSlice && !stop_requested()) {
            lock.unlock();
            // Let the decoder's threads take the lock: their frees can make the room this thread waits for.
            std::this_thread::sleep_for(std::chrono::microseconds(50));
            continue;
        }
        if (code == zerobuffer::Errc::Timeout) {
            return std::optional<Reservation>{};
        }
        if (code == zerobuffer::Errc::FrameTooLarge) {
            return make_error(FfmpegIoErrc::RingError,
                              "a frame of " + std::to_string(size) + " bytes does not fit in ring '" + shared_->name() +
                                  "' (at most " + std::to_string(writer->max_payload_size()) +
                                  " bytes): use a larger --ring-size");
        }
        return make_error(FfmpegIoErrc::RingError,
                          "cannot reserve a frame in ring '" + shared_->name() + "': " + reservation.error().message);
    }
}

Result<void> RingOutput::commit(Reservation& reservation, const zerobuffer::FrameInfo& info, std::size_t size,
                                bool copied)
{
    const std::lock_guard lock(shared_->mutex);
    if (copied) {
        reservation.locked().mark_copied();
    }
    auto committed = shared_->existing()->commit(reservation.locked(), info, size, 0);
    if (!committed) {
        return make_error(FfmpegIoErrc::RingError,
                          "cannot commit a frame to ring '" + shared_->name() + "': " + committed.error().message);
    }
    ++frames_;
    return {};
}

Result<void> RingOutput::commit_picture(RingPicture& picture, const zerobuffer::FrameInfo& info)
{
    const std::lock_guard lock(shared_->mutex);
    const std::size_t size = picture.reservation.payload().size();
    // All of it, padding included: the decoder may read a reference frame's padding rows, which must stay ours.
    auto committed = shared_->existing()->commit_retained(picture.reservation, info, size, 0);
    if (!committed) {
        return make_error(FfmpegIoErrc::RingError,
                          "cannot commit a frame to ring '" + shared_->name() + "': " + committed.error().message);
    }
    picture.retained = std::move(*committed);
    ++frames_;
    return {};
}

void RingOutput::end_of_stream()
{
    const std::lock_guard lock(shared_->mutex);
    zerobuffer::Writer* writer = shared_->existing();
    if (writer == nullptr) {
        return;
    }
    zerobuffer::FrameInfo info;
    info.flags = zerobuffer::kFrameEndOfStream;
    if (auto written = writer->write({}, info); !written) {
        std::fprintf(stderr, "%s: warning: cannot write the end-of-stream frame: %s\n", kProgram,
                     written.error().message.c_str());
    }
}

bool RingOutput::created()
{
    const std::lock_guard lock(shared_->mutex);
    return shared_->existing() != nullptr;
}

zerobuffer::WriterCounters RingOutput::counters()
{
    const std::lock_guard lock(shared_->mutex);
    zerobuffer::Writer* writer = shared_->existing();
    return writer != nullptr ? writer->counters() : zerobuffer::WriterCounters{};
}

} // namespace zbffmpeg::ingest
