// SPDX-License-Identifier: MIT
// zerobuffer.Writer: creates a ring and publishes frames, reserved and filled in place or copied in.
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include <zerobuffer/writer.h>

#include "bindings.h"
#include "errors.h"
#include "frame.h"
#include "reservation.h"
#include "wait.h"

namespace zbpy {
namespace {

/// The core writer, shared by the Python Writer and its open reservations (which must not outlive it).
class WriterState final : public ReservationOwner {
public:
    explicit WriterState(zerobuffer::Writer w) : writer(std::move(w)) {}
    zerobuffer::Writer writer;
    std::shared_ptr<const Layout> layout = std::make_shared<const Layout>(); ///< Of the current stream format.

    py::object commit(zerobuffer::FrameReservation& reservation, const zerobuffer::FrameInfo& info,
                      std::size_t payload_size, std::size_t metadata_size, std::optional<std::uint64_t>) override
    {
        unwrap(writer.commit(reservation, info, payload_size, metadata_size));
        return py::none();
    }
};

zerobuffer::Integrity integrity_from(const std::string& name)
{
    if (name == "none")
        return zerobuffer::Integrity::None;
    if (name == "checksum")
        return zerobuffer::Integrity::Checksum;
    if (name == "mac")
        return zerobuffer::Integrity::Mac;
    raise_error(zerobuffer::Errc::InvalidArgument, "integrity must be 'none', 'checksum' or 'mac', not '" + name + "'");
}

std::chrono::nanoseconds seconds_option(double seconds, const char* name)
{
    if (!(seconds >= 0) || seconds > 1e9)
        raise_error(zerobuffer::Errc::InvalidArgument, std::string(name) + " must be a number of seconds >= 0");
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
}

class PyWriter {
public:
    PyWriter(const std::string& name, std::size_t ring_size, std::uint32_t max_readers, std::size_t metadata_capacity,
             std::uint32_t permissions, const std::string& integrity, const std::string& secret, double reader_timeout,
             std::uint32_t max_outstanding, std::uint32_t max_frames, std::uint32_t max_holds_per_reader, double spin)
        : name_(name)
    {
        zerobuffer::WriterOptions options;
        options.ring_size = ring_size;
        options.max_readers = max_readers;
        options.metadata_capacity = metadata_capacity;
        options.permissions = permissions;
        options.integrity = integrity_from(integrity);
        options.secret = secret;
        options.reader_timeout = seconds_option(reader_timeout, "reader_timeout");
        options.max_outstanding = max_outstanding;
        options.max_frames = max_frames;
        options.max_holds_per_reader = max_holds_per_reader;
        options.spin = seconds_option(spin, "spin");
        reader_timeout_ = reader_timeout;
        auto created = [&] {
            py::gil_scoped_release unlocked;
            return zerobuffer::Writer::create(name, options);
        }();
        state_ = std::make_shared<WriterState>(unwrap(std::move(created)));
    }

    std::uint32_t set_format_json(const std::string& json)
    {
        WriterState& s = state();
        std::string canonical;
        Layout layout = checked_writer_layout(json, canonical);
        const std::lock_guard lock(s.mutex);
        layout.generation = unwrap(s.writer.set_stream_metadata(canonical));
        s.layout = std::make_shared<const Layout>(std::move(layout));
        return s.layout->generation;
    }

    std::string format_json() { return state().layout->json; }

    py::object reserve(std::optional<std::size_t> size, std::size_t metadata_capacity, std::optional<double> timeout)
    {
        std::shared_ptr<WriterState> s = shared_state();
        const std::size_t payload_size = size ? *size : default_size(*s);
        const Deadline deadline(timeout ? timeout : std::optional<double>(reader_timeout_));
        auto reserved = wait_in_slices(deadline, [&](std::chrono::nanoseconds slice) {
            const std::lock_guard lock(s->mutex);
            return s->writer.reserve(payload_size, metadata_capacity, slice);
        });
        std::shared_ptr<const Layout> layout = s->layout;
        return wrap_reservation(s, unwrap(std::move(reserved)), std::move(layout));
    }

