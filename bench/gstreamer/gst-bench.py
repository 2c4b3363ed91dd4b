#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# gst-bench: zerobuffersink -> zerobuffersrc against one process and against shmsink -> shmsrc, side by side.
"""GStreamer benchmark of the zerobuffer elements (docs/performance.md, "GStreamer elements").

Throughput, for 1080p and 4K in I420 and RGBA, each case in the same run:
  (a) videotestsrc ! fakesink                      one process: the cost of producing the frames
  (b) videotestsrc ! zerobuffersink | zerobuffersrc ! fakesink      two processes
  (c) videotestsrc ! shmsink        | shmsrc ! fakesink             two processes
and the same (b)/(c) pairs with `identity drop-allocation=true` before the sink ("copy path": upstream cannot
use the sink's pool or allocator, so both sinks copy each frame once), and the pool path again with a ring (and
shm area) of 3 frames instead of 8 ("pool-3": a smaller memory footprint; the ring rewinds to its start while the
reader keeps up, so it should be no faster than the default).
videotestsrc pattern=black renders each frame with a fill, the cheapest pattern, so the transport is measured.
A full run repeats the throughput cases in 3 interleaved rounds and reports medians (the host drifts). The
`other` column is the share of the machine's CPUs used by other processes during a case (from /proc/stat minus
our processes' CPU); above 10 % it is marked `*`: such figures measure the host's load as much as the transport.

Latency: zb-gst-probe --stamp writes CLOCK_MONOTONIC into the first 8 bytes of each buffer just before the sink;
the reader's zb-gst-probe --latency subtracts it from its own clock just after the source: one-way latency
p50/p99/p99.9 at 1080p I420, unpaced and paced at 30, 60 and 120 fps with a live source, for (b) with its
default wait-mode=cadence and with wait-mode=sleep (the plain futex wait), for (c), and the copy path at 60 fps.

Targets (printed as PASS/MISS, the script never fails on them): (b) >= 0.95 (a) and >= 1.0 (c) frames/s,
zerobuffersrc's process uses less CPU per frame than shmsrc's; paced, with wait-mode=cadence: p99 <= 50 us,
p99.9 <= 200 us, and reader CPU at most 3 % of one core above the wait-mode=sleep row (docs/latency.md).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FORMATS = [
    ("1080p I420", "I420", 1920, 1080),
    ("1080p RGBA", "RGBA", 1920, 1080),
    ("4K I420", "I420", 3840, 2160),
    ("4K RGBA", "RGBA", 3840, 2160),
]
# Throughput paths: (upstream cannot use the sink's pool, frames the ring / shm area holds). "pool" is the
# default ring of 8 frames; "pool-3" a ring of 3, to check that the ring size costs no speed.
PATHS = {"pool": (False, 8), "pool-3": (False, 3), "copy": (True, 8)}
WARMUP = 20  # buffers left out of frames/s and latency: connection set-up and the first pass over the ring or shm area (page faults)


def busy_seconds():
    """CPU time the whole machine spent busy so far (all CPUs), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """Share of the machine's CPUs that processes other than ours used during one case (a loaded host)."""

    def __init__(self):
        self.busy = busy_seconds()
        self.wall = time.monotonic()

    def share(self, our_cpu_s):
        wall = time.monotonic() - self.wall
        other = busy_seconds() - self.busy - our_cpu_s
        return max(0.0, other / (wall * (os.cpu_count() or 1))) if wall > 0 else 0.0


