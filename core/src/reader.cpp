// SPDX-License-Identifier: MIT
// The reader side of a ring: slot claiming, frame validation, waiting, holding and releasing frames.
#include <zerobuffer/reader.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <unistd.h>
#include <utility>

#include <zerobuffer/inspect.h>
#include <zerobuffer/stream_format.h>

#include "cadence.h"
#include "descriptor.h"
#include "futex.h"
#include "holds.h"
#include "integrity.h"
#include "layout.h"
#include "segment.h"

namespace zerobuffer {
namespace detail {

/// Everything a Reader owns. Lives on the heap so Frames can point at it across Reader moves.
class ReaderCore {
public:
    ReaderCore(Segment segment, std::string name, const ReaderOptions& options, FrameDigester digester)
        : segment_(std::move(segment)), control_(segment_.control()), area_(segment_.payload()),
          capacity_(segment_.geometry().payload_capacity), frame_slots_(segment_.geometry().frame_slots),
          name_(std::move(name)), options_(options), digester_(digester),
          verifying_(digester.mode() != Integrity::None && options.verify), cadence_(options.cadence_budget)
    {
    }

    ReaderCore(const ReaderCore&) = delete;
    ReaderCore& operator=(const ReaderCore&) = delete;

    ~ReaderCore()
    {
        if (slot_ == nullptr)
            return;
        // Once the slot is free the writer ignores its cursor and records: everything we kept is free then.
        std::uint64_t owner = slot_->owner.load(std::memory_order_acquire);
        if (owner_epoch(owner) == epoch_)
            slot_->owner.compare_exchange_strong(owner, make_owner(epoch_, SlotState::Free), std::memory_order_seq_cst);
        wake_writer_if_waiting();
        segment_.unlock_byte(reader_lock_byte(slot_index_));
        // A writer killed without closing (SIGTERM, SIGKILL) cannot remove its ring; the last reader to leave it
        // does, judged exactly as 'zbctl gc NAME' judges (no lock held by anyone), so a live ring is never touched.
        if (!writer_alive())
            (void)remove_stale_ring(name_);
    }

    /// Claims a free reader slot: the OFD lock on its byte is the claim, so a dead reader's slot is free again.
    Result<void> claim_slot()
    {
        const std::uint32_t max_readers = segment_.geometry().max_readers;
        const std::uint32_t capacity = segment_.geometry().holds_per_reader;
        max_held_ = options_.max_held == 0 ? capacity : options_.max_held;
        if (max_held_ > capacity)
            return make_error(Errc::InvalidArgument, "max_held is " + std::to_string(options_.max_held) + " but ring '" +
                                                         name_ + "' lets a reader hold at most " + std::to_string(capacity) +
                                                         " frames (its writer's max_holds_per_reader): ask for fewer");
        for (std::uint32_t i = 0; i < max_readers; ++i) {
            auto locked = segment_.try_lock_byte(reader_lock_byte(i));
            if (!locked)
                return tl::unexpected(std::move(locked.error()));
            if (!*locked)
                continue;
            ReaderSlot& slot = segment_.reader_slot(i);
            std::uint64_t owner = slot.owner.load(std::memory_order_acquire);
            // The writer may be reclaiming this slot from its dead previous owner right now; the CAS settles it.
            while (!slot.owner.compare_exchange_weak(owner, make_owner(owner_epoch(owner) + 1, SlotState::Claiming),
                                                     std::memory_order_acq_rel)) {
            }
            epoch_ = owner_epoch(owner) + 1;
            // Cursor 0 keeps every frame until start() knows where this reader begins (see start()).
            slot.cursor.store(0, std::memory_order_relaxed);
            slot.policy.store(static_cast<std::uint32_t>(options_.policy), std::memory_order_relaxed);
            slot.flags.store(options_.policy == ReaderPolicy::Latest && options_.max_lag_frames != 0 ? kSlotReadsInOrder : 0,
                             std::memory_order_relaxed);
            slot.pid.store(getpid(), std::memory_order_relaxed);
            slot.last_acquire_ns.store(0, std::memory_order_relaxed);
            SharedReaderCounters& c = slot.counters;
            for (Counter* counter : {&c.frames_read, &c.bytes_read, &c.frames_skipped, &c.sequence_gaps, &c.waits,
                                     &c.timeouts, &c.checksum_failures, &c.overruns, &c.wait_ns, &c.spin_ns,
                                     &c.cadence_hits, &c.cadence_misses})
                counter->store(0, std::memory_order_relaxed);
            slot.cadence_interval_ns.store(0, std::memory_order_relaxed);
            slot.cadence_window_ns.store(0, std::memory_order_relaxed);
            slot_ = &slot;
            slot_index_ = i;
            holds_.emplace(slot, segment_.hold_records(i), capacity);
            holds_->reset();
            return {};
        }
        std::string pids;
        for (std::uint32_t i = 0; i < max_readers; ++i)
            pids += (i == 0 ? "" : ", ") + std::to_string(segment_.reader_slot(i).pid.load(std::memory_order_relaxed));
        return make_error(Errc::Busy, "ring '" + name_ + "' has all " + std::to_string(max_readers) +
                                          " reader slots taken (pids " + pids +
                                          "): detach a reader or create the ring with a larger max_readers");
    }

