// SPDX-License-Identifier: MIT
// The reader side of a ring: slot claiming, frame validation, waiting, holding and releasing frames.
#include <zerobuffer/reader.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unistd.h>
#include <utility>
#include <vector>

#include "futex.h"
#include "held_frames.h"
#include "integrity.h"
#include "layout.h"
#include "segment.h"

namespace zerobuffer {
namespace detail {

namespace {
constexpr std::size_t kHeaderSize = sizeof(FrameHeader);
constexpr int kSeqlockTries = 10000;
} // namespace

/// Everything a Reader owns. Lives on the heap so Frames can point at it across Reader moves.
class ReaderCore {
public:
    ReaderCore(Segment segment, std::string name, const ReaderOptions& options, FrameDigester digester)
        : segment_(std::move(segment)), control_(segment_.control()), ring_(segment_.payload()),
          capacity_(segment_.geometry().payload_capacity), name_(std::move(name)), options_(options),
          digester_(digester), held_(options.max_held)
    {
    }

    ReaderCore(const ReaderCore&) = delete;
    ReaderCore& operator=(const ReaderCore&) = delete;

    ~ReaderCore()
    {
        if (slot_ == nullptr)
            return;
        slot_->pin.store(kNoPosition, std::memory_order_seq_cst);
        std::uint64_t owner = slot_->owner.load(std::memory_order_acquire);
        if (owner_epoch(owner) == epoch_)
            slot_->owner.compare_exchange_strong(owner, make_owner(epoch_, SlotState::Free), std::memory_order_acq_rel);
        wake_writer_if_waiting();
        segment_.unlock_byte(reader_lock_byte(slot_index_));
    }

    /// Claims a free reader slot: the OFD lock on its byte is the claim, so a dead reader's slot is free again.
    Result<void> claim_slot()
    {
        const std::uint32_t max_readers = segment_.geometry().max_readers;
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
            slot.pin.store(kNoPosition, std::memory_order_seq_cst);
            slot.pid = getpid();
            slot.policy = static_cast<std::uint32_t>(options_.policy);
            SharedReaderCounters& c = slot.counters;
            for (Counter* counter : {&c.frames_read, &c.bytes_read, &c.frames_skipped, &c.sequence_gaps, &c.waits,
                                     &c.timeouts, &c.checksum_failures})
                counter->store(0, std::memory_order_relaxed);
            slot_ = &slot;
            slot_index_ = i;
            return {};
        }
        std::string pids;
        for (std::uint32_t i = 0; i < max_readers; ++i)
            pids += (i == 0 ? "" : ", ") + std::to_string(segment_.reader_slot(i).pid);
        return make_error(Errc::Busy, "ring '" + name_ + "' has all " + std::to_string(max_readers) +
                                          " reader slots taken (pids " + pids +
                                          "): detach a reader or create the ring with a larger max_readers");
    }

    /// Chooses where to start reading and, for lossless readers, pins it before going active.
    void start()
    {
        Publication now = read_publication();
        std::uint64_t position = now.head;
        expected_sequence_ = now.next_sequence; // So drops before the first frame count too.
        if (options_.start_at == StartAt::NewestFrame && now.last_frame != kNoPosition && now.next_sequence != 0) {
            position = now.last_frame;
            expected_sequence_ = now.next_sequence - 1;
        }
        if (options_.policy == ReaderPolicy::Lossless) {
            while (!try_pin(position)) { // The newest frame was being overwritten: start at the head.
                now = read_publication();
                position = now.head;
                expected_sequence_ = now.next_sequence;
            }
        }
        read_position_ = position;
        slot_->read_pos.store(position, std::memory_order_relaxed);
        load_metadata(control_.format_generation.load(std::memory_order_acquire));
        slot_->owner.store(make_owner(epoch_, SlotState::Active), std::memory_order_release);
        control_.reader_join_futex.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_all(control_.reader_join_futex);
    }

    Result<void> check_key() const
    {
        const ControlBlock& control = control_;
        if (control.integrity != static_cast<std::uint32_t>(Integrity::Mac))
            return {};
        const Digest check = digester_.key_check(control.key_salt);
        if (!FrameDigester::equal(check, control.key_check))
            return make_error(Errc::AuthenticationFailed,
                              "wrong secret for ring '" + name_ + "': use the secret its writer was created with");
        return {};
    }

