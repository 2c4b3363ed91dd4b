// SPDX-License-Identifier: MIT
// Worker processes of the chaos driver (see team.h).
#include "team.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace zbchaos {

using namespace std::chrono_literals;

std::string role_name(Role role)
{
    switch (role) {
    case Role::Writer: return "writer";
    case Role::Lossless: return "lossless";
    case Role::Latest: return "latest";
    }
    return "?";
}

std::vector<std::string> writer_args(zbtest::Rng& rng, const std::string& ring, std::uint64_t seed)
{
    const std::uint64_t ring_size = rng.range(16, 1024) * 4096;
    // A lossless reader lags at most the ring's frame slots (at most 256 here: one per 16 KiB), and one lagging more
    // than 8 format changes gets InvalidState by design (8 metadata slots, docs/protocol.md): 8 x 40 frames > 256.
    const std::uint64_t max_payload = rng.range(0, 3) == 0 ? rng.range(0, 300) : rng.range(0, ring_size / 16);
    return {"name=" + ring, "seed=" + std::to_string(seed), "ring_size=" + std::to_string(ring_size),
            "max_payload=" + std::to_string(max_payload),
            rng.range(0, 1) == 1 ? "integrity=checksum" : "integrity=none",
            "pace_us=" + std::to_string(rng.range(200, 2000)), "format_every=" + std::to_string(rng.range(40, 200))};
}

std::vector<std::string> reader_args(zbtest::Rng& rng, const std::string& ring, Role role, std::uint64_t seed)
{
    return {"name=" + ring, "seed=" + std::to_string(seed), role == Role::Latest ? "policy=latest" : "policy=lossless",
            "hold=" + std::to_string(rng.range(0, 3)),
            "max_lag=" + std::to_string(role == Role::Latest && rng.range(0, 1) == 1 ? 2 : 0),
            rng.range(0, 1) == 1 ? "wait=sleep" : "wait=cadence"};
}

std::string start_worker(Worker& worker, std::chrono::milliseconds timeout)
{
    worker.shared = std::make_unique<zbtest::SharedCounters>();
    std::vector<std::string> argv{worker.role == Role::Writer ? "--child=writer" : "--child=reader"};
    argv.insert(argv.end(), worker.args.begin(), worker.args.end());
    worker.child = zbtest::spawn_child(argv, {.pipe_stdout = true, .fd_as_3 = worker.shared->fd()});
    if (!worker.child.running()) {
        return worker.label + ": could not be started";
    }
    if (timeout.count() > 0 && wait_line(worker, "ready", timeout).empty()) {
        const pid_t pid = worker.child.pid();
        worker.child.kill9();
        const int status = worker.child.wait(scaled(5000ms));
        return worker.label + " (pid " + std::to_string(pid) + ") did not say ready within " +
               std::to_string(timeout.count()) + " ms (exit status " + std::to_string(status) + ")";
    }
    return "";
}

std::string wait_line(Worker& worker, const std::string& prefix, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return "";
        }
        auto line = worker.child.read_line(left);
        if (!line) {
            return "";
        }
        if (line->rfind(prefix, 0) == 0) {
            return *line;
        }
    }
}

std::int64_t kill_worker(Worker& worker)
{
    const std::int64_t at = now_ns();
    worker.child.kill9();
    (void)worker.child.wait(scaled(10000ms));
    return at;
}

bool exited_on_its_own(Worker& worker, int& status)
{
    if (!worker.child.running()) {
        return false;
    }
    std::ifstream stat("/proc/" + std::to_string(worker.child.pid()) + "/stat");
    std::string text;
    std::getline(stat, text);
    const auto close_paren = text.rfind(')');
    if (close_paren == std::string::npos || close_paren + 2 >= text.size() || text[close_paren + 2] != 'Z') {
        return false;
    }
    status = worker.child.wait(scaled(5000ms));
    return true;
}

Rss read_rss(pid_t pid)
{
    Rss rss;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        std::istringstream in(line);
        std::string key;
        long value = -1;
        in >> key >> value;
        if (key == "VmRSS:") {
            rss.vm_rss_kib = value;
        } else if (key == "RssAnon:") {
            rss.anon_kib = value;
        }
    }
    return rss;
}

std::vector<std::string> shm_objects_of(const std::string& ring, const std::vector<pid_t>& writer_pids)
{
    std::vector<std::string> found;
    for (const auto& file : zbtest::shm_entries_with_prefix("zb-" + ring)) {
        if (file == "zb-" + ring) {
            found.push_back(file);
        }
    }
    for (const pid_t pid : writer_pids) {
        for (const auto& file : zbtest::shm_entries_with_prefix(".zb-tmp-" + std::to_string(pid) + "-")) {
            found.push_back(file);
        }
    }
    return found;
}

std::chrono::milliseconds scaled(std::chrono::milliseconds base) { return zbtest::bound(base); }

} // namespace zbchaos