    /// Chooses the first frame. The slot's cursor (0 since the claim) protected every frame until now: a writer
    /// scanning after our fence sees it, and one that scanned before it committed nothing we can see as the
    /// first frame without also seeing the floor it raised (holds.h).
    void start()
    {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const std::uint64_t committed = control_.committed.load(std::memory_order_acquire);
        const std::uint64_t floor = control_.reclaim_floor.load(std::memory_order_relaxed);
        cursor_ = committed;
        if (options_.start_at == StartAt::NewestFrame && committed != 0 && committed - 1 >= floor)
            cursor_ = committed - 1;
        expected_ = cursor_; // So frames a latest reader misses before its first one count as skipped too.
        slot_->cursor.store(cursor_, std::memory_order_release);
        load_metadata(control_.format_generation.load(std::memory_order_acquire));
        slot_->owner.store(make_owner(epoch_, SlotState::Active), std::memory_order_release);
        control_.reader_join_futex.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_all(control_.reader_join_futex);
    }

    Result<void> check_key() const
    {
        if (control_.integrity != static_cast<std::uint32_t>(Integrity::Mac))
            return {};
        const Digest check = digester_.key_check(control_.key_salt);
        if (!FrameDigester::equal(check, control_.key_check))
            return make_error(Errc::AuthenticationFailed,
                              "wrong secret for ring '" + name_ + "': use the secret its writer was created with");
        return {};
    }

    Result<Frame> acquire(std::chrono::nanoseconds timeout)
    {
        LazyDeadline deadline(timeout);
        std::int64_t wait_started = 0;
        while (true) {
            const std::uint64_t committed = control_.committed.load(std::memory_order_acquire);
            if (committed > cursor_) {
                Frame frame;
                Result<bool> taken = options_.policy == ReaderPolicy::Lossless ? take_lossless(committed, frame)
                                                                               : take_latest(committed, frame);
                if (!taken)
                    return tl::unexpected(std::move(taken.error()));
                if (*taken) {
                    if (wait_started != 0)
                        bump(slot_->counters.wait_ns, static_cast<std::uint64_t>(monotonic_ns() - wait_started));
                    return frame;
                }
                continue; // Taken back before we got it: look again.
            }
            if (wait_started == 0)
                wait_started = monotonic_ns();
            if (auto waited = wait_for_data(deadline.get()); !waited) {
                bump(slot_->counters.wait_ns, static_cast<std::uint64_t>(monotonic_ns() - wait_started));
                return tl::unexpected(std::move(waited.error()));
            }
        }
    }

    void release(std::uint32_t hold) noexcept
    {
        {
            std::lock_guard lock(holds_mutex_);
            if (!holds_->in_use(hold))
                return;
            holds_->clear(hold);
        }
        wake_writer_if_waiting();
    }

