#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Usage: chaos-gst.py ZB_GST_PROBE ZBCTL [--cycles N] [--seed S] [--json FILE]

Chaos through the GStreamer elements (docs/reliability.md, "Chaos through GStreamer and the relay"): a live
writer pipeline (videotestsrc ! zerobuffersink checksum=checksum) and three reader pipelines (zerobuffersrc
reconnect=true verify-checksum=true: two lossless, one latest), each a real zb-gst-probe process printing the
SHA-1 of every buffer. Every cycle kills one of them with SIGKILL at a random moment, starts it again and waits
until every pipeline delivers frames again. At the end the writer gets end-of-stream and every reader must end
with it. Checked: every buffer a reader got is one a writer sent (same offset, same SHA-1), no reader refused a
frame's checksum, no pipeline stalls (progress within 10 s of a restart, times ZB_TEST_TIME_SCALE), the dead
reader's slot is reclaimed, nothing is left in /dev/shm. GST_PLUGIN_PATH must find the elements.
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

CAPS = "video/x-raw,format=I420,width=320,height=240,framerate=60/1"
READERS = [("lossless", "a"), ("lossless", "b"), ("latest", "c")]
BUFFER = re.compile(r"^buffer \d+ .*offset=(\S+) .*sha1=(\S+)$")


class Failure(Exception):
    pass


def scale():
    return float(os.environ.get("ZB_TEST_TIME_SCALE", "1"))


class Pipeline:
    """One zb-gst-probe process and its output file; restarted as a new incarnation with a new file."""

    def __init__(self, probe, role, args, folder):
        self.probe, self.role, self.args, self.folder = probe, role, args, folder
        self.incarnation = 0
        self.proc = None
        self.files = []
        self.start()

    def start(self):
        self.incarnation += 1
        out = os.path.join(self.folder, f"{self.role}.{self.incarnation}.out")
        err = os.path.join(self.folder, f"{self.role}.{self.incarnation}.err")
        self.files.append((out, err))
        with open(out, "w") as stdout, open(err, "w") as stderr:
            self.proc = subprocess.Popen([self.probe, "--checksums"] + self.args, stdout=stdout, stderr=stderr,
                                         stdin=subprocess.DEVNULL)

    def lines(self):
        """Buffer lines of the current incarnation so far."""
        with open(self.files[-1][0]) as out:
            return sum(1 for line in out if line.startswith("buffer "))

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def inspect(zbctl, ring):
    run = subprocess.run([zbctl, "inspect", "--json", ring], capture_output=True, text=True, timeout=10)
    if run.returncode != 0:
        return None
    try:
        return json.loads(run.stdout)
    except ValueError:
        return None


def wait_progress(pipelines, since, deadline, what):
    """Until every pipeline printed at least 2 buffer lines more than `since` (by role)."""
    while time.monotonic() < deadline:
        if all(p.lines() >= since.get(p.role, 0) + 2 for p in pipelines):
            return time.monotonic()
        for p in pipelines:
            if p.proc.poll() is not None:
                raise Failure(f"{p.role} exited with {p.proc.returncode} {what}: {read(p.files[-1][1])[-2000:]}")
        time.sleep(0.02)
    stuck = [p.role for p in pipelines if p.lines() < since.get(p.role, 0) + 2]
    raise Failure(f"deadlock: {', '.join(stuck)} made no progress {what}")


def wait_slot_gone(zbctl, ring, pid, deadline):
    while time.monotonic() < deadline:
        snapshot = inspect(zbctl, ring)
        if snapshot is not None and all(r["pid"] != pid for r in snapshot["readers"]):
            return time.monotonic()
        time.sleep(0.005)
    raise Failure(f"the slot of killed reader pid {pid} was not reclaimed")


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def buffers(path):
    with open(path) as out:
        for line in out:
            match = BUFFER.match(line.strip())
            if match:
                yield match.group(1), match.group(2)


