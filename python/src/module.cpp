// SPDX-License-Identifier: MIT
// zerobuffer._zerobuffer: the extension module behind the `zerobuffer` package (python/zerobuffer/__init__.py).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <zerobuffer/inspect.h>
#include <zerobuffer/version.h>

#include "arrays.h"
#include "bindings.h"
#include "errors.h"
#include "frame.h"
#include "reservation.h"

namespace zbpy {

py::dict writer_counters(const zerobuffer::WriterCounters& c)
{
    py::dict d;
    d["frames_written"] = c.frames_written;
    d["bytes_written"] = c.bytes_written;
    d["frames_in_place"] = c.frames_in_place;
    d["frames_copied"] = c.frames_copied;
    d["frames_aborted"] = c.frames_aborted;
    d["waits"] = c.waits;
    d["timeouts"] = c.timeouts;
    d["wraps"] = c.wraps;
    d["readers_reclaimed"] = c.readers_reclaimed;
    d["format_changes"] = c.format_changes;
    d["frames_retained"] = c.frames_retained;
    d["reclaim_scans"] = c.reclaim_scans;
    d["frames_passed"] = c.frames_passed;
    d["rewinds"] = c.rewinds;
    d["keyframe_requests_seen"] = c.keyframe_requests_seen;
    d["wait_ns"] = c.wait_ns;
    return d;
}

py::dict reader_counters(const zerobuffer::ReaderCounters& c)
{
    py::dict d;
    d["frames_read"] = c.frames_read;
    d["bytes_read"] = c.bytes_read;
    d["frames_skipped"] = c.frames_skipped;
    d["sequence_gaps"] = c.sequence_gaps;
    d["waits"] = c.waits;
    d["timeouts"] = c.timeouts;
    d["checksum_failures"] = c.checksum_failures;
    d["overruns"] = c.overruns;
    d["wait_ns"] = c.wait_ns;
    d["spin_ns"] = c.spin_ns;
    d["cadence_hits"] = c.cadence_hits;
    d["cadence_misses"] = c.cadence_misses;
    return d;
}

namespace {

py::dict ring_snapshot(const zerobuffer::RingSnapshot& ring)
{
    py::dict d;
    d["name"] = ring.name;
    d["shm_path"] = ring.shm_path;
    d["protocol_version"] = ring.protocol_version;
    d["segment_size"] = ring.segment_size;
    d["payload_offset"] = ring.payload_offset;
    d["payload_capacity"] = ring.payload_capacity;
    d["max_readers"] = ring.max_readers;
    d["writer_pid"] = ring.writer_pid;
    d["writer_alive"] = ring.writer_alive;
    d["writer_closed"] = ring.writer_closed;
    d["next_sequence"] = ring.next_sequence;
    d["bytes_in_use"] = ring.bytes_in_use;
    d["frames_in_use"] = ring.frames_in_use;
    d["writer_waiting"] = ring.writer_waiting;
    d["format_generation"] = ring.format_generation;
    d["stream_metadata"] = ring.stream_metadata;
    d["writer"] = writer_counters(ring.writer);
    py::list readers;
    for (const zerobuffer::ReaderSnapshot& reader : ring.readers) {
        py::dict r;
        r["slot"] = reader.slot;
        r["pid"] = reader.pid;
        r["alive"] = reader.alive;
        r["policy"] = reader.policy == zerobuffer::ReaderPolicy::Latest ? "latest" : "lossless";
        r["cursor"] = reader.cursor;
        r["held_frames"] = reader.held_frames;
        r["held_bytes"] = reader.held_bytes;
        r["counters"] = reader_counters(reader.counters);
        readers.append(r);
    }
    d["readers"] = readers;
    return d;
}

} // namespace
} // namespace zbpy

PYBIND11_MODULE(_zerobuffer, m)
{
    using namespace zbpy;
    m.doc() = "ZeroBuffer's extension module; use the `zerobuffer` package, which re-exports everything.";
    register_errors(m);
    bind_frame(m);
    bind_reservation(m);
    bind_reader(m);
    bind_writer(m);
    bind_duplex(m);
    bind_layout_helpers(m);

    m.attr("PROTOCOL_VERSION") = zerobuffer::kProtocolVersion;
    m.attr("LIBRARY_VERSION") = zerobuffer::kLibraryVersion;
    m.attr("NO_TIMESTAMP") = zerobuffer::kNoTimestamp;

    m.def(
        "inspect_ring",
        [](const std::string& name) {
            auto snapshot = [&] {
                py::gil_scoped_release unlocked;
                return zerobuffer::inspect_ring(name);
            }();
            return ring_snapshot(unwrap(std::move(snapshot)));
        },
        py::arg("name"),
        "A snapshot of ring NAME as zbctl inspect shows it (read-only): writer, counters, and per reader its\n"
        "cursor and the frames and bytes it holds.");
    m.def(
        "list_rings", [] { return unwrap(zerobuffer::list_rings()); },
        "Names of the rings in /dev/shm (live or stale).");
    m.def(
        "remove_stale_ring",
        [](const std::string& name) {
            auto removed = [&] {
                py::gil_scoped_release unlocked;
                return zerobuffer::remove_stale_ring(name);
            }();
            unwrap(std::move(removed));
        },
        py::arg("name"),
        "Removes ring NAME if no live process holds it (the ring of a killed writer). NotFound if absent, Busy\n"
        "if a process still holds it.");
}