    void request_keyframe() noexcept { control_.keyframe_requests.fetch_add(1, std::memory_order_relaxed); }
    bool writer_alive() const { return segment_.locked_by_other(kWriterLockByte); }
    const std::string& stream_metadata() const noexcept { return metadata_; }
    std::uint32_t metadata_generation() const noexcept { return metadata_generation_; }
    const std::string& name() const noexcept { return name_; }
    std::uint32_t slot_index() const noexcept { return slot_index_; }
    std::uint32_t max_held() const noexcept { return max_held_; }
    std::uint32_t held() noexcept
    {
        std::lock_guard lock(holds_mutex_);
        return holds_->count();
    }
    std::size_t ring_size() const noexcept { return static_cast<std::size_t>(capacity_); }
    ReaderCounters counters() const noexcept { return snapshot(slot_->counters); }

private:
    void wake_writer_if_waiting() noexcept
    {
        if (control_.writer_waiting.load(std::memory_order_seq_cst) != 0) {
            control_.space_futex.fetch_add(1, std::memory_order_seq_cst);
            futex_wake_all(control_.space_futex);
        }
    }

    Error corrupt(const std::string& what, std::uint64_t sequence) const
    {
        return {Errc::CorruptSegment, "corrupt ring '" + name_ + "': " + what + " (frame " + std::to_string(sequence) +
                                          "); the writer is broken or the segment was overwritten: restart the writer",
                0};
    }

    Result<bool> too_many_held() const
    {
        return make_error(Errc::InvalidState, "reader of ring '" + name_ + "' already holds " +
                                                  std::to_string(holds_->count()) +
                                                  " frames (max_held): release some before acquiring more");
    }

    /// The next frame in order; nothing can take it back (our cursor protects it), so every surprise is corruption.
    Result<bool> take_lossless(std::uint64_t committed, Frame& frame)
    {
        const std::uint64_t sequence = cursor_;
        if (committed - sequence > frame_slots_)
            return tl::unexpected(corrupt("the writer committed " + std::to_string(committed) +
                                              " frames, more than the ring's " + std::to_string(frame_slots_) +
                                              " descriptors ahead of this lossless reader",
                                          sequence));
        std::unique_lock lock(holds_mutex_);
        if (holds_->count() >= max_held_)
            return too_many_held();
        DescriptorFields fields;
        if (!load_descriptor(segment_.descriptor(sequence), sequence, fields))
            return tl::unexpected(corrupt("its descriptor describes another frame", sequence));
        if (!descriptor_is_sound(fields, capacity_))
            return tl::unexpected(corrupt(descriptor_problem(fields, capacity_), sequence));
        if (auto checked = verify(fields); !checked) {
            cursor_ = expected_ = sequence + 1;
            slot_->cursor.store(cursor_, std::memory_order_release);
            return tl::unexpected(std::move(checked.error()));
        }
        bool format_changed = false;
        if (auto loaded = switch_format(fields, format_changed); !loaded)
            return tl::unexpected(std::move(loaded.error()));
        const std::int64_t now = monotonic_coarse_ns(); // Hold ages for tools: ticks suffice.
        const std::uint32_t hold = holds_->publish(sequence, fields.extent_size, now);
        cursor_ = expected_ = sequence + 1;
        slot_->cursor.store(cursor_, std::memory_order_release); // After the hold record (holds.h).
        lock.unlock();
        // A writer waiting for a descriptor waits for this cursor (relaxed: a miss costs it one sleep slice).
        if (control_.writer_waiting.load(std::memory_order_relaxed) != 0)
            wake_writer_if_waiting();
        hand_out(fields, hold, 0, format_changed, now, frame);
        return true;
    }

