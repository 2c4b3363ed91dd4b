// SPDX-License-Identifier: MIT
// The driver's side of the workers: starting them as real processes, commanding, killing and watching them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chaos.h"
#include "support.h"

namespace zbchaos {

enum class Role { Writer, Lossless, Latest };

[[nodiscard]] std::string role_name(Role role);

/// One worker process of the chaos team, restarted under the same label when it dies.
struct Worker {
    Role role = Role::Writer;
    std::string label;                             ///< "writer", "lossless-1", ...
    std::vector<std::string> args;                 ///< key=value arguments of the current process
    std::unique_ptr<zbtest::SharedCounters> shared;
    zbtest::Child child;
    std::uint64_t seed = 0;                        ///< Writer: its stream seed.

    [[nodiscard]] std::uint64_t load(Word word) const { return shared ? shared->load(word) : 0; }
    void command(Command what) { if (shared) shared->store(kCommand, what); }
};

/// Arguments of a writer with a ring of a random size (64 KiB .. 4 MiB), frame sizes, pace and format rate.
[[nodiscard]] std::vector<std::string> writer_args(zbtest::Rng& rng, const std::string& ring, std::uint64_t seed);
/// Arguments of a lossless or latest reader holding 0..3 frames, with a random wait mode (and lag for latest).
[[nodiscard]] std::vector<std::string> reader_args(zbtest::Rng& rng, const std::string& ring, Role role,
                                                   std::uint64_t seed);

/// Starts `worker` with its args (a fresh counter page) and waits up to `timeout` for its "ready" line (a zero
/// timeout: does not wait). Returns "" on success, else what went wrong (the process is then killed).
[[nodiscard]] std::string start_worker(Worker& worker, std::chrono::milliseconds timeout);

/// Waits up to `timeout` for a line of the worker starting with `prefix`; returns it, or "" on timeout/EOF.
[[nodiscard]] std::string wait_line(Worker& worker, const std::string& prefix, std::chrono::milliseconds timeout);

/// SIGKILL now; returns the CLOCK_MONOTONIC ns taken just before the signal. Reaps the process (bounded).
std::int64_t kill_worker(Worker& worker);

/// True when the worker's process has exited (a zombie) although nobody killed it; reaps it and puts its exit
/// status in `status`.
[[nodiscard]] bool exited_on_its_own(Worker& worker, int& status);

/// VmRSS and RssAnon of a process in KiB (/proc/PID/status); -1 when unreadable.
struct Rss {
    long vm_rss_kib = -1;
    long anon_kib = -1;
};
[[nodiscard]] Rss read_rss(pid_t pid);

/// Objects of this run in /dev/shm: the ring "zb-NAME" and leftovers ".zb-tmp-PID-*" of the given writer pids.
[[nodiscard]] std::vector<std::string> shm_objects_of(const std::string& ring, const std::vector<pid_t>& writer_pids);

/// `base` multiplied by ZB_TEST_TIME_SCALE (the sanitizer flavours of run-tests.sh set it).
[[nodiscard]] std::chrono::milliseconds scaled(std::chrono::milliseconds base);

} // namespace zbchaos
