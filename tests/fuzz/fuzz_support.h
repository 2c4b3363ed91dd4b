// SPDX-License-Identifier: MIT
// Shared helpers of the libFuzzer harnesses: an input consumer, unique ring names, mappings of a ring file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace zbfuzz {

/// Reads values off the fuzzer's input; past the end every read returns zeros, so every input is a program.
class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data, size) {}

    [[nodiscard]] bool empty() const noexcept { return pos_ >= data_.size(); }
    [[nodiscard]] std::uint8_t byte() noexcept { return pos_ < data_.size() ? data_[pos_++] : 0; }
    [[nodiscard]] std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(byte() | (byte() << 8)); }
    [[nodiscard]] std::uint32_t u32() noexcept { return static_cast<std::uint32_t>(u16() | (u16() << 16)); }
    [[nodiscard]] std::uint64_t u64() noexcept { return u32() | (std::uint64_t{u32()} << 32); }
    /// Up to `n` bytes (fewer at the end of the input).
    [[nodiscard]] std::span<const std::uint8_t> bytes(std::size_t n) noexcept
    {
        const std::size_t take = pos_ < data_.size() ? std::min(n, data_.size() - pos_) : 0;
        auto out = data_.subspan(pos_, take);
        pos_ += take;
        return out;
    }

private:
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
};

/// A ring name no other harness process uses: "fuzz-PID-N".
[[nodiscard]] std::string unique_ring_name();

/// Address ranges [begin, end) at which this process maps `path` (from /proc/self/maps).
[[nodiscard]] std::vector<std::pair<std::uintptr_t, std::uintptr_t>> mappings_of(const std::string& path);

/// Aborts (a finding) unless [data, data + size) lies inside [begin + lo, begin + hi) of one of `maps`.
void require_inside(const void* data, std::size_t size,
                    const std::vector<std::pair<std::uintptr_t, std::uintptr_t>>& maps, std::uint64_t lo,
                    std::uint64_t hi, const char* what);

/// Reads every byte of `bytes` so that ASan and the MMU see each access; returns a value the caller may ignore.
std::uint8_t touch(std::span<const std::byte> bytes) noexcept;

} // namespace zbfuzz
