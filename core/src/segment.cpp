// SPDX-License-Identifier: MIT
// Mapping, locking and validation of ring segments in /dev/shm.
#include "segment.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include <sodium.h>

namespace zerobuffer::detail {

namespace {

constexpr std::size_t kMaxNameLength = 200;

std::string hex(std::span<const unsigned char> bytes)
{
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    for (unsigned char byte : bytes) {
        text.push_back(kDigits[byte >> 4]);
        text.push_back(kDigits[byte & 0xf]);
    }
    return text;
}

/// Gives the unnamed file `fd` the name `path`. /proc/self/fd works for any user; AT_EMPTY_PATH is the
/// fallback where /proc is not mounted (it needs CAP_DAC_READ_SEARCH).
int link_unnamed(int fd, const std::string& path)
{
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0)
        return 0;
    const int via_proc = errno;
    if (via_proc != ENOENT && via_proc != ENOTDIR)
        return via_proc;
    if (::linkat(fd, "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH) == 0)
        return 0;
    return errno;
}

} // namespace

std::string octal_mode(unsigned mode)
{
    char text[8];
    std::snprintf(text, sizeof text, "%04o", mode & 07777);
    return text;
}

std::string system_message(std::string_view what, int error_number)
{
    std::string message(what);
    message += ": ";
    message += std::strerror(error_number);
    switch (error_number) {
    case ENOSPC:
    case ENOMEM:
        message += " (/dev/shm is full: free space there, remove stale rings with 'zbctl gc', or use a smaller ring)";
        break;
    case EACCES:
    case EPERM:
        message += " (permission denied: run as the ring's owner or create the ring with wider permissions)";
        break;
    case EMFILE:
    case ENFILE:
        message += " (too many open files: raise the limit with 'ulimit -n')";
        break;
    default:
        break;
    }
    return message;
}

Result<void> validate_ring_name(std::string_view name)
{
    if (name.empty() || name.size() > kMaxNameLength)
        return make_error(Errc::InvalidArgument, "ring name '" + std::string(name) + "' must be 1 to 200 characters");
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok)
            return make_error(Errc::InvalidArgument, "ring name '" + std::string(name) +
                                                         "' may only contain letters, digits, '.', '_' and '-'");
    }
    if (name.front() == '-')
        return make_error(Errc::InvalidArgument, "ring name '" + std::string(name) +
                                                     "' must not begin with '-': programs would read it as an option");
    if (name == "." || name == "..")
        return make_error(Errc::InvalidArgument, "ring name '" + std::string(name) + "' is reserved");
    return {};
}

std::string ring_path(std::string_view name)
{
    std::string path(kShmDirectory);
    path += kRingPrefix;
    path += name;
    return path;
}

namespace {

/// Descriptors for a ring of `ring_size` bytes when the writer left max_frames at 0: one per 16 KiB.
std::uint32_t default_frame_slots(std::size_t ring_size)
{
    const std::uint64_t wanted = std::clamp<std::uint64_t>(ring_size / (std::uint64_t{16} << 10), 64, 65536);
    return static_cast<std::uint32_t>(wanted);
}

std::uint32_t next_power_of_two(std::uint32_t value)
{
    std::uint32_t power = 1;
    while (power < value)
        power <<= 1;
    return power;
}

} // namespace