    void write_bytes(const py::object& data, const zerobuffer::FrameInfo& info, const py::object& metadata)
    {
        std::shared_ptr<WriterState> s = shared_state();
        const ContiguousBytes payload(data);
        const ContiguousBytes meta(metadata);
        const Deadline deadline(reader_timeout_);
        auto reserved = wait_in_slices(deadline, [&](std::chrono::nanoseconds slice) {
            const std::lock_guard lock(s->mutex);
            return s->writer.reserve(payload.bytes().size(), meta.bytes().size(), slice);
        });
        zerobuffer::FrameReservation reservation = unwrap(std::move(reserved));
        auto committed = [&] {
            py::gil_scoped_release unlocked; // The buffers stay exported (and so alive) while we copy.
            const std::lock_guard lock(s->mutex);
            if (!payload.bytes().empty())
                std::memcpy(reservation.payload().data(), payload.bytes().data(), payload.bytes().size());
            if (!meta.bytes().empty())
                std::memcpy(reservation.metadata().data(), meta.bytes().data(), meta.bytes().size());
            reservation.mark_copied();
            auto result = s->writer.commit(reservation, info);
            reservation.abort(); // Under the lock: nothing is left to abort later, whatever commit said.
            return result;
        }();
        unwrap(std::move(committed));
    }

    void end_of_stream(const py::object& pts)
    {
        zerobuffer::FrameInfo info;
        info.pts = timestamp_from(pts);
        info.flags = zerobuffer::kFrameEndOfStream;
        write_bytes(py::bytes(), info, py::bytes());
    }

    void close(bool end_of_stream_marker)
    {
        if (!state_)
            return;
        if (end_of_stream_marker)
            end_of_stream(py::none());
        // Open reservations keep the ring until they are gone (their views point into it).
        state_.reset();
    }

    void wait_for_readers(std::uint32_t count, std::optional<double> timeout)
    {
        std::shared_ptr<WriterState> s = shared_state();
        auto joined = wait_in_slices(Deadline(timeout), [&](std::chrono::nanoseconds slice) {
            const std::lock_guard lock(s->mutex);
            return s->writer.wait_for_readers(count, slice);
        });
        unwrap(std::move(joined));
    }

    std::uint32_t reader_count()
    {
        WriterState& s = state();
        py::gil_scoped_release unlocked;
        const std::lock_guard lock(s.mutex);
        return s.writer.reader_count();
    }

    bool keyframe_requested()
    {
        WriterState& s = state();
        const std::lock_guard lock(s.mutex);
        return s.writer.keyframe_requested();
    }

    std::size_t max_payload_size(std::size_t metadata_capacity) { return state().writer.max_payload_size(metadata_capacity); }
    std::size_t ring_size() { return state().writer.ring_size(); }
    py::dict counters() { return writer_counters(state().writer.counters()); }
    const std::string& name() const noexcept { return name_; }
    bool closed() const noexcept { return !state_; }

private:
    WriterState& state() { return *shared_state(); }
    const std::shared_ptr<WriterState>& shared_state()
    {
        if (!state_)
            raise_error(zerobuffer::Errc::InvalidState, "the writer of ring '" + name_ + "' is closed");
        return state_;
    }
    std::size_t default_size(const WriterState& s) const
    {
        if (s.layout->frame_size == 0)
            raise_error(zerobuffer::Errc::InvalidArgument,
                        "reserve() needs a size: the stream format of ring '" + name_ + "' gives no frame_size");
        return s.layout->frame_size;
    }