def run(options):
    rng = random.Random(options.seed)
    ring = f"chaos-gst-{os.getpid()}"
    report = {"cycles": 0, "kills": {"writer": 0, "lossless reader": 0, "latest reader": 0}, "frames_verified": 0,
              "corrupted_frames": 0, "checksum_refusals": 0, "deadlocks": 0, "max_recovery_ms": 0.0,
              "max_reader_reclaim_ms": 0.0, "objects_left": 0, "seed": options.seed}
    progress_bound = 10 * scale()
    with tempfile.TemporaryDirectory(prefix="zb-chaos-gst-") as folder:
        writer = Pipeline(options.probe, "writer", ["videotestsrc", "is-live=true", "pattern=ball", "!", CAPS, "!",
                                                    "zerobuffersink", "name=probe", f"ring={ring}",
                                                    "checksum=checksum", "wait-for-reader=true"], folder)
        readers = [Pipeline(options.probe, f"reader-{tag}",
                            ["zerobuffersrc", "name=probe", f"ring={ring}", "reconnect=true", f"policy={policy}",
                             "verify-checksum=true", "!", "fakesink", "sync=false"], folder)
                   for policy, tag in READERS]
        team = [writer] + readers
        try:
            wait_progress(team, {}, time.monotonic() + 30 * scale(), "at start")
            for cycle in range(options.cycles):
                victim = rng.choice(team)
                time.sleep(rng.uniform(0.05, 0.6))  # a random moment of the stream: mid-commit, mid-acquire, held
                since = {p.role: p.lines() for p in team if p is not victim}
                pid = victim.proc.pid
                killed = time.monotonic()
                victim.kill()
                if victim is writer:
                    report["kills"]["writer"] += 1
                else:
                    report["kills"]["latest reader" if victim.role == "reader-c" else "lossless reader"] += 1
                    # The writer reclaims the dead reader's slot while it waits for room or at its next commits.
                    reclaimed = wait_slot_gone(options.zbctl, ring, pid, killed + 2 * scale())
                    report["max_reader_reclaim_ms"] = max(report["max_reader_reclaim_ms"], (reclaimed - killed) * 1e3)
                victim.start()
                since[victim.role] = 0
                try:
                    recovered = wait_progress(team, since, time.monotonic() + progress_bound,
                                              f"within {progress_bound:.0f} s after {victim.role} was killed "
                                              f"(cycle {cycle})")
                except Failure:
                    report["deadlocks"] += 1
                    raise
                report["max_recovery_ms"] = max(report["max_recovery_ms"], (recovered - killed) * 1e3)
                report["cycles"] += 1
            # The end: end-of-stream from the writer, which every reader must see and end with.
            writer.proc.send_signal(signal.SIGINT)
            for p in team:
                try:
                    p.proc.wait(timeout=30 * scale())
                except subprocess.TimeoutExpired:
                    raise Failure(f"{p.role} did not end after the writer's end-of-stream") from None
                expected = 4 if p is writer else 0  # zb-gst-probe: 4 = ended by SIGINT's end-of-stream
                if p.proc.returncode != expected:
                    raise Failure(f"{p.role} ended with {p.proc.returncode}: {read(p.files[-1][1])[-2000:]}")
            sent = set()
            for out, _ in writer.files:
                sent.update(buffers(out))
            for reader in readers:
                for out, err in reader.files:
                    for frame in buffers(out):
                        report["frames_verified"] += 1
                        if frame not in sent:
                            report["corrupted_frames"] += 1
                    report["checksum_refusals"] += len(re.findall(r"checksum|MAC", read(err), re.IGNORECASE))
        finally:
            for p in team:
                if p.proc.poll() is None:
                    p.kill()
            subprocess.run([options.zbctl, "gc", ring], capture_output=True, timeout=30)
    report["objects_left"] = sum(1 for name in os.listdir("/dev/shm") if ring in name)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], usage=__doc__.split("\n")[0][7:])
    parser.add_argument("probe", help="the zb-gst-probe program")
    parser.add_argument("zbctl", help="the zbctl program")
    parser.add_argument("--cycles", type=int, default=20, help="kill cycles (default 20; the long mode is 1000)")
    parser.add_argument("--seed", type=int, default=20261207, help="seed of the victims and moments")
    parser.add_argument("--json", help="also write the report to this file")
    options = parser.parse_args()
    if options.cycles < 1:
        parser.error("--cycles must be at least 1")
    started = time.monotonic()
    try:
        report = run(options)
    except (Failure, subprocess.TimeoutExpired, OSError) as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2))
    if options.json:
        with open(options.json, "w") as f:
            json.dump(report, f, indent=2)
    bad = {key: report[key] for key in ("corrupted_frames", "checksum_refusals", "deadlocks", "objects_left")
           if report[key] != 0}
    if report["frames_verified"] < 10 * report["cycles"]:
        bad["frames_verified"] = report["frames_verified"]
    if bad:
        print(f"FAIL: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