Result<Geometry> compute_geometry(std::size_t ring_size, std::uint32_t max_readers, std::size_t metadata_capacity,
                                  std::uint32_t max_frames, std::uint32_t holds_per_reader)
{
    if (max_readers < 1 || max_readers > kMaxReaders)
        return make_error(Errc::InvalidArgument,
                          "max_readers is " + std::to_string(max_readers) + "; it must be 1 to 64");
    if (ring_size < kMinRingSize)
        return make_error(Errc::InvalidArgument, "ring_size is " + std::to_string(ring_size) +
                                                     " bytes; it must be at least 4096");
    if (ring_size > (std::uint64_t{1} << 46))
        return make_error(Errc::InvalidArgument, "ring_size is " + std::to_string(ring_size) + " bytes; at most 64 TiB");
    if (metadata_capacity > kMaxMetadataCapacity)
        return make_error(Errc::InvalidArgument, "metadata_capacity is " + std::to_string(metadata_capacity) +
                                                     " bytes; at most 16 MiB");
    if (max_frames != 0 && (max_frames < kMinFrameSlots || max_frames > kMaxFrameSlots))
        return make_error(Errc::InvalidArgument, "max_frames is " + std::to_string(max_frames) + "; it must be 0 (derive it) or " +
                                                     std::to_string(kMinFrameSlots) + " to " + std::to_string(kMaxFrameSlots));
    if (holds_per_reader < 1 || holds_per_reader > kMaxHoldsPerReader)
        return make_error(Errc::InvalidArgument, "max_holds_per_reader is " + std::to_string(holds_per_reader) +
                                                     "; it must be 1 to " + std::to_string(kMaxHoldsPerReader));
    Geometry geometry;
    geometry.max_readers = max_readers;
    geometry.frame_slots = next_power_of_two(max_frames != 0 ? max_frames : default_frame_slots(ring_size));
    geometry.holds_per_reader = holds_per_reader;
    geometry.readers_offset = align_up(sizeof(ControlBlock), kCacheLine);
    geometry.reader_slot_stride = reader_slot_stride(holds_per_reader);
    geometry.descriptors_offset = align_up(geometry.readers_offset + std::uint64_t{max_readers} * geometry.reader_slot_stride, kCacheLine);
    geometry.metadata_offset = geometry.descriptors_offset + std::uint64_t{geometry.frame_slots} * sizeof(FrameDescriptor);
    geometry.metadata_capacity = metadata_capacity;
    geometry.metadata_slot_stride = sizeof(MetadataSlotHeader) + align_up(metadata_capacity, kCacheLine);
    geometry.payload_offset = align_up(geometry.metadata_offset + kMetadataSlots * geometry.metadata_slot_stride, kPageSize);
    geometry.payload_capacity = align_up(ring_size, kPageSize);
    geometry.segment_size = geometry.payload_offset + geometry.payload_capacity;
    return geometry;
}

