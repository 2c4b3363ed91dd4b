// SPDX-License-Identifier: MIT
// The writer's frame path: reserve (placement, scans of the readers, waits for room), commit, retain and abort.
#include "writer_core.h"

#include <algorithm>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include <nlohmann/json.hpp>

namespace zerobuffer::detail {

namespace {

constexpr auto kLivenessSlice = std::chrono::milliseconds(50);
/// The writer looks for dead readers this often while it commits, so their holds go within the liveness bound.
constexpr std::int64_t kLivenessPeriodNs = 100'000'000;
/// Rewind to the start of the frame area only from this far into a lap, so that small frames do not scan the
/// readers on every reserve.
constexpr std::uint64_t kRewindMinOffset = std::uint64_t{1} << 20;
/// After a rewind was not possible, how much further to write before trying again.
constexpr std::uint64_t kRewindRetryDistance = std::uint64_t{256} << 10;

/// Bytes before the payload in a frame's memory: its metadata area, cache-line aligned.
constexpr std::uint64_t payload_offset_for(std::uint64_t metadata_capacity)
{
    return align_up(metadata_capacity, kExtentAlign);
}

/// Saturates instead of overflowing: absurd sizes must come out as "too large", not wrap to small.
std::uint64_t extent_size_for(std::uint64_t payload_size, std::uint64_t metadata_capacity)
{
    constexpr std::uint64_t kLimit = std::uint64_t{1} << 62;
    if (payload_size > kLimit || metadata_capacity > kLimit)
        return kNoPosition;
    return align_up(payload_offset_for(metadata_capacity) + payload_size, kExtentAlign);
}

} // namespace

/// Lets Placement ask about records without seeing the writer's internals.
class OwnersView {
public:
    explicit OwnersView(WriterCore& core) : core_(core) {}
    Placement::Status status(std::uint32_t owner) const noexcept { return core_.status_of(owner); }
    void moved(std::uint32_t owner, std::uint32_t slot) noexcept { core_.records_[owner].extent = slot; }

private:
    WriterCore& core_;
};

WriterCore::WriterCore(Segment segment, std::string name, const WriterOptions& options, FrameDigester digester)
    : segment_(std::move(segment)), control_(segment_.control()), area_(segment_.payload()),
      capacity_(segment_.geometry().payload_capacity), frame_slots_(segment_.geometry().frame_slots),
      name_(std::move(name)), options_(options), digester_(digester),
      // Extents outlive their records (a free extent waits for the walk), so the queue is larger than the records.
      placement_(capacity_, static_cast<std::uint32_t>(2 * frame_slots_ + options.max_outstanding + 64) * 2),
      records_(2 * frame_slots_ + options.max_outstanding + 64),
      pending_(records_.size())
{
    free_records_.reserve(records_.size());
    for (std::size_t i = records_.size(); i-- > 0;)
        free_records_.push_back(static_cast<std::uint32_t>(i));
    kept_.reserve(records_.size());
    scan_.held.reserve(std::size_t{segment_.geometry().max_readers} * segment_.geometry().holds_per_reader);
}

WriterCore::~WriterCore()
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

Placement::Status WriterCore::status_of(std::uint32_t owner) const noexcept
{
    switch (records_[owner].state) {
    case RecordState::Pending:
    case RecordState::Kept:
        return scanned_ ? Placement::Status::Busy : Placement::Status::Unknown;
    default:
        return Placement::Status::Busy;
    }
}

std::uint32_t WriterCore::take_record() noexcept
{
    if (free_records_.empty())
        return Placement::kFree;
    const std::uint32_t record = free_records_.back();
    free_records_.pop_back();
    return record;
}

void WriterCore::release_extent(std::uint32_t record) noexcept
{
    if (records_[record].size != 0) {
        placement_.free(records_[record].extent);
        bytes_in_use_ -= records_[record].size;
        --frames_in_use_;
    }
}

void WriterCore::free_record(std::uint32_t record) noexcept
{
    release_extent(record);
    records_[record] = FrameRecord{};
    free_records_.push_back(record);
}

Result<FrameReservation> WriterCore::reserve(std::size_t payload_size, std::size_t metadata_capacity,
                                             std::chrono::nanoseconds timeout)
{
    if (open_ >= options_.max_outstanding)
        return make_error(Errc::InvalidState, "ring '" + name_ + "' already has " + std::to_string(open_) +
                                                  " open reservations (max_outstanding): commit or abort one first");
    const std::uint64_t need = extent_size_for(payload_size, metadata_capacity);
    if (need > capacity_)
        return make_error(Errc::FrameTooLarge, "a frame of " + std::to_string(payload_size) + " bytes with " +
                                                   std::to_string(metadata_capacity) + " bytes of metadata needs " +
                                                   std::to_string(need) + " bytes but ring '" + name_ + "' holds " +
                                                   std::to_string(capacity_) +
                                                   ": create the ring with a larger ring_size");
    LazyDeadline deadline(timeout);
    // A descriptor for this frame must be free when it commits: every lossless reader must have read the frame
    // that used it before.
    if (!frame_slots_free(open_ + 1)) {
        auto waited = wait_until([&] { return frame_slots_free(open_ + 1); }, WaitReason::FrameSlots, deadline, 0);
        if (!waited)
            return tl::unexpected(std::move(waited.error()));
    }
    // Every record in use: frames read since the last scan wait for one to go.
    const auto records_left = [&] {
        for (int level = 0; level <= 2 && free_records_.empty(); ++level)
            scan(level);
        return !free_records_.empty();
    };
    if (free_records_.empty() && !records_left()) {
        auto waited = wait_until(records_left, WaitReason::Room, deadline, 0);
        if (!waited)
            return tl::unexpected(std::move(waited.error()));
    }
    const std::uint32_t record = take_record();
    FrameRecord& entry = records_[record];
    entry = FrameRecord{};
    entry.state = RecordState::Open;
    entry.size = payload_size == 0 && metadata_capacity == 0 ? 0 : need;
    entry.payload_capacity = payload_size;
    entry.metadata_capacity = metadata_capacity;

    if (entry.size != 0) {
        bool placed = try_place(need, record, 0) || try_place(need, record, 1) || try_place(need, record, 2);
        if (!placed) {
            auto waited = wait_until(
                [&] {
                    reclaim_dead_readers();
                    return try_place(need, record, 0) || try_place(need, record, 1) || try_place(need, record, 2);
                },
                WaitReason::Room, deadline, need);
            if (!waited) {
                records_[record] = FrameRecord{};
                free_records_.push_back(record);
                return tl::unexpected(std::move(waited.error()));
            }
        }
    }
    ++open_;
    std::byte* memory = area_ + entry.offset;
    FrameReservation reservation;
    reservation.core_ = this;
    reservation.record_ = record;
    reservation.metadata_ = {memory, metadata_capacity};
    reservation.payload_ = {memory + payload_offset_for(metadata_capacity), payload_size};
    return reservation;
}

bool WriterCore::try_place(std::uint64_t size, std::uint32_t record, int level)
{
    OwnersView owners(*this);
    scanned_ = false;
    if (level == 0 && placement_.write_position() >= next_rewind_try_) {
        bool need_scan = false;
        bool rewound = placement_.rewind(size, kRewindMinOffset, owners, need_scan);
        if (!rewound && need_scan) {
            scan(0);
            scanned_ = true;
            rewound = placement_.rewind(size, kRewindMinOffset, owners, need_scan);
        }
        if (rewound)
            bump(control_.counters.rewinds);
        else
            next_rewind_try_ = placement_.write_position() + kRewindRetryDistance;
    }
    while (true) {
        std::uint64_t position = 0;
        std::uint32_t slot = 0;
        switch (placement_.place(size, record, owners, position, slot)) {
        case Placement::Outcome::Placed: {
            FrameRecord& entry = records_[record];
            entry.offset = position % capacity_;
            entry.extent = slot;
            bytes_in_use_ += size;
            ++frames_in_use_;
            if (const std::uint64_t wraps = placement_.wraps(); wraps != wraps_published_) {
                bump(control_.counters.wraps, wraps - wraps_published_);
                wraps_published_ = wraps;
            }
            if (const std::uint64_t passed = placement_.passed(); passed != passed_published_) {
                bump(control_.counters.frames_passed, passed - passed_published_);
                passed_published_ = passed;
            }
            return true;
        }
        case Placement::Outcome::NeedScan:
            scan(level);
            scanned_ = true;
            continue;
        case Placement::Outcome::NoRoom:
            return false;
        }
    }
}

void WriterCore::scan(int level)
{
    bump(control_.counters.reclaim_scans);
    // The floor: below the newest frame (level 2: up to it), and below what lossless readers still have to read
    // (frames they need are kept anyway; a floor above them would only hide those frames from latest readers).
    scan_cursors(segment_, scan_);
    std::uint64_t floor = level >= 2 ? committed_ : (committed_ == 0 ? 0 : committed_ - 1);
    floor = std::min(floor, scan_.min_lossless_cursor);
    if (level == 0)
        floor = std::min(floor, scan_.min_in_order_cursor);
    if (floor > floor_) {
        floor_ = floor;
        control_.reclaim_floor.store(floor_, std::memory_order_relaxed);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst); // holds.h: the floor before the look at the readers.
    scan_readers(segment_, scan_);
    min_lossless_cursor_ = scan_.min_lossless_cursor;
    const auto free_now = [&](const FrameRecord& entry) {
        return entry.sequence < floor_ && entry.sequence < scan_.min_lossless_cursor && !scan_.is_held(entry.sequence);
    };
    for (std::size_t i = 0; i < kept_.size();) {
        if (records_[kept_[i]].state == RecordState::Kept && free_now(records_[kept_[i]])) {
            free_record(kept_[i]);
            kept_[i] = kept_.back();
            kept_.pop_back();
        } else {
            ++i;
        }
    }
    while (pending_count_ != 0) {
        const std::uint32_t record = pending_[pending_head_];
        const FrameRecord& entry = records_[record];
        if (entry.sequence >= floor_ || entry.sequence >= scan_.min_lossless_cursor)
            break; // Commit order: every later frame is newer.
        pending_head_ = (pending_head_ + 1) % pending_.size();
        --pending_count_;
        if (scan_.is_held(entry.sequence)) {
            records_[record].state = RecordState::Kept;
            kept_.push_back(record);
        } else {
            free_record(record);
        }
    }
    control_.bytes_in_use.store(bytes_in_use_, std::memory_order_relaxed);
    control_.frames_in_use.store(frames_in_use_, std::memory_order_relaxed);
}

bool WriterCore::rescan_frame_slots(std::uint64_t extra) noexcept
{
    scan_cursors(segment_, scan_);
    min_lossless_cursor_ = scan_.min_lossless_cursor;
    return min_lossless_cursor_ == kNoSequence || committed_ + extra <= min_lossless_cursor_ + frame_slots_;
}

template <typename Fits>
Result<void> WriterCore::wait_until(Fits&& fits, WaitReason reason, LazyDeadline& deadline, std::uint64_t need)
{
    bump(control_.counters.waits);
    if (need != 0 && largest_free_extent() >= need)
        ++waits_with_room_;
    const std::int64_t started = monotonic_ns();
    control_.wait_since_ns.store(started, std::memory_order_relaxed);
    control_.wait_reason.store(static_cast<std::uint32_t>(reason), std::memory_order_relaxed);
    const auto finish = [&] {
        control_.wait_reason.store(static_cast<std::uint32_t>(WaitReason::None), std::memory_order_relaxed);
        control_.wait_since_ns.store(0, std::memory_order_relaxed);
        bump(control_.counters.wait_ns, static_cast<std::uint64_t>(monotonic_ns() - started));
    };
    const std::int64_t spin_until = started + options_.spin.count();
    while (true) {
        if (fits()) {
            finish();
            return {};
        }
        const std::int64_t now = monotonic_ns();
        if (now < spin_until) {
            cpu_relax();
            continue;
        }
        if (now >= deadline.get()) {
            bump(control_.counters.timeouts);
            finish();
            return make_error(Errc::Timeout, "ring '" + name_ + "' has no room: " + blockers() +
                                                 (reason == WaitReason::FrameSlots ? " (a lossless reader is " +
                                                      std::to_string(frame_slots_) + " frames behind)"
                                                                                   : std::string()) +
                                                 " did not make room within the timeout");
        }
        // Announce the wait, then look once more: a reader releasing after our look sees writer_waiting and wakes
        // us (holds.h). The look inside fits() is a full scan, ordered after the store by its fence.
        control_.writer_waiting.store(1, std::memory_order_seq_cst);
        const std::uint32_t seen = control_.space_futex.load(std::memory_order_seq_cst);
        if (fits()) {
            control_.writer_waiting.store(0, std::memory_order_relaxed);
            finish();
            return {};
        }
        const auto slice = std::min<std::chrono::nanoseconds>(std::chrono::nanoseconds(deadline.get() - now), kLivenessSlice);
        futex_wait(control_.space_futex, seen, slice);
        control_.writer_waiting.store(0, std::memory_order_relaxed);
        reclaim_dead_readers();
    }
}

std::uint64_t WriterCore::largest_free_extent()
{
    // Independent of the placement walk: sort what is in use by offset and measure the gaps between (an extent
    // never crosses the end of the area, so neither does a usable gap).
    std::vector<std::pair<std::uint64_t, std::uint64_t>> used;
    placement_.for_each([&](const Placement::Extent& extent) {
        if (extent.owner != Placement::kFree)
            used.emplace_back(extent.position % capacity_, extent.size);
    });
    std::sort(used.begin(), used.end());
    std::uint64_t largest = 0;
    std::uint64_t at = 0;
    for (const auto& [offset, size] : used) {
        if (offset > at)
            largest = std::max(largest, offset - at);
        at = std::max(at, offset + size);
    }
    return std::max(largest, capacity_ - std::min(at, capacity_));
}

void WriterCore::reclaim_dead_readers()
{
    bool reclaimed = false;
    for (std::uint32_t i = 0; i < segment_.geometry().max_readers; ++i) {
        ReaderSlot& slot = segment_.reader_slot(i);
        std::uint64_t owner = slot.owner.load(std::memory_order_acquire);
        if (owner_state(owner) == SlotState::Free || segment_.locked_by_other(reader_lock_byte(i)))
            continue;
        // Dead. CAS so that a reader that just claimed the slot (new epoch) is left alone. Its cursor and hold
        // records are ignored from now on: every frame it kept becomes free at the next scan.
        if (slot.owner.compare_exchange_strong(owner, make_owner(owner_epoch(owner), SlotState::Free),
                                               std::memory_order_acq_rel)) {
            control_.sleeping_readers.fetch_and(~(std::uint64_t{1} << i), std::memory_order_seq_cst);
            bump(control_.counters.readers_reclaimed);
            reclaimed = true;
        }
    }
    if (reclaimed)
        min_lossless_cursor_ = 0; // Look again before trusting the bound.
}

std::string WriterCore::blockers() const
{
    std::string list;
    for (std::uint32_t i = 0; i < segment_.geometry().max_readers; ++i) {
        const ReaderSlot& slot = segment_.reader_slot(i);
        if (owner_state(slot.owner.load(std::memory_order_acquire)) == SlotState::Free)
            continue;
        std::uint32_t held = 0;
        const HoldRecord* records = segment_.hold_records(i);
        const std::uint32_t high = std::min(slot.hold_high.load(std::memory_order_acquire), segment_.geometry().holds_per_reader);
        for (std::uint32_t j = 0; j < high; ++j)
            held += records[j].sequence.load(std::memory_order_relaxed) != kNoSequence ? 1u : 0u;
        const bool lossless = slot.policy.load(std::memory_order_relaxed) == static_cast<std::uint32_t>(ReaderPolicy::Lossless);
        const std::uint64_t cursor = slot.cursor.load(std::memory_order_relaxed);
        if (held == 0 && !(lossless && cursor < committed_))
            continue;
        list += (list.empty() ? "" : ", ") + std::string("reader slot ") + std::to_string(i) + " (pid " +
                std::to_string(slot.pid.load(std::memory_order_relaxed)) + (lossless ? ", lossless, " + std::to_string(committed_ - std::min(cursor, committed_)) + " frames unread" : ", latest") +
                ", holding " + std::to_string(held) + " frames)";
    }
    std::uint32_t retained = 0;
    for (const FrameRecord& entry : records_)
        retained += entry.state == RecordState::Retained ? 1u : 0u;
    if (retained != 0)
        list += (list.empty() ? "" : ", ") + std::to_string(retained) + " frames the writer retains";
    if (open_ != 0)
        list += (list.empty() ? "" : ", ") + std::to_string(open_) + " open reservations";
    return list.empty() ? std::string("frames in use") : list;
}

Result<void> WriterCore::commit(FrameReservation& reservation, const FrameInfo& info, std::size_t payload_size,
                                std::size_t metadata_size, RetainedFrame* retained)
{
    if (reservation.core_ != this || reservation.record_ >= records_.size() ||
        records_[reservation.record_].state != RecordState::Open)
        return make_error(Errc::InvalidArgument, "commit of a reservation that is not open on ring '" + name_ + "'");
    const std::uint32_t record = reservation.record_;
    FrameRecord& entry = records_[record];
    if (payload_size > entry.payload_capacity || metadata_size > entry.metadata_capacity)
        return make_error(Errc::InvalidArgument,
                          "commit of " + std::to_string(payload_size) + " payload / " + std::to_string(metadata_size) +
                              " metadata bytes exceeds the reservation (" + std::to_string(entry.payload_capacity) +
                              " / " + std::to_string(entry.metadata_capacity) + ")");
    reservation.core_ = nullptr;
    --open_;

    const std::uint64_t used = extent_size_for(payload_size, entry.metadata_capacity);
    if (entry.size != 0 && used < entry.size && placement_.shrink(entry.extent, used)) {
        bytes_in_use_ -= entry.size - used;
        entry.size = used; // The unused tail goes to the next reservation.
    }
    const std::byte* memory = area_ + entry.offset;
    const std::uint64_t sequence = committed_;
    DescriptorFields fields;
    fields.sequence = sequence;
    fields.extent_offset = entry.offset;
    fields.extent_size = entry.size;
    fields.payload_offset = static_cast<std::uint32_t>(payload_offset_for(entry.metadata_capacity));
    fields.metadata_size = static_cast<std::uint32_t>(metadata_size);
    fields.payload_size = payload_size;
    fields.flags = info.flags;
    fields.format_generation = format_generation_;
    fields.pts = info.pts;
    fields.dts = info.dts;
    fields.duration = info.duration;
    fields.offset = info.offset;
    fields.offset_end = info.offset_end;
    fields.commit_time_ns = monotonic_ns();
    if (digester_.mode() != Integrity::None) {
        const Digest digest = digester_.digest({reinterpret_cast<const std::byte*>(&fields), kDigestedFieldBytes},
                                               {memory, metadata_size}, {memory + fields.payload_offset, payload_size});
        std::memcpy(fields.digest, digest.data(), digest.size());
    } else {
        std::memset(fields.digest, 0, sizeof fields.digest); // Nothing of this process's stack into shared memory.
    }
    store_descriptor(segment_.descriptor(sequence), fields);
    committed_ = sequence + 1;
    control_.last_commit_ns.store(fields.commit_time_ns, std::memory_order_relaxed);
    // Release: a reader that sees the new count (acquire) sees the descriptor and every byte of the frame.
    control_.committed.store(committed_, std::memory_order_release);

    bump(control_.counters.frames_written);
    bump(control_.counters.bytes_written, payload_size);
    bump(entry.copied ? control_.counters.frames_copied : control_.counters.frames_in_place);
    entry.sequence = sequence;
    if (retained != nullptr) {
        entry.state = RecordState::Retained;
        bump(control_.counters.frames_retained);
        retained->core_ = this;
        retained->record_ = record;
        retained->sequence_ = sequence;
    } else if (entry.size == 0) {
        free_record(record); // No memory to take back later.
    } else {
        entry.state = RecordState::Pending;
        pending_[(pending_head_ + pending_count_) % pending_.size()] = record;
        ++pending_count_;
    }
    wake_readers();
    if (fields.commit_time_ns >= next_liveness_check_ns_) {
        next_liveness_check_ns_ = fields.commit_time_ns + kLivenessPeriodNs;
        reclaim_dead_readers();
    }
    return {};
}

void WriterCore::wake_readers() noexcept
{
    // Dekker with sleeping readers (they set their bit in sleeping_readers, then re-check committed): only pay
    // for a futex wake when somebody sleeps.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (control_.sleeping_readers.load(std::memory_order_relaxed) != 0) {
        control_.data_futex.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_all(control_.data_futex);
    }
}