    Result<Frame> acquire(std::chrono::nanoseconds timeout)
    {
        std::int64_t deadline = 0; // Computed only if we have to wait.
        while (true) {
            const std::uint64_t head = control_.head.load(std::memory_order_acquire);
            if (read_position_ < head) {
                Frame frame;
                auto taken = take(head, frame);
                if (!taken)
                    return tl::unexpected(std::move(taken.error()));
                if (*taken)
                    return frame;
                continue; // Padding skipped or jumped ahead.
            }
            if (deadline == 0)
                deadline = deadline_after(timeout);
            if (auto waited = wait_for_data(deadline); !waited)
                return tl::unexpected(std::move(waited.error()));
        }
    }

    void release(std::uint64_t hold_id) noexcept
    {
        std::lock_guard lock(held_mutex_);
        const std::uint64_t old_pin = current_pin();
        if (!held_.release(hold_id))
            return;
        const std::uint64_t pin = current_pin();
        if (pin != old_pin) {
            slot_->pin.store(pin, std::memory_order_seq_cst);
            wake_writer_if_waiting();
        }
    }

    bool writer_alive() const { return segment_.locked_by_other(kWriterLockByte); }
    const std::string& stream_metadata() const noexcept { return metadata_; }
    std::uint32_t metadata_generation() const noexcept { return metadata_generation_; }
    const std::string& name() const noexcept { return name_; }
    std::uint32_t slot_index() const noexcept { return slot_index_; }

    ReaderCounters counters() const noexcept { return snapshot(slot_->counters); }

private:
    /// The position the writer must not overwrite: the oldest held frame; with nothing held, the next frame
    /// for a lossless reader, nothing for a latest reader. Called with held_mutex_ held.
    std::uint64_t current_pin() const noexcept
    {
        if (!held_.empty())
            return held_.oldest_position();
        return options_.policy == ReaderPolicy::Lossless ? read_position_ : kNoPosition;
    }

    struct Publication {
        std::uint64_t head;
        std::uint64_t next_sequence;
        std::uint64_t last_frame;
    };

    /// Reads head, next_sequence and last_frame_pos as one consistent triple (seqlock). If the writer died
    /// mid-update the values no longer change, so after enough tries we take them as they are.
    Publication read_publication() const noexcept
    {
        Publication now{};
        for (int attempt = 0; attempt < kSeqlockTries; ++attempt) {
            const std::uint32_t before = control_.publish_seqlock.load(std::memory_order_acquire);
            now = {control_.head.load(std::memory_order_acquire), control_.next_sequence.load(std::memory_order_relaxed),
                   control_.last_frame_pos.load(std::memory_order_relaxed)};
            std::atomic_thread_fence(std::memory_order_acquire);
            if (before % 2 == 0 && control_.publish_seqlock.load(std::memory_order_relaxed) == before)
                break;
            cpu_relax();
        }
        return now;
    }

    /// Pins `position` and checks the writer has not already reserved over it. Dekker with the writer's
    /// reserve (store reserve_end, load pin_epoch): one of the two sides always sees the other.
    bool try_pin(std::uint64_t position) noexcept
    {
        slot_->pin.store(position, std::memory_order_seq_cst);
        control_.pin_epoch.fetch_add(1, std::memory_order_seq_cst);
        const std::uint64_t reserved = control_.reserve_end.load(std::memory_order_seq_cst);
        if (reserved <= position + capacity_)
            return true;
        slot_->pin.store(kNoPosition, std::memory_order_seq_cst);
        return false;
    }

    void wake_writer_if_waiting() noexcept
    {
        if (control_.writer_waiting.load(std::memory_order_seq_cst) != 0) {
            control_.space_futex.fetch_add(1, std::memory_order_seq_cst);
            futex_wake_all(control_.space_futex);
        }
    }

    Error corrupt(const std::string& what) const
    {
        return {Errc::CorruptSegment, "corrupt ring '" + name_ + "': " + what + " at position " +
                                          std::to_string(read_position_) +
                                          "; the writer is broken or the segment was overwritten: restart the writer",
                0};
    }

