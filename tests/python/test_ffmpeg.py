# SPDX-License-Identifier: MIT
"""zb-ingest into a Python reader: a clip made by the ffmpeg CLI, decoded by zb-ingest into a ring, read by
Python, compared pixel for pixel with ffmpeg's own decode of the same clip."""
import subprocess

import numpy as np
import pytest

import zerobuffer as zb
from conftest import bound, program

FRAMES = 6


def make_clip(path, pix_fmt: str, width: int, height: int) -> None:
    # FFV1 is lossless: zb-ingest's decode and ffmpeg's decode must agree exactly. The test source makes even
    # sizes only: an odd size is cropped from the next even one.
    source = f"testsrc2=size={width + width % 2}x{height + height % 2}:rate=25"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", source, "-vf", f"format={pix_fmt},crop={width}:{height}:0:0",
                    "-frames:v", str(FRAMES), "-pix_fmt", pix_fmt, "-c:v", "ffv1", "-y", str(path)],
                   check=True, timeout=bound(120))


def ffmpeg_decode(path, pix_fmt: str) -> bytes:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
                          check=True, capture_output=True, timeout=bound(120)).stdout


# 4:2:0 needs even sizes in FFmpeg's test source; 4:4:4 takes odd ones (padded strides in the ring).
@pytest.mark.parametrize("pix_fmt,pixel_format,width,height",
                         [("yuv420p", "I420", 1916, 1078), ("yuv444p", "Y444", 641, 479), ("yuv420p", "I420", 640, 360)])
def test_zb_ingest_to_python_reader_is_byte_identical(ring, spawn, tmp_path, pix_fmt, pixel_format, width, height):
    name = ring()
    clip = tmp_path / "clip.mkv"
    make_clip(clip, pix_fmt, width, height)
    decoded = ffmpeg_decode(clip, pix_fmt)
    chroma = ((height + 1) // 2, (width + 1) // 2) if pixel_format == "I420" else (height, width)
    plane_sizes = [width * height, chroma[0] * chroma[1], chroma[0] * chroma[1]]
    assert len(decoded) == FRAMES * sum(plane_sizes)

    ingest = spawn.program([program("ZB_INGEST"), "--wait-for-reader", str(clip), name])
    got = []
    with zb.Reader(name, wait=bound(30)) as reader:
        for frame in reader:
            y, u, v = frame.array()
            assert y.shape == (height, width) and u.shape == chroma and v.shape == chroma
            # zb-ingest's decoder renders into the ring with its own row alignment: the arrays follow the
            # strides the stream format announces, whatever they are.
            strides = [plane["stride"] for plane in reader.format["planes"]]
            assert (y.strides[0], u.strides[0], v.strides[0]) == tuple(strides)
            assert strides[0] >= width
            got.append((y.copy(), u.copy(), v.copy(), frame.pts))
        assert reader.format["pixel_format"] == pixel_format
        assert reader.format["media_type"] == "video/x-raw"
    assert ingest.wait(60) == 0
    assert len(got) == FRAMES
    offset = 0
    for index, (y, u, v, pts) in enumerate(got):
        for plane, shape, size in zip((y, u, v), ((height, width), chroma, chroma), plane_sizes):
            expected = np.frombuffer(decoded, np.uint8, size, offset).reshape(shape)
            np.testing.assert_array_equal(plane, expected, err_msg=f"frame {index}")
            offset += size
        assert pts == index * 40_000_000  # 25 fps, in ns