def warmup_for(frames):
    return min(WARMUP, frames // 4)


class Bench:
    def __init__(self, args, tmp):
        self.probe = args.probe
        self.tmp = tmp
        self.env = dict(os.environ)
        self.env["GST_PLUGIN_PATH"] = args.plugin_dir
        self.env["GST_REGISTRY"] = os.path.join(tmp, "registry.bin")
        self.zbctl = args.zbctl
        self.serial = 0
        self.children = []
        self.shm_runs = 0
        self.shm_stalls = 0
        # Writer (and the single process) on CPU 0, reader on CPU 1, like zb-bench: no migrations, no sharing.
        self.pin = not args.no_pin and (os.cpu_count() or 1) >= 2

    def unique(self, what):
        self.serial += 1
        return f"gstbench-{what}-{os.getpid()}-{self.serial}"

    def start(self, label, argv, timeout_s=300):
        cpu = 1 if label == "reader" else 0
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if self.pin else None
        proc = subprocess.Popen([self.probe, "--label", label, "--timeout", str(timeout_s)] + argv, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pin)
        self.children.append(proc)
        return proc

    def finish(self, proc, label, allowed=(0,), timeout_s=400):
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # Stuck (shmsink at end of stream sometimes never returns): two SIGINTs make zb-gst-probe print its
            # figures and quit with exit 4.
            for _ in range(2):
                proc.send_signal(signal.SIGINT)
                time.sleep(0.3)
            out, err = proc.communicate(timeout=30)
            allowed = tuple(allowed) + (4,)
        self.children.remove(proc)
        if proc.returncode not in allowed:
            raise RuntimeError(f"{label} exited {proc.returncode}:\n{err.strip()}\n{out.strip()[-2000:]}")
        summary = parse_summary(out, label)
        summary["exit"] = proc.returncode
        return summary

    def stop_all(self):
        for proc in self.children:
            proc.kill()
            proc.wait()
        self.children.clear()

    @staticmethod
    def remove_shm_segments(pid):
        """shmsink's segments (/dev/shm/shmpipe.PID.N) outlive a writer that was stopped without teardown."""
        for name in os.listdir("/dev/shm"):
            parts = name.split(".")
            if len(parts) == 3 and parts[0] == "shmpipe" and parts[1].strip() == str(pid):
                try:
                    os.unlink(os.path.join("/dev/shm", name))
                except OSError:
                    pass

    def ring_cleanup(self, ring):
        if self.zbctl:
            subprocess.run([self.zbctl, "gc", ring], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # --- the three transports; each returns (writer summary, reader summary or None) ---------------------------

    def single(self, source, caps, frames):
        load = OtherLoad()
        proc = self.start("single", ["--warmup", str(warmup_for(frames)), source, f"num-buffers={frames}", "!", caps, "!",
                                     "fakesink", "name=probe", "sync=false"])
        summary = self.finish(proc, "single")
        summary["other"] = load.share(summary["cpu_s"])
        return summary, None

    def zerobuffer(self, source, caps, frames, copy=False, stamp=False, ring_frames=8, wait_mode="cadence"):
        ring = self.unique("zb")
        load = OtherLoad()
        try:
            reader = self.start("reader", ["--warmup", str(warmup_for(frames))] + (["--latency"] if stamp else []) +
                                ["zerobuffersrc", "name=probe", f"ring={ring}", "reconnect=true",
                                 f"wait-mode={wait_mode}", "!",
                                 "fakesink", "sync=false"])
            writer = self.start("writer", ["--warmup", str(warmup_for(frames))] + (["--stamp"] if stamp else []) +
                                [source, f"num-buffers={frames}", "!", caps, "!"] +
                                (["identity", "drop-allocation=true", "!"] if copy else []) +
                                ["zerobuffersink", "name=probe", f"ring={ring}", "wait-for-reader=true",
                                 f"buffers={ring_frames}", "sync=false"])
            w = self.finish(writer, "zerobuffersink process")
            r = self.finish(reader, "zerobuffersrc process")
            w["other"] = r["other"] = load.share(w["cpu_s"] + r["cpu_s"])
            return w, r
        finally:
            self.stop_all()
            self.ring_cleanup(ring)

    def shm(self, source, caps, frames, frame_bytes, copy=False, stamp=False, ring_frames=8, attempts=2,
            expected_s=0.0):
        """shmsink -> shmsrc. When shmsink renders into its own allocator and the area fills, the pair sometimes
        stalls for good (seen at 1080p: the writer waits for room, the reader for data). A stalled run is tried
        again; after `attempts` stalls the last one's figures (up to the stall) are returned, marked."""
        for attempt in range(attempts):
            w, r = self.shm_once(source, caps, frames, frame_bytes, copy, stamp, ring_frames, expected_s)
            if not r["stalled"] or attempt == attempts - 1:
                return w, r
        return w, r

    def shm_once(self, source, caps, frames, frame_bytes, copy, stamp, ring_frames, expected_s):
        socket = os.path.join(self.tmp, self.unique("shm"))
        load = OtherLoad()
        writer = None
        try:
            # Room for as many frames as the zerobuffer ring (8 by default); shmsink blocks when its area is full.
            writer = self.start("writer", ["--warmup", str(warmup_for(frames))] + (["--stamp"] if stamp else []) +
                                [source, f"num-buffers={frames}", "!", caps, "!"] +
                                (["identity", "drop-allocation=true", "!"] if copy else []) +
                                ["shmsink", "name=probe", f"socket-path={socket}", "wait-for-connection=true",
                                 f"shm-size={frame_bytes * ring_frames + 4096}", "sync=false"])
            deadline = time.monotonic() + 30
            while not os.path.exists(socket):
                if writer.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("shmsink did not create its socket: " + writer.stderr.read())
                time.sleep(0.01)
            # shmsrc needs the caps typed after it, and never sees end of stream: it stops after `frames`.
            # A stall shows as no buffer for a long time: the reader times out (3) or loses its socket (1).
            stall_timeout = int(6 + 1.5 * expected_s)
            reader = self.start("reader", ["--warmup", str(warmup_for(frames)), "--frames", str(frames)] +
                                (["--latency"] if stamp else []) +
                                ["shmsrc", "name=probe", f"socket-path={socket}", "is-live=true", "!",
                                 caps, "!", "fakesink", "sync=false"], timeout_s=stall_timeout)
            r = self.finish(reader, "shmsrc process", allowed=(0, 1, 3))
            r["stalled"] = r["exit"] != 0
            self.shm_runs += 1
            self.shm_stalls += 1 if r["stalled"] else 0
            if r["stalled"]:
                # The writer is stuck in its streaming thread; two SIGINTs make it print its figures and quit.
                for _ in range(2):
                    writer.send_signal(signal.SIGINT)
                    time.sleep(0.3)
            w = self.finish(writer, "shmsink process", allowed=(0, 4) if r["stalled"] else (0,), timeout_s=15)
            w["other"] = r["other"] = load.share(w["cpu_s"] + r["cpu_s"])
            return w, r
        finally:
            self.stop_all()
            if writer is not None:
                self.remove_shm_segments(writer.pid)


def parse_summary(text, label):
    summary = {}
    m = re.search(r": frames (\d+) \((\d+) timed in ([0-9.]+) s\), ([0-9.]+) frames/s", text)
    if not m:
        raise RuntimeError(f"{label}: no summary in output:\n{text[-2000:]}")
    summary["frames"] = int(m.group(1))
    summary["fps"] = float(m.group(4))
    m = re.search(r": cpu ([0-9.]+) s in ([0-9.]+) s wall", text)
    summary["cpu_s"] = float(m.group(1))
    # CPU of the timed window only (after the warm-up): set-up and first-touch page faults left out.
    m = re.search(r": timed cpu ([0-9.]+) s, ([0-9.]+) ms per frame, (-?\d+) page faults", text)
    summary["cpu_ms_per_frame"] = float(m.group(2)) if m else float("nan")
    summary["timed_faults"] = int(m.group(3)) if m else -1
    m = re.search(r": latency p50 ([0-9.]+) us, p99 ([0-9.]+) us, p99.9 ([0-9.]+) us, max ([0-9.]+) us", text)
    if m:
        summary["latency"] = tuple(float(g) for g in m.groups())
    return summary


def verdict(ok):
    return "PASS" if ok else "MISS"


def frame_bytes(fmt, width, height):
    return width * height * 4 if fmt == "RGBA" else width * height * 3 // 2


def median(values):
    """Median of the values that are numbers (a run that stalled before its warm-up ended has none)."""
    ordered = sorted(v for v in values if v == v)
    return ordered[len(ordered) // 2] if ordered else float("nan")


def ratio(num, den):
    return num / den if den > 0 else float("nan")


def run_throughput(bench, quick, rounds, results):
    print(f"\n== Throughput (frames/s; CPU in ms per frame per process; videotestsrc pattern=black, not live; "
          f"median of {rounds} interleaved round{'s' if rounds > 1 else ''})")
    header = (f"{'format':<12} {'path':<6} {'(a) 1 proc':>10} {'(b) zerobuffer':>14} {'(c) shm':>8} "
              f"{'(b)/(a)':>8} {'(b)/(c)':>8}  {'cpu a':>6} {'cpu zb w/r':>11} {'cpu shm w/r':>11} {'other':>6}")
    print(header)
    for name, fmt, width, height in FORMATS:
        frames = (80 if width == 1920 else 40) if quick else (400 if width == 1920 else 150)
        caps = f"video/x-raw,format={fmt},width={width},height={height},framerate=30/1"
        source = "videotestsrc pattern=black"
        size = frame_bytes(fmt, width, height)
        samples = {path: [] for path in PATHS}
        for _ in range(rounds):
            # Interleaved: (a), then (b) and (c) of each path, so that a drift of the host hits all alike.
            a, _ = bench.single(source, caps, frames)
            for path, (copy, ring_frames) in PATHS.items():
                bw, br = bench.zerobuffer(source, caps, frames, copy=copy, ring_frames=ring_frames)
                cw, cr = bench.shm(source, caps, frames, size, copy=copy, ring_frames=ring_frames)
                b_fps = min(bw["fps"], br["fps"])
                c_fps = min(cw["fps"], cr["fps"]) or float("nan")
                samples[path].append({
                    "a": a["fps"], "b": b_fps, "c": c_fps, "ba": ratio(b_fps, a["fps"]), "bc": ratio(b_fps, c_fps),
                    "cpu_a": a["cpu_ms_per_frame"], "cpu_bw": bw["cpu_ms_per_frame"],
                    "cpu_br": br["cpu_ms_per_frame"], "cpu_cw": cw["cpu_ms_per_frame"],
                    "cpu_cr": cr["cpu_ms_per_frame"], "stalled": 1.0 if cr["stalled"] else 0.0,
                    "other": max(a["other"], bw["other"], cw["other"])})
        for path in PATHS:
            row = {"name": name, "path": path}
            for key in samples[path][0]:
                row[key] = median([sample[key] for sample in samples[path]])
            row["stalled"] = sum(sample["stalled"] for sample in samples[path])
            results.append(row)
            c_text = f"{row['c']:.1f}" + ("s" if row["stalled"] else "")
            print(f"{name:<12} {path:<6} {row['a']:>10.1f} {row['b']:>14.1f} {c_text:>8} "
                  f"{row['ba']:>8.2f} {row['bc']:>8.2f}  {row['cpu_a']:>6.2f} "
                  f"{row['cpu_bw']:>5.2f}/{row['cpu_br']:<5.3f} {row['cpu_cw']:>5.2f}/{row['cpu_cr']:<5.3f} "
                  f"{100 * row['other']:>5.0f}%{'*' if row['other'] > 0.10 else ''}", flush=True)


def run_latency(bench, quick, latencies, details):
    print("\n== One-way latency, 1080p I420 (us; stamped before the sink, measured after the source)")
    print(f"{'case':<44} {'p50':>9} {'p99':>9} {'p99.9':>9} {'max':>9} {'frames':>7} {'reader cpu ms/frame':>20} "
          f"{'other':>6}")
    size = frame_bytes("I420", 1920, 1080)
    seconds = 3 if quick else 30  # of each paced case
    unpaced_frames = 120 if quick else 1200
    # zerobuffersrc waits with wait-mode=cadence by default; the sleep rows are the plain futex wait side by side.
    cases = []
    for fps in (30, 60, 120):
        cases += [(f"zerobuffer paced {fps} fps", "zb", fps, False, "cadence"),
                  (f"zerobuffer paced {fps} fps, wait-mode=sleep", "zb", fps, False, "sleep"),
                  (f"shm paced {fps} fps", "shm", fps, False, None)]
    cases += [
        ("zerobuffer paced 60 fps, copy path", "zb", 60, True, "cadence"),
        ("shm paced 60 fps, copy path", "shm", 60, True, None),
        ("zerobuffer unpaced", "zb", 0, False, "cadence"),
        ("shm unpaced", "shm", 0, False, None),
    ]
    for label, transport, fps, copy, wait_mode in cases:
        paced = fps > 0
        caps = f"video/x-raw,format=I420,width=1920,height=1080,framerate={fps or 60}/1"
        source = "videotestsrc pattern=black" + (" is-live=true" if paced else "")
        frames = fps * seconds if paced else unpaced_frames
        if transport == "zb":
            _, reader = bench.zerobuffer(source, caps, frames, copy=copy, stamp=True, wait_mode=wait_mode)
        else:
            _, reader = bench.shm(source, caps, frames, size, copy=copy, stamp=True,
                                  expected_s=frames / fps if paced else 0.0)
        p50, p99, p999, pmax = reader.get("latency", (float("nan"),) * 4)
        latencies[label] = (p50, p99, p999, pmax)
        details[label] = {"frames": reader["frames"], "reader_cpu_ms_per_frame": reader["cpu_ms_per_frame"],
                          "other_cpu": reader["other"], "paced_fps": fps if paced else None,
                          "transport": transport, "copy_path": copy, "wait_mode": wait_mode}
        print(f"{label:<44} {p50:>9.1f} {p99:>9.1f} {p999:>9.1f} {pmax:>9.1f} {reader['frames']:>7} "
              f"{reader['cpu_ms_per_frame']:>20.3f} {100 * reader['other']:>5.0f}%"
              f"{'*' if reader['other'] > 0.10 else ''}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", required=True, help="the zb-gst-probe program")
    parser.add_argument("--plugin-dir", required=True, help="directory of the zerobuffer plugin (GST_PLUGIN_PATH)")
    parser.add_argument("--zbctl", default="", help="zbctl, to remove a ring left by a failed run")
    parser.add_argument("--quick", action="store_true", help="few frames: checks that the benchmark runs")
    parser.add_argument("--rounds", type=int, default=0, help="throughput rounds (default: 3, 1 with --quick)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the writer to CPU 0, the reader to CPU 1")
    parser.add_argument("--no-latency", action="store_true", help="throughput only")
    parser.add_argument("--no-throughput", action="store_true", help="latency only")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout (the tables on stderr)")
    args = parser.parse_args()
    json_out = sys.stdout
    if args.json:
        sys.stdout = sys.stderr  # the tables stay as they are, on stderr; stdout carries only the JSON

    cpu = "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    print(f"gst-bench{' --quick' if args.quick else ''}: {cpu}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{'writer on CPU 0, reader on CPU 1' if not args.no_pin and (os.cpu_count() or 1) >= 2 else 'not pinned'}")

    tmp = tempfile.mkdtemp(prefix="gst-bench-")
    bench = Bench(args, tmp)
    results, latencies, latency_details = [], {}, {}
    try:
        if not args.no_throughput:
            run_throughput(bench, args.quick, args.rounds or (1 if args.quick else 3), results)
        if not args.no_latency:
            run_latency(bench, args.quick, latencies, latency_details)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"gst-bench: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gst-bench: interrupted", file=sys.stderr)
        return 130
    finally:
        bench.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    if bench.shm_runs:
        print(f"\nshmsink -> shmsrc stalled for good in {bench.shm_stalls} of {bench.shm_runs} runs (each stall is "
              "retried once; a figure marked 's' comes from a run that still stalled, counted up to the stall)")
    print("\n== Targets")
    for row in results:
        what = f"{row['name']} {row['path']}"
        print(f"{verdict(row['ba'] >= 0.95)}  {what}: (b)/(a) = {row['ba']:.2f} (target >= 0.95)")
        print(f"{verdict(row['bc'] >= 1.0)}  {what}: (b)/(c) = {row['bc']:.2f} (target >= 1.0)")
        print(f"{verdict(row['cpu_br'] < row['cpu_cr'])}  {what}: reader CPU zerobuffersrc {row['cpu_br']:.3f} "
              f"ms/frame vs shmsrc {row['cpu_cr']:.3f} ms/frame (target: lower)")
    # Issue 11's live targets for the default cadence wait: p99 <= 50 us, p99.9 <= 200 us, and at most 3 % of one
    # core in the reader beyond what the plain futex wait (the wait-mode=sleep row of the same rate) uses.
    for label, (p50, p99, p999, _) in latencies.items():
        detail = latency_details[label]
        if detail["transport"] != "zb" or not detail["paced_fps"] or detail["copy_path"] or detail["wait_mode"] != "cadence":
            continue
        print(f"{verdict(p99 <= 50.0)}  {label}: p99 {p99:.1f} us (target <= 50 us)")
        print(f"{verdict(p999 <= 200.0)}  {label}: p99.9 {p999:.1f} us (target <= 200 us)")
        sleep = latency_details.get(f"{label}, wait-mode=sleep")
        if sleep:
            extra = (detail["reader_cpu_ms_per_frame"] - sleep["reader_cpu_ms_per_frame"]) * detail["paced_fps"] / 10
            print(f"{verdict(extra <= 3.0)}  {label}: reader CPU beyond wait-mode=sleep {extra:.2f} % of one core "
                  "(target <= 3 %)")
    if args.json:
        json_out.write(json.dumps(to_json(args, cpu, bench, results, latencies, latency_details)) + "\n")
    return 0


def to_json(args, cpu, bench, results, latencies, details):
    """Every figure of the run, for scripts/run-sla.sh (NaN becomes null: a case that measured nothing)."""
    def number(value):
        return None if isinstance(value, float) and value != value else value
    return {
        "tool": "gst-bench", "run": "quick" if args.quick else "full",
        "machine": {"model": cpu, "cpus": os.cpu_count()},
        "throughput": [{key: number(value) for key, value in row.items()} for row in results],
        "latency": [{"case": label, "p50_us": number(p50), "p99_us": number(p99), "p999_us": number(p999),
                     "max_us": number(pmax), **details[label]} for label, (p50, p99, p999, pmax) in latencies.items()],
        "shm_runs": bench.shm_runs, "shm_stalls": bench.shm_stalls,
    }


if __name__ == "__main__":
    sys.exit(main())
