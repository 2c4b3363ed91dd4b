# SPDX-License-Identifier: MIT
"""The module's API within one process: arrays and their shapes, read-only views and holds, reservations,
DLPack, errors, threads, asyncio, stubs and docstrings. Cross-process cases are in the other test files."""
import ast
import asyncio
import gc
import hashlib
import inspect
import os
import pathlib
import threading
import time

import numpy as np
import pytest

import zerobuffer as zb
from conftest import bound


def random_bytes(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)


# --- Errors ----------------------------------------------------------------------------------------------------

ERROR_NAMES = ["InvalidArgument", "NotFound", "Busy", "Timeout", "WriterGone", "CorruptSegment", "VersionMismatch",
               "FrameTooLarge", "ChecksumMismatch", "AuthenticationFailed", "InvalidState", "SystemError"]


def test_one_exception_class_per_core_error_under_one_base():
    classes = [getattr(zb, name) for name in ERROR_NAMES]
    assert len(set(classes)) == len(ERROR_NAMES)
    for cls in classes:
        assert issubclass(cls, zb.Error) and cls is not zb.Error
        assert cls.__doc__
    assert issubclass(zb.Timeout, TimeoutError)
    assert issubclass(zb.NotFound, FileNotFoundError)
    assert issubclass(zb.InvalidArgument, ValueError)
    assert issubclass(zb.SystemError, OSError)


def test_not_found_carries_the_core_message(ring):
    name = ring()
    with pytest.raises(zb.NotFound) as caught:
        zb.Reader(name)
    error = caught.value
    assert error.code == "NotFound"
    assert name in str(error) and "start its writer" in str(error)
    assert error.message == str(error)
    with pytest.raises(zb.NotFound, match="waited"):
        zb.Reader(name, wait=0.05)


def test_busy_for_a_second_writer_and_for_too_many_readers(ring):
    name = ring()
    with zb.Writer(name, max_readers=1) as writer:
        with pytest.raises(zb.Busy, match="already has a live writer"):
            zb.Writer(name)
        with zb.Reader(name):
            with pytest.raises(zb.Busy):
                zb.Reader(name)
        assert writer.reader_count == 0


def test_timeout_and_try_acquire(ring):
    name = ring()
    with zb.Writer(name), zb.Reader(name) as reader:
        start = time.monotonic()
        with pytest.raises(zb.Timeout, match="no frame"):
            reader.acquire(timeout=0.1)
        assert time.monotonic() - start >= 0.09
        assert reader.try_acquire() is None
        with pytest.raises(zb.InvalidArgument):
            reader.acquire(timeout=-1)


def test_timeouts_hold_on_a_slow_periodic_stream(ring):
    # A camera at 2.5 fps: the core's cadence wait would learn the rate and sleep until the next frame is due, past
    # the timeout (and past a Ctrl-C, which is only seen between the module's short wait slices).
    interval = 0.4
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.set_format(zb.video_format("GRAY8", 8, 8, framerate=(5, 2)))
        stop = threading.Event()

        def produce():
            while not stop.wait(interval):
                writer.write(bytes(64))

        producer = threading.Thread(target=produce)
        producer.start()
        try:
            for _ in range(8):
                reader.acquire(timeout=bound(5)).release()
            for _ in range(3):
                start = time.monotonic()
                with pytest.raises(zb.Timeout):
                    reader.acquire(timeout=0.02)
                assert time.monotonic() - start < min(bound(0.1), interval / 2), "the wait overran its timeout"
                reader.acquire(timeout=bound(5)).release()
        finally:
            stop.set()
            producer.join()
        assert reader.counters["cadence_hits"] == reader.counters["spin_ns"] == 0


def test_writer_gone_after_the_last_frame_and_iteration_ends(ring):
    name = ring()
    writer = zb.Writer(name)
    reader = zb.Reader(name)
    for i in range(3):
        writer.write(b"frame %d" % i, pts=i)
    writer.close()  # Writes the end-of-stream marker.
    assert [bytes(f) for f in reader] == [b"frame 0", b"frame 1", b"frame 2"]
    with pytest.raises(zb.WriterGone, match="closed"):
        reader.acquire(timeout=1)
    reader.close()
    with pytest.raises(zb.InvalidState, match="closed"):
        reader.acquire()


# --- Arrays, shapes and strides --------------------------------------------------------------------------------

