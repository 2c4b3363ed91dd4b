// SPDX-License-Identifier: MIT
// The writer side of a ring: segment creation and takeover, reserve/commit, stream metadata, reclaiming dead readers.
#include <zerobuffer/writer.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "futex.h"
#include "integrity.h"
#include "layout.h"
#include "segment.h"

namespace zerobuffer {
namespace detail {

namespace {

constexpr auto kLivenessSlice = std::chrono::milliseconds(50);
constexpr std::size_t kHeaderSize = sizeof(FrameHeader);
/// Rewind to the ring start only from this far into a lap, so that small frames do not pay a padding record each.
constexpr std::uint64_t kRewindMinOffset = std::uint64_t{1} << 20;
/// After a rewind was not possible, how much further to write before trying again (a try scans every pin).
constexpr std::uint64_t kRewindRetryDistance = std::uint64_t{256} << 10;

/// Bytes before the payload in a record: header plus per-frame metadata capacity, cache-line aligned.
constexpr std::uint64_t payload_offset_for(std::uint64_t metadata_capacity)
{
    return align_up(kHeaderSize + metadata_capacity, kRecordAlign);
}

std::string own_command_name()
{
    std::ifstream comm("/proc/self/comm");
    std::string name;
    std::getline(comm, name);
    return name;
}

std::string owner_description(const ControlBlock& control)
{
    std::string command(control.writer_command, strnlen(control.writer_command, sizeof control.writer_command));
    return "pid " + std::to_string(control.writer_pid) + (command.empty() ? "" : " (" + command + ")");
}

enum class ReservationState : std::uint8_t { Free, Open, Committed, Aborted };

/// One reservation handed out and not yet published. Kept in a fixed ring, in reservation order.
struct Outstanding {
    std::uint64_t start = 0;         ///< Region start, including padding to the ring end before the record.
    std::uint64_t position = 0;      ///< Record start.
    std::uint64_t end = 0;           ///< Region end.
    std::uint64_t payload_capacity = 0;
    std::uint64_t metadata_capacity = 0;
    ReservationState state = ReservationState::Free;
    bool copied = false;             ///< Filled by write() rather than in place.
};

} // namespace

/// Everything a Writer owns. Lives on the heap so FrameReservations can point at it across Writer moves.
class WriterCore {
public:
    WriterCore(Segment segment, std::string name, const WriterOptions& options, FrameDigester digester)
        : segment_(std::move(segment)), control_(segment_.control()), ring_(segment_.payload()),
          capacity_(segment_.geometry().payload_capacity), name_(std::move(name)), options_(options),
          digester_(digester), outstanding_(options.max_outstanding)
    {
    }

    WriterCore(const WriterCore&) = delete;
    WriterCore& operator=(const WriterCore&) = delete;

    ~WriterCore()
    {
        control_.writer_state.store(static_cast<std::uint32_t>(WriterState::Closed), std::memory_order_release);
        control_.data_futex.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_all(control_.data_futex);
        // Only a newer writer could have replaced our name, and it needs our lock first: while we hold it, the
        // name is ours to remove. Readers keep their mappings and drain what is left.
        struct stat info {};
        if (::stat(segment_.path().c_str(), &info) == 0 && info.st_ino == segment_.inode())
            ::unlink(segment_.path().c_str());
    }

