// SPDX-License-Identifier: MIT
// Shared helpers of the core test suites (see support.h).
#include "support.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

extern char** environ;

namespace zbtest {

using zerobuffer::Errc;
using zerobuffer::FrameInfo;

std::string describe(const zerobuffer::Error& error)
{
    std::string text = "Errc::";
    text += zerobuffer::to_string(error.code);
    text += ": ";
    text += error.message;
    if (error.system_errno != 0) {
        text += " (errno ";
        text += std::to_string(error.system_errno);
        text += ")";
    }
    return text;
}

// ---------------------------------------------------------------------------------------------------------
// Names and /dev/shm

std::string own_name_prefix()
{
    return "zbt-" + std::to_string(getpid()) + "-";
}

std::string unique_ring_name(std::string_view tag)
{
    static std::atomic<unsigned> counter{0};
    std::string name = own_name_prefix();
    std::size_t kept = 0;
    for (char c : tag) {
        if (kept == 120) {
            break; // names are limited to 200 characters
        }
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        name += ok ? c : '_';
        ++kept;
    }
    name += "-";
    name += std::to_string(counter.fetch_add(1));
    return name;
}

std::string shm_path(std::string_view name)
{
    std::string path = "/dev/shm/zb-";
    path += name;
    return path;
}

bool shm_exists(std::string_view name)
{
    return access(shm_path(name).c_str(), F_OK) == 0;
}

std::vector<std::string> shm_entries_with_prefix(std::string_view prefix)
{
    std::vector<std::string> found;
    DIR* dir = opendir("/dev/shm");
    if (dir == nullptr) {
        return found;
    }
    while (const dirent* entry = readdir(dir)) {
        std::string_view file = entry->d_name;
        if (file.substr(0, prefix.size()) == prefix) {
            found.emplace_back(file);
        }
    }
    closedir(dir);
    return found;
}

void force_remove_ring(std::string_view name)
{
    auto removed = zerobuffer::remove_stale_ring(name);
    if (!removed.has_value() && shm_exists(name)) {
        unlink(shm_path(name).c_str());
    }
}

void remove_tmp_leftovers_of(pid_t pid)
{
    const std::string prefix = ".zb-tmp-" + std::to_string(pid) + "-";
    for (const auto& file : shm_entries_with_prefix(prefix)) {
        unlink(("/dev/shm/" + file).c_str());
    }
}

std::string RingTest::ring_name(std::string_view suffix)
{
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string tag = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "ring";
    if (!suffix.empty()) {
        tag += "-";
        tag += suffix;
    }
    names_.push_back(unique_ring_name(tag));
    return names_.back();
}

void RingTest::TearDown()
{
    for (const auto& name : names_) {
        if (shm_exists(name)) {
            ADD_FAILURE() << "ring left in /dev/shm after the test: " << shm_path(name);
            force_remove_ring(name);
        }
    }
    const std::string tmp_prefix = ".zb-tmp-" + std::to_string(getpid()) + "-";
    for (const auto& file : shm_entries_with_prefix(tmp_prefix)) {
        ADD_FAILURE() << "temporary creation object left in /dev/shm: " << file;
        unlink(("/dev/shm/" + file).c_str());
    }
    names_.clear();
}

void ShmLeakEnvironment::TearDown()
{
    for (const auto& file : shm_entries_with_prefix("zb-" + own_name_prefix())) {
        ADD_FAILURE() << "ring of this test process left in /dev/shm at exit: " << file;
        unlink(("/dev/shm/" + file).c_str());
    }
    const std::string tmp_prefix = ".zb-tmp-" + std::to_string(getpid()) + "-";
    for (const auto& file : shm_entries_with_prefix(tmp_prefix)) {
        ADD_FAILURE() << "temporary creation object left in /dev/shm at exit: " << file;
        unlink(("/dev/shm/" + file).c_str());
    }
}

// ---------------------------------------------------------------------------------------------------------
// Scaling

int test_cycles(int fallback)
{
    if (const char* text = std::getenv("ZB_TEST_CYCLES")) {
        const long value = std::strtol(text, nullptr, 10);
        if (value > 0 && value < 1000000) {
            return static_cast<int>(value);
        }
    }
    return fallback;
}

int soak_factor()
{
    return std::max(1, test_cycles(30) / 30);
}

std::chrono::milliseconds bound(std::chrono::milliseconds base)
{
    double scale = 1.0;
    if (const char* text = std::getenv("ZB_TEST_TIME_SCALE")) {
        const double value = std::strtod(text, nullptr);
        if (value >= 1.0 && value <= 100.0) {
            scale = value;
        }
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * scale));
}

