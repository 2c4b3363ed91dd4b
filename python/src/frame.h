// SPDX-License-Identifier: MIT
// zerobuffer.Frame: one frame read in place, held until released or until nothing made from it is alive.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h> // Every unit: std::optional / std::vector conversions must agree across the module.

#include <zerobuffer/reader.h>

#include "layout.h"

namespace zbpy {

namespace py = pybind11;

/// Whatever hands out frames (a reader, a duplex side). A frame keeps it alive, since a core Frame must not
/// outlive its Reader.
using FrameSource = std::shared_ptr<void>;

/// The C++ side of a Python Frame. Every use is under the GIL (Python calls, and the deallocation of the last
/// view), so it needs no lock of its own; the core allows release() from any thread.
class PyFrame {
public:
    PyFrame(zerobuffer::Frame frame, FrameSource source, std::shared_ptr<const Layout> layout,
            std::optional<std::uint64_t> request_sequence = std::nullopt) noexcept;
    PyFrame(const PyFrame&) = delete;
    PyFrame& operator=(const PyFrame&) = delete;
    ~PyFrame() = default;

    /// Gives the frame's memory back to the writer (idempotent).
    void release() noexcept { frame_.release(); }
    [[nodiscard]] bool released() const noexcept { return !frame_.valid(); }

    /// The payload; raises InvalidState once released. Read-only memory handed out as `std::byte` for the view
    /// helpers, which mark every view read-only.
    [[nodiscard]] std::span<std::byte> payload() const;
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] const zerobuffer::FrameInfo& info() const noexcept { return info_; }
    [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
    [[nodiscard]] const Layout& layout() const noexcept { return *layout_; }
    [[nodiscard]] std::optional<std::uint64_t> request_sequence() const noexcept { return request_sequence_; }
    [[nodiscard]] const zerobuffer::Frame& frame() const noexcept { return frame_; }

private:
    FrameSource source_;             ///< Declared before frame_: the frame is released before its source goes.
    zerobuffer::Frame frame_;
    std::shared_ptr<const Layout> layout_;
    std::optional<std::uint64_t> request_sequence_;
    zerobuffer::FrameInfo info_;     ///< Copies, valid after release.
    std::uint64_t sequence_ = 0;
    std::size_t size_ = 0;
};

/// Wraps a core frame as a Python Frame object.
[[nodiscard]] py::object wrap_frame(zerobuffer::Frame frame, FrameSource source, std::shared_ptr<const Layout> layout,
                                    std::optional<std::uint64_t> request_sequence = std::nullopt);

/// A timestamp for Python: None when unset.
[[nodiscard]] py::object timestamp(std::int64_t ns);
/// A timestamp from Python: kNoTimestamp for None.
[[nodiscard]] std::int64_t timestamp_from(const py::object& value);

void bind_frame(py::module_& m);

} // namespace zbpy