    Result<FrameReservation> reserve(std::size_t payload_size, std::size_t metadata_capacity,
                                     std::chrono::nanoseconds timeout)
    {
        if (count_ == outstanding_.size())
            return make_error(Errc::InvalidState, "ring '" + name_ + "' already has " + std::to_string(count_) +
                                                      " open reservations (max_outstanding): commit or abort one first");
        const std::uint64_t need = record_size(payload_size, metadata_capacity);
        if (need > capacity_)
            return make_error(Errc::FrameTooLarge,
                              "a frame of " + std::to_string(payload_size) + " bytes with " +
                                  std::to_string(metadata_capacity) + " bytes of metadata needs " +
                                  std::to_string(need) + " bytes but ring '" + name_ + "' holds " +
                                  std::to_string(capacity_) + ": create the ring with a larger ring_size");
        LazyDeadline deadline(timeout);
        std::uint64_t start = next_reserve_;
        const std::uint64_t lap_offset = start % capacity_;
        std::uint64_t padding = lap_offset + need > capacity_ ? capacity_ - lap_offset : 0;
        if (padding == 0 && start >= next_rewind_try_ && lap_offset >= std::max(need, kRewindMinOffset)) {
            // Rewind: when no reader pins and no open reservation holds the first `need` bytes of this lap, start
            // the frame at the next lap instead of further on. While readers keep up, the writer then cycles
            // through the first few frames of the ring, which stay in the CPU caches, instead of walking through
            // all of it (docs/protocol.md, Rewind). The pin scan is only a hint (wait_for_space() below decides);
            // after a miss it is retried a little further on, so that small frames do not scan every time.
            if (fits(start - lap_offset + capacity_ + need, scan_pins()))
                padding = capacity_ - lap_offset;
            else
                next_rewind_try_ = start + kRewindRetryDistance;
        } else if (padding != 0 && count_ == 0) {
            // Publish the wrap padding on its own first: a reader that has read everything can then step past it,
            // so a frame as large as the whole ring fits even when it does not fit before the ring end.
            if (auto waited = wait_for_space(start + padding, deadline); !waited)
                return tl::unexpected(std::move(waited.error()));
            write_padding(start, padding);
            bump(control_.counters.wraps);
            control_.last_wrap_start.store(start, std::memory_order_release); // After any pin we moved (reader order).
            last_wrap_start_ = start;
            start += padding;
            padding = 0;
            next_reserve_ = start;
            publish_head(start, kNoPosition);
        }
        const std::uint64_t position = start + padding;
        const std::uint64_t end = position + need;

        if (auto waited = wait_for_space(end, deadline); !waited)
            return tl::unexpected(std::move(waited.error()));

        if (padding != 0) {
            write_padding(start, padding);
            bump(control_.counters.wraps);
        }
        const std::uint32_t slot = (first_ + count_) % static_cast<std::uint32_t>(outstanding_.size());
        outstanding_[slot] = {start, position, end, payload_size, metadata_capacity, ReservationState::Open, false};
        ++count_;
        next_reserve_ = end;

        std::byte* record = ring_ + position % capacity_;
        FrameReservation reservation;
        reservation.core_ = this;
        reservation.slot_ = slot;
        reservation.metadata_ = {record + kHeaderSize, metadata_capacity};
        reservation.payload_ = {record + payload_offset_for(metadata_capacity), payload_size};
        return reservation;
    }

    Result<void> commit(FrameReservation& reservation, const FrameInfo& info, std::size_t payload_size,
                        std::size_t metadata_size)
    {
        if (reservation.core_ != this || reservation.slot_ >= outstanding_.size() ||
            outstanding_[reservation.slot_].state != ReservationState::Open)
            return make_error(Errc::InvalidArgument, "commit of a reservation that is not open on ring '" + name_ + "'");
        Outstanding& entry = outstanding_[reservation.slot_];
        if (payload_size > entry.payload_capacity || metadata_size > entry.metadata_capacity)
            return make_error(Errc::InvalidArgument,
                              "commit of " + std::to_string(payload_size) + " payload / " + std::to_string(metadata_size) +
                                  " metadata bytes exceeds the reservation (" + std::to_string(entry.payload_capacity) +
                                  " / " + std::to_string(entry.metadata_capacity) + ")");
        reservation.core_ = nullptr;

        const std::uint64_t used = record_size(payload_size, entry.metadata_capacity);
        if (used < entry.end - entry.position) {
            if (is_newest(reservation.slot_)) {
                // Give the unused tail back to the next reservation.
                entry.end = entry.position + used;
                next_reserve_ = entry.end;
            } else {
                write_padding(entry.position + used, entry.end - entry.position - used);
            }
        }
        auto& header = *reinterpret_cast<FrameHeader*>(ring_ + entry.position % capacity_);
        header.kind = static_cast<std::uint32_t>(RecordKind::Frame);
        header.flags = info.flags;
        header.record_size = used;
        header.payload_size = payload_size;
        header.payload_offset = static_cast<std::uint32_t>(payload_offset_for(entry.metadata_capacity));
        header.metadata_size = static_cast<std::uint32_t>(metadata_size);
        header.format_generation = format_generation_;
        header.reserved0 = 0;
        header.pts = info.pts;
        header.dts = info.dts;
        header.duration = info.duration;
        header.offset = info.offset;
        header.offset_end = info.offset_end;
        header.commit_time_ns = monotonic_ns();
        entry.state = ReservationState::Committed;
        publish_ready();
        return {};
    }