    std::string name_;
    double reader_timeout_ = 5.0;
    std::shared_ptr<WriterState> state_;
};

} // namespace

void bind_writer(py::module_& m)
{
    py::class_<PyWriter>(m, "Writer", R"doc(
The single writer of a ring: creates /dev/shm/zb-NAME and publishes frames into it.

Fill frames in place with reserve() (no copy) or copy them in with write(). set_format() publishes the stream
format (the schema of docs/stream-format.md, shared with zerobuffersrc, zb-record and the other tools, so they
negotiate caps from it by themselves). One thread at a time uses a Writer. close() (or the end of a ``with``
block) writes an end-of-stream marker, then removes the ring once no reservation of it is left.
Raises Busy when the ring has a live writer.
)doc")
        .def(py::init<const std::string&, std::size_t, std::uint32_t, std::size_t, std::uint32_t, const std::string&,
                      const std::string&, double, std::uint32_t, std::uint32_t, std::uint32_t, double>(),
             py::arg("name"), py::kw_only(), py::arg("ring_size") = std::size_t{64} << 20, py::arg("max_readers") = 8,
             py::arg("metadata_capacity") = std::size_t{16} << 10, py::arg("permissions") = 0600,
             py::arg("integrity") = "none", py::arg("secret") = "", py::arg("reader_timeout") = 5.0,
             py::arg("max_outstanding") = 16, py::arg("max_frames") = 0, py::arg("max_holds_per_reader") = 64,
             py::arg("spin") = 0.0,
             "Creates ring NAME. ring_size: bytes of frame memory; reader_timeout: seconds reserve() waits for\n"
             "lossless readers to make room; integrity: 'none', 'checksum' or 'mac' (with secret=).")
        .def("_set_format_json", &PyWriter::set_format_json, py::arg("json"))
        .def("_format_json", &PyWriter::format_json)
        .def("reserve", &PyWriter::reserve, py::arg("size") = py::none(), py::kw_only(),
             py::arg("metadata_capacity") = 0, py::arg("timeout") = py::none(),
             "Reserves a frame of `size` bytes (default: the stream format's frame_size) with metadata_capacity\n"
             "bytes of per-frame metadata. Waits up to `timeout` seconds (default: reader_timeout) while lossless\n"
             "readers leave no room, then raises Timeout. Returns a Reservation to fill and commit().")
        .def(
            "_write_bytes",
            [](PyWriter& w, const py::object& data, const py::object& pts, const py::object& dts,
               const py::object& duration, std::uint32_t flags, const py::object& metadata) {
                w.write_bytes(data, frame_info(pts, dts, duration, flags), metadata);
            },
            py::arg("data"), py::kw_only(), py::arg("pts") = py::none(), py::arg("dts") = py::none(),
            py::arg("duration") = py::none(), py::arg("flags") = 0, py::arg("metadata") = py::bytes())
        .def("end_of_stream", &PyWriter::end_of_stream, py::kw_only(), py::arg("pts") = py::none(),
             "Writes the end-of-stream marker (an empty frame with FrameFlags.END_OF_STREAM).")
        .def("close", &PyWriter::close, py::kw_only(), py::arg("end_of_stream") = true,
             "Writes an end-of-stream marker (unless end_of_stream=False) and closes the ring: readers get\n"
             "WriterGone once they have read everything. Idempotent.")
        .def("wait_for_readers", &PyWriter::wait_for_readers, py::arg("count") = 1, py::kw_only(),
             py::arg("timeout") = py::none(), "Waits until at least `count` readers are attached (Timeout after timeout s).")
        .def_property_readonly("reader_count", &PyWriter::reader_count, "Readers attached now.")
        .def("keyframe_requested", &PyWriter::keyframe_requested,
             "True once for every batch of Reader.request_keyframe() calls since the last True.")
        .def("max_payload_size", &PyWriter::max_payload_size, py::arg("metadata_capacity") = 0,
             "The largest payload one frame can have in this ring.")
        .def_property_readonly("ring_size", &PyWriter::ring_size, "Bytes of frame memory.")
        .def_property_readonly("counters", &PyWriter::counters, "The writer's counters, as a dict.")
        .def_property_readonly("name", &PyWriter::name, "The ring's name.")
        .def_property_readonly("closed", &PyWriter::closed, "True after close().");
}

} // namespace zbpy
