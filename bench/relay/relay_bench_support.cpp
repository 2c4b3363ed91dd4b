// SPDX-License-Identifier: MIT
// zb-relay-bench's shared helpers: child relay processes, figures, verdicts and keys (relay_bench.h).
#include "relay_bench.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace zerobuffer::relay_bench {

std::int64_t monotonic_ns()
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

RelayProcess::RelayProcess(const std::string& program, const std::vector<std::string>& args)
{
    pid_ = fork();
    if (pid_ == 0) {
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(program.c_str()));
        for (const std::string& arg : args)
            argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        if (std::getenv("ZB_RELAY_BENCH_VERBOSE") == nullptr) {
            std::freopen("/dev/null", "w", stderr);
        }
        execv(program.c_str(), argv.data());
        _exit(127);
    }
}

RelayProcess::~RelayProcess()
{
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
}

Throughput measure(std::uint64_t frames, std::size_t bytes, double seconds)
{
    return {static_cast<double>(frames) / seconds, static_cast<double>(frames * bytes) / seconds / 1e9};
}

int free_port_after(int base)
{
    static std::atomic<int> next{0};
    return base + (getpid() % 2000) + next.fetch_add(1);
}

const char* verdict(double ratio, double target)
{
    return ratio >= target ? "PASS" : "MISS";
}

void print_row(const char* size, const char* what, const Throughput& result)
{
    std::printf("%-6s %-36s %8.1f frames/s %7.2f GB/s\n", size, what, result.fps, result.gbps);
}

std::optional<std::string> run_keygen(const std::string& relay, const std::filesystem::path& dir, const char* prefix)
{
    const std::string command = "cd '" + dir.string() + "' && '" + relay + "' keygen " + prefix + " >/dev/null";
    if (std::system(command.c_str()) != 0) {
        std::fprintf(stderr, "zb-relay-bench: error: '%s keygen %s' failed\n", relay.c_str(), prefix);
        return std::nullopt;
    }
    return (dir / prefix).string();
}

} // namespace zerobuffer::relay_bench
