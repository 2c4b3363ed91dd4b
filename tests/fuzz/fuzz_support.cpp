// SPDX-License-Identifier: MIT
// Shared helpers of the libFuzzer harnesses (see fuzz_support.h).
#include "fuzz_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace zbfuzz {

std::string unique_ring_name()
{
    static unsigned counter = 0; // one harness process, one thread: fuzzer inputs run one after another
    return "fuzz-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

std::vector<std::pair<std::uintptr_t, std::uintptr_t>> mappings_of(const std::string& path)
{
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> out;
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        if (line.size() < path.size() || line.compare(line.size() - path.size(), path.size(), path) != 0) {
            continue;
        }
        std::istringstream fields(line);
        std::string range;
        fields >> range;
        const auto dash = range.find('-');
        out.emplace_back(std::stoull(range.substr(0, dash), nullptr, 16),
                         std::stoull(range.substr(dash + 1), nullptr, 16));
    }
    return out;
}

void require_inside(const void* data, std::size_t size,
                    const std::vector<std::pair<std::uintptr_t, std::uintptr_t>>& maps, std::uint64_t lo,
                    std::uint64_t hi, const char* what)
{
    if (size == 0) {
        return;
    }
    const auto p = reinterpret_cast<std::uintptr_t>(data);
    for (const auto& [begin, end] : maps) {
        if (p >= begin + lo && p <= begin + hi && size <= begin + hi - p && begin + hi <= end) {
            return;
        }
    }
    std::fprintf(stderr, "zb-fuzz: %s of %zu bytes at %p lies outside the frame area of every mapping\n", what,
                 size, data);
    std::abort();
}

std::uint8_t touch(std::span<const std::byte> bytes) noexcept
{
    std::uint8_t sum = 0;
    for (const std::byte b : bytes) {
        sum = static_cast<std::uint8_t>(sum + static_cast<std::uint8_t>(b));
    }
    return sum;
}

} // namespace zbfuzz
