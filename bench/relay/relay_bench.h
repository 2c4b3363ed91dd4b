// SPDX-License-Identifier: MIT
// What the sections of zb-relay-bench share: child zb-relay processes, throughput figures, verdicts, keys.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace zerobuffer::relay_bench {

[[nodiscard]] std::int64_t monotonic_ns();

/// A child zb-relay process (stderr to /dev/null unless ZB_RELAY_BENCH_VERBOSE is set), stopped with SIGTERM
/// when destroyed.
class RelayProcess {
public:
    RelayProcess(const std::string& program, const std::vector<std::string>& args);
    RelayProcess(const RelayProcess&) = delete;
    RelayProcess& operator=(const RelayProcess&) = delete;
    ~RelayProcess();

private:
    pid_t pid_ = -1;
};

struct Throughput {
    double fps = 0;
    double gbps = 0;
};

[[nodiscard]] Throughput measure(std::uint64_t frames, std::size_t bytes, double seconds);
/// A port for this run: BASE plus an offset from our pid plus a counter, so concurrent runs rarely collide.
[[nodiscard]] int free_port_after(int base);
[[nodiscard]] const char* verdict(double ratio, double target);
void print_row(const char* size, const char* what, const Throughput& result);
/// Writes DIR/PREFIX.key and .pub with `zb-relay keygen`; nullopt (after saying why) if that failed.
[[nodiscard]] std::optional<std::string> run_keygen(const std::string& relay, const std::filesystem::path& dir,
                                                    const char* prefix);

/// Fan-out: one publishing relay, four receiving relays over loopback tcp, 1080p at 30 fps; once with four
/// ordinary receivers, once with the fourth a slow policy=latest one. Prints each receiver's rate against the
/// publisher's with PASS/MISS; never fails on speed. `tag` makes the ring names unique.
void fanout_section(const std::string& relay, const std::string& tag, bool quick);

} // namespace zerobuffer::relay_bench