    /// The newest frame, or with max_lag_frames the next one in order while close enough. False when the writer
    /// took it back before we held it (the caller looks again).
    Result<bool> take_latest(std::uint64_t committed, Frame& frame)
    {
        const std::uint64_t newest = committed - 1;
        std::uint64_t sequence = newest;
        if (options_.max_lag_frames != 0 && newest - cursor_ <= options_.max_lag_frames)
            sequence = cursor_;
        std::unique_lock lock(holds_mutex_);
        if (holds_->count() >= max_held_)
            return too_many_held();
        DescriptorFields fields;
        const bool described = load_descriptor(segment_.descriptor(sequence), sequence, fields);
        if (described && !descriptor_is_sound(fields, capacity_))
            return tl::unexpected(corrupt(descriptor_problem(fields, capacity_), sequence));
        const std::int64_t now = monotonic_coarse_ns(); // Hold ages for tools: ticks suffice.
        std::uint32_t hold = 0;
        bool kept = false;
        if (described) {
            // holds.h: publish the hold, fence, then the floor decides whether the frame is still there.
            hold = holds_->publish(sequence, fields.extent_size, now);
            std::atomic_thread_fence(std::memory_order_seq_cst);
            kept = sequence >= control_.reclaim_floor.load(std::memory_order_relaxed);
            if (!kept)
                holds_->clear(hold);
        }
        if (!kept) {
            bump(slot_->counters.overruns);
            // In order, overrun: jump to the newest. The newest itself gone (a tiny ring): wait for the next.
            cursor_ = sequence == newest ? newest + 1 : newest;
            return false;
        }
        if (auto checked = verify(fields); !checked) {
            holds_->clear(hold);
            cursor_ = expected_ = sequence + 1;
            return tl::unexpected(std::move(checked.error()));
        }
        bool format_changed = false;
        if (auto loaded = switch_format(fields, format_changed); !loaded) {
            holds_->clear(hold);
            return tl::unexpected(std::move(loaded.error()));
        }
        const std::uint64_t skipped = sequence > expected_ ? sequence - expected_ : 0;
        cursor_ = expected_ = sequence + 1;
        slot_->cursor.store(cursor_, std::memory_order_relaxed); // For tools, and a preference of in-order readers.
        lock.unlock();
        if (skipped != 0)
            bump(slot_->counters.frames_skipped, skipped);
        hand_out(fields, hold, skipped, format_changed, now, frame);
        return true;
    }

    /// Checks the frame's digest when the ring carries one. The payload is read in place (held, so stable).
    Result<void> verify(const DescriptorFields& fields)
    {
        if (!verifying_)
            return {};
        return verify_digest(fields);
    }

    Result<void> verify_digest(const DescriptorFields& fields)
    {
        const std::byte* memory = area_ + fields.extent_offset;
        const Digest digest = digester_.digest({reinterpret_cast<const std::byte*>(&fields), kDigestedFieldBytes},
                                               {memory, fields.metadata_size},
                                               {memory + fields.payload_offset, fields.payload_size});
        if (FrameDigester::equal(digest, reinterpret_cast<const std::uint8_t*>(fields.digest)))
            return {};
        bump(slot_->counters.checksum_failures);
        const bool mac = digester_.mode() == Integrity::Mac;
        return make_error(mac ? Errc::AuthenticationFailed : Errc::ChecksumMismatch,
                          std::string(mac ? "MAC" : "checksum") + " mismatch on frame " +
                              std::to_string(fields.sequence) + " of ring '" + name_ +
                              "': the frame was dropped; its content was altered in shared memory");
    }

    Result<void> switch_format(const DescriptorFields& fields, bool& changed)
    {
        changed = false;
        if (fields.format_generation == metadata_generation_)
            return {};
        if (auto loaded = load_metadata(fields.format_generation); !loaded)
            return loaded;
        changed = true;
        return {};
    }

    void hand_out(const DescriptorFields& fields, std::uint32_t hold, std::uint64_t skipped, bool format_changed,
                  std::int64_t now, Frame& frame) noexcept
    {
        slot_->last_acquire_ns.store(now, std::memory_order_relaxed);
        cadence_.on_frame(fields.sequence, fields.commit_time_ns);
        bump(slot_->counters.frames_read);
        bump(slot_->counters.bytes_read, fields.payload_size);
        const std::byte* memory = area_ + fields.extent_offset;
        frame.core_ = this;
        frame.hold_ = hold;
        frame.metadata_ = {memory, fields.metadata_size};
        frame.payload_ = {memory + fields.payload_offset, fields.payload_size};
        frame.info_ = {fields.pts, fields.dts, fields.duration, fields.offset, fields.offset_end, fields.flags};
        frame.sequence_ = fields.sequence;
        frame.frames_skipped_ = skipped;
        frame.commit_time_ns_ = fields.commit_time_ns;
        frame.format_generation_ = fields.format_generation;
        frame.format_changed_ = format_changed;
    }

