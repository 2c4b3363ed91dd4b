// SPDX-License-Identifier: MIT
// zb-ingest's ring: created on first use and sized for the frames, publishes the stream format, reserves and
// commits frames, and ends with an end-of-stream frame. The Writer behind it is shared with the decoder's
// threads (ring_pictures.h), so every use of it takes one lock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <zerobuffer/zerobuffer.h>

#include "error.h"
#include "options.h"

namespace zbffmpeg::ingest {

/// Frames of a default-sized ring left to readers (frames latest readers hold, frames lossless readers have not
/// read yet) on top of what the decoder keeps: the old default of 8 frames.
inline constexpr std::uint32_t kReaderFrames = 8;

/// Frames of `frame_size` bytes that `ring_size` bytes of frame memory hold (each frame starts on a cache line).
[[nodiscard]] std::uint64_t frames_in(std::size_t ring_size, std::size_t frame_size) noexcept;

/// Ring pictures the decoder may keep at once (open reservations plus retained reference frames): everything but
/// the readers' share, kReaderFrames or half of a small ring. At least 1.
[[nodiscard]] std::uint32_t picture_budget(std::size_t ring_size, std::size_t frame_size) noexcept;

struct RingPicture;

/// The ring's Writer and the lock that serialises every use of it (a Writer is for one thread at a time): the
/// decoder's threads reserve pictures in get_buffer2 and give them back from their buffers' free callbacks
/// while the main thread publishes and commits. Owned jointly by RingOutput and every picture the decoder holds,
/// so the Writer outlives the last of them.
class SharedRing {
public:
    SharedRing(std::string name, zerobuffer::WriterOptions options, bool size_given)
        : name_(std::move(name)), options_(std::move(options)), size_given_(size_given)
    {
    }

    std::mutex mutex;
    /// Ring pictures alive (reservations the decoder renders into, and committed frames it still references).
    /// Guarded by mutex.
    std::vector<RingPicture*> pictures;
    /// The decoder's threads could not create the ring: they stop trying, the main thread reports why. Guarded.
    bool failed = false;

    /// The Writer, created here on first use: sized by default for `decoder_frames` pictures the decoder keeps
    /// plus kReaderFrames, and at least the --ring-size default. Call with mutex held.
    [[nodiscard]] Result<zerobuffer::Writer*> writer(std::size_t frame_size, std::uint32_t decoder_frames);
    /// The Writer if it was created, else nullptr. Call with mutex held.
    [[nodiscard]] zerobuffer::Writer* existing() noexcept { return writer_ ? &*writer_ : nullptr; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
    zerobuffer::WriterOptions options_;
    bool size_given_;
    std::optional<zerobuffer::Writer> writer_;
};

/// A frame the decoder renders into ring memory: the reservation until it is published, then the retained frame
/// until the decoder's last reference to it goes. Owned by the AVBuffer that wraps its payload (ring_pictures.h).
struct RingPicture {
    std::shared_ptr<SharedRing> ring;
    zerobuffer::FrameReservation reservation;
    zerobuffer::RetainedFrame retained;
};

/// A reservation made by the main thread (copy and conversion paths, and pictures it reserves ahead for the
/// decoder) that is given back under the ring's lock if it is never committed, so that an early return never
/// touches the Writer unlocked. Move-constructible only: destroying a valid one takes the lock, so one must never
/// be destroyed (or assigned over) with the lock held.
class Reservation {
public:
    Reservation(std::shared_ptr<SharedRing> ring, zerobuffer::FrameReservation reservation)
        : ring_(std::move(ring)), reservation_(std::move(reservation))
    {
    }
    Reservation(Reservation&&) noexcept = default;
    Reservation& operator=(Reservation&&) = delete;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation();

    [[nodiscard]] std::span<std::byte> payload() const noexcept { return reservation_.payload(); }
    /// The reservation itself, to commit, abort or hand on: only with the ring's lock held.
    [[nodiscard]] zerobuffer::FrameReservation& locked() noexcept { return reservation_; }

private:
    std::shared_ptr<SharedRing> ring_;
    zerobuffer::FrameReservation reservation_;
};

/// The main thread's side of the ring. The ring is created when the first frame's format is known (or by the
/// decoder's first picture), so an input that cannot be opened leaves no ring behind.
class RingOutput {
public:
    /// The ring `name` (the video ring, or --audio-ring's).
    RingOutput(const IngestOptions& options, const std::string& name);

    [[nodiscard]] const std::shared_ptr<SharedRing>& shared() const noexcept { return shared_; }

    /// Creates the ring on first use (sized for frames of frame_size), checks that such frames fit, publishes the
    /// format when it changed, and waits once for --wait-for-readers.
    [[nodiscard]] Result<void> publish(const zerobuffer::StreamFormat& format, std::size_t frame_size);

    /// Reserves a frame; an empty optional (and one more drop) when slow lossless readers leave no room within
    /// --reader-timeout. Waits in short slices so that the decoder's threads get the lock in between.
    [[nodiscard]] Result<std::optional<Reservation>> reserve(std::size_t size);
    /// The same with another longest wait (0: only a look), and no drop counted.
    [[nodiscard]] Result<std::optional<Reservation>> reserve_within(std::size_t size, std::chrono::nanoseconds timeout);
    /// A frame not written because readers left no room (the summary's "dropped").
    void count_drop() noexcept { ++dropped_; }

    /// Publishes a reservation filled by this thread; `copied` counts it under frames_copied.
    [[nodiscard]] Result<void> commit(Reservation& reservation, const zerobuffer::FrameInfo& info, std::size_t size,
                                      bool copied);

    /// Publishes a picture the decoder rendered into ring memory; its memory stays out of reuse until the picture
    /// is freed (the decoder may still reference it as a reference frame).
    [[nodiscard]] Result<void> commit_picture(RingPicture& picture, const zerobuffer::FrameInfo& info);

    /// Commits the end-of-stream frame (empty payload), if the ring exists.
    void end_of_stream();

    [[nodiscard]] bool created();
    /// True once a frame's format was published (the decoder's pictures may create the ring before that).
    [[nodiscard]] bool published() const noexcept { return !published_json_.empty(); }
    /// The ring's counters (frames in place, copied...); all zero before the ring exists.
    [[nodiscard]] zerobuffer::WriterCounters counters();
    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

private:
    const IngestOptions& options_;
    std::shared_ptr<SharedRing> shared_;
    std::string published_json_;
    bool waited_ = false;
    std::uint64_t frames_ = 0;
    std::uint64_t dropped_ = 0;
};

} // namespace zbffmpeg::ingest
