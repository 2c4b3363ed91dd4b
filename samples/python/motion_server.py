#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""motion_server.py: an inference server on a duplex channel. For each request (a GRAY8 luma picture) it
answers with the motion boxes against the previous request, written in place into the response.

    python3 motion_server.py CHANNEL [--clients N]

Requests are read in place (zero copy) and the previous one is kept held for the next comparison, so no picture
is copied; each response is an int32 array of [x, y, w, h] rows reserved and filled in the response ring.
Serves one client after another (--clients N: stop after N clients have gone). Run camera_client.py against it.
"""
import argparse
import sys

import numpy as np

import zerobuffer as zb
from motion import motion_boxes


def luma_of(request: zb.Frame) -> np.ndarray:
    picture = request.array()
    return picture[:, :, 0] if picture.ndim == 3 else picture


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("channel")
    parser.add_argument("--clients", type=int, default=0, help="stop after N clients have gone (default: never)")
    args = parser.parse_args()

    served = 0
    with zb.DuplexServer(args.channel) as server:
        server.set_format(media_type="application/octet-stream", content="motion boxes: int32 rows x, y, w, h")
        print(f"motion_server: serving channel '{args.channel}'", flush=True)
        previous = None
        while args.clients == 0 or served < args.clients:
            try:
                request = server.receive()
            except zb.WriterGone:  # The client closed or died: forget its pictures, wait for the next one.
                previous = None
                served += 1
                continue
            except KeyboardInterrupt:
                break
            luma = luma_of(request)
            boxes = []
            if previous is not None and luma_of(previous).shape == luma.shape:
                boxes = motion_boxes(luma_of(previous), luma)
            with server.reserve(request, 16 * len(boxes)) as response:
                response.payload.view("<i4").reshape(-1, 4)[:] = np.array(boxes, dtype="<i4").reshape(-1, 4)
                response.commit(pts=request.pts)
            if previous is not None:
                previous.release()
            previous = request  # Held until the next request has been compared with it.
    print(f"motion_server: served {served} client(s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
