// SPDX-License-Identifier: MIT
// Read-only views of rings on this machine, for tools such as zbctl. Never alters a live ring.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <zerobuffer/counters.h>
#include <zerobuffer/error.h>
#include <zerobuffer/options.h>

namespace zerobuffer {

struct ReaderSnapshot {
    std::uint32_t slot = 0;
    std::int32_t pid = 0;
    bool alive = false;            ///< The reader process still holds its slot lock.
    ReaderPolicy policy = ReaderPolicy::Lossless;
    bool reads_in_order = false;   ///< Latest policy with max_lag_frames.
    std::uint64_t cursor = 0;      ///< Sequence of the next frame it reads (latest: the next it would take).
    std::uint64_t lag_frames = 0;  ///< Committed frames it has not read yet (latest: frames it will skip).
    std::uint64_t lag_bytes = 0;   ///< Payload bytes of those frames (as far as their descriptors still tell).
    std::uint32_t held_frames = 0; ///< Frames it holds now.
    std::uint64_t held_bytes = 0;  ///< Frame memory those holds keep.
    std::int64_t oldest_hold_age_ns = -1; ///< How long it has held its oldest frame; -1 when it holds none.
    std::int64_t idle_ns = -1;     ///< Time since its last acquire; -1 before the first.
    ReaderCounters counters;
};

struct RingSnapshot {
    std::string name;              ///< Ring name (without the "zb-" prefix).
    std::string shm_path;          ///< /dev/shm/zb-NAME
    std::uint32_t protocol_version = 0;
    std::uint64_t segment_size = 0;
    std::uint64_t payload_offset = 0;
    std::uint64_t payload_capacity = 0; ///< Bytes of frame memory.
    std::uint64_t descriptors_offset = 0;
    std::uint32_t frame_slots = 0;      ///< Descriptors: how far a lossless reader may lag, in frames.
    std::uint32_t holds_per_reader = 0;
    std::uint64_t metadata_offset = 0;
    std::uint64_t metadata_capacity = 0;
    std::uint64_t readers_offset = 0;
    std::uint32_t max_readers = 0;
    Integrity integrity = Integrity::None;
    std::int32_t writer_pid = 0;
    std::string writer_command;    ///< The writer's process name at creation.
    bool writer_alive = false;
    bool writer_closed = false;    ///< The writer closed cleanly.
    std::int64_t created_realtime_ns = 0;
    std::uint64_t next_sequence = 0; ///< Frames committed so far.
    std::uint64_t reclaim_floor = 0; ///< Frames below it may have been taken back.
    std::uint64_t bytes_in_use = 0;  ///< Frame memory in use at the writer's last look at the readers.
    std::uint64_t frames_in_use = 0;
    std::int64_t since_last_frame_ns = -1; ///< Time since the newest commit; -1 before the first.
    bool writer_waiting = false;     ///< The writer is blocked in reserve() now.
    std::string wait_reason;         ///< "room" or "frame slots" while waiting.
    std::int64_t waiting_for_ns = 0; ///< How long the current wait lasts so far.
    std::uint32_t format_generation = 0;
    std::string stream_metadata;   ///< Current stream-metadata JSON.
    WriterCounters writer;
    std::vector<ReaderSnapshot> readers; ///< Attached (or dead but not yet reclaimed) readers.
};

/// Names of the rings in /dev/shm (all "zb-*" objects, live or stale).
[[nodiscard]] Result<std::vector<std::string>> list_rings();

/// A consistent-enough snapshot of a ring, taken without locking or writing anything.
[[nodiscard]] Result<RingSnapshot> inspect_ring(std::string_view name);

/// An object in /dev/shm that collect_garbage() removed or left in place.
struct GcEntry {
    std::string name;       ///< The ring name; for a leftover temporary file, its file name (".zb-tmp-...").
    bool temporary = false; ///< A leftover of an interrupted ring creation, not a ring.
};

/// An object collect_garbage() left in place because it could not judge or remove it.
struct GcSkipped {
    GcEntry entry;
    Error error; ///< Why, e.g. SystemError "cannot open /dev/shm/zb-cam0 (owner uid 0): Permission denied".
};

struct GcReport {
    std::vector<GcEntry> removed;   ///< Removed (in a dry run: would be removed), sorted by name.
    std::vector<GcSkipped> skipped; ///< Left in place undecided, sorted by name: another user's ring, say.
    /// Whether gc judged every object: nothing was left that might be garbage.
    [[nodiscard]] bool complete() const noexcept { return skipped.empty(); }
};

struct GcOptions {
    /// Judge every object exactly as a real run does (the same lock test and permission checks), but remove
    /// nothing and take no lock.
    bool dry_run = false;
};

/// Removes every ring whose writer and readers are all dead, and leftovers of interrupted creations: each
/// "zb-*" or ".zb-tmp-*" file in /dev/shm in which no process holds a lock (docs/protocol.md section 6). A
/// file with a live process is never touched. An object it may not open or remove (another user's ring) is
/// skipped and reported; the others are still collected. Fails only when /dev/shm cannot be listed.
[[nodiscard]] Result<GcReport> collect_garbage(const GcOptions& options = {});

/// Removes the ring NAME if no live process holds it (for tests and scripts), judged as collect_garbage()
/// does. NotFound if absent, Busy if a writer or reader is alive, SystemError if it may not be opened or
/// removed. With options.dry_run, returns the same answer and removes nothing.
[[nodiscard]] Result<void> remove_stale_ring(std::string_view name, const GcOptions& options = {});

} // namespace zerobuffer