std::uint64_t test_seed()
{
    if (const char* text = std::getenv("ZB_TEST_SEED")) {
        return std::strtoull(text, nullptr, 0);
    }
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device() ^
           static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

// ---------------------------------------------------------------------------------------------------------
// Frame contents

std::uint64_t mix(std::uint64_t x) noexcept
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

namespace {

// Byte i of the pattern of `seed`: words of mix(seed + word index), so the same function checks any slice.
inline std::byte pattern_byte(std::uint64_t word, std::size_t i) noexcept
{
    return static_cast<std::byte>((word >> (8 * (i % 8))) & 0xffu);
}

} // namespace

void fill_pattern(std::span<std::byte> out, std::uint64_t seed) noexcept
{
    std::uint64_t word = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (i % 8 == 0) {
            word = mix(seed + i / 8);
        }
        out[i] = pattern_byte(word, i);
    }
}

std::optional<std::size_t> pattern_mismatch(std::span<const std::byte> in, std::uint64_t seed) noexcept
{
    std::uint64_t word = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (i % 8 == 0) {
            word = mix(seed + i / 8);
        }
        if (in[i] != pattern_byte(word, i)) {
            return i;
        }
    }
    return std::nullopt;
}

std::uint64_t payload_seed(std::uint64_t seed, std::uint64_t index) noexcept
{
    return mix(seed ^ mix(index * 2 + 1));
}

std::uint64_t metadata_seed(std::uint64_t seed, std::uint64_t index) noexcept
{
    return mix(seed ^ mix(index * 2 + 2));
}

FrameInfo info_for(std::uint64_t index, std::size_t payload_size)
{
    FrameInfo info;
    info.pts = static_cast<std::int64_t>(index);
    info.dts = -static_cast<std::int64_t>(index) - 1;
    info.duration = 40'000'000 + static_cast<std::int64_t>(index % 1000);
    info.offset = index * 3;
    info.offset_end = std::numeric_limits<std::uint64_t>::max() - index - payload_size;
    info.flags = (index % 7 == 0 ? zerobuffer::kFrameKeyframe : 0u) |
                 (index % 11 == 0 ? zerobuffer::kFrameDiscontinuity : 0u) |
                 (static_cast<std::uint32_t>(index & 0xffffu) << zerobuffer::kFrameUserShift);
    return info;
}

FrameSpec spec_for(std::uint64_t seed, std::uint64_t index, std::size_t max_payload, std::size_t max_metadata)
{
    const std::uint64_t r = mix(seed ^ mix(index));
    const std::uint64_t choice = r % 16;
    const std::uint64_t more = r >> 8;
    FrameSpec spec;
    if (choice == 0) {
        spec.payload_size = 0;
    } else if (choice == 1) {
        spec.payload_size = std::min<std::size_t>(max_payload, 1 + more % 8);
    } else if (choice == 2) {
        spec.payload_size = max_payload;
    } else if (choice == 3) {
        spec.payload_size = max_payload - std::min<std::size_t>(max_payload, more % 130);
    } else if (choice < 8) {
        spec.payload_size = std::min<std::size_t>(max_payload, more % 300);
    } else {
        spec.payload_size = static_cast<std::size_t>(more % (max_payload + 1));
    }
    const std::uint64_t meta_r = mix(r);
    spec.metadata_size = (meta_r % 3 == 0 || max_metadata == 0) ? 0 : static_cast<std::size_t>((meta_r >> 8) % (max_metadata + 1));
    spec.info = info_for(index, spec.payload_size);
    return spec;
}

zerobuffer::Result<void> write_spec(zerobuffer::Writer& writer, std::uint64_t seed, std::uint64_t index,
                                    const FrameSpec& spec, std::optional<std::chrono::nanoseconds> timeout)
{
    auto reservation = timeout ? writer.reserve(spec.payload_size, spec.metadata_size, *timeout)
                               : writer.reserve(spec.payload_size, spec.metadata_size);
    if (!reservation) {
        return tl::unexpected(reservation.error());
    }
    if (reservation->payload().size() != spec.payload_size || reservation->metadata().size() != spec.metadata_size) {
        return zerobuffer::make_error(Errc::InvalidState,
                                      "test: reservation has payload " + std::to_string(reservation->payload().size()) +
                                          " metadata " + std::to_string(reservation->metadata().size()) +
                                          ", asked for " + std::to_string(spec.payload_size) + " / " +
                                          std::to_string(spec.metadata_size));
    }
    fill_pattern(reservation->payload(), payload_seed(seed, index));
    fill_pattern(reservation->metadata(), metadata_seed(seed, index));
    return writer.commit(*reservation, spec.info);
}

