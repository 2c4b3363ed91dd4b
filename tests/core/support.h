// SPDX-License-Identifier: MIT
// Shared helpers of the core test suites: ring names, /dev/shm hygiene, frame patterns, child processes.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <zerobuffer/zerobuffer.h>

namespace zbtest {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------------------
// Results

/// "Errc::Busy: message" for logs.
std::string describe(const zerobuffer::Error& error);

template <typename T>
std::string describe(const zerobuffer::Result<T>& result)
{
    return result.has_value() ? std::string("ok") : describe(result.error());
}

/// ASSERT_TRUE(is_ok(r)): prints the error code and message when it fails.
template <typename T>
::testing::AssertionResult is_ok(const zerobuffer::Result<T>& result)
{
    if (result.has_value()) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "expected success, got " << describe(result.error());
}

/// EXPECT_TRUE(is_error(r, Errc::Busy)): also requires a non-empty message, since every error must say what
/// failed.
template <typename T>
::testing::AssertionResult is_error(const zerobuffer::Result<T>& result, zerobuffer::Errc code)
{
    if (result.has_value()) {
        return ::testing::AssertionFailure() << "expected " << zerobuffer::to_string(code) << ", got success";
    }
    if (result.error().code != code) {
        return ::testing::AssertionFailure()
               << "expected " << zerobuffer::to_string(code) << ", got " << describe(result.error());
    }
    if (result.error().message.empty()) {
        return ::testing::AssertionFailure() << "error " << zerobuffer::to_string(code) << " has an empty message";
    }
    return ::testing::AssertionSuccess();
}

/// Like is_error but accepts any of several codes (where the contract allows more than one).
template <typename T>
::testing::AssertionResult is_error_in(const zerobuffer::Result<T>& result,
                                       std::initializer_list<zerobuffer::Errc> codes)
{
    if (result.has_value()) {
        return ::testing::AssertionFailure() << "expected an error, got success";
    }
    for (auto code : codes) {
        if (result.error().code == code) {
            if (result.error().message.empty()) {
                return ::testing::AssertionFailure() << "error has an empty message";
            }
            return ::testing::AssertionSuccess();
        }
    }
    return ::testing::AssertionFailure() << "unexpected error " << describe(result.error());
}

// ---------------------------------------------------------------------------------------------------------
// Names and /dev/shm

/// A ring name unique to this process and call: "zbt-<pid>-<tag>-<n>" (tag sanitised to the name alphabet).
std::string unique_ring_name(std::string_view tag);

/// The prefix every ring name made by this process starts with ("zbt-<pid>-").
std::string own_name_prefix();

/// /dev/shm/zb-NAME
std::string shm_path(std::string_view name);
bool shm_exists(std::string_view name);

/// Entries of /dev/shm whose file name starts with `prefix`.
std::vector<std::string> shm_entries_with_prefix(std::string_view prefix);

/// Removes a ring a test left behind, whatever state it is in (remove_stale_ring, else unlink).
void force_remove_ring(std::string_view name);

/// Removes "/dev/shm/.zb-tmp-<pid>-*" leftovers of a child we killed during creation (expected after kill -9).
void remove_tmp_leftovers_of(pid_t pid);

/// Fixture of every core test: hands out ring names and, after the test, fails if any of them (or a temp
/// object of this process) is still in /dev/shm, then cleans up so later tests are not disturbed.
class RingTest : public ::testing::Test {
protected:
    std::string ring_name(std::string_view suffix = "");
    void TearDown() override;

private:
    std::vector<std::string> names_;
};

/// Global check: nothing named after this process is left in /dev/shm when the suite ends.
class ShmLeakEnvironment : public ::testing::Environment {
public:
    void TearDown() override;
};

// ---------------------------------------------------------------------------------------------------------
// Scaling of loop counts and time bounds

/// ZB_TEST_CYCLES if set (> 0), else `fallback`. Soak runs raise it.
int test_cycles(int fallback);
/// Multiplier for loop counts other than cycles: ZB_TEST_CYCLES / 30 (at least 1).
int soak_factor();
/// Generous time bound scaled by ZB_TEST_TIME_SCALE (default 1; CI under sanitizers may raise it).
std::chrono::milliseconds bound(std::chrono::milliseconds base);

// ---------------------------------------------------------------------------------------------------------
// Frame contents

/// splitmix64: the one hash every pattern derives from.
std::uint64_t mix(std::uint64_t x) noexcept;

/// Fills `out` with a pseudo-random pattern determined by `seed`.
void fill_pattern(std::span<std::byte> out, std::uint64_t seed) noexcept;

/// Index of the first byte of `in` that differs from the pattern of `seed`, or nullopt if all match.
std::optional<std::size_t> pattern_mismatch(std::span<const std::byte> in, std::uint64_t seed) noexcept;

/// Everything a test frame carries, derived from (stream seed, frame index) so that any process can check it.
struct FrameSpec {
    std::size_t payload_size = 0;
    std::size_t metadata_size = 0;
    zerobuffer::FrameInfo info;
};

/// Spec of frame `index`: random payload size in [0, max_payload] (often small, sometimes the maximum),
/// metadata of 0..max_metadata bytes, every FrameInfo field set from the index.
FrameSpec spec_for(std::uint64_t seed, std::uint64_t index, std::size_t max_payload, std::size_t max_metadata);

/// FrameInfo whose every field encodes `index` (pts == index identifies the frame).
zerobuffer::FrameInfo info_for(std::uint64_t index, std::size_t payload_size);

std::uint64_t payload_seed(std::uint64_t seed, std::uint64_t index) noexcept;
std::uint64_t metadata_seed(std::uint64_t seed, std::uint64_t index) noexcept;

/// Writes frame `index` of the stream `seed` with reserve/fill/commit. The timeout is passed to reserve().
zerobuffer::Result<void> write_spec(zerobuffer::Writer& writer, std::uint64_t seed, std::uint64_t index,
                                    const FrameSpec& spec,
                                    std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

/// Checks a received frame against frame `index` of the stream. Returns "" when it matches, else what differs.
std::string check_frame(const zerobuffer::Frame& frame, std::uint64_t seed, std::uint64_t index,
                        const FrameSpec& spec);

/// Bytes of frame memory a frame takes in the ring (docs/protocol.md): its metadata area aligned to 64, then the
/// payload, the whole aligned to 64; a frame with neither takes none. Only used to aim frames at the edges of the
/// frame area; assertions never depend on it.
constexpr std::size_t align64(std::size_t n) { return (n + 63) / 64 * 64; }
constexpr std::size_t extent_size(std::size_t payload, std::size_t metadata = 0)
{
    return align64(align64(metadata) + payload);
}

/// A stream of spec frames (write_spec) and the lossless view of it: checks that frames arrive in order, with
/// consecutive sequence numbers, no skips and exact content.
class StreamModel {
public:
    StreamModel(std::uint64_t seed, std::size_t max_payload, std::size_t max_metadata)
        : seed_(seed), max_payload_(max_payload), max_metadata_(max_metadata) {}

    /// The spec the next write() would use.
    FrameSpec next_spec() const { return spec_for(seed_, written_, max_payload_, max_metadata_); }
    /// Writes the next frame (its random spec, or `spec`); advances only on success.
    zerobuffer::Result<void> write(zerobuffer::Writer& writer,
                                   std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
    zerobuffer::Result<void> write(zerobuffer::Writer& writer, const FrameSpec& spec,
                                   std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
    /// Checks that `frame` is the next frame of the stream; "" if so, else what is wrong. Advances.
    std::string check(const zerobuffer::Frame& frame);

    std::uint64_t written() const noexcept { return written_; }
    std::uint64_t read() const noexcept { return read_; }
    std::uint64_t unread() const noexcept { return written_ - read_; }
    std::uint64_t seed() const noexcept { return seed_; }

private:
    std::uint64_t seed_;
    std::size_t max_payload_;
    std::size_t max_metadata_;
    std::uint64_t written_ = 0;
    std::uint64_t read_ = 0;
    std::vector<FrameSpec> pending_; ///< Specs written and not yet checked, oldest first.
    std::size_t pending_head_ = 0;
    std::optional<std::uint64_t> first_sequence_;
};

/// A file (a ring's /dev/shm object) mapped read-write, to corrupt it on purpose.
class MappedFile {
public:
    explicit MappedFile(const std::string& path);
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();
    bool ok() const noexcept { return data_ != nullptr; }
    std::span<std::byte> bytes() const noexcept { return {data_, size_}; }
    /// Offsets of every occurrence of `needle`.
    std::vector<std::size_t> find_all(std::span<const std::byte> needle) const;

private:
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

/// Reserves `payload_size` bytes while each reader waits in acquire() on its own thread, as a real reader
/// would (a lossless reader steps over wrap padding only inside acquire()). The readers are expected to get
/// no frame (Timeout); their results are checked. Used to show that all space of the ring is free.
zerobuffer::Result<zerobuffer::FrameReservation> reserve_while_readers_wait(zerobuffer::Writer& writer,
                                                                           std::vector<zerobuffer::Reader*> readers,
                                                                           std::size_t payload_size);

/// Options of a small ring used by most unit tests.
zerobuffer::WriterOptions small_ring(std::size_t ring_size = 16384);

// ---------------------------------------------------------------------------------------------------------
// Child processes (the cross-process binaries re-execute themselves with "--child=ROLE key=value...")

struct SpawnOptions {
    bool pipe_stdin = false;  ///< Parent gets a write end; the child sees EOF when the parent closes it.
    bool pipe_stdout = false; ///< Parent gets a read end for the child's status lines.
    int fd_as_3 = -1;         ///< Parent fd handed to the child as fd 3 (shared counter memory).
};

/// A child process. The destructor kills (SIGKILL) and reaps a child that is still running, so a failing
/// test never leaves one behind.
class Child {
public:
    Child() = default;
    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child();

    pid_t pid() const noexcept { return pid_; }
    bool running() const noexcept { return pid_ > 0 && !reaped_; }

    /// Reads one line of the child's stdout (without '\n'), waiting up to `timeout`. nullopt on EOF/timeout.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    /// Closes the child's stdin (it treats EOF as "finish now").
    void close_stdin();
    /// SIGKILL, without reaping.
    void kill9();
    /// Waits up to `timeout` for the child to exit. Returns the exit status (0..255), 128+signal if killed by
    /// a signal, or -1 on timeout (the child is then killed and reaped).
    int wait(std::chrono::milliseconds timeout);

    friend Child spawn_child(const std::vector<std::string>& args, const SpawnOptions& options);

private:
    void reset() noexcept;
    pid_t pid_ = -1;
    bool reaped_ = false;
    int stdin_fd_ = -1;
    int stdout_fd_ = -1;
    std::string buffered_;
};

/// Starts /proc/self/exe with `args` (args[0] is the "--child=ROLE" switch). Aborts the test on failure.
Child spawn_child(const std::vector<std::string>& args, const SpawnOptions& options = {});

/// Shared 64-bit counters in a memfd, handed to children as fd 3 (they map it with map_shared_counters).
class SharedCounters {
public:
    static constexpr std::size_t kCount = 8;
    SharedCounters();
    explicit SharedCounters(int fd); ///< Maps an inherited fd (child side).
    SharedCounters(const SharedCounters&) = delete;
    SharedCounters& operator=(const SharedCounters&) = delete;
    ~SharedCounters();

    int fd() const noexcept { return fd_; }
    std::uint64_t load(std::size_t i) const noexcept;
    void store(std::size_t i, std::uint64_t value) noexcept;

private:
    int fd_ = -1;
    std::uint64_t* words_ = nullptr;
};

/// Parses "key=value" arguments of a child role.
class ChildArgs {
public:
    ChildArgs(int argc, char** argv);
    std::string get(std::string_view key, std::string_view fallback = "") const;
    std::uint64_t get_u64(std::string_view key, std::uint64_t fallback = 0) const;
    std::string role;

private:
    std::vector<std::pair<std::string, std::string>> values_;
};

/// Runs the child role named in argv[1]; returns the process exit code. Defined in child_roles.cpp.
int run_child_role(int argc, char** argv);

/// The latest reader that holds frames (held_roles.cpp).
int holding_reader_role(const ChildArgs& args);

/// Small pseudo-random generator for tests (xorshift-style over splitmix64), seedable and reproducible.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() noexcept
    {
        state_ += 0x9e3779b97f4a7c15ULL;
        return mix(state_);
    }
    /// Uniform in [lo, hi].
    std::uint64_t range(std::uint64_t lo, std::uint64_t hi) noexcept { return lo + next() % (hi - lo + 1); }

private:
    std::uint64_t state_;
};

/// A seed that differs between runs (printed by tests so failures can be replayed with ZB_TEST_SEED).
std::uint64_t test_seed();

} // namespace zbtest
