// SPDX-License-Identifier: MIT
// Read-only inspection of rings and removal of rings no live process holds (zbctl list/inspect/gc).
#include <zerobuffer/inspect.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <memory>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "descriptor.h"
#include "futex.h"
#include "layout.h"
#include "segment.h"

namespace zerobuffer {

namespace {

/// How long ago `then` was, from a timestamp another process wrote: 0 for one in the future or not positive,
/// and no signed overflow whatever the segment says.
std::int64_t age_ns(std::int64_t now, std::int64_t then) noexcept
{
    return then > 0 && then <= now ? now - then : 0;
}

using namespace detail;

/// Whether any process holds a lock anywhere in the file (writer byte 0, reader bytes 1..64): one syscall.
Result<bool> any_process_alive(int fd, const std::string& path)
{
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0; // To the end of the file.
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0)
        return make_error(Errc::SystemError, system_message("cannot test the locks of " + path, errno), errno);
    return lock.l_type != F_UNLCK;
}

bool has_capability(int capability)
{
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    std::array<__user_cap_data_struct, 2> data{};
    if (syscall(SYS_capget, &header, data.data()) != 0)
        return false;
    return ((data[static_cast<std::size_t>(capability / 32)].effective >> (capability % 32)) & 1U) != 0;
}

/// errno that unlink() of `file` in /dev/shm will fail with, or 0: /dev/shm is sticky, so only the file's or
/// the directory's owner (or CAP_FOWNER) may remove it. Lets a dry run refuse exactly what the real run cannot do.
int predicted_unlink_error(const struct stat& file)
{
    const std::string directory(kShmDirectory);
    if (faccessat(AT_FDCWD, directory.c_str(), W_OK | X_OK, AT_EACCESS) != 0)
        return errno;
    struct stat info {};
    if (::stat(directory.c_str(), &info) != 0)
        return errno;
    const uid_t me = geteuid();
    if ((info.st_mode & S_ISVTX) != 0 && file.st_uid != me && info.st_uid != me && !has_capability(CAP_FOWNER))
        return EPERM;
    return 0;
}

enum class Verdict { Gone, Held, Stale, Unjudged };

/// What gc found out about one file. A stale file is still open, and in a real run locked, so that no
/// writer can take it over before it is removed.
struct Judgement {
    Verdict verdict;
    Error error; ///< Why, when Unjudged.
    UniqueFd file;
};

Judgement unjudged(Error error)
{
    return {Verdict::Unjudged, std::move(error), UniqueFd()};
}

Judgement found(Verdict verdict)
{
    return {verdict, {Errc::SystemError, {}, 0}, UniqueFd()};
}

/// The one judgement of collect_garbage(), remove_stale_ring() and their dry runs: a file is stale exactly when
/// no process holds any lock in it. A real run then takes a whole-file lock itself, which keeps a writer from
/// taking the ring over meanwhile, and re-checks that the name still refers to the file it judged. A dry run
/// takes no lock, so it never disturbs anyone. Neither trusts anything else (pids in names or in the segment).
Judgement judge(const std::string& path, bool dry_run)
{
    struct stat named {};
    if (::lstat(path.c_str(), &named) != 0) {
        if (errno == ENOENT)
            return found(Verdict::Gone);
        return unjudged({Errc::SystemError, system_message("cannot look at " + path, errno), errno});
    }
    if (!S_ISREG(named.st_mode))
        return unjudged({Errc::CorruptSegment,
                         path + " is not a regular file, so not a ring: remove it by hand if you know what it is"});
    UniqueFd file(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    if (!file.valid()) {
        if (errno == ENOENT)
            return found(Verdict::Gone);
        const int error_number = errno;
        return unjudged({Errc::SystemError,
                         system_message("cannot open " + path + " (owner uid " + std::to_string(named.st_uid) + ")",
                                        error_number),
                         error_number});
    }
    const int fd = file.get();
    auto alive = any_process_alive(fd, path);
    if (!alive)
        return unjudged(std::move(alive.error()));
    if (*alive)
        return found(Verdict::Held);
    struct stat opened {};
    if (fstat(fd, &opened) != 0)
        return unjudged({Errc::SystemError, system_message("cannot stat " + path, errno), errno});
    if (!dry_run) {
        struct flock lock {};
        lock.l_type = F_WRLCK;
        lock.l_whence = SEEK_SET;
        lock.l_start = 0;
        lock.l_len = 0;
        if (fcntl(fd, F_OFD_SETLK, &lock) != 0)
            return found(Verdict::Held); // Somebody took it just now.
        struct stat current {};
        if (::stat(path.c_str(), &current) != 0 || opened.st_ino != current.st_ino || opened.st_dev != current.st_dev)
            return found(Verdict::Gone); // Replaced or removed meanwhile: not ours to judge any more.
    }
    if (const int refused = predicted_unlink_error(opened); refused != 0)
        return unjudged({Errc::SystemError,
                         system_message("cannot remove " + path + " (owner uid " + std::to_string(opened.st_uid) +
                                            (refused == EPERM ? "; /dev/shm lets only the owner remove it)" : ")"),
                                        refused),
                         refused});
    return {Verdict::Stale, {Errc::SystemError, {}, 0}, std::move(file)};
}

/// Judges `path` and, unless a dry run, removes it when stale. Unjudged includes a removal that failed.
Judgement collect(const std::string& path, bool dry_run)
{
    Judgement judgement = judge(path, dry_run);
    if (judgement.verdict != Verdict::Stale || dry_run)
        return judgement;
    if (::unlink(path.c_str()) != 0) {
        if (errno == ENOENT)
            return found(Verdict::Gone);
        return unjudged({Errc::SystemError, system_message("cannot remove " + path, errno), errno});
    }
    return judgement;
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
        snapshot.since_last_frame_ns = age_ns(now, last);
    const auto reason = static_cast<WaitReason>(control.wait_reason.load(kRelaxed));
    snapshot.writer_waiting = reason != WaitReason::None;
    snapshot.wait_reason = reason == WaitReason::Room ? "room" : reason == WaitReason::FrameSlots ? "frame slots" : "";
    if (const std::int64_t since = control.wait_since_ns.load(kRelaxed); snapshot.writer_waiting && since != 0)
        snapshot.waiting_for_ns = age_ns(now, since);
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
            reader.oldest_hold_age_ns = age_ns(now, oldest);
        if (const std::int64_t last = slot.last_acquire_ns.load(kRelaxed); last != 0)
            reader.idle_ns = age_ns(now, last);
        // Bytes another process wrote: a nonsense value is shown as "not periodic", not trusted.
        const std::int64_t interval = slot.cadence_interval_ns.load(kRelaxed);
        const std::int64_t window = slot.cadence_window_ns.load(kRelaxed);
        if (interval > 0 && interval <= 3600'000'000'000LL && window >= 0 && window <= interval) {
            reader.cadence_interval_ns = interval;
            reader.cadence_window_ns = window;
        }
        reader.counters = detail::snapshot(slot.counters);
        snapshot.readers.push_back(reader);
    }
    return snapshot;
}

Result<void> remove_stale_ring(std::string_view name, const GcOptions& options)
{
    if (auto valid = validate_ring_name(name); !valid)
        return tl::unexpected(std::move(valid.error()));
    Judgement judgement = collect(ring_path(name), options.dry_run);
    switch (judgement.verdict) {
    case Verdict::Gone:
        return make_error(Errc::NotFound, "no ring named '" + std::string(name) + "'");
    case Verdict::Held:
        return make_error(Errc::Busy, "ring '" + std::string(name) + "' is still held by a live writer or reader");
    case Verdict::Unjudged:
        return tl::unexpected(std::move(judgement.error));
    case Verdict::Stale:
        break;
    }
    return {};
}

Result<GcReport> collect_garbage(const GcOptions& options)
{
    std::unique_ptr<DIR, int (*)(DIR*)> directory(opendir(std::string(kShmDirectory).c_str()), closedir);
    if (!directory)
        return make_error(Errc::SystemError, system_message("cannot list " + std::string(kShmDirectory), errno), errno);
    std::vector<GcEntry> candidates;
    while (const dirent* entry = readdir(directory.get())) {
        const std::string_view file = entry->d_name;
        if (file.starts_with(kRingPrefix))
            candidates.push_back({std::string(file.substr(kRingPrefix.size())), false});
        else if (file.starts_with(kTempPrefix))
            candidates.push_back({std::string(file), true});
    }
    directory.reset();
    const auto by_name = [](const GcEntry& a, const GcEntry& b) { return a.name < b.name; };
    std::sort(candidates.begin(), candidates.end(), by_name);
    // One object gc may not open or remove must not stop the others: it is reported and the walk goes on.
    GcReport report;
    for (GcEntry& candidate : candidates) {
        const std::string path = std::string(kShmDirectory) +
                                 (candidate.temporary ? candidate.name : std::string(kRingPrefix) + candidate.name);
        Judgement judgement = collect(path, options.dry_run);
        if (judgement.verdict == Verdict::Stale)
            report.removed.push_back(std::move(candidate));
        else if (judgement.verdict == Verdict::Unjudged)
            report.skipped.push_back({std::move(candidate), std::move(judgement.error)});
    }
    return report;
}

} // namespace zerobuffer