def test_i420_odd_size_planes_have_the_format_shapes_and_padded_strides(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.set_format(zb.video_format("I420", 1917, 1079, framerate=(30, 1)))
        planes = writer.format["planes"]
        assert [p["stride"] for p in planes] == [1920, 960, 960]  # GStreamer's default layout
        y = random_bytes(1079 * 1917, 1).reshape(1079, 1917)
        u = random_bytes(540 * 959, 2).reshape(540, 959)
        v = random_bytes(540 * 959, 3).reshape(540, 959)
        writer.write((y, u, v), pts=123)
        frame = reader.acquire(timeout=bound(5))
        got = frame.array()
        assert isinstance(got, tuple) and len(got) == 3
        assert [a.shape for a in got] == [(1079, 1917), (540, 959), (540, 959)]
        assert [a.strides for a in got] == [(1920, 1), (960, 1), (960, 1)]
        assert all(a.dtype == np.uint8 for a in got)
        base = np.frombuffer(memoryview(frame), np.uint8).ctypes.data
        assert [a.ctypes.data - base for a in got] == [p["offset"] for p in planes]
        for mine, theirs in zip(got, (y, u, v)):
            np.testing.assert_array_equal(mine, theirs)
        assert frame.pts == 123 and reader.format["pixel_format"] == "I420"
        assert frame.format == reader.format and reader.format["width"] == 1917


def test_rgb_odd_width_is_hwc_with_a_padded_row_stride(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.set_format(zb.video_format("RGB", 641, 479))
        image = random_bytes(479 * 641 * 3, 4).reshape(479, 641, 3)
        writer.write(image)
        frame = reader.acquire(timeout=bound(5))
        array = frame.array()
        assert array.shape == (479, 641, 3)
        assert array.strides == (1924, 3, 1)  # 641 * 3 = 1923 bytes, padded to 1924
        assert len(frame) == 1924 * 479
        np.testing.assert_array_equal(array, image)


def test_nv12_and_gray_and_uint16_layouts(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.set_format(zb.video_format("NV12", 7, 5))
        writer.write(bytes(writer.format["frame_size"]))
        y, uv = reader.acquire(timeout=bound(5)).array()
        assert y.shape == (5, 7) and uv.shape == (3, 4, 2) and uv.strides == (8, 2, 1)
        writer.set_format(zb.video_format("GRAY16_LE", 5, 3))
        writer.write(np.arange(15, dtype="<u2").reshape(3, 5, 1))
        gray = reader.acquire(timeout=bound(5)).array()
        assert gray.shape == (3, 5, 1) and gray.dtype == np.dtype("<u2") and gray.strides == (12, 2, 2)
        assert gray[:, :, 0].tolist() == np.arange(15).reshape(3, 5).tolist()


def test_encoded_and_unformatted_frames_are_bytes(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.write(b"no format")
        frame = reader.acquire(timeout=bound(5))
        assert frame.format == {} and bytes(frame.array()) == b"no format" and frame.array().ndim == 1
        writer.set_format(media_type="video/x-h264", codec="h264", width=64, height=48,
                          stream_format="byte-stream", codec_extradata=b"\x01\x02")
        writer.write(b"\x00\x00\x00\x01\x65", flags=zb.FrameFlags.KEYFRAME)
        frame = reader.acquire(timeout=bound(5))
        assert bytes(memoryview(frame)) == b"\x00\x00\x00\x01\x65" and frame.keyframe
        assert frame.format["codec"] == "h264" and frame.format["stream_format"] == "byte-stream"


def test_planes_running_past_the_frame_are_refused(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        with pytest.raises(zb.InvalidArgument, match="runs past"):
            writer.set_format(zb.video_format("RGB", 16, 16, frame_size=100))
        writer.set_format(zb.video_format("RGB", 16, 16))
        writer.write(bytes(100))  # Shorter than the format says.
        frame = reader.acquire(timeout=bound(5))
        with pytest.raises(zb.CorruptSegment, match="runs past the 100-byte frame"):
            frame.array()
        assert len(memoryview(frame)) == 100  # The bytes are still there.


# --- Read-only views, holds and release ------------------------------------------------------------------------

def test_views_are_read_only_and_keep_the_frame_held(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.set_format(zb.video_format("RGBA", 4, 2))
        writer.write(bytes(range(32)))
        frame = reader.acquire(timeout=bound(5))
        array = frame.array()
        view = memoryview(frame)
        with pytest.raises(ValueError, match="read-only"):
            array[0, 0, 0] = 1
        assert view.readonly
        with pytest.raises(TypeError):
            view[0] = 1
        del frame
        gc.collect()
        assert reader.held == 1  # The array and the memoryview keep it.
        del array
        assert reader.held == 1
        view.release()
        del view
        assert reader.held == 0


def test_release_and_with_give_the_frame_back_at_once(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.write(b"a")
        writer.write(b"b")
        frame = reader.acquire(timeout=bound(5))
        kept = frame.array()
        frame.release()
        assert frame.released and reader.held == 0
        with pytest.raises(zb.InvalidState, match="released"):
            frame.array()
        with pytest.raises(zb.InvalidState):
            memoryview(frame)
        assert frame.sequence == 0 and frame.size == 1  # Fields stay readable.
        del kept
        with reader.acquire(timeout=bound(5)) as second:
            assert bytes(second) == b"b" and reader.held == 1
        assert second.released and reader.held == 0


def test_release_from_another_thread(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        for i in range(20):
            writer.write(b"x" * i)
        frames = [reader.acquire(timeout=bound(5)) for _ in range(20)]
        assert reader.held == 20
        threads = [threading.Thread(target=f.release) for f in frames]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert reader.held == 0


def test_frames_outlive_a_closed_reader_safely(ring):
    name = ring()
    with zb.Writer(name) as writer:
        reader = zb.Reader(name)
        writer.write(b"still here")
        array = reader.acquire(timeout=bound(5)).array()
        reader.close()
        del reader
        gc.collect()
        assert bytes(array) == b"still here"  # The slot (and mapping) stays until the last view goes.
        assert len(zb.inspect_ring(name)["readers"]) == 1
        del array
        assert zb.inspect_ring(name)["readers"] == []


# --- DLPack ----------------------------------------------------------------------------------------------------

def test_dlpack_tensors_share_the_memory_and_hold_the_frame(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.set_format(zb.video_format("RGB", 641, 479))
        image = random_bytes(479 * 641 * 3, 5).reshape(479, 641, 3)
        writer.write(image)
        frame = reader.acquire(timeout=bound(5))
        assert frame.__dlpack_device__() == (1, 0)
        tensor = np.from_dlpack(frame)
        assert tensor.shape == (479, 641, 3) and tensor.strides == (1924, 3, 1)
        assert tensor.ctypes.data == frame.array().ctypes.data
        np.testing.assert_array_equal(tensor, image)
        del frame
        gc.collect()
        assert reader.held == 1
        del tensor
        gc.collect()
        assert reader.held == 0

        writer.set_format(zb.video_format("I420", 1917, 1079))
        writer.write(bytes(writer.format["frame_size"]))
        frame = reader.acquire(timeout=bound(5))

        class Plane:  # numpy.from_dlpack wants an object; torch takes the capsule itself.
            def __init__(self, capsule):
                self.capsule = capsule

            def __dlpack__(self, stream=None):
                return self.capsule

            def __dlpack_device__(self):
                return (1, 0)

        u = np.from_dlpack(Plane(frame.to_dlpack(plane=1)))
        assert u.shape == (540, 959) and u.strides == (960, 1)
        assert u.ctypes.data == frame.array()[1].ctypes.data
        whole = np.from_dlpack(frame)  # Planar: the payload as bytes.
        assert whole.shape == (len(frame),)
        with pytest.raises(zb.InvalidArgument, match="plane 3 does not exist"):
            frame.to_dlpack(plane=3)
        unused = frame.to_dlpack()  # Never consumed: freeing the capsule gives the frame back.
        del unused, u, whole, frame
        gc.collect()
        assert reader.held == 0


# --- Writing in place ------------------------------------------------------------------------------------------

def test_reservation_is_filled_in_place_and_committed(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.set_format(zb.video_format("BGR", 8, 4))
        with writer.reserve(metadata_capacity=16) as reservation:
            image = reservation.array()
            assert image.shape == (4, 8, 3) and image.flags.writeable
            image[:] = 7
            image[0, 0] = (1, 2, 3)
            assert reservation.commit(pts=5, flags=zb.FrameFlags.KEYFRAME, metadata=b"boxes") is None
        assert not reservation.open
        with pytest.raises(zb.InvalidState):
            reservation.array()
        frame = reader.acquire(timeout=bound(5))
        assert frame.array()[0, 0].tolist() == [1, 2, 3] and frame.array()[3, 7].tolist() == [7, 7, 7]
        assert frame.pts == 5 and frame.flags == zb.FrameFlags.KEYFRAME and frame.metadata == b"boxes"
        counters = writer.counters
        assert counters["frames_in_place"] == 1 and counters["frames_copied"] == 0

        with writer.reserve():
            pass  # Not committed: aborted.
        assert writer.counters["frames_aborted"] == 1
        assert reader.try_acquire(0.05) is None
        with pytest.raises(zb.InvalidArgument, match="do not fit"):
            with writer.reserve(metadata_capacity=2) as reservation:
                reservation.commit(metadata=b"too long")


def test_write_copies_shaped_images_into_the_padded_layout(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.set_format(zb.video_format("GRAY8", 5, 3))
        with pytest.raises(zb.InvalidArgument, match="shape"):
            writer.write(np.zeros((3, 6, 1), np.uint8))
        writer.write(np.arange(15, dtype=np.uint8).reshape(3, 5, 1))
        frame = reader.acquire(timeout=bound(5))
        assert len(frame) == 24  # Rows of 5 padded to 8.
        assert frame.array()[:, :, 0].tolist() == np.arange(15).reshape(3, 5).tolist()


# --- Threads, asyncio, leaks -----------------------------------------------------------------------------------

def test_waits_release_the_gil(ring):
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        ticks = []
        stop = threading.Event()

        def tick():
            while not stop.is_set():
                ticks.append(time.monotonic())
                time.sleep(0.005)

        ticker = threading.Thread(target=tick)
        ticker.start()
        with pytest.raises(zb.Timeout):
            reader.acquire(timeout=0.3)
        stop.set()
        ticker.join()
        assert len(ticks) >= 10  # The other thread ran while acquire() waited.
        del writer


def test_async_frames_do_not_block_the_loop_and_cancelling_loses_nothing(ring):
    name = ring()
    writer = zb.Writer(name)
    reader = zb.Reader(name)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        # A wait that gets cancelled while its background acquire is in progress ...
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.acquire_async(), 0.1)
        assert ticks >= 2  # The loop ran while the frame was awaited (about 10 ticks on a quiet machine).
        with pytest.raises(zb.Timeout):
            await reader.acquire_async(timeout=0.1)
        # ... and the frames written afterwards all arrive, in order.
        loop = asyncio.get_running_loop()

        def write_later():
            time.sleep(0.2)
            for i in range(5):
                writer.write(b"%d" % i, pts=i)
            writer.close()

        producer = loop.run_in_executor(None, write_later)
        got = [frame.pts async for frame in reader.frames()]
        await producer
        tick_task.cancel()
        return got, ticks

    got, ticks = asyncio.run(main())
    assert got == [0, 1, 2, 3, 4]
    assert ticks >= 5
    reader.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def mappings() -> int:
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)


def test_thousands_of_attach_detach_cycles_leak_no_descriptor_or_mapping(ring):
    name = ring()
    with zb.Writer(name, ring_size=1 << 20) as writer:
        writer.write(b"frame")

        def cycle():
            with zb.Reader(name, policy="latest", start_at="newest") as reader:
                frame = reader.acquire(timeout=bound(5))
                array = frame.array()
                tensor = np.from_dlpack(frame)
                assert bytes(array) == b"frame" and tensor.size == 5
                with memoryview(frame):
                    pass

        for _ in range(50):  # Warm up: caches, lazily loaded modules.
            cycle()
        gc.collect()
        fds, maps = open_fds(), mappings()
        for _ in range(2000):
            cycle()
        gc.collect()
        assert open_fds() == fds
        assert mappings() == maps
        assert zb.inspect_ring(name)["readers"] == []


# --- Stubs and docstrings --------------------------------------------------------------------------------------

def test_stubs_describe_every_public_name_and_docstrings_exist():
    stub = pathlib.Path(zb.__file__).with_name("__init__.pyi")
    assert stub.exists() and pathlib.Path(zb.__file__).with_name("py.typed").exists()
    tree = ast.parse(stub.read_text())
    stubbed = {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    stubbed |= {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
    public = set(zb.__all__) | {"SystemError"}
    assert public <= stubbed, f"not in the stubs: {sorted(public - stubbed)}"
    for name in ("Reader", "Writer", "Frame", "Reservation", "DuplexClient", "DuplexServer"):
        cls = getattr(zb, name)
        assert cls.__doc__ and len(cls.__doc__) > 80, name
        stub_class = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name)
        stub_members = {n.name for n in stub_class.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for member in dir(cls):
            if member.startswith("_") and member not in ("__iter__", "__next__", "__enter__", "__exit__",
                                                          "__dlpack__", "__dlpack_device__", "__len__"):
                continue
            attribute = getattr(cls, member)
            if callable(attribute) or isinstance(attribute, property):
                assert member in stub_members, f"{name}.{member} missing from the stubs"
                if not member.startswith("__"):
                    assert described(attribute), f"{name}.{member} has no docstring"


def described(attribute) -> bool:
    """True if the docstring says something beyond pybind11's generated signature line."""
    doc = (getattr(attribute, "__doc__", None) or "").strip()
    if isinstance(attribute, property):
        return bool(doc)
    if inspect.isfunction(attribute):  # Written in Python: any docstring is its own.
        return bool(doc)
    # pybind11 starts the docstring with the signature ("acquire(self: ...) -> ..."): something must follow.
    lines = [line for line in doc.splitlines() if line.strip()]
    return len(lines) > 1
