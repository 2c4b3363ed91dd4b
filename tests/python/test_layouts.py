# SPDX-License-Identifier: MIT
"""The module's pixel-format table against GStreamer itself: for every format it maps to arrays, the default
layout (what a Python writer publishes) equals GstVideoInfo's, and the array shapes follow the format's planes."""
import gi
import pytest

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402

import zerobuffer as zb  # noqa: E402

Gst.init(None)
SIZES = [(1917, 1079), (641, 479), (1920, 1080), (7, 5), (1, 1), (3840, 2160)]


@pytest.mark.parametrize("pixel_format", zb.pixel_formats())
def test_default_layout_is_gstreamers(pixel_format):
    video_format = GstVideo.VideoFormat.from_string(pixel_format)
    assert video_format != GstVideo.VideoFormat.UNKNOWN, f"{pixel_format} is not a GStreamer format name"
    for width, height in SIZES:
        info = GstVideo.VideoInfo()
        assert info.set_format(video_format, width, height)
        planes, frame_size = zb.default_layout(pixel_format, width, height)
        n_planes = info.finfo.n_planes
        assert [p["offset"] for p in planes] == list(info.offset[:n_planes]), (pixel_format, width, height)
        assert [p["stride"] for p in planes] == list(info.stride[:n_planes]), (pixel_format, width, height)
        assert frame_size == info.size, (pixel_format, width, height)


@pytest.mark.parametrize("pixel_format", zb.pixel_formats())
def test_array_shapes_follow_the_format_planes(ring, pixel_format):
    width, height = 641, 479
    info = GstVideo.VideoInfo()
    info.set_format(GstVideo.VideoFormat.from_string(pixel_format), width, height)
    finfo = info.finfo
    name = ring()
    with zb.Writer(name) as writer, zb.Reader(name) as reader:
        writer.set_format(zb.video_format(pixel_format, width, height))
        writer.write(bytes(info.size))
        planes = reader.acquire(timeout=5).planes()
    assert len(planes) == finfo.n_planes
    for index, array in enumerate(planes):
        components = [c for c in range(finfo.n_components) if finfo.plane[c] == index]
        rows = -(-height >> finfo.h_sub[components[0]]) if finfo.h_sub[components[0]] else height
        cols = -(-width >> finfo.w_sub[components[0]]) if finfo.w_sub[components[0]] else width
        assert array.shape[:2] == (rows, cols), (pixel_format, index)
        bytes_per_pixel = array.itemsize * (array.shape[2] if array.ndim == 3 else 1)
        assert bytes_per_pixel == finfo.pixel_stride[components[0]], (pixel_format, index)
        assert array.strides[0] == info.stride[index]