std::string check_frame(const zerobuffer::Frame& frame, std::uint64_t seed, std::uint64_t index, const FrameSpec& spec)
{
    std::string problems;
    auto add = [&problems](const std::string& text) {
        if (!problems.empty()) {
            problems += "; ";
        }
        problems += text;
    };
    if (!frame.valid()) {
        return "frame not valid";
    }
    if (frame.payload().size() != spec.payload_size) {
        add("payload size " + std::to_string(frame.payload().size()) + " != " + std::to_string(spec.payload_size));
    } else if (auto at = pattern_mismatch(frame.payload(), payload_seed(seed, index))) {
        add("payload byte " + std::to_string(*at) + " of " + std::to_string(spec.payload_size) + " differs");
    }
    if (frame.metadata().size() != spec.metadata_size) {
        add("metadata size " + std::to_string(frame.metadata().size()) + " != " + std::to_string(spec.metadata_size));
    } else if (auto at = pattern_mismatch(frame.metadata(), metadata_seed(seed, index))) {
        add("metadata byte " + std::to_string(*at) + " differs");
    }
    const FrameInfo& got = frame.info();
    const FrameInfo& want = spec.info;
    if (got.pts != want.pts) add("pts " + std::to_string(got.pts) + " != " + std::to_string(want.pts));
    if (got.dts != want.dts) add("dts " + std::to_string(got.dts) + " != " + std::to_string(want.dts));
    if (got.duration != want.duration) add("duration differs");
    if (got.offset != want.offset) add("offset differs");
    if (got.offset_end != want.offset_end) add("offset_end differs");
    if (got.flags != want.flags) add("flags " + std::to_string(got.flags) + " != " + std::to_string(want.flags));
    if (!problems.empty()) {
        problems = "frame index " + std::to_string(index) + ": " + problems;
    }
    return problems;
}

zerobuffer::Result<void> StreamModel::write(zerobuffer::Writer& writer, std::optional<std::chrono::nanoseconds> timeout)
{
    return write(writer, next_spec(), timeout);
}

zerobuffer::Result<void> StreamModel::write(zerobuffer::Writer& writer, const FrameSpec& spec,
                                            std::optional<std::chrono::nanoseconds> timeout)
{
    FrameSpec actual = spec;
    actual.info = info_for(written_, spec.payload_size); // pts identifies the frame
    auto result = write_spec(writer, seed_, written_, actual, timeout);
    if (result.has_value()) {
        pending_.push_back(actual);
        ++written_;
    }
    return result;
}

std::string StreamModel::check(const zerobuffer::Frame& frame)
{
    if (read_ >= written_) {
        return "got a frame (pts " + std::to_string(frame.info().pts) + ") but all " + std::to_string(written_) +
               " written frames were already read";
    }
    const std::uint64_t index = read_;
    const FrameSpec spec = pending_[pending_head_];
    ++pending_head_;
    ++read_;
    if (pending_head_ > 4096) { // keep memory bounded in long runs
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(pending_head_));
        pending_head_ = 0;
    }
    std::string problems = check_frame(frame, seed_, index, spec);
    if (!first_sequence_) {
        first_sequence_ = frame.sequence() - index;
    } else if (frame.sequence() != *first_sequence_ + index) {
        problems += (problems.empty() ? "" : "; ") + std::string("frame index ") + std::to_string(index) +
                    " has sequence " + std::to_string(frame.sequence()) + ", expected " +
                    std::to_string(*first_sequence_ + index);
    }
    if (frame.frames_skipped() != 0) {
        problems += (problems.empty() ? "" : "; ") + std::string("frame index ") + std::to_string(index) +
                    " reports frames_skipped " + std::to_string(frame.frames_skipped());
    }
    return problems;
}