    /// Sleeps until the writer commits past cursor_, the deadline passes, or the writer is gone.
    Result<void> wait_for_data(std::int64_t deadline)
    {
        if (options_.wait_mode == WaitMode::Cadence && cadence_.periodic()) {
            auto waited = wait_for_due_frame(deadline);
            if (!waited || *waited)
                return waited ? Result<void>{} : tl::unexpected(std::move(waited.error()));
        }
        if (options_.spin.count() > 0) {
            // Poll; ask the clock only every 64 polls, it costs more than a poll.
            const std::int64_t spin_until = monotonic_ns() + options_.spin.count();
            for (unsigned polls = 1;; ++polls) {
                if (control_.committed.load(std::memory_order_acquire) > cursor_)
                    return {};
                if (polls % 64 == 0 && monotonic_ns() >= spin_until)
                    break;
                cpu_relax();
            }
        }
        bool counted = false;
        while (true) {
            if (auto gone = check_writer(); !gone)
                return gone;
            const std::int64_t now = monotonic_ns();
            if (now >= deadline) {
                bump(slot_->counters.timeouts);
                return make_error(Errc::Timeout, "no frame on ring '" + name_ + "' within the timeout");
            }
            if (!counted) {
                bump(slot_->counters.waits);
                counted = true;
            }
            const std::int64_t slice =
                std::min<std::int64_t>(deadline - now, std::chrono::nanoseconds(options_.liveness_interval).count());
            if (sleep_registered(slice))
                return {};
        }
    }

    /// One futex sleep of at most `slice` ns, registered in sleeping_readers: the Dekker handshake with the writer's
    /// commit (store committed, fence, load sleeping_readers) means a frame committed before or during it wakes it.
    /// True when a frame is there afterwards.
    bool sleep_registered(std::int64_t slice) noexcept
    {
        const std::uint64_t my_bit = std::uint64_t{1} << slot_index_;
        control_.sleeping_readers.fetch_or(my_bit, std::memory_order_seq_cst);
        const std::uint32_t seen = control_.data_futex.load(std::memory_order_seq_cst);
        const bool ready = control_.committed.load(std::memory_order_acquire) > cursor_ ||
                           control_.writer_state.load(std::memory_order_acquire) !=
                               static_cast<std::uint32_t>(WriterState::Active);
        if (!ready)
            futex_wait(control_.data_futex, seen, std::chrono::nanoseconds(slice));
        control_.sleeping_readers.fetch_and(~my_bit, std::memory_order_seq_cst);
        return control_.committed.load(std::memory_order_acquire) > cursor_;
    }

    /// Cadence (cadence.h): sleeps until the polling window of the next due frame, then polls for it. True with a
    /// frame, false when the frame did not come in the window (the caller falls back to the plain wait).
    Result<bool> wait_for_due_frame(std::int64_t deadline)
    {
        slot_->cadence_interval_ns.store(cadence_.interval_ns(), std::memory_order_relaxed);
        slot_->cadence_window_ns.store(cadence_.window_ns(), std::memory_order_relaxed);
        const std::int64_t poll_from = cadence_.poll_from_ns();
        const std::int64_t poll_until = std::min(cadence_.poll_until_ns(), deadline);
        std::int64_t now = monotonic_ns();
        if (now >= poll_until || poll_from >= deadline)
            return false; // Late already, or due after the timeout: the plain wait (and its timeout) takes it.
        bump(slot_->counters.waits);
        while (now < poll_from) {
            if (auto gone = check_writer(); !gone)
                return tl::unexpected(std::move(gone.error()));
            const std::int64_t asked = std::min(poll_from, now + std::chrono::nanoseconds(options_.liveness_interval).count());
            if (sleep_registered(asked - now))
                return true; // Early: the writer woke us as in the plain wait.
            now = monotonic_ns();
            cadence_.on_sleep(asked, now);
        }
        // The window: not registered as a sleeper, so the commit costs the writer no wake-up; we see it by polling.
        const std::int64_t polling_since = now;
        bool arrived = false;
        for (unsigned polls = 1;; ++polls) {
            if (control_.committed.load(std::memory_order_acquire) > cursor_) {
                arrived = true;
                break;
            }
            if (polls % 64 == 0) {
                now = monotonic_ns();
                if (now >= poll_until ||
                    control_.writer_state.load(std::memory_order_relaxed) != static_cast<std::uint32_t>(WriterState::Active))
                    break;
            }
            cpu_relax();
        }
        bump(slot_->counters.spin_ns, static_cast<std::uint64_t>(std::max<std::int64_t>(0, monotonic_ns() - polling_since)));
        bump(arrived ? slot_->counters.cadence_hits : slot_->counters.cadence_misses);
        return arrived;
    }

