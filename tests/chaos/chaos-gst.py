#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Usage: chaos-gst.py ZB_GST_PROBE ZBCTL [--cycles N] [--seed S] [--json FILE]

Chaos through the GStreamer elements (docs/reliability.md, "Chaos through GStreamer and the relay"): a live
writer pipeline (videotestsrc ! zerobuffersink checksum=checksum) and three reader pipelines (zerobuffersrc
reconnect=true verify-checksum=true: two lossless, one latest), each a real zb-gst-probe process printing the
SHA-1 of every buffer. Every cycle kills one of them with SIGKILL at a random moment, starts it again and waits
until every pipeline delivers frames again. At the end the writer gets end-of-stream and every reader must end
with it. Checked: every buffer a reader got is one a writer sent (same offset, same SHA-1), a lossless reader
missed no frame of a writer between the first and the last it got of it (each writer incarnation draws its ball
in its own colour, so a buffer tells which one sent it), no reader refused a frame's checksum, no pipeline stalls
(progress within 10 s of a restart, times ZB_TEST_TIME_SCALE), the dead reader's slot is reclaimed, nothing is
left in /dev/shm. GST_PLUGIN_PATH must find the elements.
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

import chaos_common
from chaos_common import Failure, scale

CAPS = "video/x-raw,format=I420,width=320,height=240,framerate=60/1"
READERS = [("lossless", "a"), ("lossless", "b"), ("latest", "c")]
BUFFER = re.compile(r"^buffer \d+ .*offset=(\S+) .*sha1=(\S+)$")



class Pipeline:
    """One zb-gst-probe process and its output file; restarted as a new incarnation with a new file."""

    def __init__(self, probe, role, args, folder):
        """`args` is the pipeline, or a function of the incarnation (1, 2...) that gives it."""
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
            args = self.args(self.incarnation) if callable(self.args) else self.args
            self.proc = subprocess.Popen([self.probe, "--checksums"] + args, stdout=stdout, stderr=stderr,
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
              "corrupted_frames": 0, "lossless_gaps": 0, "lossless_frames_lost": 0, "checksum_refusals": 0, "deadlocks": 0, "max_recovery_ms": 0.0,
              "max_reader_reclaim_ms": 0.0, "objects_left": 0, "seed": options.seed}
    progress_bound = 10 * scale()
    with tempfile.TemporaryDirectory(prefix="zb-chaos-gst-") as folder:
        # Each writer incarnation draws its ball in a colour of its own, so that a frame tells which one sent it.
        writer = Pipeline(options.probe, "writer",
                          lambda incarnation: ["videotestsrc", "is-live=true", "pattern=ball",
                                               f"foreground-color={0xff000000 | (incarnation * 0x9e3779) & 0xffffff}",
                                               "!", CAPS, "!", "zerobuffersink", "name=probe", f"ring={ring}",
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
            sent = {}  # (offset, sha1) -> the writer incarnation that sent it
            for incarnation, (out, _) in enumerate(writer.files):
                sent.update((frame, incarnation) for frame in buffers(out))
            for reader in readers:
                lossless = reader.role != "reader-c"
                for out, err in reader.files:
                    previous = None  # (writer incarnation, offset) of the frame before
                    for frame in buffers(out):
                        report["frames_verified"] += 1
                        if frame not in sent:
                            report["corrupted_frames"] += 1
                            continue
                        current = (sent[frame], int(frame[0]) if frame[0].isdigit() else -1)
                        # A lossless reader gets every frame of a writer from the first it got to the last it got.
                        if lossless and previous and previous[0] == current[0] and current[1] != previous[1] + 1 \
                                and current[1] >= 0:
                            report["lossless_gaps"] += 1
                            report["lossless_frames_lost"] += max(0, current[1] - previous[1] - 1)
                        previous = current
                    report["checksum_refusals"] += len(re.findall(r"checksum|MAC", read(err), re.IGNORECASE))
        finally:
            for p in team:
                if p.proc.poll() is None:
                    p.kill()
            subprocess.run([options.zbctl, "gc", ring], capture_output=True, timeout=30)
    report["objects_left"] = sum(1 for name in os.listdir("/dev/shm") if ring in name)
    return report



if __name__ == "__main__":
    PROGRAMS = [("probe", "the zb-gst-probe program"), ("zbctl", "the zbctl program")]
    MUST_BE_ZERO = ("corrupted_frames", "lossless_gaps", "checksum_refusals", "deadlocks", "objects_left")
    sys.exit(chaos_common.main(__doc__, PROGRAMS, run, MUST_BE_ZERO))
