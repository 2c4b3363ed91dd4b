// SPDX-License-Identifier: MIT
// zerobuffer.Reservation: frame memory reserved in a ring, filled in place from Python, then committed.
// Shared by the Writer and both sides of a duplex channel, which differ only in how a reservation is committed.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h> // Every unit: std::optional / std::vector conversions must agree across the module.

#include <zerobuffer/writer.h>

#include "layout.h"

namespace zbpy {

namespace py = pybind11;

/// What a reservation belongs to: a writer, or a duplex side. One thread at a time may use the core object
/// behind it; `mutex` is that rule (held without the GIL while blocking, so taking it never needs the GIL).
class ReservationOwner {
public:
    virtual ~ReservationOwner() = default;
    std::mutex mutex;
    /// Publishes the reservation (called with `mutex` held). Returns what Reservation.commit() returns.
    virtual py::object commit(zerobuffer::FrameReservation& reservation, const zerobuffer::FrameInfo& info,
                              std::size_t payload_size, std::size_t metadata_size,
                              std::optional<std::uint64_t> request) = 0;
};

class PyReservation {
public:
    PyReservation(std::shared_ptr<ReservationOwner> owner, zerobuffer::FrameReservation reservation,
                  std::shared_ptr<const Layout> layout, std::optional<std::uint64_t> request = std::nullopt) noexcept;
    PyReservation(const PyReservation&) = delete;
    PyReservation& operator=(const PyReservation&) = delete;
    /// Aborts a reservation that was neither committed nor aborted.
    ~PyReservation();

    /// The reserved payload; raises InvalidState once committed or aborted.
    [[nodiscard]] std::span<std::byte> payload() const;
    [[nodiscard]] std::span<std::byte> metadata() const;
    [[nodiscard]] const Layout& layout() const noexcept { return *layout_; }
    [[nodiscard]] bool open() const noexcept { return reservation_.valid(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t metadata_capacity() const noexcept { return metadata_capacity_; }

    py::object commit(const zerobuffer::FrameInfo& info, std::optional<std::size_t> size,
                      std::optional<std::size_t> metadata_size, const std::optional<py::bytes>& blob);
    void abort();

private:
    std::shared_ptr<ReservationOwner> owner_; ///< Declared first: the reservation goes before its writer.
    zerobuffer::FrameReservation reservation_;
    std::shared_ptr<const Layout> layout_;
    std::optional<std::uint64_t> request_;
    std::size_t size_ = 0;
    std::size_t metadata_capacity_ = 0;
};

/// Wraps a core reservation as a Python Reservation object.
[[nodiscard]] py::object wrap_reservation(std::shared_ptr<ReservationOwner> owner, zerobuffer::FrameReservation reservation,
                                          std::shared_ptr<const Layout> layout,
                                          std::optional<std::uint64_t> request = std::nullopt);

/// FrameInfo from the keyword arguments every commit/write/send takes.
[[nodiscard]] zerobuffer::FrameInfo frame_info(const py::object& pts, const py::object& dts, const py::object& duration,
                                               std::uint32_t flags);

/// A C-contiguous byte view of any buffer object (bytes, bytearray, memoryview, numpy array), released on
/// destruction. Raises BufferError for non-contiguous buffers.
class ContiguousBytes {
public:
    explicit ContiguousBytes(const py::object& object);
    ContiguousBytes(const ContiguousBytes&) = delete;
    ContiguousBytes& operator=(const ContiguousBytes&) = delete;
    ~ContiguousBytes();
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept;

private:
    Py_buffer view_{};
};

/// The layout a writer's stream-format document gives its reservations; raises InvalidArgument for documents
/// that do not follow the schema or whose planes do not fit the frame size.
/// `canonical` gets the document to publish (the schema's own serialisation, with its "schema" key).
[[nodiscard]] Layout checked_writer_layout(const std::string& json, std::string& canonical);

void bind_reservation(py::module_& m);

} // namespace zbpy
