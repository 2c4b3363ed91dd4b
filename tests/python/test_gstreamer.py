# SPDX-License-Identifier: MIT
"""Python against the GStreamer elements, both ways, with real gst-launch-1.0 pipelines: zerobuffersink into a
Python reader, and a Python writer into zerobuffersrc, which negotiates caps from the Python writer's format."""
import re
import subprocess

import numpy as np
import pytest

import zerobuffer as zb
from conftest import bound, gst_env

FRAMES = 4


def strided_rows(frame: np.ndarray, offset: int, stride: int, rows: int, row_bytes: int) -> np.ndarray:
    """The pixel rows of one plane of a raw frame (padding bytes are not pixels)."""
    return np.lib.stride_tricks.as_strided(frame[offset:], (rows, row_bytes), (stride, 1))


@pytest.mark.parametrize("pixel_format,width,height", [("I420", 1917, 1079), ("RGB", 641, 479), ("NV12", 640, 360)])
def test_zerobuffersink_to_python_reader_is_byte_identical(ring, spawn, tmp_path, pixel_format, width, height):
    name = ring()
    caps = f"video/x-raw,format={pixel_format},width={width},height={height},framerate=30/1"
    source = f"videotestsrc num-buffers={FRAMES} pattern=ball ! {caps}"
    # The same frames through filesink: the reference, in GStreamer's default layout.
    reference = tmp_path / "reference.raw"
    subprocess.run(["gst-launch-1.0", "-q", *source.split(), "!", "filesink", f"location={reference}"],
                   check=True, env=gst_env(tmp_path), timeout=bound(120))
    sink = spawn.program(["gst-launch-1.0", "-q", *source.split(), "!", "zerobuffersink", f"ring={name}",
                          "wait-for-reader=true"], env=gst_env(tmp_path))
    frames = []
    with zb.Reader(name, wait=bound(30)) as reader:
        for frame in reader:
            frames.append([np.array(plane) for plane in frame.planes()])  # Copies, so the frame can go.
            assert reader.format["pixel_format"] == pixel_format
            assert reader.format["width"] == width and reader.format["height"] == height
    assert sink.wait(60) == 0
    assert len(frames) == FRAMES
    # The reference's planes, cut by GStreamer's default layout (zb.default_layout is checked against
    # GstVideoInfo in test_layouts.py), compared pixel for pixel.
    planes, frame_size = zb.default_layout(pixel_format, width, height)
    raw = reference.read_bytes()
    assert len(raw) == FRAMES * frame_size
    for index, got in enumerate(frames):
        frame_bytes = np.frombuffer(raw, np.uint8, frame_size, index * frame_size)
        for plane_index, (plane, layout) in enumerate(zip(got, planes)):
            rows, row_bytes = plane.shape[0], plane.size // plane.shape[0]
            np.testing.assert_array_equal(plane.reshape(rows, row_bytes),
                                          strided_rows(frame_bytes, layout["offset"], layout["stride"], rows, row_bytes),
                                          err_msg=f"frame {index} plane {plane_index}")
    if pixel_format == "I420":
        assert [p.shape for p in frames[0]] == [(1079, 1917), (540, 959), (540, 959)]
    if pixel_format == "RGB":
        assert frames[0][0].shape == (479, 641, 3)


def test_python_writer_to_zerobuffersrc_negotiates_caps_and_is_byte_identical(ring, spawn, tmp_path):
    name = ring()
    out = tmp_path / "out.raw"
    with zb.Writer(name) as writer:
        writer.set_format(zb.video_format("I420", 1917, 1079, framerate=(25, 1)))
        src = spawn.program(["gst-launch-1.0", "-v", "zerobuffersrc", f"ring={name}", "!", "queue", "!",
                             "filesink", f"location={out}"], env=gst_env(tmp_path))
        writer.wait_for_readers(1, timeout=bound(30))
        rng = np.random.default_rng(3)
        payloads = []
        for index in range(FRAMES):
            with writer.reserve() as reservation:
                reservation.payload[:] = rng.integers(0, 256, reservation.size, dtype=np.uint8)
                payloads.append(bytes(reservation.payload))
                reservation.commit(pts=index * 40_000_000, duration=40_000_000)
    # Leaving the block wrote the end-of-stream marker: the pipeline ends by itself.
    output = src.finish(timeout=60)
    caps = re.search(r"zerobuffersrc0\.GstPad:src: caps = (.*)", output)
    assert caps, output
    assert "format=(string)I420" in caps.group(1)
    assert "width=(int)1917" in caps.group(1) and "height=(int)1079" in caps.group(1)
    assert "framerate=(fraction)25/1" in caps.group(1)
    assert out.read_bytes() == b"".join(payloads)