MappedFile::MappedFile(const std::string& path)
{
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    const off_t end = lseek(fd, 0, SEEK_END);
    if (end > 0) {
        void* memory = mmap(nullptr, static_cast<std::size_t>(end), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (memory != MAP_FAILED) {
            data_ = static_cast<std::byte*>(memory);
            size_ = static_cast<std::size_t>(end);
        }
    }
    close(fd);
}

MappedFile::~MappedFile()
{
    if (data_ != nullptr) {
        munmap(data_, size_);
    }
}

std::vector<std::size_t> MappedFile::find_all(std::span<const std::byte> needle) const
{
    std::vector<std::size_t> found;
    if (data_ == nullptr || needle.empty() || needle.size() > size_) {
        return found;
    }
    for (std::size_t at = 0; at + needle.size() <= size_; ++at) {
        const void* hit = memmem(data_ + at, size_ - at, needle.data(), needle.size());
        if (hit == nullptr) {
            break;
        }
        at = static_cast<std::size_t>(static_cast<const std::byte*>(hit) - data_);
        found.push_back(at);
    }
    return found;
}

zerobuffer::Result<zerobuffer::FrameReservation> reserve_while_readers_wait(zerobuffer::Writer& writer,
                                                                           std::vector<zerobuffer::Reader*> readers,
                                                                           std::size_t payload_size)
{
    std::atomic<bool> done{false};
    std::vector<std::thread> waiting;
    for (zerobuffer::Reader* reader : readers) {
        waiting.emplace_back([reader, &done] {
            while (!done.load()) {
                auto frame = reader->acquire(20ms);
                EXPECT_TRUE(is_error(frame, Errc::Timeout)) << "no frame was committed while the writer reserved";
            }
        });
    }
    auto reservation = writer.reserve(payload_size, 0, bound(2000ms));
    done.store(true);
    for (auto& thread : waiting) {
        thread.join();
    }
    return reservation;
}

zerobuffer::WriterOptions small_ring(std::size_t ring_size)
{
    zerobuffer::WriterOptions options;
    options.ring_size = ring_size;
    options.max_readers = 4;
    options.metadata_capacity = 4096;
    options.reader_timeout = 2s;
    return options;
}

// ---------------------------------------------------------------------------------------------------------
// Child processes

Child::Child(Child&& other) noexcept
    : pid_(other.pid_), reaped_(other.reaped_), stdin_fd_(other.stdin_fd_), stdout_fd_(other.stdout_fd_),
      buffered_(std::move(other.buffered_))
{
    other.pid_ = -1;
    other.stdin_fd_ = -1;
    other.stdout_fd_ = -1;
}

Child& Child::operator=(Child&& other) noexcept
{
    if (this != &other) {
        reset();
        pid_ = other.pid_;
        reaped_ = other.reaped_;
        stdin_fd_ = other.stdin_fd_;
        stdout_fd_ = other.stdout_fd_;
        buffered_ = std::move(other.buffered_);
        other.pid_ = -1;
        other.stdin_fd_ = -1;
        other.stdout_fd_ = -1;
    }
    return *this;
}

Child::~Child()
{
    reset();
}

void Child::reset() noexcept
{
    if (running()) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        reaped_ = true;
    }
    if (stdin_fd_ >= 0) {
        close(stdin_fd_);
        stdin_fd_ = -1;
    }
    if (stdout_fd_ >= 0) {
        close(stdout_fd_);
        stdout_fd_ = -1;
    }
    pid_ = -1;
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (auto newline = buffered_.find('\n'); newline != std::string::npos) {
            std::string line = buffered_.substr(0, newline);
            buffered_.erase(0, newline + 1);
            return line;
        }
        if (stdout_fd_ < 0) {
            return std::nullopt;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        pollfd pfd{stdout_fd_, POLLIN, 0};
        const int ready = poll(&pfd, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            return std::nullopt;
        }
        char chunk[256];
        const ssize_t got = ::read(stdout_fd_, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return std::nullopt; // EOF: the child exited or closed stdout
        }
        buffered_.append(chunk, static_cast<std::size_t>(got));
    }
}

void Child::close_stdin()
{
    if (stdin_fd_ >= 0) {
        close(stdin_fd_);
        stdin_fd_ = -1;
    }
}

void Child::kill9()
{
    if (running()) {
        ::kill(pid_, SIGKILL);
    }
}

