# SPDX-License-Identifier: MIT
"""The module against other processes: zero copy, holds that keep the writer off a frame's memory, Ctrl-C during
waits, a dying writer, and a Python writer read by the C++ reader (zb-py-peer)."""
import hashlib
import os
import signal
import time

import numpy as np
import pytest

import zerobuffer as zb
from conftest import bound, program


def ring_mapping(name: str) -> list:
    """(start, end) of every mapping of ring NAME in this process, found by inode (a writer maps the segment under
    the temporary name it created it with)."""
    inode = os.stat(f"/dev/shm/zb-{name}").st_ino
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and int(fields[4]) == inode and fields[5].startswith("/dev/shm/"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                ranges.append((start, end))
    return ranges


def test_arrays_point_into_the_ring_mapping(ring, spawn):
    name = ring()
    writer = spawn("video-writer", name, "I420", "1917", "1079")
    writer.expect("ready")
    with zb.Reader(name) as reader:
        written = writer.line().split()[1]
        frame = reader.acquire(timeout=bound(10))
        mapped = ring_mapping(name)
        assert len(mapped) == 1, "only the reader maps the ring in this process"
        start, end = mapped[0]
        for plane in frame.array():
            first = plane.ctypes.data
            last = first + (plane.shape[0] - 1) * plane.strides[0] + plane.shape[1] * plane.strides[1]
            assert start <= first and last <= end, "the array is a view of the ring, not a copy"
            assert not plane.flags.owndata and not plane.flags.writeable
        assert hashlib.blake2b(memoryview(frame), digest_size=32).hexdigest() == written
    writer.finish()


def test_a_held_array_keeps_the_writer_off_its_memory_and_releasing_frees_it(ring, spawn):
    name = ring()
    size = 64 * 1024
    # A ring of about 8 frames; the writer writes 200 while we hold one of the first.
    writer = spawn("pattern-writer", name, "200", str(size), str(8 * size + 4096), "0.002")
    writer.expect("ready")
    reader = zb.Reader(name, policy="latest")
    frame = reader.acquire(timeout=bound(10))
    held = frame.array()
    index = frame.pts
    slot = reader.slot
    del frame  # Only the array holds it now.
    assert np.all(held == index % 251)
    writer.expect("done", timeout=60)
    snapshot = zb.inspect_ring(name)
    assert snapshot["next_sequence"] == 200
    ours = next(r for r in snapshot["readers"] if r["slot"] == slot)
    assert ours["held_frames"] == 1 and ours["held_bytes"] >= size
    assert snapshot["writer"]["frames_passed"] > 0, "the writer went around the held frame"
    assert np.all(held == index % 251), "the held frame's memory was not reused"
    del held
    snapshot = zb.inspect_ring(name)
    ours = next(r for r in snapshot["readers"] if r["slot"] == slot)
    assert ours["held_frames"] == 0 and ours["held_bytes"] == 0
    assert reader.held == 0
    reader.close()
    writer.finish()


@pytest.mark.parametrize("how", ["acquire", "iterate", "frames"])
def test_ctrl_c_during_a_wait_raises_keyboard_interrupt_within_100_ms(ring, spawn, how):
    name = ring()
    with zb.Writer(name) as writer:  # Alive, but never writes.
        child = spawn("sigint-reader", name, how)
        child.expect("waiting")
        writer.wait_for_readers(1, timeout=bound(10))
        time.sleep(0.3)  # Well inside the wait.
        sent = time.monotonic_ns()
        child.process.send_signal(signal.SIGINT)
        words = child.line().split()
        assert words[0] == "interrupted", words
        delay = (int(words[1]) - sent) / 1e9
        assert delay < bound(0.1), f"KeyboardInterrupt came {delay * 1000:.1f} ms after SIGINT"
        assert child.wait() == 0


def test_a_killed_writer_is_reported_as_writer_gone(ring, spawn):
    name = ring()
    writer = spawn("pattern-writer", name, "1000000", "64", "65536", "0.001")
    writer.expect("ready")
    with zb.Reader(name, liveness_interval=0.05) as reader:
        reader.acquire(timeout=bound(10))
        writer.kill()
        killed = time.monotonic()
        with pytest.raises(zb.WriterGone, match="died"):
            while True:
                reader.acquire(timeout=bound(5))
        assert time.monotonic() - killed < bound(1.0)
        assert not reader.writer_alive
    # The reader, the last process of the dead writer's ring, removed it as it closed.
    assert not os.path.exists("/dev/shm/zb-" + name)


def test_python_writer_to_cpp_reader_is_byte_identical(ring, spawn):
    name = ring()
    with zb.Writer(name) as writer:
        writer.set_format(zb.video_format("I420", 1917, 1079, framerate=(25, 1)))
        peer = spawn.program([program("ZB_PY_PEER"), "read", name, "6"])
        peer.expect("attached")
        writer.wait_for_readers(1, timeout=bound(10))
        expected = []
        rng = np.random.default_rng(11)
        for index in range(3):  # In place, plane by plane.
            with writer.reserve(metadata_capacity=8) as reservation:
                for plane in reservation.planes():
                    plane[:] = rng.integers(0, 256, plane.shape, dtype=np.uint8)
                payload = bytes(reservation.payload)
                reservation.commit(pts=index * 40_000_000, flags=zb.FrameFlags.KEYFRAME, metadata=b"m%d" % index)
            expected.append((index * 40_000_000, 1, (b"m%d" % index).hex(), payload))
        for index in range(3, 6):  # Copied in.
            payload = rng.integers(0, 256, writer.format["frame_size"], dtype=np.uint8).tobytes()
            writer.write(payload, pts=index * 40_000_000)
            expected.append((index * 40_000_000, 0, "-", payload))
        lines = peer.finish().splitlines()
    assert lines[0].startswith("format ")
    frames = [line.split() for line in lines if line.startswith("frame ")]
    assert len(frames) == 6 and lines[-1] == "end 6"
    for (_, sequence, size, pts, flags, meta, digest), (want_pts, want_flags, want_meta, payload) in zip(frames, expected):
        assert int(size) == len(payload) == 3110400
        assert (int(pts), int(flags), meta) == (want_pts, want_flags, want_meta)
        assert digest == hashlib.blake2b(payload, digest_size=32).hexdigest()
