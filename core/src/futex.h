// SPDX-License-Identifier: MIT
// Cross-process futex wait/wake on 32-bit words inside the shared segment, and a monotonic clock.
#pragma once

#include "private.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace zerobuffer::detail {

/// Sleeps while `word` still holds `expected`, at most `timeout`. Spurious returns are fine: callers loop.
/// Not FUTEX_PRIVATE: the word is shared between processes.
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout) noexcept
{
    if (timeout <= std::chrono::nanoseconds::zero())
        return;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    timespec relative{};
    relative.tv_sec = static_cast<time_t>(seconds.count());
    relative.tv_nsec = static_cast<long>((timeout - seconds).count());
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, &relative, nullptr, 0);
}

inline void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept
{
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

inline std::int64_t monotonic_ns() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

/// CLOCK_MONOTONIC_COARSE: the same clock at tick resolution (a few ms), a quarter of the cost. For ages shown
/// by tools (how long a frame has been held), never for timeouts.
inline std::int64_t monotonic_coarse_ns() noexcept
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

/// now + timeout on the monotonic clock, saturated so that huge timeouts mean "practically forever".
inline std::int64_t deadline_after(std::chrono::nanoseconds timeout) noexcept
{
    constexpr std::int64_t kCenturyNs = std::int64_t{100} * 365 * 24 * 3600 * 1'000'000'000;
    const std::int64_t bounded = std::clamp<std::int64_t>(timeout.count(), 0, kCenturyNs);
    return monotonic_ns() + bounded;
}

/// A deadline read from the clock only when first needed, so calls that never block never ask the clock.
class LazyDeadline {
public:
    explicit LazyDeadline(std::chrono::nanoseconds timeout) noexcept : timeout_(timeout) {}
    std::int64_t get() noexcept
    {
        if (at_ == 0)
            at_ = deadline_after(timeout_);
        return at_;
    }

private:
    std::chrono::nanoseconds timeout_;
    std::int64_t at_ = 0;
};

inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

} // namespace zerobuffer::detail
