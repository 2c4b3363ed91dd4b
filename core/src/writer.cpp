// SPDX-License-Identifier: MIT
// The writer's public API, and segment creation and takeover (the frame path is in writer_core.cpp).
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

#include <sodium.h>

#include "writer_core.h"

namespace zerobuffer {
namespace detail {

namespace {

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

void initialise_control_block(Segment& segment, const WriterOptions& options, const FrameDigester& digester)
{
    const Geometry& g = segment.geometry();
    ControlBlock& control = segment.control();
    control.protocol_version = kProtocolVersion;
    control.control_block_size = sizeof(ControlBlock);
    control.reader_slot_size = static_cast<std::uint32_t>(g.reader_slot_stride);
    control.descriptor_size = sizeof(FrameDescriptor);
    control.metadata_slot_header_size = sizeof(MetadataSlotHeader);
    control.max_readers = g.max_readers;
    control.frame_slots = g.frame_slots;
    control.holds_per_reader = g.holds_per_reader;
    control.segment_size = g.segment_size;
    control.readers_offset = g.readers_offset;
    control.descriptors_offset = g.descriptors_offset;
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
    control.wait_blocker.store(-1, std::memory_order_relaxed);
    control.writer_state.store(static_cast<std::uint32_t>(WriterState::Active), std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < g.max_readers; ++i) {
        segment.reader_slot(i).cursor.store(kNoSequence, std::memory_order_relaxed);
        HoldRecord* records = segment.hold_records(i);
        for (std::uint32_t j = 0; j < g.holds_per_reader; ++j)
            records[j].sequence.store(kNoSequence, std::memory_order_relaxed);
    }
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
    : core_(std::exchange(other.core_, nullptr)), record_(other.record_), payload_(other.payload_),
      metadata_(other.metadata_)
{
}

FrameReservation& FrameReservation::operator=(FrameReservation&& other) noexcept
{
    if (this != &other) {
        abort();
        core_ = std::exchange(other.core_, nullptr);
        record_ = other.record_;
        payload_ = other.payload_;
        metadata_ = other.metadata_;
    }
    return *this;
}

FrameReservation::~FrameReservation() { abort(); }

void FrameReservation::abort() noexcept
{
    if (core_ != nullptr)
        std::exchange(core_, nullptr)->abort(record_);
}

void FrameReservation::mark_copied() noexcept
{
    if (core_ != nullptr)
        core_->mark_copied(record_);
}

RetainedFrame::RetainedFrame(RetainedFrame&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)), record_(other.record_), sequence_(other.sequence_)
{
}

RetainedFrame& RetainedFrame::operator=(RetainedFrame&& other) noexcept
{
    if (this != &other) {
        release();
        core_ = std::exchange(other.core_, nullptr);
        record_ = other.record_;
        sequence_ = other.sequence_;
    }
    return *this;
}

RetainedFrame::~RetainedFrame() { release(); }

void RetainedFrame::release() noexcept
{
    if (core_ != nullptr)
        std::exchange(core_, nullptr)->release_retained(record_);
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
    if ((options.permissions & 0002) != 0)
        return make_error(Errc::InvalidArgument,
                          "permissions " + detail::octal_mode(options.permissions) +
                              " let every local user write the ring (and truncate it under its readers, who would "
                              "crash with SIGBUS); readers refuse such rings: use 0600, or 0660 with a group");
    if (options.integrity != Integrity::None && options.integrity != Integrity::Checksum && options.integrity != Integrity::Mac)
        return make_error(Errc::InvalidArgument, "unknown integrity mode");
    if (options.integrity == Integrity::Mac && options.secret.size() < 16)
        return make_error(Errc::InvalidArgument, "Integrity::Mac needs a secret of at least 16 bytes (for example 32 random bytes)");
    auto digester = detail::FrameDigester::make(options.integrity, options.secret);
    if (!digester)
        return tl::unexpected(std::move(digester.error()));
    // Every open reservation needs a descriptor of its own when it commits, with room to spare.
    const std::uint32_t max_frames =
        options.max_frames == 0 ? 0 : std::max(options.max_frames, options.max_outstanding + 3);
    auto geometry = detail::compute_geometry(options.ring_size, options.max_readers, options.metadata_capacity,
                                             max_frames, options.max_holds_per_reader);
    if (!geometry)
        return tl::unexpected(std::move(geometry.error()));
    while (geometry->frame_slots < options.max_outstanding + 3) {
        geometry = detail::compute_geometry(options.ring_size, options.max_readers, options.metadata_capacity,
                                            geometry->frame_slots * 2, options.max_holds_per_reader);
        if (!geometry)
            return tl::unexpected(std::move(geometry.error()));
    }
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
    return core_->commit(reservation, info, reservation.payload_.size(), reservation.metadata_.size(), nullptr);
}

Result<void> Writer::commit(FrameReservation& reservation, const FrameInfo& info, std::size_t payload_size,
                            std::size_t metadata_size)
{
    return core_->commit(reservation, info, payload_size, metadata_size, nullptr);
}

Result<RetainedFrame> Writer::commit_retained(FrameReservation& reservation, const FrameInfo& info,
                                              std::size_t payload_size, std::size_t metadata_size)
{
    RetainedFrame retained;
    if (auto committed = core_->commit(reservation, info, payload_size, metadata_size, &retained); !committed)
        return tl::unexpected(std::move(committed.error()));
    return retained;
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
    core_->mark_copied(reservation->record_);
    return core_->commit(*reservation, info, payload.size(), metadata.size(), nullptr);
}

Result<std::uint32_t> Writer::set_stream_metadata(std::string_view json) { return core_->set_stream_metadata(json); }

Result<void> Writer::wait_for_readers(std::uint32_t count, std::chrono::nanoseconds timeout)
{
    return core_->wait_for_readers(count, timeout);
}

std::uint32_t Writer::reader_count() { return core_->reader_count(); }
bool Writer::keyframe_requested() noexcept { return core_->keyframe_requested(); }

std::size_t Writer::max_payload_size(std::size_t metadata_capacity) const noexcept
{
    return core_->max_payload_size(metadata_capacity);
}

std::size_t Writer::ring_size() const noexcept { return core_->ring_size(); }
WriterCounters Writer::counters() const noexcept { return core_->counters(); }
const std::string& Writer::name() const noexcept { return core_->name(); }

detail::WriterCore& detail_core(Writer& writer) noexcept { return *writer.core_; }

} // namespace zerobuffer
