// SPDX-License-Identifier: MIT
// zb-chaos: writers and readers in real processes killed with SIGKILL at chosen points (docs/reliability.md).
// Shared by the driver (chaos cycles, soak) and the worker roles it starts as "zb-chaos --child=ROLE key=value...".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include <zerobuffer/zerobuffer.h>

namespace zbchaos {

/// Words of the shared counter page (zbtest::SharedCounters, fd 3 of a worker) that a worker and the driver share.
enum Word : std::size_t {
    kProgress = 0,     ///< Writer: frames committed. Reader: frames verified.
    kCorrupted = 1,    ///< Reader: frames delivered with wrong content (or refused by the ring's checksum).
    kProgressTime = 2, ///< CLOCK_MONOTONIC ns of the last progress.
    kSeed = 3,         ///< Writer: its stream seed. Reader: the seed of the writer whose ring it reads.
    kGoneSeed = 4,     ///< Reader: seed of the last writer it saw gone (WriterGone).
    kGoneTime = 5,     ///< Reader: CLOCK_MONOTONIC ns at which acquire() returned WriterGone.
    kGoneNext = 6,     ///< Reader: index after the last frame it got from that writer (0: none).
    kCommand = 7,      ///< Driver to worker: a Command.
};

/// What the driver asks of a worker through kCommand. A park command makes the worker stop at that point,
/// say "parked" on stdout and wait to be killed.
enum Command : std::uint64_t {
    kRun = 0,
    kFullSpeed = 1,     ///< Writer: drop the pacing (kills then land mid-reserve or mid-commit).
    kParkReserved = 2,  ///< Writer: open 1..3 reservations, fill some, park.
    kParkRetained = 3,  ///< Writer: commit 1..3 frames retained, park holding them.
    kParkFormat = 4,    ///< Writer: publish a new stream format and park before its first frame.
                        ///< Reader: park holding the first frame of a new format.
    kParkHolding = 5,   ///< Reader: acquire 1..3 frames and park holding them.
    kParkLagging = 6,   ///< Reader: park between acquires (a lossless one then blocks the writer).
    kPause = 7,         ///< Writer (soak): stop committing until kRun, say "paused".
    kQuit = 8,          ///< Close cleanly and exit 0.
};

inline constexpr std::uint64_t kStampMagic = 0x7a62636861'6f7331ULL; // "zbchaos1"

/// The per-frame metadata every chaos frame carries: who wrote it, which frame it is, and a checksum over the
/// header fields, the metadata and the payload, so a reader can verify any frame without knowing the stream.
struct Stamp {
    std::uint64_t magic = kStampMagic;
    std::uint64_t seed = 0;         ///< The writer's stream seed.
    std::uint64_t index = 0;        ///< Frame index of the writer = the sequence the ring gives it.
    std::uint64_t payload_size = 0;
    std::uint64_t format_generation = 0;
    std::uint64_t checksum = 0;     ///< stamp_checksum() of everything above, the FrameInfo and the payload.
};

/// The stream-metadata document of generation `generation` of the writer `seed`.
std::string format_text(std::uint64_t seed, std::uint64_t generation);

/// Fills a reserved frame: payload from (seed, index), FrameInfo from index, the stamp in the metadata.
/// Returns the FrameInfo to commit with.
zerobuffer::FrameInfo fill_frame(std::span<std::byte> payload, std::span<std::byte> metadata, std::uint64_t seed,
                                 std::uint64_t index, std::uint32_t format_generation);

/// Metadata bytes a chaos frame has.
inline constexpr std::size_t kStampSize = sizeof(Stamp);

/// What a reader knows to check a frame against.
struct Expectation {
    bool have_seed = false;
    std::uint64_t seed = 0;           ///< Every frame of one attachment comes from one writer.
    bool have_previous = false;
    std::uint64_t previous = 0;       ///< Sequence of the previous frame of this attachment.
    bool lossless = false;
};

/// Checks everything a frame carries. Returns "" when it is intact, else what is wrong. Updates `expect`.
/// `stream_metadata` is the reader's stream_metadata() right after acquiring the frame.
std::string verify_frame(const zerobuffer::Frame& frame, const std::string& stream_metadata, Expectation& expect);

/// Reads the stamp of a frame (zeroes when the metadata is not a stamp).
Stamp read_stamp(const zerobuffer::Frame& frame);

/// CLOCK_MONOTONIC in ns (steady_clock on Linux), the clock the driver and the workers compare.
std::int64_t now_ns();

/// The worker roles (writer.cpp, reader.cpp); `argv[1]` is "--child=writer" or "--child=reader".
int writer_role(int argc, char** argv);
int reader_role(int argc, char** argv);

/// Exit code of a worker that met an error the protocol should never produce (message on stderr).
inline constexpr int kExitUnexpected = 3;

// What both worker roles do (worker.cpp).
/// Writes one line to stdout unbuffered: the driver waits for these lines.
void say(const std::string& line);
/// Says "parked POINT" and sleeps until SIGKILL: the kill then lands at that point.
[[noreturn]] void park(const std::string& point);
/// "zb-chaos ROLE: WHAT: ERROR" on stderr, then exits with kExitUnexpected.
[[noreturn]] void worker_failed(const char* role, const std::string& what, const zerobuffer::Error& error);

} // namespace zbchaos
