// SPDX-License-Identifier: MIT
// zerobuffer.Frame: one frame read in place (frame.h).
#include "frame.h"

#include <string>

#include <zerobuffer/frame.h>

#include "arrays.h"
#include "buffer.h"
#include "errors.h"

namespace zbpy {

PyFrame::PyFrame(zerobuffer::Frame frame, FrameSource source, std::shared_ptr<const Layout> layout,
                 std::optional<std::uint64_t> request_sequence) noexcept
    : source_(std::move(source)), frame_(std::move(frame)), layout_(std::move(layout)),
      request_sequence_(request_sequence), info_(frame_.info()), sequence_(frame_.sequence()),
      size_(frame_.payload().size())
{
}

std::span<std::byte> PyFrame::payload() const
{
    if (!frame_.valid())
        raise_error(zerobuffer::Errc::InvalidState,
                    "frame " + std::to_string(sequence_) + " was released: its memory belongs to the writer again");
    const std::span<const std::byte> bytes = frame_.payload();
    // The views made from this are read-only (arrays.h, buffer.h); the cast only lets one helper serve both sides.
    return {const_cast<std::byte*>(bytes.data()), bytes.size()};
}

py::object wrap_frame(zerobuffer::Frame frame, FrameSource source, std::shared_ptr<const Layout> layout,
                      std::optional<std::uint64_t> request_sequence)
{
    return py::cast(std::make_shared<PyFrame>(std::move(frame), std::move(source), std::move(layout), request_sequence));
}

py::object timestamp(std::int64_t ns)
{
    return ns == zerobuffer::kNoTimestamp ? py::object(py::none()) : py::object(py::int_(ns));
}

std::int64_t timestamp_from(const py::object& value)
{
    return value.is_none() ? zerobuffer::kNoTimestamp : value.cast<std::int64_t>();
}

namespace {

std::span<std::byte> frame_bytes(PyObject* object)
{
    return py::handle(object).cast<PyFrame&>().payload();
}

std::optional<std::size_t> plane_argument(const py::object& plane)
{
    if (plane.is_none())
        return std::nullopt;
    return plane.cast<std::size_t>();
}

} // namespace

void bind_frame(py::module_& m)
{
    py::class_<PyFrame, std::shared_ptr<PyFrame>> frame(m, "Frame", py::buffer_protocol(), R"doc(
One frame, read in place in the ring's shared memory (never copied).

The writer does not reuse the frame's memory while the frame is held: until release() (or the end of a
``with frame:`` block), and otherwise for as long as the Frame or anything made from it (arrays, memoryviews,
DLPack tensors) is alive. Views are read-only. Views made before release() stay readable but no longer
protected: the writer may put newer frames there, so drop them with the frame.

memoryview(frame) gives the payload bytes (for any stream, encoded video included).
)doc");
    install_buffer<frame_bytes, /*writable=*/false>(frame);
    frame
        .def(
            "array", [](py::object self) {
                PyFrame& f = self.cast<PyFrame&>();
                return make_views(f.layout(), f.payload(), false, self, false);
            },
            R"doc(Read-only numpy view(s) of the frame, shaped by the stream format.

Packed formats (RGB, BGR, RGBA, GRAY8, YUY2, ...): one (height, width, channels) array. Planar and
semi-planar formats (I420, NV12, ...): a tuple with one array per plane, (h, w) for planes of one sample
per pixel and (h, w, 2) for interleaved chroma, honouring the plane offsets and padded strides of the
stream format. Anything else (encoded video, unknown formats, no format): a 1-D uint8 array of the payload.
Raises CorruptSegment if the frame does not match its stream format, InvalidState once released.)doc")
        .def(
            "planes", [](py::object self) {
                PyFrame& f = self.cast<PyFrame&>();
                return make_views(f.layout(), f.payload(), false, self, true);
            },
            "Like array(), but always a tuple (one entry for packed formats and for bytes).")
        .def("release", &PyFrame::release,
             "Gives the frame's memory back to the writer now. Views made earlier must not be used afterwards.")
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](PyFrame& f, const py::args&) { f.release(); })
        .def(
            "__dlpack__",
            [](py::object self, const py::object& stream) {
                if (!stream.is_none())
                    throw py::buffer_error("frames live in CPU memory: __dlpack__ takes no stream");
                PyFrame& f = self.cast<PyFrame&>();
                return make_dlpack(f.layout(), f.payload(), std::nullopt, self);
            },
            py::arg("stream") = py::none(),
            "A DLPack capsule of the frame (torch.from_dlpack(frame), numpy.from_dlpack(frame)): the array of a\n"
            "packed format, else the payload as 1-D uint8 (use to_dlpack(plane=i) for one plane). The tensor keeps\n"
            "the frame held until it is freed. Do not write to it: it is the ring's memory.")
        .def("__dlpack_device__", [](const PyFrame&) { return py::make_tuple(1, 0); },
             "(kDLCPU, 0): frames are in CPU memory.")
        .def(
            "to_dlpack",
            [](py::object self, const py::object& plane) {
                PyFrame& f = self.cast<PyFrame&>();
                return make_dlpack(f.layout(), f.payload(), plane_argument(plane), self);
            },
            py::arg("plane") = py::none(),
            "A DLPack capsule of plane `plane` (None: as __dlpack__), for torch.utils.dlpack.from_dlpack().")
        .def("__len__", &PyFrame::size)
        .def("__repr__",
             [](const PyFrame& f) {
                 std::string text = "<zerobuffer.Frame sequence=" + std::to_string(f.sequence()) +
                                    " size=" + std::to_string(f.size());
                 if (f.info().pts != zerobuffer::kNoTimestamp)
                     text += " pts=" + std::to_string(f.info().pts);
                 return text + (f.released() ? " released>" : ">");
             })
        .def_property_readonly("size", &PyFrame::size, "Payload bytes.")
        .def_property_readonly("sequence", &PyFrame::sequence, "The frame's sequence number in its ring.")
        .def_property_readonly("pts", [](const PyFrame& f) { return timestamp(f.info().pts); },
                               "Presentation time in ns, or None.")
        .def_property_readonly("dts", [](const PyFrame& f) { return timestamp(f.info().dts); },
                               "Decode time in ns, or None.")
        .def_property_readonly("duration", [](const PyFrame& f) { return timestamp(f.info().duration); },
                               "Duration in ns, or None.")
        .def_property_readonly("flags", [](const PyFrame& f) { return f.info().flags; },
                               "FrameFlags bits (zerobuffer.FrameFlags).")
        .def_property_readonly("keyframe", [](const PyFrame& f) { return (f.info().flags & zerobuffer::kFrameKeyframe) != 0; },
                               "True on keyframes (FrameFlags.KEYFRAME).")
        .def_property_readonly("end_of_stream",
                               [](const PyFrame& f) { return (f.info().flags & zerobuffer::kFrameEndOfStream) != 0; },
                               "True on the end-of-stream marker (it has no payload).")
        .def_property_readonly("metadata",
                               [](const PyFrame& f) {
                                   if (f.released())
                                       raise_error(zerobuffer::Errc::InvalidState, "the frame was released");
                                   const auto bytes = f.frame().metadata();
                                   return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
                               },
                               "The per-frame metadata blob (a copy, as bytes; b'' when there is none).")
        .def_property_readonly("frames_skipped", [](const PyFrame& f) { return f.frame().frames_skipped(); },
                               "Frames missing between the previous frame this reader got and this one.")
        .def_property_readonly("commit_time_ns", [](const PyFrame& f) { return f.frame().commit_time_ns(); },
                               "CLOCK_MONOTONIC (time.monotonic_ns()) at which the writer committed the frame.")
        .def_property_readonly("format_changed", [](const PyFrame& f) { return f.frame().format_changed(); },
                               "True on the first frame of a new stream format.")
        .def_property_readonly("format_generation", [](const PyFrame& f) { return f.layout().generation; },
                               "Generation of the stream format this frame uses.")
        .def_property_readonly("format",
                               [](const PyFrame& f) -> py::object {
                                   if (f.layout().json.empty())
                                       return py::dict();
                                   return py::module_::import("json").attr("loads")(f.layout().json);
                               },
                               "The stream format of this frame, as a dict (docs/stream-format.md); {} if none.")
        .def_property_readonly("request_sequence",
                               [](const PyFrame& f) -> py::object {
                                   if (!f.request_sequence())
                                       return py::none();
                                   return py::int_(*f.request_sequence());
                               },
                               "Duplex channels: the sequence of the request this frame is or answers; else None.")
        .def_property_readonly("released", &PyFrame::released, "True once released (its memory is the writer's again).");
}

} // namespace zbpy
