#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Usage: relay-metrics-test.py ZB_RELAY SAMPLE_WRITER SAMPLE_READER ZBCTL ZB_RELAY_PEER

Tests `zb-relay --metrics ADDR:PORT` with real processes: a ring -> ring route and a ring -> tcp -> ring pair
serve their counters over HTTP (fetched with urllib, a real client); the text must pass the Prometheus parser of
python3-prometheus-client, count exactly the frames and bytes a sample writer wrote, and show the receiving
side's lost connection when the sender dies and its reconnection when it comes back. A sender with a lossless and
a slow latest subscriber shows each as its own series, and its drops (reason no_credit) equal what the slow
side's reader missed and what its relay counted as upstream gaps. A CURVE client with a key not allowed is
counted as a CURVE refusal on both sides. Bad --metrics values and a port in use are clear errors. Rings are
named after this process; none is left behind.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

FRAMES = 60
FRAME_BYTES = 640 * 480 * 3 // 2  # zb-sample-writer's 640x480 I420 frames


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Samples:
    """One scrape, parsed by prometheus_client: samples by name and labels, and each family's type."""

    def __init__(self, text):
        from prometheus_client.parser import text_string_to_metric_families

        self.items, self.types = [], {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.items.append((sample.name, sample.labels, sample.value))

    def series(self, name, **labels):
        return [(found, value) for sample, found, value in self.items
                if sample == name and all(found.get(key) == wanted for key, wanted in labels.items())]

    def get(self, name, **labels):
        """The sum of the matching samples (every reason of a drop counter, say); None when none matches."""
        matching = self.series(name, **labels)
        return sum(value for _, value in matching) if matching else None


class Relay:
    def __init__(self, binary, args):
        self.proc = subprocess.Popen([binary] + args + ["--status-interval", "0"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.url = None
        deadline = time.monotonic() + 20
        self.log = ""
        while time.monotonic() < deadline and self.url is None:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log += line
            match = re.search(r"serving metrics at (http://\S+)", line)
            if match:
                self.url = match.group(1)
        check(self.url is not None, f"zb-relay did not say where it serves metrics:\n{self.log}")

    def scrape(self):
        with urllib.request.urlopen(self.url, timeout=5) as response:
            check(response.status == 200, f"GET {self.url}: status {response.status}")
            check(response.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
                  f"content type {response.headers.get('Content-Type')}")
            return Samples(response.read().decode())

    def wait_for(self, name, route, wanted, timeout=30, **labels):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            samples = self.scrape()
            got = samples.get(name, route=route, **labels)
            if got is not None and got >= wanted:
                return samples
            time.sleep(0.1)
        raise Failure(f"{name}{{route={route},{labels}}} stayed at {got}, wanted {wanted}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("zb-relay did not stop on SIGTERM")
        self.proc.stderr.close()
        return self.proc.returncode


def ring_to_ring(relay_bin, writer_bin, reader_bin, tag):
    relay = Relay(relay_bin, ["--from", f"ring:{tag}-a", "--to", f"ring:{tag}-b", "--name", "copy",
                              "--metrics", "127.0.0.1:0"])
    reader = subprocess.Popen([reader_bin, f"{tag}-b"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        samples = relay.scrape()
        check(samples.get("zerobuffer_relay_route_frames_total", route="copy") == 0, "frames before any was written")
        types = samples.types
        check(types["zerobuffer_relay_route_frames"] == "counter", f"types: {types}")
        check(types["zerobuffer_relay_route_peers"] == "gauge", f"types: {types}")
        check(types["zerobuffer_relay_subscriber_in_flight"] == "gauge", f"types: {types}")
        reasons = {labels["reason"] for labels, _ in samples.series("zerobuffer_relay_route_drops_total", route="copy")}
        check(reasons == {"ring_full", "ring_error", "keyframe_wait", "no_credit", "queue_full", "upstream_gap"},
              f"drop reasons: {reasons}")
        writer = subprocess.run([writer_bin, f"{tag}-a", str(FRAMES)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, timeout=90)
        check(writer.returncode == 0, f"zb-sample-writer failed: {writer.stderr}")
        samples = relay.wait_for("zerobuffer_relay_route_frames_total", "copy", FRAMES)
        check(samples.get("zerobuffer_relay_route_frames_total", route="copy") == FRAMES, f"frames: {samples.items}")
        check(samples.get("zerobuffer_relay_route_bytes_total", route="copy") == FRAMES * FRAME_BYTES, "bytes")
        check(samples.get("zerobuffer_relay_route_drops_total", route="copy") == 0, "drops on a lossless route")
        check(samples.get("zerobuffer_relay_route_frames_per_second", route="copy") >= 0, "rate")
        check(samples.series("zerobuffer_relay_subscriber_frames_total", route="copy") == [],
              "subscriber series on a ring -> ring route")
    finally:
        reader.kill()
        reader.wait()
        check(relay.stop() == 0, "zb-relay's exit status after SIGTERM is not 0")
    print(f"ring -> ring: {FRAMES} frames and {FRAMES * FRAME_BYTES} bytes counted")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def over_tcp(relay_bin, writer_bin, reader_bin, tag):
    address = f"tcp://127.0.0.1:{free_port()}"
    receiver = Relay(relay_bin, ["--from", address, "--to", f"ring:{tag}-d", "--name", "in", "--insecure",
                                 "--metrics", "127.0.0.1:0"])
    sender_args = ["--from", f"ring:{tag}-c", "--to", address, "--name", "out", "--insecure",
                   "--metrics", "[::1]:0" if socket.has_ipv6 and ipv6_loopback() else "127.0.0.1:0"]
    sender = Relay(relay_bin, sender_args)
    reader = subprocess.Popen([reader_bin, f"{tag}-d"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sender.wait_for("zerobuffer_relay_route_peers", "out", 1)
        receiver.wait_for("zerobuffer_relay_route_peers", "in", 1)
        writer = subprocess.run([writer_bin, f"{tag}-c", str(FRAMES)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, timeout=90)
        check(writer.returncode == 0, f"zb-sample-writer failed: {writer.stderr}")
        sender.wait_for("zerobuffer_relay_route_frames_total", "out", FRAMES)
        samples = receiver.wait_for("zerobuffer_relay_route_frames_total", "in", FRAMES)
        check(samples.get("zerobuffer_relay_route_bytes_total", route="in") == FRAMES * FRAME_BYTES, "received bytes")
        check(samples.get("zerobuffer_relay_route_disconnects_total", route="in") == 0, "a disconnect before the kill")
        check(samples.get("zerobuffer_relay_route_reconnects_total", route="in") == 0, "a reconnect before the kill")
        check(samples.get("zerobuffer_relay_route_drops_total", route="in", reason="upstream_gap") == 0,
              "gaps on a lossless subscription")
        sent = sender.wait_for("zerobuffer_relay_subscriber_frames_total", "out", FRAMES)
        subscribers = sent.series("zerobuffer_relay_subscriber_frames_total", route="out")
        check(len(subscribers) == 1 and subscribers[0][0]["policy"] == "lossless", f"subscribers: {subscribers}")
        sender.proc.kill()  # The sender dies: the receiver loses its connection and says so.
        sender.proc.wait()
        samples = receiver.wait_for("zerobuffer_relay_route_disconnects_total", "in", 1)
        check(samples.get("zerobuffer_relay_route_peers", route="in") == 0, "still connected to a dead sender")
        sender = Relay(relay_bin, sender_args)  # It comes back on the same address: the receiver reconnects.
        samples = receiver.wait_for("zerobuffer_relay_route_reconnects_total", "in", 1)
        check(samples.get("zerobuffer_relay_route_disconnects_total", route="in") == 1, "disconnects after the return")
        receiver.wait_for("zerobuffer_relay_route_peers", "in", 1)
    finally:
        reader.kill()
        reader.wait()
        if sender.proc.poll() is None:
            sender.stop()
        check(receiver.stop() == 0, "the receiver's exit status after SIGTERM is not 0")
    print(f"ring -> tcp -> ring: {FRAMES} frames on both sides, the sender's death counted as a disconnect and its "
          "return as a reconnect")


def subscribers(relay_bin, peer_bin, tag):
    """A sender with a lossless subscriber and a latest one (window 1) whose ring reader is slow."""
    frames, width, height = 150, 320, 240
    address = f"tcp://127.0.0.1:{free_port()}"
    sender = Relay(relay_bin, ["--from", f"ring:{tag}-g", "--to", f"{address}?wait-peers=2", "--name", "out",
                               "--insecure", "--metrics", "127.0.0.1:0"])
    fast = Relay(relay_bin, ["--from", address, "--to", f"ring:{tag}-h", "--name", "fast", "--insecure",
                             "--metrics", "127.0.0.1:0"])
    slow_reader = subprocess.Popen([peer_bin, "read", f"{tag}-i", "--frames", str(frames), "--width", str(width),
                                    "--height", str(height), "--allow-gaps", "--slow-ms", "20", "--timeout-s", "60"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    slow = Relay(relay_bin, ["--from", f"{address}?policy=latest&window=1", "--to",
                             f"ring:{tag}-i?size=1M&wait-readers=1", "--name", "slow", "--insecure",
                             "--metrics", "127.0.0.1:0"])
    try:
        sender.wait_for("zerobuffer_relay_route_peers", "out", 2)
        writer = subprocess.run([peer_bin, "write", f"{tag}-g", "--frames", str(frames), "--width", str(width),
                                 "--height", str(height), "--wait-readers", "1"], capture_output=True, text=True,
                                timeout=90)
        check(writer.returncode == 0, f"zb-relay-peer write failed: {writer.stderr}")
        out, err = slow_reader.communicate(timeout=90)
        check(slow_reader.returncode == 0, f"the slow reader failed: {out}{err}")
        report = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        got = int(report["frames"])
        missing = frames - got  # Gaps between the frames it got, and after its last one, before end-of-stream.
        check(missing > 0 and int(report["missing"]) <= missing and report["first"] == "0" and report["eos"] == "yes",
              f"the slow side should have missed frames: {report}")
        fast.wait_for("zerobuffer_relay_route_frames_total", "fast", frames + 1)  # with end-of-stream
        samples = sender.wait_for("zerobuffer_relay_subscriber_frames_total", "out", 2 * frames + 2 - missing)
        series = {labels["policy"]: (labels["subscriber"], value)
                  for labels, value in samples.series("zerobuffer_relay_subscriber_frames_total", route="out")}
        check(set(series) == {"lossless", "latest"}, f"subscriber series: {series}")
        check(series["lossless"][1] == frames + 1, f"the lossless subscriber got {series['lossless'][1]}")
        dropped = {labels["policy"]: value
                   for labels, value in samples.series("zerobuffer_relay_subscriber_drops_total", route="out")}
        check(dropped == {"lossless": 0, "latest": missing}, f"subscriber drops {dropped}, the reader missed {missing}")
        check(samples.get("zerobuffer_relay_route_drops_total", route="out", reason="no_credit") == missing,
              f"no_credit drops: {samples.series('zerobuffer_relay_route_drops_total', route='out')}")
        check(samples.get("zerobuffer_relay_route_drops_total", route="out") == missing, "drops of other reasons")
        windows = {labels["policy"]: value
                   for labels, value in samples.series("zerobuffer_relay_subscriber_credit_window", route="out")}
        check(windows == {"lossless": 4, "latest": 1}, f"credit windows: {windows}")
        check(samples.get("zerobuffer_relay_route_subscribers_unlisted", route="out") == 0, "unlisted subscribers")
        slow_side = slow.scrape()
        check(slow_side.get("zerobuffer_relay_route_drops_total", route="slow", reason="upstream_gap") == missing,
              f"the slow receiver's upstream gaps: {slow_side.series('zerobuffer_relay_route_drops_total')}")
    finally:
        if slow_reader.poll() is None:
            slow_reader.kill()
            slow_reader.communicate()
        for relay in (sender, fast, slow):
            relay.stop()
    print(f"two subscribers: the latest one's {missing} drops (no_credit) match its reader's gaps and its relay's")


def curve_refusal(relay_bin, tag):
    with tempfile.TemporaryDirectory() as keys:
        for name in ("server", "client", "stranger"):
            subprocess.run([os.path.abspath(relay_bin), "keygen", name], cwd=keys, check=True, capture_output=True, timeout=30)
        allowed = os.path.join(keys, "client.pub")
        address = f"tcp://127.0.0.1:{free_port()}"
        sender = Relay(relay_bin, ["--from", f"ring:{tag}-j", "--to", address, "--name", "out", "--curve-secret",
                                   os.path.join(keys, "server.key"), "--allowed-keys", allowed,
                                   "--metrics", "127.0.0.1:0"])
        stranger = Relay(relay_bin, ["--from", address, "--to", f"ring:{tag}-k", "--name", "in", "--curve-secret",
                                     os.path.join(keys, "stranger.key"), "--server-key",
                                     os.path.join(keys, "server.pub"), "--metrics", "127.0.0.1:0"])
        try:
            samples = sender.wait_for("zerobuffer_relay_route_curve_refusals_total", "out", 1)
            check(samples.get("zerobuffer_relay_route_rejected_total", route="out") >= 1, "refusals not in rejected")
            check(samples.get("zerobuffer_relay_route_peers", route="out") == 0, "a refused client counted as a peer")
            refused = stranger.wait_for("zerobuffer_relay_route_curve_refusals_total", "in", 1)
            check(refused.get("zerobuffer_relay_route_peers", route="in") == 0, "connected with a refused key")
        finally:
            stranger.stop()
            sender.stop()
    print("a CURVE key not allowed: counted as a refusal by the sender and by the refused receiver")


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def errors(relay_bin, tag):
    for bad in ["9478", "localhost", "127.0.0.1:99999", "::1:9478", "127.0.0.1:"]:
        run = subprocess.run([relay_bin, "--from", f"ring:{tag}-e", "--to", f"ring:{tag}-f", "--metrics", bad],
                             capture_output=True, text=True, timeout=30)
        check(run.returncode == 2, f"--metrics {bad}: exit {run.returncode}, wanted 2 (usage)")
        check(f"--metrics: '{bad}' must be ADDR:PORT" in run.stderr, f"--metrics {bad}: {run.stderr}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([relay_bin, "--from", f"ring:{tag}-e", "--to", f"ring:{tag}-f", "--metrics",
                              f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=30)
    check(run.returncode == 1, f"port in use: exit {run.returncode}, wanted 1")
    check(f"cannot serve metrics on 127.0.0.1:{port}: is the port in use" in run.stderr, run.stderr)
    print("bad --metrics values and a port in use: clear errors")


def main(argv):
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) != 6 or any(arg.startswith("-") for arg in argv[1:]):
        print(f"relay-metrics-test.py: expected ZB_RELAY SAMPLE_WRITER SAMPLE_READER ZBCTL ZB_RELAY_PEER\n{__doc__}",
              file=sys.stderr)
        return 2
    relay_bin, writer_bin, reader_bin, zbctl, peer_bin = argv[1:]
    tag = f"relay-metrics-{os.getpid()}"
    try:
        ring_to_ring(relay_bin, writer_bin, reader_bin, tag)
        over_tcp(relay_bin, writer_bin, reader_bin, tag)
        subscribers(relay_bin, peer_bin, tag)
        curve_refusal(relay_bin, tag)
        errors(relay_bin, tag)
    except (Failure, subprocess.TimeoutExpired, OSError, KeyError) as failure:
        print(f"FAIL: {failure!r}", file=sys.stderr)
        return 1
    finally:
        for suffix in "abcdefghijk":
            subprocess.run([zbctl, "gc", f"{tag}-{suffix}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    left = [name for name in os.listdir("/dev/shm") if tag in name]
    if left:
        print(f"FAIL: left in /dev/shm: {left}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