    /// Latest policy: moves to the newest committed frame. Returns false if there is nothing newer.
    void jump_to_newest(std::uint64_t head) noexcept
    {
        const std::uint64_t newest = control_.last_frame_pos.load(std::memory_order_acquire);
        if (newest == kNoPosition || newest % kRecordAlign != 0 || newest < read_position_ || newest >= head) {
            read_position_ = head; // Nothing readable: wait for the next frame.
            return;
        }
        read_position_ = newest;
    }

    /// Takes the record at read_position_. Returns true with `frame` filled, false if it skipped a padding record
    /// or jumped (the caller loops), or an error.
    Result<bool> take(std::uint64_t head, Frame& frame)
    {
        if (head % kRecordAlign != 0)
            return tl::unexpected(corrupt("head " + std::to_string(head) + " is not aligned"));
        std::unique_lock lock(held_mutex_);
        if (held_.unreleased() >= options_.max_held)
            return make_error(Errc::InvalidState, "reader of ring '" + name_ + "' already holds " +
                                                      std::to_string(held_.unreleased()) +
                                                      " frames (max_held): release some before acquiring more");
        if (options_.policy == ReaderPolicy::Latest) {
            if (options_.max_lag_frames != 0 && expected_sequence_ != kNoPosition) {
                const std::uint64_t next = control_.next_sequence.load(std::memory_order_relaxed);
                if (next > expected_sequence_ && next - expected_sequence_ > options_.max_lag_frames + 1) {
                    jump_to_newest(head);
                    if (held_.empty() && read_position_ == head)
                        return false;
                }
            }
            if (held_.empty() && !try_pin(read_position_)) {
                jump_to_newest(head); // Overrun: the writer already reuses our next frame.
                if (read_position_ != head && !try_pin(read_position_))
                    read_position_ = head;
                if (read_position_ == head)
                    return false;
            }
        }
        // A wrap padding the writer published on its own: step to the lap end without reading it (the writer
        // may already have moved our pin there and be overwriting it).
        if (read_position_ == control_.last_wrap_start.load(std::memory_order_acquire)) {
            advance(capacity_ - read_position_ % capacity_);
            return false;
        }
        // Or it did so and has already published a newer wrap: then it moved our pin first (load order matters:
        // last_wrap_start with acquire above, our pin after it).
        if (held_.empty()) {
            const std::uint64_t pin = slot_->pin.load(std::memory_order_acquire);
            if (pin != kNoPosition && pin > read_position_) {
                read_position_ = pin;
                slot_->read_pos.store(read_position_, std::memory_order_relaxed);
                return false;
            }
        }
        // Pinned now (or lossless), so the writer cannot be more than a ring ahead of us.
        if (head - read_position_ > capacity_)
            return tl::unexpected(corrupt("head " + std::to_string(head) + " is more than a ring ahead"));
        // Copy the header first and validate the copy: shared memory may change under us if it is hostile.
        FrameHeader header;
        const std::uint64_t offset = read_position_ % capacity_;
        if (capacity_ - offset >= kHeaderSize) {
            std::memcpy(&header, ring_ + offset, kHeaderSize);
        } else { // Only a padding record fits here; read just its kind and size.
            header = FrameHeader{};
            std::memcpy(&header, ring_ + offset, 16);
        }
        const std::uint64_t available = head - read_position_;
        if (header.record_size < kRecordAlign || header.record_size % kRecordAlign != 0 ||
            header.record_size > capacity_ - offset || header.record_size > available)
            return tl::unexpected(corrupt("record size " + std::to_string(header.record_size) + " is out of bounds"));

        if (header.kind == static_cast<std::uint32_t>(RecordKind::Padding)) {
            advance(header.record_size);
            return false;
        }
        if (header.kind != static_cast<std::uint32_t>(RecordKind::Frame))
            return tl::unexpected(corrupt("unknown record kind " + std::to_string(header.kind)));
        if (header.record_size < kHeaderSize || header.payload_offset < kHeaderSize ||
            header.payload_offset % kRecordAlign != 0 || header.payload_offset > header.record_size ||
            header.metadata_size > header.payload_offset - kHeaderSize ||
            header.payload_size > header.record_size - header.payload_offset)
            return tl::unexpected(corrupt("frame layout (payload " + std::to_string(header.payload_size) + " at " +
                                          std::to_string(header.payload_offset) + ", metadata " +
                                          std::to_string(header.metadata_size) + ") does not fit its record"));

        const std::byte* record = ring_ + offset;
        const std::span<const std::byte> metadata{record + kHeaderSize, header.metadata_size};
        const std::span<const std::byte> payload{record + header.payload_offset, header.payload_size};
        const std::uint64_t position = read_position_;

        if (digester_.mode() != Integrity::None && options_.verify) {
            const Digest digest = digester_.digest({reinterpret_cast<const std::byte*>(&header), kDigestedHeaderBytes},
                                                   metadata, payload);
            if (!FrameDigester::equal(digest, header.digest)) {
                bump(slot_->counters.checksum_failures);
                expected_sequence_ = header.sequence + 1;
                advance(header.record_size);
                const bool mac = digester_.mode() == Integrity::Mac;
                return make_error(mac ? Errc::AuthenticationFailed : Errc::ChecksumMismatch,
                                  std::string(mac ? "MAC" : "checksum") + " mismatch on frame " +
                                      std::to_string(header.sequence) + " of ring '" + name_ +
                                      "': the frame was dropped; its content was altered in shared memory");
            }
        }
        bool format_changed = false;
        if (header.format_generation != metadata_generation_) {
            if (auto loaded = load_metadata(header.format_generation); !loaded)
                return tl::unexpected(std::move(loaded.error()));
            format_changed = true;
        }
        std::uint64_t skipped = 0;
        if (expected_sequence_ != kNoPosition && header.sequence != expected_sequence_) {
            skipped = header.sequence > expected_sequence_ ? header.sequence - expected_sequence_ : 0;
            if (options_.policy == ReaderPolicy::Latest && header.sequence > expected_sequence_)
                bump(slot_->counters.frames_skipped, skipped);
            else
                bump(slot_->counters.sequence_gaps);
        }
        expected_sequence_ = header.sequence + 1;

        const std::uint64_t hold_id = held_.push(position);
        // Lossless readers already pin read_position_; latest readers pinned it in try_pin above, or hold older.
        read_position_ += header.record_size;
        lock.unlock();

        slot_->read_pos.store(read_position_, std::memory_order_relaxed);
        slot_->next_sequence.store(expected_sequence_, std::memory_order_relaxed);
        bump(slot_->counters.frames_read);
        bump(slot_->counters.bytes_read, header.payload_size);

        frame.core_ = this;
        frame.hold_id_ = hold_id;
        frame.payload_ = payload;
        frame.metadata_ = metadata;
        frame.info_ = {header.pts, header.dts, header.duration, header.offset, header.offset_end, header.flags};
        frame.sequence_ = header.sequence;
        frame.frames_skipped_ = skipped;
        frame.commit_time_ns_ = header.commit_time_ns;
        frame.format_generation_ = header.format_generation;
        frame.format_changed_ = format_changed;
        return true;
    }

