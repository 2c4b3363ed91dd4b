// SPDX-License-Identifier: MIT
// Helpers of zb-bench's child roles (see role_support.h).
#include "role_support.h"

#include <cstdio>
#include <cstring>
#include <thread>

namespace zbbench {

namespace zb = zerobuffer;

void must(zb::Result<void> result, std::string_view what)
{
    if (!result) {
        throw BenchFailure(std::string(what) + ": " + std::string(zb::to_string(result.error().code)) + ": " +
                           result.error().message);
    }
}

void fail(const zb::Error& error, std::string_view what)
{
    throw BenchFailure(std::string(what) + ": " + std::string(zb::to_string(error.code)) + ": " + error.message);
}

const std::string& arg(const Args& args, std::string_view key)
{
    const auto it = args.find(key);
    if (it == args.end()) {
        throw BenchFailure("missing child argument " + std::string(key));
    }
    return it->second;
}

std::uint64_t arg_u64(const Args& args, std::string_view key) { return std::stoull(arg(args, key)); }
std::size_t arg_size(const Args& args, std::string_view key) { return static_cast<std::size_t>(arg_u64(args, key)); }
int arg_int(const Args& args, std::string_view key) { return std::stoi(arg(args, key)); }
double arg_f64(const Args& args, std::string_view key) { return std::stod(arg(args, key)); }
std::chrono::nanoseconds arg_ns(const Args& args, std::string_view key)
{
    return std::chrono::nanoseconds(static_cast<std::int64_t>(arg_u64(args, key)));
}

void ResultLine::print()
{
    const std::string line = out_.str() + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}

zb::Result<zb::Reader> attach_retry(const std::string& name, const zb::ReaderOptions& options,
                                    std::chrono::nanoseconds timeout)
{
    const auto deadline = now_ns() + timeout.count();
    for (;;) {
        auto reader = zb::Reader::attach(name, options);
        if (reader || reader.error().code != zb::Errc::NotFound || now_ns() >= deadline) {
            return reader;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void stamp(std::span<std::byte> payload, std::uint64_t value) noexcept
{
    if (payload.size() >= sizeof(value)) {
        std::memcpy(payload.data(), &value, sizeof(value));
    }
}

std::uint64_t read_stamp(std::span<const std::byte> payload) noexcept
{
    std::uint64_t value = 0;
    if (payload.size() >= sizeof(value)) {
        std::memcpy(&value, payload.data(), sizeof(value));
    }
    return value;
}

double seconds_of(const timeval& t) noexcept
{
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
}

rusage self_usage() noexcept
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage;
}

} // namespace zbbench
