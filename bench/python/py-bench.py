#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""py-bench: the Python module against the C++ reader and against what a Python user would otherwise use.

In one run, for 1080p and 4K I420 (docs/performance.md, "Python"):
  zb C++ reader       zb-py-bench-peer writer -> zb-py-bench-peer reader (acquire + release)
  zb Python reader    zb-py-bench-peer writer -> a Python process: acquire + frame.array() + release
  shared_memory+pipe  a Python producer fills a slot of multiprocessing.shared_memory and sends its index over a
                      pipe; the consumer makes a numpy view and sends the index back (flow control)
  appsink (PyGObject) gst-launch-1.0 videotestsrc ! shmsink -> a Python process: shmsrc ! appsink, pull-sample,
                      Gst.Buffer.map (PyGObject gives the mapped data as bytes: a copy) and a numpy view of it
Every producer fills each frame once (memset, numpy fill, videotestsrc pattern=black), the cost of making it;
consumers do not read the pixels. Frames/s are the consumer's, from its first frame to its last, median of
--rounds rounds run interleaved. And the per-frame cost of acquire + array + release in one Python process
(frames committed 16 at a time, only the reader's calls timed) next to the C++ reader's acquire + release.

Targets (printed as PASS/MISS; never a failure): Python reader >= 0.95 x the C++ reader's frames/s, acquire +
array + release < 5 us. The machine's load (uptime) is printed before and after: figures from a loaded machine
measure the load as much as the transport.
"""
import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SIZES = {"1080p": (1920, 1080), "4K": (3840, 2160)}
SLOTS = 8  # Frames of memory every transport gets (the zb ring 8, shared_memory 8 slots, shmsink twice that).


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def values(line: str) -> dict:
    """key=value words of a result line."""
    return {k: float(v) for k, v in (w.split("=", 1) for w in line.split() if "=" in w)}


def frame_size(width: int, height: int) -> int:
    return width * height * 3 // 2


# --- Child roles (run as `py-bench.py --role NAME ...` with the same interpreter) --------------------------------

def role_zb_reader(ring: str, frames: int) -> None:
    import zerobuffer as zb
    with zb.Reader(ring, wait=30) as reader:
        for index in range(frames):
            frame = reader.acquire(timeout=30)
            planes = frame.array()
            if index == 0:
                first = time.perf_counter()
            del planes
            frame.release()
        elapsed = time.perf_counter() - first
    print(f"reader frames={frames - 1} seconds={elapsed:.6f} fps={(frames - 1) / elapsed:.1f}", flush=True)


def role_appsink(socket: str, width: int, height: int, frames: int) -> None:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstApp", "1.0")
    import numpy as np
    from gi.repository import Gst, GstApp  # noqa: F401 (GstApp: pull_sample on appsink)
    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"shmsrc socket-path={socket} is-live=false ! video/x-raw,format=I420,width={width},height={height},"
        "framerate=0/1 ! appsink name=sink sync=false max-buffers=2")
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    first = None
    got = 0
    while got < frames:
        sample = sink.try_pull_sample(2 * Gst.SECOND)  # None at end of stream, error, or a stall
        if sample is None:
            break
        buffer = sample.get_buffer()
        ok, info = buffer.map(Gst.MapFlags.READ)
        assert ok
        array = np.frombuffer(info.data, np.uint8)
        buffer.unmap(info)
        del array, info, buffer, sample  # Give the shm block back to shmsink at once.
        if first is None:
            first = time.perf_counter()
        got += 1
    elapsed = time.perf_counter() - first - (2.0 if got < frames else 0.0)
    pipeline.set_state(Gst.State.NULL)
    if got < frames:  # Seen on loaded machines: shmsink waits for space that shmsrc never reports free.
        print(f"py-bench: warning: appsink stalled after {got} of {frames} frames (shmsink/shmsrc); frames/s is "
              "over the frames received", file=sys.stderr, flush=True)
    print(f"reader frames={got - 1} seconds={elapsed:.6f} fps={(got - 1) / elapsed:.1f}", flush=True)


def _shm_producer(name: str, size: int, frames: int, ready, free) -> None:
    import numpy as np
    from multiprocessing import shared_memory
    memory = shared_memory.SharedMemory(name=name)
    slots = [np.ndarray((size,), np.uint8, memory.buf, slot * size) for slot in range(SLOTS)]
    for index in range(frames):
        slot = free.recv_bytes()[0]  # Wait for a free slot (the consumer gives each back).
        slots[slot].fill(index & 255)
        ready.send_bytes(bytes([slot]))
    del slots
    memory.close()


def shared_memory_case(width: int, height: int, frames: int) -> float:
    import numpy as np
    from multiprocessing import shared_memory
    size = frame_size(width, height)
    memory = shared_memory.SharedMemory(create=True, size=SLOTS * size)
    try:
        ready_in, ready_out = multiprocessing.Pipe(duplex=False)
        free_in, free_out = multiprocessing.Pipe(duplex=False)
        producer = multiprocessing.get_context("fork").Process(
            target=_shm_producer, args=(memory.name, size, frames, ready_out, free_in))
        producer.start()
        for slot in range(SLOTS):
            free_out.send_bytes(bytes([slot]))
        first = None
        for index in range(frames):
            slot = ready_in.recv_bytes()[0]
            array = np.ndarray((size,), np.uint8, memory.buf, slot * size)  # The consumer's view.
            del array
            free_out.send_bytes(bytes([slot]))
            if index == 0:
                first = time.perf_counter()
        elapsed = time.perf_counter() - first
        producer.join(30)
        return (frames - 1) / elapsed
    finally:
        memory.close()
        memory.unlink()


# --- Cases -------------------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.peer = args.peer
        self.env = dict(os.environ)
        if args.pythonpath:
            self.env["PYTHONPATH"] = args.pythonpath
        self.python = args.python

    def zb_case(self, width: int, height: int, frames: int, python_reader: bool) -> float:
        ring = f"py-bench-{os.getpid()}-{time.monotonic_ns()}"
        writer = subprocess.Popen([self.peer, "writer", ring, str(width), str(height), str(frames)],
                                  stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        if python_reader:
            command = [self.python, __file__, "--role", "zb-reader", ring, str(frames)]
        else:
            command = [self.peer, "reader", ring, str(frames)]
        reader = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=600)
        writer.communicate(timeout=60)
        if reader.returncode != 0:
            raise RuntimeError(f"reader failed: {reader.stderr}")
        return values(reader.stdout.strip().splitlines()[-1])["fps"]

    def appsink_case(self, width: int, height: int, frames: int) -> float:
        tmp = tempfile.mkdtemp(prefix="py-bench-")
        socket = os.path.join(tmp, "shm.sock")
        try:
            caps = f"video/x-raw,format=I420,width={width},height={height},framerate=0/1"
            producer = subprocess.Popen(
                ["gst-launch-1.0", "-q", "videotestsrc", "pattern=black", f"num-buffers={frames}", "!", caps, "!",
                 # Twice the slots: shmsink's allocator fragments its area, and stalls when no block fits.
                 "shmsink", f"socket-path={socket}", f"shm-size={2 * SLOTS * frame_size(width, height) + 65536}",
                 "wait-for-connection=true", "sync=false"], stdout=subprocess.DEVNULL)
            for _ in range(500):
                if os.path.exists(socket):
                    break
                time.sleep(0.01)
            reader = subprocess.run([self.python, __file__, "--role", "appsink", socket, str(width), str(height),
                                     str(frames)], capture_output=True, text=True, env=self.env, timeout=600)
            sys.stderr.write(reader.stderr if "warning" in reader.stderr else "")
            try:
                producer.wait(10)
            except subprocess.TimeoutExpired:  # A reader that stalled leaves shmsink waiting for space.
                producer.kill()
                producer.wait(10)
            if reader.returncode != 0:
                raise RuntimeError(f"appsink reader failed: {reader.stderr}")
            return values(reader.stdout.strip().splitlines()[-1])["fps"]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def python_overhead_us(self, frames: int) -> float:
        command = [self.python, __file__, "--role", "overhead", str(frames)]
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=600, check=True)
        return values(result.stdout.strip().splitlines()[-1])["ns_per_frame"] / 1000

    def cpp_overhead_us(self, frames: int) -> float:
        result = subprocess.run([self.peer, "overhead", str(frames)], capture_output=True, text=True, timeout=600,
                                check=True)
        return values(result.stdout.strip().splitlines()[-1])["ns_per_frame"] / 1000


def role_overhead(frames: int) -> None:
    """acquire + array + release per frame, one process; only the reader's calls are timed."""
    import zerobuffer as zb
    ring = f"py-bench-overhead-{os.getpid()}"
    with zb.Writer(ring, ring_size=frame_size(1920, 1080) * 20) as writer, zb.Reader(ring) as reader:
        writer.set_format(zb.video_format("I420", 1920, 1080))
        busy = 0
        done = 0
        clock = time.perf_counter_ns
        while done < frames:
            for _ in range(16):
                with writer.reserve() as reservation:
                    reservation.commit()
            start = clock()
            for _ in range(16):
                frame = reader.acquire(0)
                planes = frame.array()
                frame.release()
            busy += clock() - start
            done += 16
            del planes
    print(f"overhead frames={done} ns_per_frame={busy / done:.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--peer", help="path of zb-py-bench-peer (BUILD/bench/python/zb-py-bench-peer)")
    parser.add_argument("--pythonpath", help="where the zerobuffer package is (BUILD/python)")
    parser.add_argument("--python", default="/usr/bin/python3", help="interpreter of the Python processes")
    parser.add_argument("--plugin-dir", help="unused by the cases; accepted for symmetry with gst-bench")
    parser.add_argument("--quick", action="store_true", help="fewer frames and one round (a few seconds per case)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout (the table on stderr)")
    args, rest = parser.parse_known_args()
    if args.role == "zb-reader":
        role_zb_reader(rest[0], int(rest[1]))
        return 0
    if args.role == "appsink":
        role_appsink(rest[0], int(rest[1]), int(rest[2]), int(rest[3]))
        return 0
    if args.role == "overhead":
        role_overhead(int(rest[0]))
        return 0
    if rest:
        parser.error(f"unknown arguments: {' '.join(rest)}")
    if args.rounds < 1:
        parser.error(f"--rounds must be 1 or more, not {args.rounds}")
    if not args.peer:
        parser.error("--peer is required (BUILD/bench/python/zb-py-bench-peer)")

    out = sys.stderr if args.json else sys.stdout
    bench = Bench(args)
    rounds = 1 if args.quick else args.rounds
    frames = {"1080p": 150 if args.quick else 600, "4K": 40 if args.quick else 200}
    before = uptime()
    print(f"py-bench: {before}", file=out)
    results = {"uptime_before": before, "sizes": {}}
    cases = [("zb C++ reader", lambda w, h, n: bench.zb_case(w, h, n, False)),
             ("zb Python reader", lambda w, h, n: bench.zb_case(w, h, n, True)),
             ("shared_memory+pipe", shared_memory_case),
             ("appsink (PyGObject)", bench.appsink_case)]
    for label, (width, height) in SIZES.items():
        runs = {name: [] for name, _ in cases}
        for _ in range(rounds):  # Interleaved: the host drifts.
            for name, run in cases:
                runs[name].append(run(width, height, frames[label]))
        medians = {name: statistics.median(fps) for name, fps in runs.items()}
        results["sizes"][label] = {"frames": frames[label], "fps": medians, "runs": runs}
        print(f"\n{label} I420 ({frames[label]} frames, median of {rounds}):", file=out)
        base = medians["zb C++ reader"]
        for name, fps in medians.items():
            print(f"  {name:<22} {fps:10.1f} frames/s  {fps / base:5.2f} x C++", file=out)
        ratio = medians["zb Python reader"] / base
        print(f"  target Python >= 0.95 x C++: {ratio:.3f} {'PASS' if ratio >= 0.95 else 'MISS'}", file=out)
        results["sizes"][label]["python_ratio"] = ratio
    overhead_frames = 4000 if args.quick else 40000
    python_us = statistics.median(bench.python_overhead_us(overhead_frames) for _ in range(rounds))
    cpp_us = statistics.median(bench.cpp_overhead_us(overhead_frames) for _ in range(rounds))
    print(f"\nper frame, 1080p I420, one process ({overhead_frames} frames, median of {rounds}):", file=out)
    print(f"  Python acquire + array + release  {python_us:6.2f} us  target < 5 us: "
          f"{'PASS' if python_us < 5 else 'MISS'}", file=out)
    print(f"  C++ acquire + release             {cpp_us:6.2f} us", file=out)
    after = uptime()
    print(f"\npy-bench: {after}", file=out)
    results.update({"python_overhead_us": python_us, "cpp_overhead_us": cpp_us, "uptime_after": after})
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