    /// Moves past a record without holding it. Called with held_mutex_ held.
    void advance(std::uint64_t size) noexcept
    {
        const std::uint64_t old_pin = current_pin();
        read_position_ += size;
        const std::uint64_t pin = current_pin();
        if (options_.policy == ReaderPolicy::Latest && held_.empty()) {
            slot_->pin.store(kNoPosition, std::memory_order_seq_cst);
        } else if (pin != old_pin) {
            slot_->pin.store(pin, std::memory_order_seq_cst);
            wake_writer_if_waiting();
        }
        slot_->read_pos.store(read_position_, std::memory_order_relaxed);
    }

    /// Sleeps until the head moves past read_position_, the deadline passes, or the writer is gone.
    Result<void> wait_for_data(std::int64_t deadline)
    {
        if (options_.spin.count() > 0) {
            // Poll the head; ask the clock only every 64 polls, it costs more than a poll.
            const std::int64_t spin_until = monotonic_ns() + options_.spin.count();
            for (unsigned polls = 1;; ++polls) {
                if (control_.head.load(std::memory_order_acquire) > read_position_)
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
            // Dekker with the writer's commit (store head, fence, load sleeping_readers).
            const std::uint64_t my_bit = std::uint64_t{1} << slot_index_;
            control_.sleeping_readers.fetch_or(my_bit, std::memory_order_seq_cst);
            const std::uint32_t seen = control_.data_futex.load(std::memory_order_seq_cst);
            const bool ready = control_.head.load(std::memory_order_acquire) > read_position_ ||
                               control_.writer_state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(WriterState::Active);
            if (!ready) {
                const std::int64_t slice = std::min<std::int64_t>(deadline - now, std::chrono::nanoseconds(options_.liveness_interval).count());
                futex_wait(control_.data_futex, seen, std::chrono::nanoseconds(slice));
            }
            control_.sleeping_readers.fetch_and(~my_bit, std::memory_order_seq_cst);
            if (control_.head.load(std::memory_order_acquire) > read_position_)
                return {};
        }
    }

    /// WriterGone once every frame is read and the writer closed, or died (checked at most once per interval).
    Result<void> check_writer()
    {
        const bool closed = control_.writer_state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(WriterState::Active);
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
        // The head is final now; frames committed before the end are still ours to read.
        if (control_.head.load(std::memory_order_acquire) > read_position_)
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
            return {};
        case Segment::MetadataCopy::Recycled:
            if (generation > control_.format_generation.load(std::memory_order_acquire))
                return tl::unexpected(corrupt("frame uses stream metadata generation " + std::to_string(generation) +
                                              " that was never published"));
            return make_error(Errc::InvalidState,
                              "stream metadata generation " + std::to_string(generation) + " of ring '" + name_ +
                                  "' was replaced before this reader got to its frames (the format changed more than " +
                                  std::to_string(kMetadataSlots) + " times while it lagged)");
        case Segment::MetadataCopy::Oversized:
            return tl::unexpected(corrupt("stream metadata size exceeds its slot"));
        case Segment::MetadataCopy::Unstable:
            break;
        }
        return tl::unexpected(corrupt("stream metadata slot never became stable"));
    }