    void abort(std::uint32_t slot) noexcept
    {
        if (slot >= outstanding_.size() || outstanding_[slot].state != ReservationState::Open)
            return;
        bump(control_.counters.frames_aborted);
        if (is_newest(slot)) {
            // Nothing after it: forget it entirely, its region (and any wrap padding) is reserved again next time.
            next_reserve_ = outstanding_[slot].start;
            outstanding_[slot].state = ReservationState::Free;
            --count_;
            return;
        }
        Outstanding& entry = outstanding_[slot];
        write_padding(entry.position, entry.end - entry.position);
        entry.state = ReservationState::Aborted;
        publish_ready();
    }

    void mark_copied(std::uint32_t slot) noexcept { outstanding_[slot].copied = true; }

    Result<std::uint32_t> set_stream_metadata(std::string_view json)
    {
        if (json.size() > segment_.geometry().metadata_capacity)
            return make_error(Errc::InvalidArgument,
                              "stream metadata of " + std::to_string(json.size()) + " bytes exceeds the ring's " +
                                  std::to_string(segment_.geometry().metadata_capacity) +
                                  " bytes: create the ring with a larger metadata_capacity");
        if (!json.empty() && !nlohmann::json::accept(json))
            return make_error(Errc::InvalidArgument, "stream metadata is not valid JSON");
        const std::uint32_t generation = format_generation_ + 1;
        const std::uint32_t index = generation % kMetadataSlots;
        MetadataSlotHeader& slot = segment_.metadata_slot(index);
        // Seqlock: odd while writing, so a reader copying concurrently retries.
        const std::uint32_t sequence = slot.seqlock.load(std::memory_order_relaxed);
        slot.seqlock.store(sequence + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        slot.generation = generation;
        slot.size = json.size();
        std::memcpy(segment_.metadata_data(index), json.data(), json.size());
        slot.seqlock.store(sequence + 2, std::memory_order_release);
        // Published before any frame that uses it: frames carry the generation and readers look it up.
        control_.format_generation.store(generation, std::memory_order_release);
        format_generation_ = generation;
        bump(control_.counters.format_changes);
        return generation;
    }

    Result<void> wait_for_readers(std::uint32_t count, std::chrono::nanoseconds timeout)
    {
        const std::int64_t deadline = deadline_after(timeout);
        while (true) {
            const std::uint32_t seen = control_.reader_join_futex.load(std::memory_order_acquire);
            if (reader_count() >= count)
                return {};
            const std::int64_t left = deadline - monotonic_ns();
            if (left <= 0)
                return make_error(Errc::Timeout, "no " + std::to_string(count) + " reader(s) attached to ring '" +
                                                     name_ + "' within the timeout");
            futex_wait(control_.reader_join_futex, seen, std::min<std::chrono::nanoseconds>(std::chrono::nanoseconds(left), kLivenessSlice));
        }
    }

    std::uint32_t reader_count()
    {
        reclaim_dead_readers(kNoPosition);
        std::uint32_t count = 0;
        for (std::uint32_t i = 0; i < segment_.geometry().max_readers; ++i)
            if (owner_state(segment_.reader_slot(i).owner.load(std::memory_order_acquire)) == SlotState::Active)
                ++count;
        return count;
    }

    std::size_t max_payload_size(std::size_t metadata_capacity) const noexcept
    {
        const std::uint64_t before = payload_offset_for(metadata_capacity);
        return before >= capacity_ ? 0 : static_cast<std::size_t>(capacity_ - before);
    }

    WriterCounters counters() const noexcept { return snapshot(control_.counters); }

    const std::string& name() const noexcept { return name_; }
    const WriterOptions& options() const noexcept { return options_; }

private:
    static std::uint64_t record_size(std::uint64_t payload_size, std::uint64_t metadata_capacity)
    {
        // Saturate instead of overflowing: absurd sizes must come out as "too large", not wrap to small.
        constexpr std::uint64_t kLimit = std::uint64_t{1} << 62;
        if (payload_size > kLimit || metadata_capacity > kLimit)
            return kNoPosition;
        return align_up(payload_offset_for(metadata_capacity) + payload_size, kRecordAlign);
    }

    bool is_newest(std::uint32_t slot) const noexcept
    {
        return (first_ + count_ - 1) % outstanding_.size() == slot;
    }

    void write_padding(std::uint64_t position, std::uint64_t size) noexcept
    {
        auto& header = *reinterpret_cast<FrameHeader*>(ring_ + position % capacity_);
        header.kind = static_cast<std::uint32_t>(RecordKind::Padding);
        header.record_size = size;
    }

    /// The writer may write below `end` once no reader pins anything at or after end - capacity and no open
    /// reservation lies there. Blocks up to `timeout`, reclaiming dead readers meanwhile.
    Result<void> wait_for_space(std::uint64_t end, LazyDeadline& deadline)
    {
        if (fits(end, cached_min_pin_)) {
            // Dekker with readers that set a new pin (Reader: store pin, bump pin_epoch, load reserve_end):
            // either they see our reserve_end and step back, or we see their epoch bump and rescan.
            control_.reserve_end.store(end, std::memory_order_seq_cst);
            if (control_.pin_epoch.load(std::memory_order_seq_cst) == cached_pin_epoch_)
                return {};
        }
        bool counted_wait = false;
        const auto spin_until = monotonic_ns() + options_.spin.count();
        while (true) {
            const std::uint32_t epoch = control_.pin_epoch.load(std::memory_order_seq_cst);
            const std::uint64_t min_pin = scan_pins();
            cached_min_pin_ = min_pin;
            cached_pin_epoch_ = epoch;
            if (fits(end, min_pin)) {
                control_.reserve_end.store(end, std::memory_order_seq_cst);
                if (control_.pin_epoch.load(std::memory_order_seq_cst) == epoch)
                    return {};
                continue;
            }
            if (!fits(end, oldest_open_start()))
                return make_error(Errc::InvalidState, "ring '" + name_ + "' is full of open reservations: commit or abort them");
            const std::int64_t now = monotonic_ns();
            if (!counted_wait) {
                bump(control_.counters.waits);
                counted_wait = true;
            }
            if (now < spin_until) {
                cpu_relax();
                continue;
            }
            reclaim_dead_readers(end - capacity_);
            if (move_pins_past_wrap())
                continue;
            if (now >= deadline.get()) {
                bump(control_.counters.timeouts);
                return make_error(Errc::Timeout, "ring '" + name_ + "' has no room: " + blocking_readers(end - capacity_) +
                                                     " did not release frames within the reader timeout");
            }
            // Sleep until a reader releases something; readers wake us only when writer_waiting is set.
            control_.writer_waiting.store(1, std::memory_order_seq_cst);
            const std::uint32_t seen = control_.space_futex.load(std::memory_order_seq_cst);
            if (!fits(end, scan_pins())) {
                const auto slice = std::min<std::chrono::nanoseconds>(std::chrono::nanoseconds(deadline.get() - now), kLivenessSlice);
                futex_wait(control_.space_futex, seen, slice);
            }
            control_.writer_waiting.store(0, std::memory_order_relaxed);
        }
    }

    std::uint64_t oldest_open_start() const noexcept
    {
        return count_ == 0 ? kNoPosition : outstanding_[first_].start;
    }

    bool fits(std::uint64_t end, std::uint64_t min_pin) const noexcept
    {
        const std::uint64_t limit = std::min(min_pin, oldest_open_start());
        return limit == kNoPosition || end <= limit + capacity_;
    }

    std::uint64_t scan_pins() const noexcept
    {
        std::uint64_t min_pin = kNoPosition;
        for (std::uint32_t i = 0; i < segment_.geometry().max_readers; ++i) {
            const ReaderSlot& slot = segment_.reader_slot(i);
            if (owner_state(slot.owner.load(std::memory_order_acquire)) == SlotState::Free)
                continue;
            min_pin = std::min(min_pin, slot.pin.load(std::memory_order_seq_cst));
        }
        return min_pin;
    }

    /// Frees the slots of readers whose process is gone (their kernel lock vanished with them).
    /// With `below` set, only readers pinning below it are checked (those are the ones blocking us).
    void reclaim_dead_readers(std::uint64_t below)
    {
        bool reclaimed = false;
        for (std::uint32_t i = 0; i < segment_.geometry().max_readers; ++i) {
            ReaderSlot& slot = segment_.reader_slot(i);
            std::uint64_t owner = slot.owner.load(std::memory_order_acquire);
            if (owner_state(owner) == SlotState::Free)
                continue;
            if (below != kNoPosition && slot.pin.load(std::memory_order_acquire) >= below)
                continue;
            if (segment_.locked_by_other(reader_lock_byte(i)))
                continue;
            // Dead. CAS so that a reader that just claimed the slot (new epoch) is left alone.
            if (slot.owner.compare_exchange_strong(owner, make_owner(owner_epoch(owner), SlotState::Free),
                                                   std::memory_order_acq_rel)) {
                slot.pin.store(kNoPosition, std::memory_order_seq_cst);
                control_.sleeping_readers.fetch_and(~(std::uint64_t{1} << i), std::memory_order_seq_cst);
                bump(control_.counters.readers_reclaimed);
                reclaimed = true;
            }
        }
        if (reclaimed)
            cached_min_pin_ = 0; // Force a rescan.
    }

    /// A pin on the wrap padding we published on its own means "my next record is that padding": such a reader
    /// holds nothing there and will step to the lap end without reading the padding, so move its pin to the lap
    /// end for it. Lets a frame as large as the ring follow a wrap even while a caught-up reader is idle.
    bool move_pins_past_wrap() noexcept
    {
        if (last_wrap_start_ == kNoPosition)
            return false;
        const std::uint64_t lap_end = last_wrap_start_ + (capacity_ - last_wrap_start_ % capacity_);
        bool moved = false;
        for (std::uint32_t i = 0; i < segment_.geometry().max_readers; ++i) {
            std::uint64_t expected = last_wrap_start_;
            moved |= segment_.reader_slot(i).pin.compare_exchange_strong(expected, lap_end, std::memory_order_seq_cst);
        }
        return moved;
    }

    std::string blocking_readers(std::uint64_t below) const
    {
        std::string list;
        for (std::uint32_t i = 0; i < segment_.geometry().max_readers; ++i) {
            const ReaderSlot& slot = segment_.reader_slot(i);
            if (owner_state(slot.owner.load(std::memory_order_acquire)) == SlotState::Free ||
                slot.pin.load(std::memory_order_acquire) >= below)
                continue;
            list += (list.empty() ? "" : ", ") + std::string("reader slot ") + std::to_string(i) + " (pid " +
                    std::to_string(slot.pid) + (slot.policy == 0 ? ", lossless)" : ", latest, holding frames)");
        }
        return list.empty() ? std::string("open reservations") : list;
    }

    /// Publishes the committed (or aborted) reservations at the front, in reservation order.
    void publish_ready() noexcept
    {
        std::uint64_t new_head = head_;
        std::uint64_t newest_frame = kNoPosition;
        while (count_ != 0 && outstanding_[first_].state != ReservationState::Open) {
            Outstanding& entry = outstanding_[first_];
            if (entry.state == ReservationState::Committed) {
                auto& header = *reinterpret_cast<FrameHeader*>(ring_ + entry.position % capacity_);
                header.sequence = next_sequence_++;
                if (digester_.mode() != Integrity::None) {
                    const std::byte* record = ring_ + entry.position % capacity_;
                    const Digest digest = digester_.digest({record, kDigestedHeaderBytes}, {record + kHeaderSize, header.metadata_size},
                                                           {record + header.payload_offset, header.payload_size});
                    std::memcpy(header.digest, digest.data(), digest.size());
                }
                newest_frame = entry.position;
                bump(control_.counters.frames_written);
                bump(control_.counters.bytes_written, header.payload_size);
                bump(entry.copied ? control_.counters.frames_copied : control_.counters.frames_in_place);
            }
            new_head = entry.end;
            entry.state = ReservationState::Free;
            first_ = (first_ + 1) % static_cast<std::uint32_t>(outstanding_.size());
            --count_;
        }
        if (new_head != head_)
            publish_head(new_head, newest_frame);
    }

    /// Makes everything below new_head visible to readers and wakes those that sleep.
    void publish_head(std::uint64_t new_head, std::uint64_t newest_frame) noexcept
    {
        head_ = new_head;
        // Seqlock around the triple, for attaching readers (the writer is its only writer: plain stores).
        const std::uint32_t sequence = control_.publish_seqlock.load(std::memory_order_relaxed);
        control_.publish_seqlock.store(sequence + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        control_.next_sequence.store(next_sequence_, std::memory_order_relaxed);
        // Release: a reader that sees the new head (acquire) sees every byte of the records below it.
        control_.head.store(new_head, std::memory_order_release);
        if (newest_frame != kNoPosition)
            control_.last_frame_pos.store(newest_frame, std::memory_order_release);
        control_.publish_seqlock.store(sequence + 2, std::memory_order_release);
        // Dekker with sleeping readers (they set their bit in sleeping_readers, then re-check head): only pay for a
        // futex wake when somebody sleeps.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (control_.sleeping_readers.load(std::memory_order_relaxed) != 0) {
            control_.data_futex.fetch_add(1, std::memory_order_seq_cst);
            futex_wake_all(control_.data_futex);
        }
    }

    Segment segment_;
    ControlBlock& control_;
    std::byte* ring_;
    std::uint64_t capacity_;
    std::string name_;
    WriterOptions options_;
    FrameDigester digester_;

    std::vector<Outstanding> outstanding_; ///< Fixed size, allocated once: no allocation per frame.
    std::uint32_t first_ = 0;
    std::uint32_t count_ = 0;
    std::uint64_t next_reserve_ = 0;       ///< Where the next reservation starts.
    std::uint64_t next_rewind_try_ = 0;    ///< No rewind is tried before this position (after a failed try).
    std::uint64_t head_ = 0;               ///< Mirror of control_.head.
    std::uint64_t next_sequence_ = 0;
    std::uint64_t cached_min_pin_ = kNoPosition; ///< Lower bound of all pins as of cached_pin_epoch_.
    std::uint32_t cached_pin_epoch_ = 0;
    std::uint32_t format_generation_ = 0;
    std::uint64_t last_wrap_start_ = kNoPosition; ///< Mirror of control_.last_wrap_start.
};

namespace {

void initialise_control_block(Segment& segment, const WriterOptions& options, const FrameDigester& digester)
{
    const Geometry& g = segment.geometry();
    ControlBlock& control = segment.control();
    control.protocol_version = kProtocolVersion;
    control.control_block_size = sizeof(ControlBlock);
    control.reader_slot_size = sizeof(ReaderSlot);
    control.frame_header_size = sizeof(FrameHeader);
    control.metadata_slot_header_size = sizeof(MetadataSlotHeader);
    control.max_readers = g.max_readers;
    control.segment_size = g.segment_size;
    control.readers_offset = g.readers_offset;
    control.metadata_offset = g.metadata_offset;
    control.metadata_capacity = g.metadata_capacity;
    control.metadata_slot_stride = g.metadata_slot_stride;
    control.payload_offset = g.payload_offset;
    control.payload_capacity = g.payload_capacity;
    control.metadata_slots = kMetadataSlots;
    control.integrity = static_cast<std::uint32_t>(options.integrity);
    control.writer_pid = getpid();
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    control.created_realtime_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
    const std::string command = own_command_name();
    std::memcpy(control.writer_command, command.data(), std::min(command.size(), sizeof control.writer_command - 1));
    if (options.integrity == Integrity::Mac) {
        randombytes_buf(control.key_salt, sizeof control.key_salt);
        const Digest check = digester.key_check(control.key_salt);
        std::memcpy(control.key_check, check.data(), check.size());
    }
    control.last_frame_pos.store(kNoPosition, std::memory_order_relaxed);
    control.last_wrap_start.store(kNoPosition, std::memory_order_relaxed);
    control.writer_state.store(static_cast<std::uint32_t>(WriterState::Active), std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < g.max_readers; ++i)
        segment.reader_slot(i).pin.store(kNoPosition, std::memory_order_relaxed);
    // Last, with release: whoever sees the magic sees a complete control block.
    control.magic.store(kMagic, std::memory_order_release);
}

/// Publishes the prepared temporary segment under `path`, replacing a stale ring but never a live one.
Result<void> publish_segment(Segment& fresh, const std::string& path, std::string_view name)
{
    while (true) {
        if (::link(fresh.path().c_str(), path.c_str()) == 0) {
            ::unlink(fresh.path().c_str());
            return {};
        }
        if (errno != EEXIST)
            return make_error(Errc::SystemError, system_message("cannot publish ring at " + path, errno), errno);

        // A ring of that name exists. Its writer is alive exactly when it still holds the writer lock.
        const UniqueFd old_file(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
        const int old_fd = old_file.get();
        if (old_fd < 0) {
            if (errno == ENOENT)
                continue; // Removed meanwhile: try again.
            return make_error(Errc::SystemError, system_message("cannot open existing ring " + path, errno), errno);
        }
        struct flock lock {};
        lock.l_type = F_WRLCK;
        lock.l_whence = SEEK_SET;
        lock.l_start = kWriterLockByte;
        lock.l_len = 1;
        if (fcntl(old_fd, F_OFD_SETLK, &lock) != 0) {
            std::string owner = "another process";
            if (auto existing = Segment::open(path, false))
                owner = owner_description(existing->control());
            return make_error(Errc::Busy, "ring '" + std::string(name) + "' already has a live writer, " + owner +
                                              ": stop it first or choose another ring name");
        }
        // We hold the dead writer's lock, so no one else can be replacing it now. Make sure the name still
        // refers to that file (not to a ring a racing writer published meanwhile), then swap atomically.
        struct stat old_info {}, current_info {};
        const bool same = fstat(old_fd, &old_info) == 0 && ::stat(path.c_str(), &current_info) == 0 &&
                          old_info.st_ino == current_info.st_ino;
        // old_file stays open (and locked) until after the rename, so no second writer can slip in between.
        if (same && ::rename(fresh.path().c_str(), path.c_str()) == 0)
            return {};
        const int error_number = errno;
        if (same)
            return make_error(Errc::SystemError, system_message("cannot replace stale ring " + path, error_number), error_number);
    }
}

} // namespace
} // namespace detail

using detail::WriterCore;

FrameReservation::FrameReservation(FrameReservation&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)), slot_(other.slot_), payload_(other.payload_), metadata_(other.metadata_)
{
}

FrameReservation& FrameReservation::operator=(FrameReservation&& other) noexcept
{
    if (this != &other) {
        abort();
        core_ = std::exchange(other.core_, nullptr);
        slot_ = other.slot_;
        payload_ = other.payload_;
        metadata_ = other.metadata_;
    }
    return *this;
}

FrameReservation::~FrameReservation() { abort(); }

void FrameReservation::abort() noexcept
{
    if (core_ != nullptr)
        std::exchange(core_, nullptr)->abort(slot_);
}

void FrameReservation::mark_copied() noexcept
{
    if (core_ != nullptr)
        core_->mark_copied(slot_);
}

Result<Writer> Writer::create(std::string_view name, const WriterOptions& options)
{
    if (auto valid = detail::validate_ring_name(name); !valid)
        return tl::unexpected(std::move(valid.error()));
    if (options.max_outstanding < 1 || options.max_outstanding > 4096)
        return make_error(Errc::InvalidArgument, "max_outstanding is " + std::to_string(options.max_outstanding) +
                                                     "; it must be 1 to 4096");
    if (options.permissions > 0777)
        return make_error(Errc::InvalidArgument, "permissions must be a file mode such as 0600 or 0660");
    if (options.integrity != Integrity::None && options.integrity != Integrity::Checksum && options.integrity != Integrity::Mac)
        return make_error(Errc::InvalidArgument, "unknown integrity mode");
    if (options.integrity == Integrity::Mac && options.secret.size() < 16)
        return make_error(Errc::InvalidArgument, "Integrity::Mac needs a secret of at least 16 bytes (for example 32 random bytes)");
    auto digester = detail::FrameDigester::make(options.integrity, options.secret);
    if (!digester)
        return tl::unexpected(std::move(digester.error()));
    auto geometry = detail::compute_geometry(options.ring_size, options.max_readers, options.metadata_capacity);
    if (!geometry)
        return tl::unexpected(std::move(geometry.error()));
    auto segment = detail::Segment::create_temporary(*geometry, options.permissions);
    if (!segment)
        return tl::unexpected(std::move(segment.error()));
    detail::initialise_control_block(*segment, options, *digester);

    const std::string path = detail::ring_path(name);
    if (auto published = detail::publish_segment(*segment, path, name); !published) {
        ::unlink(segment->path().c_str());
        return tl::unexpected(std::move(published.error()));
    }
    segment->set_path(path);
    return Writer(std::make_unique<WriterCore>(std::move(*segment), std::string(name), options, *digester));
}

Writer::Writer(std::unique_ptr<WriterCore> core) : core_(std::move(core)) {}
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&&) noexcept = default;
Writer::~Writer() = default;

Result<FrameReservation> Writer::reserve(std::size_t payload_size, std::size_t metadata_capacity)
{
    return core_->reserve(payload_size, metadata_capacity, core_->options().reader_timeout);
}

Result<FrameReservation> Writer::reserve(std::size_t payload_size, std::size_t metadata_capacity,
                                         std::chrono::nanoseconds timeout)
{
    return core_->reserve(payload_size, metadata_capacity, timeout);
}

Result<void> Writer::commit(FrameReservation& reservation, const FrameInfo& info)
{
    return core_->commit(reservation, info, reservation.payload_.size(), reservation.metadata_.size());
}

Result<void> Writer::commit(FrameReservation& reservation, const FrameInfo& info, std::size_t payload_size,
                            std::size_t metadata_size)
{
    return core_->commit(reservation, info, payload_size, metadata_size);
}

Result<void> Writer::write(std::span<const std::byte> payload, const FrameInfo& info, std::span<const std::byte> metadata)
{
    auto reservation = core_->reserve(payload.size(), metadata.size(), core_->options().reader_timeout);
    if (!reservation)
        return tl::unexpected(std::move(reservation.error()));
    if (!payload.empty())
        std::memcpy(reservation->payload().data(), payload.data(), payload.size());
    if (!metadata.empty())
        std::memcpy(reservation->metadata().data(), metadata.data(), metadata.size());
    core_->mark_copied(reservation->slot_);
    return core_->commit(*reservation, info, payload.size(), metadata.size());
}

Result<std::uint32_t> Writer::set_stream_metadata(std::string_view json) { return core_->set_stream_metadata(json); }

Result<void> Writer::wait_for_readers(std::uint32_t count, std::chrono::nanoseconds timeout)
{
    return core_->wait_for_readers(count, timeout);
}

std::uint32_t Writer::reader_count() { return core_->reader_count(); }

std::size_t Writer::max_payload_size(std::size_t metadata_capacity) const noexcept
{
    return core_->max_payload_size(metadata_capacity);
}

WriterCounters Writer::counters() const noexcept { return core_->counters(); }
const std::string& Writer::name() const noexcept { return core_->name(); }

} // namespace zerobuffer
