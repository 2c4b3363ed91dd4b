// SPDX-License-Identifier: MIT
// zerobuffer.Reservation: frame memory reserved in a ring, filled in place, then committed (reservation.h).
#include "reservation.h"

#include <cstring>
#include <string>

#include <zerobuffer/stream_format.h>

#include "arrays.h"
#include "buffer.h"
#include "errors.h"
#include "frame.h"

namespace zbpy {

PyReservation::PyReservation(std::shared_ptr<ReservationOwner> owner, zerobuffer::FrameReservation reservation,
                             std::shared_ptr<const Layout> layout, std::optional<std::uint64_t> request) noexcept
    : owner_(std::move(owner)), reservation_(std::move(reservation)), layout_(std::move(layout)), request_(request),
      size_(reservation_.payload().size()), metadata_capacity_(reservation_.metadata().size())
{
}

PyReservation::~PyReservation()
{
    if (!reservation_.valid())
        return;
    // Aborting touches the writer: one thread at a time. Another thread may hold the lock while it blocks in
    // reserve() without the GIL; only then wait for it, with the GIL released.
    std::unique_lock lock(owner_->mutex, std::try_to_lock);
    if (!lock.owns_lock()) {
        py::gil_scoped_release unlocked;
        lock.lock();
    }
    reservation_.abort();
}

std::span<std::byte> PyReservation::payload() const
{
    if (!reservation_.valid())
        raise_error(zerobuffer::Errc::InvalidState,
                    "the reservation was committed or aborted: its memory is no longer yours to write");
    return reservation_.payload();
}

std::span<std::byte> PyReservation::metadata() const
{
    if (!reservation_.valid())
        raise_error(zerobuffer::Errc::InvalidState,
                    "the reservation was committed or aborted: its memory is no longer yours to write");
    return reservation_.metadata();
}

py::object PyReservation::commit(const zerobuffer::FrameInfo& info, std::optional<std::size_t> size,
                                 std::optional<std::size_t> metadata_size, const std::optional<py::bytes>& blob)
{
    const std::span<std::byte> meta_area = metadata();
    std::size_t meta_used = metadata_size.value_or(meta_area.size());
    if (blob) {
        const std::string_view bytes = *blob;
        if (bytes.size() > meta_area.size())
            raise_error(zerobuffer::Errc::InvalidArgument,
                        std::to_string(bytes.size()) + " bytes of metadata do not fit the reservation's " +
                            std::to_string(meta_area.size()) + ": reserve with metadata_capacity=" +
                            std::to_string(bytes.size()));
        std::memcpy(meta_area.data(), bytes.data(), bytes.size());
        meta_used = metadata_size.value_or(bytes.size());
    }
    const std::size_t payload_used = size.value_or(size_);
    const std::lock_guard lock(owner_->mutex); // Commit never blocks: no need to release the GIL.
    return owner_->commit(reservation_, info, payload_used, meta_used, request_);
}

void PyReservation::abort()
{
    py::gil_scoped_release unlocked;
    const std::lock_guard lock(owner_->mutex);
    reservation_.abort();
}

py::object wrap_reservation(std::shared_ptr<ReservationOwner> owner, zerobuffer::FrameReservation reservation,
                            std::shared_ptr<const Layout> layout, std::optional<std::uint64_t> request)
{
    return py::cast(std::make_shared<PyReservation>(std::move(owner), std::move(reservation), std::move(layout), request));
}

zerobuffer::FrameInfo frame_info(const py::object& pts, const py::object& dts, const py::object& duration,
                                 std::uint32_t flags)
{
    zerobuffer::FrameInfo info;
    info.pts = timestamp_from(pts);
    info.dts = timestamp_from(dts);
    info.duration = timestamp_from(duration);
    info.flags = flags;
    return info;
}

ContiguousBytes::ContiguousBytes(const py::object& object)
{
    if (PyObject_GetBuffer(object.ptr(), &view_, PyBUF_C_CONTIGUOUS) != 0)
        throw py::error_already_set();
}

ContiguousBytes::~ContiguousBytes()
{
    PyBuffer_Release(&view_);
}

std::span<const std::byte> ContiguousBytes::bytes() const noexcept
{
    return {static_cast<const std::byte*>(view_.buf), static_cast<std::size_t>(view_.len)};
}

Layout checked_writer_layout(const std::string& json, std::string& canonical)
{
    auto parsed = zerobuffer::parse_stream_format(json);
    if (!parsed)
        raise_error(zerobuffer::Errc::InvalidArgument, "bad stream format: " + parsed.error().message);
    canonical = zerobuffer::to_json(*parsed);
    Layout layout = layout_from_json(canonical, 0);
    if (!layout.problem.empty())
        raise_error(zerobuffer::Errc::InvalidArgument, "bad stream format: " + layout.problem);
    if (layout.has_planes() && layout.frame_size != 0)
        if (const std::string problem = check_planes(layout, layout.frame_size); !problem.empty())
            raise_error(zerobuffer::Errc::InvalidArgument, "bad stream format: " + problem + " (frame_size)");
    return layout;
}

namespace {

std::span<std::byte> reservation_bytes(PyObject* object)
{
    return py::handle(object).cast<PyReservation&>().payload();
}

} // namespace

void bind_reservation(py::module_& m)
{
    py::class_<PyReservation, std::shared_ptr<PyReservation>> cls(m, "Reservation", py::buffer_protocol(), R"doc(
Frame memory reserved in a ring, to fill in place and then commit() (or abort()).

array() / planes() give writable numpy views shaped by the writer's stream format, `payload` and `metadata`
1-D uint8 views; memoryview(reservation) is writable too. Nothing is copied: the bytes you write are the
frame readers get. Views must not be used after commit() or abort(). In a ``with`` block a reservation that
was not committed is aborted at the end.
)doc");
    install_buffer<reservation_bytes, /*writable=*/true>(cls);
    cls.def(
           "array", [](py::object self) {
               PyReservation& r = self.cast<PyReservation&>();
               return make_views(r.layout(), r.payload(), true, self, false);
           },
           "Writable view(s) of the payload, as Frame.array() describes (one array, a tuple of planes, or bytes).")
        .def(
            "planes", [](py::object self) {
                PyReservation& r = self.cast<PyReservation&>();
                return make_views(r.layout(), r.payload(), true, self, true);
            },
            "Like array(), but always a tuple.")
        .def_property_readonly(
            "payload", [](py::object self) { return byte_view(self.cast<PyReservation&>().payload(), true, self); },
            "The payload as a writable 1-D uint8 array.")
        .def_property_readonly(
            "metadata", [](py::object self) { return byte_view(self.cast<PyReservation&>().metadata(), true, self); },
            "The per-frame metadata area as a writable 1-D uint8 array (metadata_capacity bytes).")
        .def_property_readonly("size", &PyReservation::size, "Payload bytes reserved.")
        .def_property_readonly("metadata_capacity", &PyReservation::metadata_capacity, "Bytes of per-frame metadata reserved.")
        .def_property_readonly("open", &PyReservation::open, "False once committed or aborted.")
        .def(
            "commit",
            [](PyReservation& r, const py::object& pts, const py::object& dts, const py::object& duration,
               std::uint32_t flags, std::optional<std::size_t> size, std::optional<std::size_t> metadata_size,
               const std::optional<py::bytes>& metadata) {
                return r.commit(frame_info(pts, dts, duration, flags), size, metadata_size, metadata);
            },
            py::kw_only(), py::arg("pts") = py::none(), py::arg("dts") = py::none(), py::arg("duration") = py::none(),
            py::arg("flags") = 0, py::arg("size") = py::none(), py::arg("metadata_size") = py::none(),
            py::arg("metadata") = py::none(),
            R"doc(Publishes the frame. Timestamps are ns (None: unset); flags are FrameFlags bits.

size / metadata_size publish less than was reserved. metadata=bytes copies a metadata blob in (it must fit
metadata_capacity). Returns None for a Writer, the request's sequence for a DuplexClient request.)doc")
        .def("abort", &PyReservation::abort, "Gives the memory back without publishing anything.")
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](PyReservation& r, const py::args&) {
            if (r.open())
                r.abort();
        })
        .def("__len__", &PyReservation::size)
        .def("__repr__", [](const PyReservation& r) {
            return "<zerobuffer.Reservation size=" + std::to_string(r.size()) + (r.open() ? ">" : " closed>");
        });
}

} // namespace zbpy