    /// WriterGone once every frame is read and the writer closed, or died (checked at most once per interval).
    Result<void> check_writer()
    {
        const bool closed = control_.writer_state.load(std::memory_order_acquire) !=
                            static_cast<std::uint32_t>(WriterState::Active);
        bool dead = false;
        if (!closed) {
            const std::int64_t now = monotonic_ns();
            if (now - last_liveness_check_ns_ >= std::chrono::nanoseconds(options_.liveness_interval).count()) {
                last_liveness_check_ns_ = now;
                dead = !writer_alive();
            }
        }
        if (!closed && !dead)
            return {};
        // The count is final now; frames committed before the end are still ours to read.
        if (control_.committed.load(std::memory_order_acquire) > cursor_)
            return {};
        return make_error(Errc::WriterGone, closed ? "the writer of ring '" + name_ + "' closed the ring"
                                                   : "the writer of ring '" + name_ + "' (pid " +
                                                         std::to_string(control_.writer_pid) + ") died");
    }

    /// Makes stream-metadata generation `generation` the current document.
    Result<void> load_metadata(std::uint32_t generation)
    {
        switch (segment_.copy_metadata(generation, metadata_)) {
        case Segment::MetadataCopy::Ok:
            metadata_generation_ = generation;
            learn_frame_rate();
            return {};
        case Segment::MetadataCopy::Recycled:
            if (generation > control_.format_generation.load(std::memory_order_acquire))
                return tl::unexpected(corrupt("the frame uses stream metadata generation " + std::to_string(generation) +
                                                  " that was never published",
                                              cursor_));
            return make_error(Errc::InvalidState,
                              "stream metadata generation " + std::to_string(generation) + " of ring '" + name_ +
                                  "' was replaced before this reader got to its frames (the format changed more than " +
                                  std::to_string(kMetadataSlots) + " times while it lagged)");
        case Segment::MetadataCopy::Oversized:
            return tl::unexpected(corrupt("stream metadata size exceeds its slot", cursor_));
        case Segment::MetadataCopy::Unstable:
            break;
        }
        return tl::unexpected(corrupt("stream metadata slot never became stable", cursor_));
    }