Result<Geometry> validate_control_block(const ControlBlock& control, std::uint64_t file_size)
{
    const auto corrupt = [](std::string what) {
        return make_error(Errc::CorruptSegment,
                          "corrupt ring segment: " + std::move(what) +
                              "; the segment is damaged or not a ZeroBuffer ring: remove it ('zbctl gc') and restart its writer");
    };
    if (file_size < sizeof(ControlBlock))
        return corrupt("file is " + std::to_string(file_size) + " bytes, smaller than a control block (" +
                       std::to_string(sizeof(ControlBlock)) + ")");
    const std::uint64_t magic = control.magic.load(std::memory_order_acquire);
    if (magic != kMagic)
        return corrupt("bad magic number 0x" + hex({reinterpret_cast<const unsigned char*>(&magic), sizeof magic}));
    if (control.protocol_version != kProtocolVersion)
        return make_error(Errc::VersionMismatch,
                          "ring uses protocol version " + std::to_string(control.protocol_version) +
                              " but this library speaks version " + std::to_string(kProtocolVersion) +
                              ": writer and reader were built from different ZeroBuffer releases; use the same "
                              "release on both sides (restart the writer with this one)");
    const std::uint64_t slot_stride = reader_slot_stride(control.holds_per_reader);
    if (control.control_block_size != sizeof(ControlBlock) || control.descriptor_size != sizeof(FrameDescriptor) ||
        control.metadata_slot_header_size != sizeof(MetadataSlotHeader) ||
        control.holds_per_reader < 1 || control.holds_per_reader > kMaxHoldsPerReader ||
        control.reader_slot_size != slot_stride)
        return make_error(Errc::VersionMismatch,
                          "ring layout sizes differ from this library's (control block " +
                              std::to_string(control.control_block_size) + " vs " + std::to_string(sizeof(ControlBlock)) +
                              ", reader slot " + std::to_string(control.reader_slot_size) + " vs " +
                              std::to_string(slot_stride) + ", descriptor " + std::to_string(control.descriptor_size) +
                              " vs " + std::to_string(sizeof(FrameDescriptor)) +
                              "): writer and reader were built from different ZeroBuffer versions");

    Geometry g;
    g.segment_size = control.segment_size;
    g.readers_offset = control.readers_offset;
    g.reader_slot_stride = slot_stride;
    g.descriptors_offset = control.descriptors_offset;
    g.metadata_offset = control.metadata_offset;
    g.metadata_capacity = control.metadata_capacity;
    g.metadata_slot_stride = control.metadata_slot_stride;
    g.payload_offset = control.payload_offset;
    g.payload_capacity = control.payload_capacity;
    g.max_readers = control.max_readers;
    g.frame_slots = control.frame_slots;
    g.holds_per_reader = control.holds_per_reader;

    if (g.segment_size != file_size)
        return corrupt("segment size field " + std::to_string(g.segment_size) + " differs from the file size " +
                       std::to_string(file_size));
    if (g.max_readers < 1 || g.max_readers > kMaxReaders)
        return corrupt("max_readers is " + std::to_string(g.max_readers));
    if (g.frame_slots < kMinFrameSlots || g.frame_slots > kMaxFrameSlots || (g.frame_slots & (g.frame_slots - 1)) != 0)
        return corrupt("frame_slots is " + std::to_string(g.frame_slots) + " (must be a power of two, " +
                       std::to_string(kMinFrameSlots) + " to " + std::to_string(kMaxFrameSlots) + ")");
    if (control.metadata_slots != kMetadataSlots)
        return corrupt("metadata slot count is " + std::to_string(control.metadata_slots));
    if (control.integrity > 2)
        return corrupt("unknown integrity mode " + std::to_string(control.integrity));
    // Each region must start after the previous one ends and stay inside the file; compute in a way that
    // cannot overflow (every value is first bounded by the file size).
    if (g.readers_offset < sizeof(ControlBlock) || g.readers_offset % kCacheLine != 0 || g.readers_offset > file_size ||
        std::uint64_t{g.max_readers} * g.reader_slot_stride > file_size - g.readers_offset)
        return corrupt("reader table at offset " + std::to_string(g.readers_offset) + " does not fit");
    const std::uint64_t readers_end = g.readers_offset + std::uint64_t{g.max_readers} * g.reader_slot_stride;
    if (g.descriptors_offset < readers_end || g.descriptors_offset % kCacheLine != 0 || g.descriptors_offset > file_size ||
        std::uint64_t{g.frame_slots} * sizeof(FrameDescriptor) > file_size - g.descriptors_offset)
        return corrupt("frame descriptors at offset " + std::to_string(g.descriptors_offset) + " do not fit");
    const std::uint64_t descriptors_end = g.descriptors_offset + std::uint64_t{g.frame_slots} * sizeof(FrameDescriptor);
    if (g.metadata_capacity > kMaxMetadataCapacity ||
        g.metadata_slot_stride != sizeof(MetadataSlotHeader) + align_up(g.metadata_capacity, kCacheLine))
        return corrupt("metadata capacity " + std::to_string(g.metadata_capacity) + " / stride " +
                       std::to_string(g.metadata_slot_stride) + " are inconsistent");
    if (g.metadata_offset < descriptors_end || g.metadata_offset % kCacheLine != 0 || g.metadata_offset > file_size ||
        kMetadataSlots * g.metadata_slot_stride > file_size - g.metadata_offset)
        return corrupt("metadata area at offset " + std::to_string(g.metadata_offset) + " does not fit");
    const std::uint64_t metadata_end = g.metadata_offset + kMetadataSlots * g.metadata_slot_stride;
    if (g.payload_offset < metadata_end || g.payload_offset % kPageSize != 0 || g.payload_offset > file_size)
        return corrupt("frame area offset " + std::to_string(g.payload_offset) + " is out of place");
    if (g.payload_capacity < kMinRingSize || g.payload_capacity % kPageSize != 0 ||
        g.payload_capacity != file_size - g.payload_offset)
        return corrupt("frame area capacity " + std::to_string(g.payload_capacity) + " does not match the file");
    return g;
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept
{
    if (this != &other) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

UniqueFd::~UniqueFd()
{
    if (fd_ >= 0)
        ::close(fd_);
}

Segment::Segment(Segment&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), base_(std::exchange(other.base_, nullptr)),
      mapped_size_(std::exchange(other.mapped_size_, 0)), inode_(other.inode_), geometry_(other.geometry_),
      path_(std::move(other.path_))
{
}

Segment& Segment::operator=(Segment&& other) noexcept
{
    if (this != &other) {
        reset();
        fd_ = std::exchange(other.fd_, -1);
        base_ = std::exchange(other.base_, nullptr);
        mapped_size_ = std::exchange(other.mapped_size_, 0);
        inode_ = other.inode_;
        geometry_ = other.geometry_;
        path_ = std::move(other.path_);
    }
    return *this;
}

Segment::~Segment() { reset(); }

void Segment::reset() noexcept
{
    if (base_ != nullptr)
        munmap(base_, mapped_size_);
    if (fd_ >= 0)
        ::close(fd_);
    base_ = nullptr;
    fd_ = -1;
    mapped_size_ = 0;
}

ReaderSlot& Segment::reader_slot(std::uint32_t index) const noexcept
{
    return *reinterpret_cast<ReaderSlot*>(bytes() + geometry_.readers_offset + std::uint64_t{index} * geometry_.reader_slot_stride);
}

HoldRecord* Segment::hold_records(std::uint32_t index) const noexcept
{
    return reinterpret_cast<HoldRecord*>(reinterpret_cast<std::byte*>(&reader_slot(index)) + sizeof(ReaderSlot));
}


MetadataSlotHeader& Segment::metadata_slot(std::uint32_t index) const noexcept
{
    return *reinterpret_cast<MetadataSlotHeader*>(bytes() + geometry_.metadata_offset +
                                                  std::uint64_t{index} * geometry_.metadata_slot_stride);
}

std::byte* Segment::metadata_data(std::uint32_t index) const noexcept
{
    return reinterpret_cast<std::byte*>(&metadata_slot(index)) + sizeof(MetadataSlotHeader);
}

Result<Segment> Segment::open(const std::string& path, bool writable)
{
    Segment segment;
    segment.path_ = path;
    segment.fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
    if (segment.fd_ < 0) {
        const int error_number = errno;
        if (error_number == ENOENT)
            return make_error(Errc::NotFound, "no ring at " + path + ": start its writer first", ENOENT);
        std::string what = "cannot open " + path;
        if (struct stat named {}; (error_number == EACCES || error_number == EPERM) && ::stat(path.c_str(), &named) == 0)
            what += " (owner uid " + std::to_string(named.st_uid) + ", group " + std::to_string(named.st_gid) +
                    ", mode " + octal_mode(named.st_mode) + "; this process is uid " + std::to_string(geteuid()) + ")";
        return make_error(Errc::SystemError, system_message(what, error_number), error_number);
    }
    struct stat info {};
    if (fstat(segment.fd_, &info) != 0)
        return make_error(Errc::SystemError, system_message("cannot stat " + path, errno), errno);
    if (!S_ISREG(info.st_mode))
        return make_error(Errc::CorruptSegment, path + " is not a regular shared-memory object");
    // Whoever can write the file can shrink it under our mapping, and every access past the new end is a SIGBUS
    // that no check of the bytes can prevent (tmpfs files cannot be sealed). Group and owner are chosen by the
    // writer; a ring every local user can write is refused (docs/security.md, "Truncation").
    if ((info.st_mode & S_IWOTH) != 0)
        return make_error(Errc::SystemError,
                          path + " (mode " + octal_mode(info.st_mode) +
                              ") can be written by every local user, who could truncate it under its readers: "
                              "refusing it; recreate the ring with permissions 0600 or 0660 (a group of the users "
                              "that need it)",
                          EACCES);
    const auto file_size = static_cast<std::uint64_t>(info.st_size);
    if (file_size < sizeof(ControlBlock))
        return make_error(Errc::CorruptSegment, "corrupt ring segment: " + path + " is " + std::to_string(file_size) +
                                                    " bytes, smaller than a control block; remove it ('zbctl gc')");
    segment.inode_ = info.st_ino;
    segment.mapped_size_ = static_cast<std::size_t>(file_size);
    segment.base_ = mmap(nullptr, segment.mapped_size_, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                         segment.fd_, 0);
    if (segment.base_ == MAP_FAILED) {
        segment.base_ = nullptr;
        return make_error(Errc::SystemError, system_message("cannot map " + path, errno), errno);
    }
    auto geometry = validate_control_block(segment.control(), file_size);
    if (!geometry)
        return tl::unexpected(std::move(geometry.error()));
    segment.geometry_ = *geometry;
    return segment;
}

Result<Segment> Segment::create_temporary(const Geometry& geometry, unsigned permissions)
{
    if (sodium_init() < 0)
        return make_error(Errc::SystemError, "libsodium failed to initialise");
    // The file is created unnamed (O_TMPFILE) and gets its temporary name only once it is locked and fully
    // allocated: collect_garbage() removes every named file nobody holds a lock in, so a file that could be
    // seen before its lock was taken could be collected under its creator (issue 19).
    Segment segment;
    segment.fd_ = ::open(std::string(kShmDirectory).c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, permissions & 0777);
    if (segment.fd_ < 0) {
        const int error_number = errno;
        if (error_number == EOPNOTSUPP || error_number == EISDIR)
            return make_error(Errc::SystemError,
                              system_message("cannot create an unnamed file in " + std::string(kShmDirectory) +
                                                 " (O_TMPFILE): it must be a tmpfs on Linux 3.11 or later",
                                             error_number),
                              error_number);
        return make_error(Errc::SystemError,
                          system_message("cannot create a ring segment in " + std::string(kShmDirectory), error_number),
                          error_number);
    }
    // O_TMPFILE applies the umask; the ring's permissions are exactly what the writer asked for.
    if (fchmod(segment.fd_, permissions & 0777) != 0)
        return make_error(Errc::SystemError, system_message("cannot set permissions of a new ring segment", errno), errno);
    auto locked = segment.try_lock_byte(kWriterLockByte);
    if (!locked)
        return tl::unexpected(std::move(locked.error()));
    if (!*locked)
        return make_error(Errc::SystemError, "cannot lock a new ring segment that no other process can see");
    // Allocate every page now: a full /dev/shm must fail here with ENOSPC, not later with SIGBUS.
    const int allocated = posix_fallocate(segment.fd_, 0, static_cast<off_t>(geometry.segment_size));
    if (allocated != 0)
        return make_error(Errc::SystemError,
                          system_message("cannot allocate " + std::to_string(geometry.segment_size) +
                                             " bytes for the ring in /dev/shm",
                                         allocated),
                          allocated);
    segment.mapped_size_ = geometry.segment_size;
    segment.base_ = mmap(nullptr, segment.mapped_size_, PROT_READ | PROT_WRITE, MAP_SHARED, segment.fd_, 0);
    if (segment.base_ == MAP_FAILED) {
        segment.base_ = nullptr;
        return make_error(Errc::SystemError, system_message("cannot map a new ring segment", errno), errno);
    }
    struct stat info {};
    if (fstat(segment.fd_, &info) == 0)
        segment.inode_ = info.st_ino;
    segment.geometry_ = geometry;
    // Named only now, locked: the creator publishes it with link() or rename() (docs/protocol.md section 6).
    // The pid in the name is for people reading /dev/shm; gc judges by the lock alone.
    std::array<unsigned char, 8> random{};
    randombytes_buf(random.data(), random.size());
    segment.path_ = std::string(kShmDirectory) + std::string(kTempPrefix) + std::to_string(getpid()) + "-" + hex(random);
    if (const int linked = link_unnamed(segment.fd_, segment.path_); linked != 0)
        return make_error(Errc::SystemError, system_message("cannot create " + segment.path_, linked), linked);
    return segment;
}

Segment::MetadataCopy Segment::copy_metadata(std::uint32_t generation, std::string& out) const
{
    out.clear();
    if (generation == 0)
        return MetadataCopy::Ok;
    const std::uint32_t index = generation % kMetadataSlots;
    const MetadataSlotHeader& slot = metadata_slot(index);
    constexpr int kTries = 10000;
    for (int attempt = 0; attempt < kTries; ++attempt) {
        const std::uint32_t before = slot.seqlock.load(std::memory_order_acquire);
        if (before % 2 != 0) {
            std::atomic_thread_fence(std::memory_order_acquire);
            continue;
        }
        const std::uint32_t slot_generation = slot.generation;
        const std::uint64_t size = slot.size;
        if (size > geometry_.metadata_capacity)
            return MetadataCopy::Oversized;
        out.assign(reinterpret_cast<const char*>(metadata_data(index)), static_cast<std::size_t>(size));
        std::atomic_thread_fence(std::memory_order_acquire);
        if (slot.seqlock.load(std::memory_order_relaxed) != before)
            continue;
        return slot_generation == generation ? MetadataCopy::Ok : MetadataCopy::Recycled;
    }
    return MetadataCopy::Unstable;
}

Result<bool> Segment::try_lock_byte(std::int64_t byte) const
{
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = byte;
    lock.l_len = 1;
    if (fcntl(fd_, F_OFD_SETLK, &lock) == 0)
        return true;
    if (errno == EAGAIN || errno == EACCES)
        return false;
    return make_error(Errc::SystemError, system_message("cannot lock " + path_, errno), errno);
}

void Segment::unlock_byte(std::int64_t byte) const noexcept
{
    struct flock lock {};
    lock.l_type = F_UNLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = byte;
    lock.l_len = 1;
    fcntl(fd_, F_OFD_SETLK, &lock);
}

bool Segment::locked_by_other(std::int64_t start, std::int64_t length) const noexcept
{
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = start;
    lock.l_len = length;
    if (fcntl(fd_, F_OFD_GETLK, &lock) != 0)
        return true; // Cannot tell: assume alive, never reclaim on doubt.
    return lock.l_type != F_UNLCK;
}

} // namespace zerobuffer::detail