    Segment segment_;
    ControlBlock& control_;
    std::byte* ring_;
    std::uint64_t capacity_;
    std::string name_;
    ReaderOptions options_;
    FrameDigester digester_;
    ReaderSlot* slot_ = nullptr;
    std::uint32_t slot_index_ = 0;
    std::uint64_t epoch_ = 0;

    std::uint64_t read_position_ = 0;               ///< Next record to look at (guarded by held_mutex_ when changed).
    std::uint64_t expected_sequence_ = kNoPosition; ///< Unknown until the first frame.
    std::int64_t last_liveness_check_ns_ = 0;
    std::string metadata_;
    std::uint32_t metadata_generation_ = 0;

    /// Frames handed out and not yet released, oldest first. Grows only when out-of-order releases pile up.
    /// Guarded by held_mutex_ because Frames may be released from other threads.
    SpinLock held_mutex_;
    HeldFrames held_;
};

} // namespace detail

using detail::ReaderCore;

Frame::Frame(Frame&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)), hold_id_(other.hold_id_), payload_(other.payload_),
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
        hold_id_ = other.hold_id_;
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
        std::exchange(core_, nullptr)->release(hold_id_);
        payload_ = {};
        metadata_ = {};
    }
}

Result<Reader> Reader::attach(std::string_view name, const ReaderOptions& options)
{
    if (auto valid = detail::validate_ring_name(name); !valid)
        return tl::unexpected(std::move(valid.error()));
    if (options.max_held < 1 || options.max_held > 65536)
        return make_error(Errc::InvalidArgument, "max_held is " + std::to_string(options.max_held) + "; it must be 1 to 65536");
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
ReaderCounters Reader::counters() const noexcept { return core_->counters(); }
std::uint32_t Reader::slot_index() const noexcept { return core_->slot_index(); }
const std::string& Reader::name() const noexcept { return core_->name(); }

} // namespace zerobuffer
