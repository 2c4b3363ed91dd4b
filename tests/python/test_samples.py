# SPDX-License-Identifier: MIT
"""The Python samples (samples/python/) as a user runs them: each is a separate process, the camera is zb-ingest
decoding a real H.264 clip (made here by the ffmpeg CLI: a white square moving across a black picture), and the
motion boxes must be where the square moved."""
import json
import pathlib
import subprocess
import sys

import pytest

from conftest import bound, program

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "samples" / "python"
WIDTH, HEIGHT, FRAMES = 320, 240, 20
SQUARE, STEP, TOP, LEFT = 40, 8, 96, 16  # The square is at x = LEFT + STEP * n in frame n.


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "square.mp4"
    graph = (f"color=c=black:s={WIDTH}x{HEIGHT}:r=25[bg];color=c=white:s={SQUARE}x{SQUARE}:r=25[fg];"
             f"[bg][fg]overlay=x='{LEFT}+{STEP}*n':y={TOP}:shortest=1")
    subprocess.run(["ffmpeg", "-v", "error", "-filter_complex", graph, "-frames:v", str(FRAMES), "-c:v", "libx264",
                    "-crf", "12", "-g", "10", "-pix_fmt", "yuv420p", "-y", str(path)], check=True, timeout=bound(120))
    return path


def sample(spawn, name, *args):
    return spawn.program([sys.executable, SAMPLES / name, *map(str, args)])


def camera(spawn, clip, ring_name):
    return spawn.program([program("ZB_INGEST"), "--wait-for-reader", clip, ring_name])


def check_boxes(frame_index: int, boxes: list) -> None:
    """Frame 0 has nothing to compare with; every later frame has motion exactly where the square moved."""
    if frame_index == 0:
        assert boxes == []
        return
    assert boxes, f"no motion found in frame {frame_index}"
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    bottom = max(b[1] + b[3] for b in boxes)
    old_x, new_x = LEFT + STEP * (frame_index - 1), LEFT + STEP * frame_index
    cell = 8
    assert old_x - cell <= left <= old_x + STEP + cell, (frame_index, boxes)
    assert new_x + SQUARE - cell <= right <= new_x + SQUARE + cell, (frame_index, boxes)
    assert TOP - cell <= top <= TOP + cell and TOP + SQUARE - cell <= bottom <= TOP + SQUARE + cell, (frame_index, boxes)


def test_print_frames_prints_every_frame_of_a_camera(ring, spawn, clip):
    name = ring()
    ingest = camera(spawn, clip, name)
    printer = sample(spawn, "print_frames.py", name)
    lines = printer.finish(timeout=120).splitlines()
    assert ingest.wait(60) == 0
    assert lines[0] == f"format video/x-raw I420 {WIDTH}x{HEIGHT}"
    frames = [line for line in lines if line.startswith("frame ")]
    assert len(frames) == FRAMES and lines[-1] == f"frames {FRAMES}"
    assert f"planes={HEIGHT}x{WIDTH}:" in frames[0] and f",{HEIGHT // 2}x{WIDTH // 2}:" in frames[0]
    assert "keyframe" in frames[0]


def test_inference_over_the_duplex_channel_finds_the_moving_square(ring, spawn, clip):
    camera_ring, channel = ring(), ring()
    server = sample(spawn, "motion_server.py", channel, "--clients", "1")
    server.line()  # "serving channel ..."
    ingest = camera(spawn, clip, camera_ring)
    client = sample(spawn, "camera_client.py", camera_ring, channel)
    lines = client.finish(timeout=180).splitlines()
    assert ingest.wait(60) == 0
    assert server.finish(timeout=30).strip().endswith("served 1 client(s)")
    frames = [line for line in lines if line.startswith("frame ")]
    assert len(frames) == FRAMES and lines[-1] == f"frames {FRAMES}"
    for index, line in enumerate(frames):
        words = line.split(" ", 3)
        assert words[0] == "frame" and int(words[1]) == index and words[2] == f"pts={index * 40_000_000}"
        check_boxes(index, json.loads(words[3][len("boxes="):]))


def test_boxes_published_as_metadata_in_a_second_ring_arrive(ring, spawn, clip):
    camera_ring, boxes_ring = ring(), ring()
    ingest = camera(spawn, clip, camera_ring)
    detector = sample(spawn, "motion_to_ring.py", camera_ring, boxes_ring)
    printer = sample(spawn, "print_frames.py", boxes_ring)
    lines = printer.finish(timeout=180).splitlines()
    assert detector.wait(60) == 0 and ingest.wait(60) == 0
    frames = [line for line in lines if line.startswith("frame ")]
    assert len(frames) == FRAMES
    for index, line in enumerate(frames):
        assert f"pts={index * 40_000_000}" in line and "size=0" in line
        metadata = json.loads(line.split("metadata=", 1)[1])
        assert metadata["camera_sequence"] == index
        check_boxes(index, metadata["boxes"])
