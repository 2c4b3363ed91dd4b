// SPDX-License-Identifier: MIT
// Read-only inspection of rings and removal of rings no live process holds (zbctl list/inspect/gc).
#include <zerobuffer/inspect.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include "descriptor.h"
#include "futex.h"
#include "layout.h"
#include "segment.h"

namespace zerobuffer {

namespace {

using namespace detail;

/// Whether any process holds a lock anywhere in the file (writer byte 0, reader bytes 1..64): one syscall.
bool any_process_alive(int fd)
{
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0; // To the end of the file.
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0)
        return true; // Cannot tell: never remove on doubt.
    return lock.l_type != F_UNLCK;
}

/// Removes `path` if no process holds any lock in it and it is still the file we checked.
/// Taking the writer lock ourselves first keeps a writer from taking the ring over meanwhile.
Result<bool> remove_if_unheld(const std::string& path)
{
    const UniqueFd file(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (!file.valid()) {
        if (errno == ENOENT)
            return false;
        return make_error(Errc::SystemError, system_message("cannot open " + path, errno), errno);
    }
    const int fd = file.get();
    if (any_process_alive(fd))
        return false;
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;
    if (fcntl(fd, F_OFD_SETLK, &lock) != 0)
        return false; // Somebody took it just now.
    struct stat opened {}, current {};
    if (fstat(fd, &opened) != 0 || ::stat(path.c_str(), &current) != 0 || opened.st_ino != current.st_ino)
        return false;
    if (::unlink(path.c_str()) != 0)
        return make_error(Errc::SystemError, system_message("cannot remove " + path, errno), errno);
    return true;
}

/// Payload bytes of the frames [from, to) as far as their descriptors still describe them (bounded walk).
std::uint64_t payload_bytes_between(const Segment& segment, std::uint64_t from, std::uint64_t to)
{
    if (from >= to)
        return 0;
    from = std::max(from, to - std::min<std::uint64_t>(to, segment.geometry().frame_slots));
    std::uint64_t bytes = 0;
    for (std::uint64_t sequence = from; sequence < to; ++sequence) {
        DescriptorFields fields;
        if (load_descriptor(segment.descriptor(sequence), sequence, fields))
            bytes += std::min<std::uint64_t>(fields.payload_size, segment.geometry().payload_capacity);
    }
    return bytes;
}

} // namespace

Result<std::vector<std::string>> list_rings()
{
    std::unique_ptr<DIR, int (*)(DIR*)> directory(opendir(std::string(kShmDirectory).c_str()), closedir);
    if (!directory)
        return make_error(Errc::SystemError, system_message("cannot list " + std::string(kShmDirectory), errno), errno);
    std::vector<std::string> names;
    while (const dirent* entry = readdir(directory.get())) {
        const std::string_view file = entry->d_name;
        if (file.starts_with(kRingPrefix) && validate_ring_name(file.substr(kRingPrefix.size())))
            names.emplace_back(file.substr(kRingPrefix.size()));
    }
    std::sort(names.begin(), names.end());
    return names;
}

Result<RingSnapshot> inspect_ring(std::string_view name)
{
    if (auto valid = validate_ring_name(name); !valid)
        return tl::unexpected(std::move(valid.error()));
    auto opened = Segment::open(ring_path(name), false);
    if (!opened) {
        if (opened.error().code == Errc::NotFound)
            opened.error().message = "no ring named '" + std::string(name) + "' (see 'zbctl list')";
        return tl::unexpected(std::move(opened.error()));
    }
    const Segment& segment = *opened;
    const ControlBlock& control = segment.control();
    const Geometry& g = segment.geometry();
    constexpr auto kRelaxed = std::memory_order_relaxed;

    RingSnapshot snapshot;
    snapshot.name = std::string(name);
    snapshot.shm_path = segment.path();
    snapshot.protocol_version = control.protocol_version;
    snapshot.segment_size = g.segment_size;
    snapshot.payload_offset = g.payload_offset;
    snapshot.payload_capacity = g.payload_capacity;
    snapshot.metadata_offset = g.metadata_offset;
    snapshot.metadata_capacity = g.metadata_capacity;
    snapshot.readers_offset = g.readers_offset;
    snapshot.max_readers = g.max_readers;
    snapshot.integrity = static_cast<Integrity>(control.integrity);
    snapshot.writer_pid = control.writer_pid;
    snapshot.writer_command.assign(control.writer_command, strnlen(control.writer_command, sizeof control.writer_command));
    snapshot.writer_alive = segment.locked_by_other(kWriterLockByte);
    snapshot.writer_closed = control.writer_state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(WriterState::Closed);
    snapshot.created_realtime_ns = control.created_realtime_ns;
    snapshot.frame_slots = g.frame_slots;
    snapshot.holds_per_reader = g.holds_per_reader;
    snapshot.descriptors_offset = g.descriptors_offset;
    snapshot.next_sequence = control.committed.load(std::memory_order_acquire);
    snapshot.reclaim_floor = control.reclaim_floor.load(kRelaxed);
    snapshot.bytes_in_use = control.bytes_in_use.load(kRelaxed);
    snapshot.frames_in_use = control.frames_in_use.load(kRelaxed);
    const std::int64_t now = monotonic_ns();
    if (const std::int64_t last = control.last_commit_ns.load(kRelaxed); last != 0 && snapshot.next_sequence != 0)
        snapshot.since_last_frame_ns = std::max<std::int64_t>(0, now - last);
    const auto reason = static_cast<WaitReason>(control.wait_reason.load(kRelaxed));
    snapshot.writer_waiting = reason != WaitReason::None;
    snapshot.wait_reason = reason == WaitReason::Room ? "room" : reason == WaitReason::FrameSlots ? "frame slots" : "";
    if (const std::int64_t since = control.wait_since_ns.load(kRelaxed); snapshot.writer_waiting && since != 0)
        snapshot.waiting_for_ns = std::max<std::int64_t>(0, now - since);
    snapshot.format_generation = control.format_generation.load(std::memory_order_acquire);
    (void)segment.copy_metadata(snapshot.format_generation, snapshot.stream_metadata); // Best effort for display.
    snapshot.writer = detail::snapshot(control.counters);
    for (std::uint32_t i = 0; i < g.max_readers; ++i) {
        const ReaderSlot& slot = segment.reader_slot(i);
        if (owner_state(slot.owner.load(std::memory_order_acquire)) == SlotState::Free)
            continue;
        ReaderSnapshot reader;
        reader.slot = i;
        reader.pid = slot.pid.load(kRelaxed);
        reader.alive = segment.locked_by_other(reader_lock_byte(i));
        reader.policy = slot.policy.load(kRelaxed) == 1 ? ReaderPolicy::Latest : ReaderPolicy::Lossless;
        reader.reads_in_order = (slot.flags.load(kRelaxed) & kSlotReadsInOrder) != 0;
        reader.cursor = slot.cursor.load(kRelaxed);
        reader.lag_frames = snapshot.next_sequence > reader.cursor ? snapshot.next_sequence - reader.cursor : 0;
        reader.lag_bytes = payload_bytes_between(segment, reader.cursor, snapshot.next_sequence);
        const std::uint32_t high = std::min(slot.hold_high.load(kRelaxed), g.holds_per_reader);
        const HoldRecord* records = segment.hold_records(i);
        std::int64_t oldest = 0;
        for (std::uint32_t j = 0; j < high; ++j) {
            if (records[j].sequence.load(kRelaxed) == kNoSequence)
                continue;
            ++reader.held_frames;
            reader.held_bytes += std::min<std::uint64_t>(records[j].bytes.load(kRelaxed), g.payload_capacity);
            const std::int64_t acquired = records[j].acquired_ns.load(kRelaxed);
            if (acquired > 0 && (oldest == 0 || acquired < oldest))
                oldest = acquired;
        }
        if (reader.held_frames != 0 && oldest != 0)
            reader.oldest_hold_age_ns = std::max<std::int64_t>(0, now - oldest);
        if (const std::int64_t last = slot.last_acquire_ns.load(kRelaxed); last != 0)
            reader.idle_ns = std::max<std::int64_t>(0, now - last);
        reader.counters = detail::snapshot(slot.counters);
        snapshot.readers.push_back(reader);
    }
    return snapshot;
}

Result<void> remove_stale_ring(std::string_view name)
{
    if (auto valid = validate_ring_name(name); !valid)
        return tl::unexpected(std::move(valid.error()));
    const std::string path = ring_path(name);
    if (::access(path.c_str(), F_OK) != 0)
        return make_error(Errc::NotFound, "no ring named '" + std::string(name) + "'");
    auto removed = remove_if_unheld(path);
    if (!removed)
        return tl::unexpected(std::move(removed.error()));
    if (!*removed)
        return make_error(Errc::Busy, "ring '" + std::string(name) + "' is still held by a live writer or reader");
    return {};
}

Result<std::vector<std::string>> collect_garbage()
{
    std::unique_ptr<DIR, int (*)(DIR*)> directory(opendir(std::string(kShmDirectory).c_str()), closedir);
    if (!directory)
        return make_error(Errc::SystemError, system_message("cannot list " + std::string(kShmDirectory), errno), errno);
    std::vector<std::string> candidates;
    while (const dirent* entry = readdir(directory.get())) {
        const std::string_view file = entry->d_name;
        if (file.starts_with(kRingPrefix) || file.starts_with(kTempPrefix))
            candidates.emplace_back(file);
    }
    std::vector<std::string> removed;
    for (const std::string& file : candidates) {
        auto gone = remove_if_unheld(std::string(kShmDirectory) + file);
        if (!gone)
            return tl::unexpected(std::move(gone.error()));
        if (*gone)
            removed.push_back(file.starts_with(kRingPrefix) ? file.substr(kRingPrefix.size()) : file);
    }
    std::sort(removed.begin(), removed.end());
    return removed;
}

} // namespace zerobuffer
