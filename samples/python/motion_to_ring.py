#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""motion_to_ring.py: reads a camera ring, computes motion boxes, and publishes them into a second ring as
per-frame metadata, one frame per camera frame with the camera frame's pts.

    python3 motion_to_ring.py CAMERA_RING BOXES_RING

Zero copy on the camera side: each frame is compared in place with the previous one, which stays held (the
camera's writer places new frames around it). The boxes ring carries empty payloads with the JSON metadata
{"camera_sequence": N, "boxes": [[x, y, w, h], ...]}; `print_frames.py BOXES_RING` shows them.
"""
import argparse
import json
import sys

import zerobuffer as zb
from motion import motion_boxes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("camera")
    parser.add_argument("boxes")
    args = parser.parse_args()

    with zb.Writer(args.boxes, ring_size=1 << 20) as writer:
        writer.set_format(media_type="application/octet-stream", content="motion boxes in per-frame JSON metadata")
        writer.wait_for_readers(1, timeout=30)  # So that the first boxes are not written before anyone reads.
        with zb.Reader(args.camera, wait=10) as camera:
            previous = None
            for frame in camera:
                luma = frame.planes()[0]
                boxes = motion_boxes(previous.planes()[0], luma) if previous is not None else []
                metadata = json.dumps({"camera_sequence": frame.sequence, "boxes": boxes}).encode()
                writer.write(b"", pts=frame.pts, metadata=metadata)
                if previous is not None:
                    previous.release()
                previous = frame
    return 0


if __name__ == "__main__":
    sys.exit(main())
