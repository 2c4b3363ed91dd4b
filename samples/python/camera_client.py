#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""camera_client.py: reads a camera ring (zb-ingest, zerobuffersink), sends each picture's luma to an inference
server (motion_server.py) over a duplex channel and prints the boxes that come back for it.

    python3 camera_client.py CAMERA_RING CHANNEL [--frames N]

The camera frame is read in place; its luma plane is copied once, straight into a request reserved in the
channel's request ring (the server reads it there in place). Each response is matched to its request by
sequence number. Prints "frame SEQUENCE pts=PTS boxes=[[x, y, w, h], ...]" per frame.
"""
import argparse
import json
import sys

import numpy as np

import zerobuffer as zb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("camera")
    parser.add_argument("channel")
    parser.add_argument("--frames", type=int, default=0, help="stop after N frames (default: until the camera ends)")
    args = parser.parse_args()

    count = 0
    with zb.Reader(args.camera, wait=10) as camera, zb.DuplexClient(args.channel, connect_timeout=10) as client:
        for frame in camera:
            luma = frame.planes()[0]  # I420 / NV12: the Y plane; GRAY8: (H, W, 1)
            luma = luma[:, :, 0] if luma.ndim == 3 else luma
            if count == 0 or frame.format_changed:
                client.set_format(zb.video_format("GRAY8", luma.shape[1], luma.shape[0]))
            with client.reserve() as request:
                request.array()[:, :, 0] = luma  # The one copy: camera ring -> request ring.
                sequence = request.commit(pts=frame.pts)
            frame.release()
            response = client.receive_for(sequence, timeout=10)
            boxes = np.frombuffer(memoryview(response), "<i4").reshape(-1, 4).tolist()
            print(f"frame {frame.sequence} pts={frame.pts} boxes={json.dumps(boxes)}", flush=True)
            count += 1
            if count == args.frames:
                break
    print(f"frames {count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