int Child::wait(std::chrono::milliseconds timeout)
{
    if (pid_ <= 0 || reaped_) {
        return -1;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (true) {
        const pid_t done = waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            reaped_ = true;
            break;
        }
        if (done < 0 && errno != EINTR) {
            reaped_ = true;
            return -1;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid_, SIGKILL);
            while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            reaped_ = true;
            return -1;
        }
        std::this_thread::sleep_for(2ms);
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

Child spawn_child(const std::vector<std::string>& args, const SpawnOptions& options)
{
    Child child;
    int in_pipe[2] = {-1, -1};
    int out_pipe[2] = {-1, -1};
    // O_CLOEXEC: no other child may inherit these ends, or EOF would never arrive.
    if (options.pipe_stdin && pipe2(in_pipe, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2: " << std::strerror(errno);
        return child;
    }
    if (options.pipe_stdout && pipe2(out_pipe, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2: " << std::strerror(errno);
        return child;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (options.pipe_stdin) {
        posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    }
    if (options.pipe_stdout) {
        posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    }
    if (options.fd_as_3 >= 0) {
        posix_spawn_file_actions_adddup2(&actions, options.fd_as_3, 3);
    }
    std::vector<std::string> storage;
    storage.emplace_back("/proc/self/exe");
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : storage) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (options.pipe_stdin) {
        close(in_pipe[0]);
    }
    if (options.pipe_stdout) {
        close(out_pipe[1]);
    }
    if (rc != 0) {
        ADD_FAILURE() << "posix_spawn: " << std::strerror(rc);
        if (options.pipe_stdin) close(in_pipe[1]);
        if (options.pipe_stdout) close(out_pipe[0]);
        return child;
    }
    child.pid_ = pid;
    child.stdin_fd_ = options.pipe_stdin ? in_pipe[1] : -1;
    child.stdout_fd_ = options.pipe_stdout ? out_pipe[0] : -1;
    return child;
}

SharedCounters::SharedCounters()
{
    // Not MFD_CLOEXEC would leak it into every child; it is handed on explicitly as fd 3 instead.
    fd_ = memfd_create("zbt-counters", MFD_CLOEXEC);
    if (fd_ < 0 || ftruncate(fd_, 4096) != 0) {
        ADD_FAILURE() << "memfd_create: " << std::strerror(errno);
        return;
    }
    void* memory = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (memory == MAP_FAILED) {
        ADD_FAILURE() << "mmap: " << std::strerror(errno);
        return;
    }
    words_ = static_cast<std::uint64_t*>(memory);
}

SharedCounters::SharedCounters(int fd) : fd_(fd)
{
    void* memory = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (memory != MAP_FAILED) {
        words_ = static_cast<std::uint64_t*>(memory);
    }
}

SharedCounters::~SharedCounters()
{
    if (words_ != nullptr) {
        munmap(words_, 4096);
    }
    if (fd_ >= 0) {
        close(fd_);
    }
}

std::uint64_t SharedCounters::load(std::size_t i) const noexcept
{
    if (words_ == nullptr || i >= kCount) {
        return 0;
    }
    return std::atomic_ref<std::uint64_t>(words_[i]).load(std::memory_order_acquire);
}

void SharedCounters::store(std::size_t i, std::uint64_t value) noexcept
{
    if (words_ != nullptr && i < kCount) {
        std::atomic_ref<std::uint64_t>(words_[i]).store(value, std::memory_order_release);
    }
}

ChildArgs::ChildArgs(int argc, char** argv)
{
    if (argc > 1) {
        std::string_view first = argv[1];
        constexpr std::string_view kSwitch = "--child=";
        if (first.substr(0, kSwitch.size()) == kSwitch) {
            role = std::string(first.substr(kSwitch.size()));
        }
    }
    for (int i = 2; i < argc; ++i) {
        std::string_view arg = argv[i];
        const auto equals = arg.find('=');
        if (equals == std::string_view::npos) {
            values_.emplace_back(std::string(arg), "");
        } else {
            values_.emplace_back(std::string(arg.substr(0, equals)), std::string(arg.substr(equals + 1)));
        }
    }
}

std::string ChildArgs::get(std::string_view key, std::string_view fallback) const
{
    for (const auto& [k, v] : values_) {
        if (k == key) {
            return v;
        }
    }
    return std::string(fallback);
}

std::uint64_t ChildArgs::get_u64(std::string_view key, std::uint64_t fallback) const
{
    const std::string text = get(key);
    if (text.empty()) {
        return fallback;
    }
    return std::strtoull(text.c_str(), nullptr, 0);
}

} // namespace zbtest