    /// The stream format's frame rate, as a first guess of the cadence (format changes are rare: parsing is fine).
    void learn_frame_rate() noexcept
    {
        if (metadata_.empty())
            return;
        auto format = parse_stream_format(metadata_);
        if (format && format->framerate && format->framerate->num > 0 && format->framerate->den > 0)
            cadence_.set_nominal(static_cast<std::int64_t>(1'000'000'000LL * format->framerate->den / format->framerate->num));
    }

    Segment segment_;
    ControlBlock& control_;
    const std::byte* area_;
    std::uint64_t capacity_;
    std::uint64_t frame_slots_;
    std::string name_;
    ReaderOptions options_;
    FrameDigester digester_;
    ReaderSlot* slot_ = nullptr;
    std::uint32_t slot_index_ = 0;
    std::uint64_t epoch_ = 0;
    std::uint32_t max_held_ = 0;
    bool verifying_ = false; ///< The ring carries digests and the options ask to check them.

    std::uint64_t cursor_ = 0;   ///< Next sequence to look at.
    std::uint64_t expected_ = 0; ///< Sequence after the last frame handed out (skips are counted from it).
    std::int64_t last_liveness_check_ns_ = 0;
    std::string metadata_;
    std::uint32_t metadata_generation_ = 0;

    Cadence cadence_;

    /// Frames may be released from other threads: the hold bookkeeping is guarded.
    SpinLock holds_mutex_;
    std::optional<ReaderHolds> holds_;
};

} // namespace detail

using detail::ReaderCore;

Frame::Frame(Frame&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)), hold_(other.hold_), payload_(other.payload_),
      metadata_(other.metadata_), info_(other.info_), sequence_(other.sequence_), frames_skipped_(other.frames_skipped_),
      commit_time_ns_(other.commit_time_ns_), format_generation_(other.format_generation_),
      format_changed_(other.format_changed_)
{
}

Frame& Frame::operator=(Frame&& other) noexcept
{
    if (this != &other) {
        release();
        core_ = std::exchange(other.core_, nullptr);
        hold_ = other.hold_;
        payload_ = other.payload_;
        metadata_ = other.metadata_;
        info_ = other.info_;
        sequence_ = other.sequence_;
        frames_skipped_ = other.frames_skipped_;
        commit_time_ns_ = other.commit_time_ns_;
        format_generation_ = other.format_generation_;
        format_changed_ = other.format_changed_;
    }
    return *this;
}

Frame::~Frame() { release(); }

void Frame::release() noexcept
{
    if (core_ != nullptr) {
        std::exchange(core_, nullptr)->release(hold_);
        payload_ = {};
        metadata_ = {};
    }
}

Result<Reader> Reader::attach(std::string_view name, const ReaderOptions& options)
{
    if (auto valid = detail::validate_ring_name(name); !valid)
        return tl::unexpected(std::move(valid.error()));
    if (options.liveness_interval.count() <= 0)
        return make_error(Errc::InvalidArgument, "liveness_interval must be positive");
    if (options.policy != ReaderPolicy::Lossless && options.policy != ReaderPolicy::Latest)
        return make_error(Errc::InvalidArgument, "unknown reader policy");
    auto segment = detail::Segment::open(detail::ring_path(name), true);
    if (!segment) {
        if (segment.error().code == Errc::NotFound)
            segment.error().message = "no ring named '" + std::string(name) + "': start its writer first";
        return tl::unexpected(std::move(segment.error()));
    }
    const auto integrity = static_cast<Integrity>(segment->control().integrity);
    auto digester = detail::FrameDigester::make(integrity, options.secret);
    if (!digester) {
        digester.error().message = "ring '" + std::string(name) + "': " + digester.error().message;
        return tl::unexpected(std::move(digester.error()));
    }
    auto core = std::make_unique<ReaderCore>(std::move(*segment), std::string(name), options, *digester);
    if (auto key = core->check_key(); !key)
        return tl::unexpected(std::move(key.error()));
    if (auto claimed = core->claim_slot(); !claimed)
        return tl::unexpected(std::move(claimed.error()));
    core->start();
    return Reader(std::move(core));
}

Reader::Reader(std::unique_ptr<ReaderCore> core) : core_(std::move(core)) {}
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;
Reader::~Reader() = default;

Result<Frame> Reader::acquire(std::chrono::nanoseconds timeout) { return core_->acquire(timeout); }

Result<std::size_t> Reader::read_into(std::span<std::byte> buffer, std::chrono::nanoseconds timeout, FrameInfo* info)
{
    auto frame = core_->acquire(timeout);
    if (!frame)
        return tl::unexpected(std::move(frame.error()));
    const std::size_t size = frame->payload().size();
    if (size > buffer.size())
        return make_error(Errc::InvalidArgument, "frame " + std::to_string(frame->sequence()) + " has " +
                                                     std::to_string(size) + " bytes but the buffer holds " +
                                                     std::to_string(buffer.size()) + "; the frame was consumed");
    if (size != 0)
        std::memcpy(buffer.data(), frame->payload().data(), size);
    if (info != nullptr)
        *info = frame->info();
    return size;
}

const std::string& Reader::stream_metadata() const noexcept { return core_->stream_metadata(); }
std::uint32_t Reader::stream_metadata_generation() const noexcept { return core_->metadata_generation(); }
bool Reader::writer_alive() const { return core_->writer_alive(); }
void Reader::request_keyframe() noexcept { core_->request_keyframe(); }
std::uint32_t Reader::max_held() const noexcept { return core_->max_held(); }
std::uint32_t Reader::held() const noexcept { return core_->held(); }
std::size_t Reader::ring_size() const noexcept { return core_->ring_size(); }
ReaderCounters Reader::counters() const noexcept { return core_->counters(); }
std::uint32_t Reader::slot_index() const noexcept { return core_->slot_index(); }
const std::string& Reader::name() const noexcept { return core_->name(); }

} // namespace zerobuffer
