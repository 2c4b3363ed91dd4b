#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""print_frames.py: the smallest Python reader. Prints the stream format, then one line per frame.

    python3 print_frames.py RING [--frames N] [--latest] [--wait SECONDS]

Frames are numpy views of the ring's memory (no copy): the line shows each plane's shape and mean, the
per-frame metadata when there is some (printed as text when it is UTF-8), and the end when the writer closes
or dies. Ctrl-C stops it. Copy this file to start your own consumer.
"""
import argparse
import sys

import numpy as np

import zerobuffer as zb


def describe(frame: zb.Frame) -> str:
    parts = [f"frame {frame.sequence}", f"pts={frame.pts}", f"size={frame.size}"]
    if frame.size:
        planes = frame.planes()  # Read-only views; one per plane for planar formats.
        parts.append("planes=" + ",".join(f"{'x'.join(map(str, p.shape))}:{float(np.mean(p)):.1f}" for p in planes))
    if frame.keyframe:
        parts.append("keyframe")
    metadata = frame.metadata
    if metadata:
        try:
            parts.append("metadata=" + metadata.decode("utf-8"))
        except UnicodeDecodeError:
            parts.append("metadata=0x" + metadata.hex())
    return " ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ring")
    parser.add_argument("--frames", type=int, default=0, help="stop after N frames (default: until the end)")
    parser.add_argument("--latest", action="store_true", help="latest policy: newest frame only, never slow the writer")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the ring to appear")
    args = parser.parse_args()

    try:
        reader = zb.Reader(args.ring, policy="latest" if args.latest else "lossless", wait=args.wait)
    except zb.Error as error:
        print(f"print_frames: error: {error}", file=sys.stderr)
        return 1
    count = 0
    with reader:
        try:
            for frame in reader:  # Waits with the GIL released; ends at end of stream or when the writer goes.
                if count == 0 or frame.format_changed:
                    print("format", reader.format.get("media_type"), reader.format.get("pixel_format", ""),
                          f"{reader.format.get('width', '-')}x{reader.format.get('height', '-')}", flush=True)
                print(describe(frame), flush=True)
                count += 1
                if count == args.frames:
                    break
        except KeyboardInterrupt:
            pass
        except zb.Error as error:
            print(f"print_frames: error: {error}", file=sys.stderr)
            return 1
    print(f"frames {count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
