// SPDX-License-Identifier: MIT
// Owns one mapping of a ring segment: the shm file descriptor, the mapping, the liveness locks,
// and the validation of everything read from the control block.
#pragma once

#include "private.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <zerobuffer/error.h>

#include "layout.h"

namespace zerobuffer::detail {

/// "/dev/shm/zb-NAME": the file behind POSIX shm object "/zb-NAME".
inline constexpr std::string_view kShmDirectory = "/dev/shm/";
inline constexpr std::string_view kRingPrefix = "zb-";
inline constexpr std::string_view kTempPrefix = ".zb-tmp-";

[[nodiscard]] Result<void> validate_ring_name(std::string_view name);
[[nodiscard]] std::string ring_path(std::string_view name);

/// Owns a file descriptor; closes it on destruction.
class UniqueFd {
public:
    explicit UniqueFd(int fd = -1) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd();
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    int release() noexcept { const int fd = fd_; fd_ = -1; return fd; }

private:
    int fd_;
};

/// Geometry of a segment, computed at creation or validated from a control block at attach.
struct Geometry {
    std::uint64_t segment_size = 0;
    std::uint64_t readers_offset = 0;
    std::uint64_t reader_slot_stride = 0;
    std::uint64_t descriptors_offset = 0;
    std::uint64_t metadata_offset = 0;
    std::uint64_t metadata_capacity = 0;
    std::uint64_t metadata_slot_stride = 0;
    std::uint64_t payload_offset = 0;
    std::uint64_t payload_capacity = 0;
    std::uint32_t max_readers = 0;
    std::uint32_t frame_slots = 0;      ///< A power of two.
    std::uint32_t holds_per_reader = 0;
};

/// Sizes every region of a new segment. max_frames 0 derives the descriptor count from ring_size.
[[nodiscard]] Result<Geometry> compute_geometry(std::size_t ring_size, std::uint32_t max_readers,
                                                std::size_t metadata_capacity, std::uint32_t max_frames,
                                                std::uint32_t holds_per_reader);

/// A mapped segment. Move-only; unmaps and closes on destruction (which also drops the OFD locks).
class Segment {
public:
    Segment() = default;
    Segment(Segment&& other) noexcept;
    Segment& operator=(Segment&& other) noexcept;
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;
    ~Segment();

    /// Opens an existing segment file, maps it and validates the control block against the file size.
    [[nodiscard]] static Result<Segment> open(const std::string& path, bool writable);
    /// Creates a new, locked, zero-filled segment file of the given geometry under a temporary name.
    [[nodiscard]] static Result<Segment> create_temporary(const Geometry& geometry, unsigned permissions);

    [[nodiscard]] ControlBlock& control() const noexcept { return *static_cast<ControlBlock*>(base_); }
    [[nodiscard]] ReaderSlot& reader_slot(std::uint32_t index) const noexcept;
    /// The hold records of reader slot `index` (holds_per_reader of them).
    [[nodiscard]] HoldRecord* hold_records(std::uint32_t index) const noexcept;
    /// The descriptor of frame `sequence` (frame_slots is a power of two).
    [[nodiscard]] FrameDescriptor& descriptor(std::uint64_t sequence) const noexcept
    {
        const std::uint64_t index = sequence & (std::uint64_t{geometry_.frame_slots} - 1);
        return *reinterpret_cast<FrameDescriptor*>(bytes() + geometry_.descriptors_offset + index * sizeof(FrameDescriptor));
    }
    [[nodiscard]] MetadataSlotHeader& metadata_slot(std::uint32_t index) const noexcept;
    [[nodiscard]] std::byte* metadata_data(std::uint32_t index) const noexcept;
    [[nodiscard]] std::byte* payload() const noexcept { return bytes() + geometry_.payload_offset; }
    [[nodiscard]] const Geometry& geometry() const noexcept { return geometry_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] std::uint64_t inode() const noexcept { return inode_; }

    /// Takes an exclusive OFD lock on one byte without waiting; false if another open file holds it.
    [[nodiscard]] Result<bool> try_lock_byte(std::int64_t byte) const;
    void unlock_byte(std::int64_t byte) const noexcept;
    /// True if a lock held through another open file description covers [start, start+length) (0: to EOF).
    [[nodiscard]] bool locked_by_other(std::int64_t start, std::int64_t length = 1) const noexcept;

    enum class MetadataCopy { Ok, Recycled, Oversized, Unstable };
    /// Copies stream-metadata generation `generation` out of its seqlocked slot into `out` (which keeps its
    /// allocation). Recycled: the slot already holds another generation. Generation 0 is the empty document.
    [[nodiscard]] MetadataCopy copy_metadata(std::uint32_t generation, std::string& out) const;

    /// Renames the path this object refers to (after link/rename by the creator).
    void set_path(std::string path) { path_ = std::move(path); }

private:
    [[nodiscard]] std::byte* bytes() const noexcept { return static_cast<std::byte*>(base_); }
    void reset() noexcept;

    int fd_ = -1;
    void* base_ = nullptr;
    std::size_t mapped_size_ = 0;
    std::uint64_t inode_ = 0;
    Geometry geometry_;
    std::string path_;
};

/// Checks magic, version, layout sizes and geometry of a mapped control block against the file size.
/// Every offset and size is bounds-checked; the message says exactly which field is wrong.
[[nodiscard]] Result<Geometry> validate_control_block(const ControlBlock& control, std::uint64_t file_size);

/// "0640": a file mode as people write it, for messages.
[[nodiscard]] std::string octal_mode(unsigned mode);

/// strerror() with a hint at what to do, for messages.
[[nodiscard]] std::string system_message(std::string_view what, int error_number);

} // namespace zerobuffer::detail
