// SPDX-License-Identifier: MIT
// Blocking core calls from Python: the GIL is released while waiting, and Ctrl-C still interrupts the wait.
//
// The core's waits sleep on futexes and do not return on signals, so a long wait is cut into slices of at most
// kSignalSlice; between slices PyErr_CheckSignals() runs the Python signal handlers (SIGINT raises
// KeyboardInterrupt). A KeyboardInterrupt therefore arrives within one slice of the signal. Each slice that
// finds nothing counts as one wait and one timeout in the ring's counters (zbctl shows them).
#pragma once

#include <chrono>
#include <cmath>
#include <optional>
#include <utility>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h> // Every unit: std::optional / std::vector conversions must agree across the module.

#include <zerobuffer/error.h>

#include "errors.h"

namespace zbpy {

namespace py = pybind11;

inline constexpr std::chrono::milliseconds kSignalSlice{20};

/// A timeout from Python seconds: None (or infinity) waits forever, 0 polls once.
class Deadline {
public:
    explicit Deadline(const std::optional<double>& seconds)
    {
        if (!seconds || std::isinf(*seconds))
            return;
        if (std::isnan(*seconds) || *seconds < 0)
            raise_error(zerobuffer::Errc::InvalidArgument, "a timeout must be None or a number of seconds >= 0");
        forever_ = false;
        const auto span = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*seconds));
        at_ = Clock::now() + span;
    }
    [[nodiscard]] bool forever() const noexcept { return forever_; }
    [[nodiscard]] bool passed() const noexcept { return !forever_ && Clock::now() >= at_; }
    /// The next slice: at most kSignalSlice, at least 0.
    [[nodiscard]] std::chrono::nanoseconds slice() const noexcept
    {
        if (forever_)
            return kSignalSlice;
        const auto left = std::max<Clock::duration>(at_ - Clock::now(), Clock::duration::zero());
        return std::min<std::chrono::nanoseconds>(left, kSignalSlice);
    }

private:
    using Clock = std::chrono::steady_clock;
    bool forever_ = true;
    Clock::time_point at_{};
};

/// Calls `attempt(slice)` (a core call returning a Result that waits up to `slice`) with the GIL released,
/// slice after slice, until it returns anything but Errc::Timeout or the deadline passes (then its Timeout is
/// returned). Raises KeyboardInterrupt (or whatever a signal handler raised) between slices.
template <typename Attempt>
auto wait_in_slices(const Deadline& deadline, Attempt&& attempt)
{
    while (true) {
        auto result = [&] {
            py::gil_scoped_release unlocked;
            return attempt(deadline.slice());
        }();
        if (result || result.error().code != zerobuffer::Errc::Timeout || deadline.passed())
            return result;
        if (PyErr_CheckSignals() != 0)
            throw py::error_already_set();
    }
}

} // namespace zbpy
