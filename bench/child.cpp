// SPDX-License-Identifier: MIT
// Child-process plumbing of zb-bench: re-executes /proc/self/exe in a role, collects result lines and rusage.
#include "bench.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace zbbench {

std::int64_t now_ns() noexcept
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void pin_to_cpu(int cpu)
{
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        throw BenchFailure("cannot pin to CPU " + std::to_string(cpu) + ": " + std::strerror(errno));
    }
}

double cpu_seconds(const rusage& usage) noexcept
{
    const auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    return tv(usage.ru_utime) + tv(usage.ru_stime);
}

namespace {

/// Closes a file descriptor when it goes out of scope.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept
    {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    [[nodiscard]] int get() const noexcept { return fd_; }
    void reset() noexcept
    {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

private:
    int fd_ = -1;
};

/// Owns posix_spawn file actions.
class SpawnActions {
public:
    SpawnActions() { posix_spawn_file_actions_init(&actions_); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
    ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
    [[nodiscard]] posix_spawn_file_actions_t* get() noexcept { return &actions_; }

private:
    posix_spawn_file_actions_t actions_{};
};

struct Running {
    pid_t pid = -1;
    Fd pidfd;
    Fd out;
    bool done = false;
    int status = 0;
    rusage usage{};
};

Values parse_values(const std::string& text)
{
    // The result line is the last non-empty line; earlier lines (if any) are ignored.
    std::string line;
    std::istringstream lines(text);
    for (std::string l; std::getline(lines, l);) {
        if (!l.empty()) {
            line = l;
        }
    }
    Values values;
    std::istringstream words(line);
    for (std::string word; words >> word;) {
        const auto eq = word.find('=');
        if (eq == std::string::npos) {
            continue;
        }
        try {
            values[word.substr(0, eq)] = std::stod(word.substr(eq + 1));
        } catch (const std::exception&) {
            // A non-numeric value is not part of the protocol; ignore it rather than lose the run.
        }
    }
    return values;
}

std::string read_all(int fd)
{
    std::string text;
    char buffer[4096];
    for (;;) {
        const auto n = ::read(fd, buffer, sizeof(buffer));
        if (n > 0) {
            text.append(buffer, static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    return text;
}

std::string describe_status(int status)
{
    if (WIFEXITED(status)) {
        return "exit code " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return std::string("killed by signal ") + strsignal(WTERMSIG(status));
    }
    return "unknown status " + std::to_string(status);
}

} // namespace

std::vector<ChildOutcome> run_children(const std::vector<ChildSpec>& specs, std::chrono::seconds timeout,
                                       int shared_fd, const std::function<void()>& tick)
{
    std::vector<Running> running(specs.size());
    std::vector<ChildOutcome> outcomes(specs.size());
    bool spawn_failed = false;

    for (std::size_t i = 0; i < specs.size() && !spawn_failed; ++i) {
        int pipe_fds[2];
        if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
            throw BenchFailure(std::string("pipe2: ") + std::strerror(errno));
        }
        Fd read_end(pipe_fds[0]);
        Fd write_end(pipe_fds[1]);

        SpawnActions actions;
        // dup2 onto the target clears FD_CLOEXEC there, so exactly these descriptors reach the child.
        posix_spawn_file_actions_adddup2(actions.get(), write_end.get(), STDOUT_FILENO);
        if (shared_fd >= 0) {
            posix_spawn_file_actions_adddup2(actions.get(), shared_fd, 3);
        }

        std::vector<std::string> words{"zb-bench", "--role", specs[i].role};
        for (const auto& [key, value] : specs[i].args) {
            std::string word = key;
            word += '=';
            word += value;
            words.push_back(std::move(word));
        }
        std::vector<char*> argv;
        argv.reserve(words.size() + 1);
        for (auto& w : words) {
            argv.push_back(w.data());
        }
        argv.push_back(nullptr);

        pid_t pid = -1;
        const int rc = posix_spawn(&pid, "/proc/self/exe", actions.get(), nullptr, argv.data(), environ);
        if (rc != 0) {
            outcomes[i].failure = std::string("posix_spawn: ") + std::strerror(rc);
            spawn_failed = true;
            break;
        }
        running[i].pid = pid;
        running[i].out = std::move(read_end);
        running[i].pidfd = Fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
        if (running[i].pidfd.get() < 0) {
            throw BenchFailure(std::string("pidfd_open: ") + std::strerror(errno));
        }
    }

    const auto kill_all = [&running] {
        for (auto& r : running) {
            if (r.pid > 0 && !r.done) {
                ::kill(r.pid, SIGKILL);
            }
        }
    };
    if (spawn_failed) {
        kill_all();
    }

    const auto deadline = now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
    bool timed_out = false;
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < running.size(); ++i) {
            if (running[i].pid > 0 && !running[i].done) {
                fds.push_back(pollfd{running[i].pidfd.get(), POLLIN, 0});
                index.push_back(i);
            }
        }
        if (fds.empty()) {
            break;
        }
        const auto left_ms = (deadline - now_ns()) / 1'000'000;
        int ready = 0;
        if (left_ms > 0 && !timed_out) {
            const std::int64_t longest_ms = tick ? 100 : 60'000;
            ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(left_ms, longest_ms)));
            if (tick && ready >= 0) {
                tick();
            }
            if (ready < 0 && errno == EINTR) {
                if (stop_requested()) {
                    timed_out = true; // reap below without waiting for the deadline
                    kill_all();
                }
                continue;
            }
        } else if (!timed_out) {
            timed_out = true;
            kill_all();
            continue;
        } else {
            // Already killed: reap them (SIGKILL cannot be ignored, so this does not block for long).
            for (auto& p : fds) {
                p.revents = POLLIN;
            }
            ready = static_cast<int>(fds.size());
        }
        if (ready <= 0) {
            continue;
        }
        for (std::size_t k = 0; k < fds.size(); ++k) {
            if ((fds[k].revents & POLLIN) == 0) {
                continue;
            }
            auto& r = running[index[k]];
            if (wait4(r.pid, &r.status, 0, &r.usage) == r.pid) {
                r.done = true;
                const bool failed = !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0;
                if (failed) {
                    // One side failed: the other would only wait for its timeouts.
                    kill_all();
                }
            }
        }
    }

    for (std::size_t i = 0; i < running.size(); ++i) {
        auto& r = running[i];
        auto& o = outcomes[i];
        if (r.pid <= 0) {
            if (o.failure.empty()) {
                o.failure = "not started (an earlier child failed to start)";
            }
            continue;
        }
        o.pid = r.pid;
        o.usage = r.usage;
        const std::string text = read_all(r.out.get());
        o.values = parse_values(text);
        if (stop_requested() && WIFSIGNALED(r.status)) {
            o.failure = specs[i].role + ": interrupted";
        } else if (timed_out && WIFSIGNALED(r.status)) {
            o.failure = "timed out after " + std::to_string(timeout.count()) + " s and was killed";
        } else if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
            o.failure = specs[i].role + ": " + describe_status(r.status);
        } else if (o.values.empty()) {
            o.failure = specs[i].role + ": printed no result line";
        } else {
            o.ok = true;
        }
    }
    return outcomes;
}

} // namespace zbbench
