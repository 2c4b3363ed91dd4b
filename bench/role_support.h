// SPDX-License-Identifier: MIT
// Helpers of zb-bench's child roles: checked core calls, arguments, the result line, attaching, frame stamps.
#pragma once

#include "bench.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <string_view>

#include <zerobuffer/zerobuffer.h>

namespace zbbench {

/// The value of a core call, or a BenchFailure that names the call and the core's error.
template <typename T>
T must(zerobuffer::Result<T> result, std::string_view what)
{
    if (!result) {
        throw BenchFailure(std::string(what) + ": " + std::string(zerobuffer::to_string(result.error().code)) + ": " +
                           result.error().message);
    }
    return std::move(*result);
}

void must(zerobuffer::Result<void> result, std::string_view what);
[[noreturn]] void fail(const zerobuffer::Error& error, std::string_view what);

/// A child argument (key=value on its command line); missing or malformed ones are a BenchFailure.
[[nodiscard]] const std::string& arg(const Args& args, std::string_view key);
[[nodiscard]] std::uint64_t arg_u64(const Args& args, std::string_view key);
[[nodiscard]] std::size_t arg_size(const Args& args, std::string_view key);
[[nodiscard]] int arg_int(const Args& args, std::string_view key);
[[nodiscard]] double arg_f64(const Args& args, std::string_view key);
[[nodiscard]] std::chrono::nanoseconds arg_ns(const Args& args, std::string_view key);

/// Collects key=value pairs and prints them as the one result line the parent parses.
class ResultLine {
public:
    ResultLine() { out_.precision(12); }
    template <typename T>
    ResultLine& add(std::string_view key, T value)
    {
        out_ << key << '=' << value << ' ';
        return *this;
    }
    void print();

private:
    std::ostringstream out_;
};

/// Attaching before the peer created its ring is normal at start-up: retries NotFound for a while.
[[nodiscard]] zerobuffer::Result<zerobuffer::Reader> attach_retry(const std::string& name,
                                                                  const zerobuffer::ReaderOptions& options,
                                                                  std::chrono::nanoseconds timeout);

/// Writes a sequence number into the first 8 bytes of a payload (when it is that large).
void stamp(std::span<std::byte> payload, std::uint64_t value) noexcept;
[[nodiscard]] std::uint64_t read_stamp(std::span<const std::byte> payload) noexcept;

[[nodiscard]] double seconds_of(const timeval& t) noexcept;
[[nodiscard]] rusage self_usage() noexcept;

// The roles of the held-frames section (held_roles.cpp).
int role_held_writer(const Args& args);
int role_held_reader(const Args& args);

} // namespace zbbench
