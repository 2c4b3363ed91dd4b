#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Usage: chaos-relay.py ZB_RELAY ZB_RELAY_PEER ZBCTL [--cycles N] [--seed S] [--json FILE]

Chaos through the relay (docs/reliability.md, "Chaos through GStreamer and the relay"): a writer of known frames
(zb-relay-peer write, 320x240 at 100 fps) -> a sending zb-relay on tcp, registered with a zb-relay broker -> a
receiving zb-relay that finds the sender by name through the broker -> a ring -> a reader that checks every byte,
FrameInfo field and metadata blob of every frame (zb-relay-peer read --allow-gaps --reattach). Every cycle kills
the sender, the receiver or the broker with SIGKILL at a random moment and starts it again (a sender on a new
port, which the receiver must learn from the broker), then waits until frames arrive again. At the end the writer
ends the stream and the reader must get end-of-stream. Checked: no frame delivered corrupted (the reader's
mismatches), every gap flagged as a discontinuity, no stall (frames within 15 s of a restart, times
ZB_TEST_TIME_SCALE), nothing left in /dev/shm. Reported: the time from each kill to the next frame.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

import chaos_common
from chaos_common import Failure, scale

WIDTH, HEIGHT, FPS = 320, 240, 100



def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """One program, restartable; its stderr goes to a file per incarnation."""

    def __init__(self, role, folder, make_args):
        self.role, self.folder, self.make_args = role, folder, make_args
        self.incarnation = 0
        self.proc = None
        self.start()

    def start(self):
        self.incarnation += 1
        self.err = os.path.join(self.folder, f"{self.role}.{self.incarnation}.err")
        with open(self.err, "w") as stderr:
            self.proc = subprocess.Popen(self.make_args(), stdout=subprocess.DEVNULL, stderr=stderr,
                                         stdin=subprocess.DEVNULL)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def tail(self):
        with open(self.err, errors="replace") as f:
            return f.read()[-2000:]


def arrivals(path):
    with open(path) as out:
        return sum(1 for line in out if line.startswith("arrival: "))


def report_of(text):
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line and not line.startswith("arrival"))


def run(options):
    rng = random.Random(options.seed)
    tag = f"chaos-relay-{os.getpid()}"
    stream = f"cam-{tag}"
    broker_address = f"tcp://127.0.0.1:{free_port()}"
    report = {"cycles": 0, "kills": {"sender": 0, "receiver": 0, "broker": 0}, "frames_verified": 0,
              "frames_missed": 0, "discontinuities": 0, "corrupted_frames": 0, "deadlocks": 0,
              "max_recovery_ms": {"sender": 0.0, "receiver": 0.0, "broker": 0.0}, "objects_left": 0,
              "seed": options.seed}
    progress_bound = 15 * scale()
    with tempfile.TemporaryDirectory(prefix="zb-chaos-relay-") as folder:
        reader_out = os.path.join(folder, "reader.out")
        with open(reader_out, "w") as out, open(os.path.join(folder, "reader.err"), "w") as err:
            reader = subprocess.Popen([options.peer, "read", f"{tag}-dst", "--frames", "1000000000", "--width",
                                       str(WIDTH), "--height", str(HEIGHT), "--allow-gaps", "--reattach",
                                       "--print-arrivals", "--timeout-s", str(int(options.cycles * 20 + 120))],
                                      stdout=out, stderr=err)
        broker = Process("broker", folder, lambda: [options.relay, "broker", "--bind", broker_address, "--insecure",
                                                    "--status-interval", "0"])
        receiver = Process("receiver", folder, lambda: [
            options.relay, "--from", f"broker://{broker_address[6:]}/{stream}", "--to",
            f"ring:{tag}-dst?wait-readers=1", "--insecure", "--status-interval", "0"])
        sender = Process("sender", folder, lambda: [
            options.relay, "--from", f"ring:{tag}-src", "--to", f"tcp://127.0.0.1:{free_port()}", "--insecure",
            "--broker", broker_address, "--publish-name", stream, "--status-interval", "0"])
        writer = subprocess.Popen([options.peer, "write", f"{tag}-src", "--frames", "1000000000", "--width",
                                   str(WIDTH), "--height", str(HEIGHT), "--fps", str(FPS), "--wait-readers", "1",
                                   "--eos-on-sigterm"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        victims = [sender, receiver, broker]
        everyone = victims + [reader, writer]

        def wait_frames(since, deadline, what):
            while time.monotonic() < deadline:
                if arrivals(reader_out) >= since + 2:
                    return time.monotonic()
                for process in victims:
                    if process.proc.poll() is not None:
                        raise Failure(f"{process.role} exited with {process.proc.returncode} {what}: "
                                      f"{process.tail()}")
                for proc, role in ((reader, "reader"), (writer, "writer")):
                    if proc.poll() is not None:
                        raise Failure(f"the {role} exited with {proc.returncode} {what}")
                time.sleep(0.01)
            report["deadlocks"] += 1
            raise Failure(f"deadlock: no frame reached the reader {what}")

        try:
            wait_frames(0, time.monotonic() + 30 * scale(), "at start")
            for cycle in range(options.cycles):
                victim = rng.choice(victims)
                time.sleep(rng.uniform(0.05, 0.5))
                since = arrivals(reader_out)
                killed = time.monotonic()
                victim.kill()
                report["kills"][victim.role] += 1
                victim.start()
                recovered = wait_frames(since, time.monotonic() + progress_bound,
                                        f"within {progress_bound:.0f} s after the {victim.role} was killed "
                                        f"(cycle {cycle})")
                report["max_recovery_ms"][victim.role] = max(report["max_recovery_ms"][victim.role],
                                                             round((recovered - killed) * 1e3, 1))
                report["cycles"] += 1
            writer.send_signal(signal.SIGTERM)  # end-of-stream, which must reach the reader through both relays
            if writer.wait(timeout=30 * scale()) != 0:
                raise Failure(f"the writer ended with {writer.returncode}: {writer.stderr.read()}")
            try:
                reader.wait(timeout=30 * scale())
            except subprocess.TimeoutExpired:
                raise Failure("the reader got no end-of-stream after the writer ended the stream") from None
            with open(reader_out) as out:
                result = report_of(out.read())
            report["frames_verified"] = int(result.get("frames", 0))
            report["frames_missed"] = int(result.get("missing", 0))
            report["discontinuities"] = int(result.get("discontinuities", 0))
            report["corrupted_frames"] = int(result.get("mismatches", -1))
            if reader.returncode != 0 or result.get("eos") != "yes":
                with open(os.path.join(folder, "reader.err")) as err:
                    raise Failure(f"the reader ended with {reader.returncode}: {result} {err.read()[-2000:]}")
        finally:
            for process in victims:
                if process.proc.poll() is None:
                    process.proc.send_signal(signal.SIGTERM)
            for proc in [p.proc for p in victims] + [reader, writer]:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if writer.stderr:
                writer.stderr.close()
            for suffix in ("src", "dst"):
                subprocess.run([options.zbctl, "gc", f"{tag}-{suffix}"], capture_output=True, timeout=30)
        del everyone
    report["objects_left"] = sum(1 for name in os.listdir("/dev/shm") if tag in name)
    return report



if __name__ == "__main__":
    PROGRAMS = [("relay", "the zb-relay program"), ("peer", "the zb-relay-peer test program"),
                ("zbctl", "the zbctl program")]
    sys.exit(chaos_common.main(__doc__, PROGRAMS, run, ("corrupted_frames", "deadlocks", "objects_left")))