void WriterCore::abort(std::uint32_t record) noexcept
{
    if (record >= records_.size() || records_[record].state != RecordState::Open)
        return;
    bump(control_.counters.frames_aborted);
    --open_;
    free_record(record);
}

void WriterCore::release_retained(std::uint32_t record) noexcept
{
    if (record >= records_.size() || records_[record].state != RecordState::Retained)
        return;
    if (records_[record].size == 0) {
        free_record(record);
        return;
    }
    records_[record].state = RecordState::Kept; // Free once readers are done with it (next scan).
    kept_.push_back(record);
}

Result<std::uint32_t> WriterCore::set_stream_metadata(std::string_view json)
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

Result<void> WriterCore::wait_for_readers(std::uint32_t count, std::chrono::nanoseconds timeout)
{
    const std::int64_t deadline = deadline_after(timeout);
    while (true) {
        const std::uint32_t seen = control_.reader_join_futex.load(std::memory_order_acquire);
        if (reader_count() >= count)
            return {};
        const std::int64_t left = deadline - monotonic_ns();
        if (left <= 0)
            return make_error(Errc::Timeout, "no " + std::to_string(count) + " reader(s) attached to ring '" + name_ +
                                                 "' within the timeout");
        futex_wait(control_.reader_join_futex, seen,
                   std::min<std::chrono::nanoseconds>(std::chrono::nanoseconds(left), kLivenessSlice));
    }
}

std::uint32_t WriterCore::reader_count()
{
    reclaim_dead_readers();
    std::uint32_t count = 0;
    for (std::uint32_t i = 0; i < segment_.geometry().max_readers; ++i)
        if (owner_state(segment_.reader_slot(i).owner.load(std::memory_order_acquire)) == SlotState::Active)
            ++count;
    return count;
}

bool WriterCore::keyframe_requested() noexcept
{
    const std::uint32_t requests = control_.keyframe_requests.load(std::memory_order_relaxed);
    if (requests == keyframe_requests_seen_)
        return false;
    keyframe_requests_seen_ = requests;
    bump(control_.counters.keyframe_requests_seen);
    return true;
}

std::size_t WriterCore::max_payload_size(std::size_t metadata_capacity) const noexcept
{
    const std::uint64_t before = payload_offset_for(metadata_capacity);
    return before >= capacity_ ? 0 : static_cast<std::size_t>(capacity_ - before);
}

} // namespace zerobuffer::detail
