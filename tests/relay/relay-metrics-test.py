#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Usage: relay-metrics-test.py ZB_RELAY SAMPLE_WRITER SAMPLE_READER ZBCTL

Tests `zb-relay --metrics ADDR:PORT` with real processes: a ring -> ring route and a ring -> tcp -> ring pair
serve their counters over HTTP (fetched with urllib, a real client); the text must pass the Prometheus parser of
python3-prometheus-client, count exactly the frames and bytes a sample writer wrote, and show the receiving
side's lost connection when the sender dies. Bad --metrics values and a port in use are clear errors. Rings are
named after this process; none is left behind.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

FRAMES = 60
FRAME_BYTES = 640 * 480 * 3 // 2  # zb-sample-writer's 640x480 I420 frames


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def parse(text):
    from prometheus_client.parser import text_string_to_metric_families

    samples, types = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, sample.labels.get("route"))] = sample.value
    return samples, types


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
            return parse(response.read().decode())

    def wait_for(self, name, route, wanted, timeout=30):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            samples, _ = self.scrape()
            got = samples.get((name, route))
            if got is not None and got >= wanted:
                return samples
            time.sleep(0.1)
        raise Failure(f"{name}{{route={route}}} stayed at {got}, wanted {wanted}")

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
        samples, types = relay.scrape()
        check(samples[("zerobuffer_relay_route_frames_total", "copy")] == 0, "frames before any was written")
        check(types["zerobuffer_relay_route_frames"] == "counter", f"types: {types}")
        check(types["zerobuffer_relay_route_peers"] == "gauge", f"types: {types}")
        writer = subprocess.run([writer_bin, f"{tag}-a", str(FRAMES)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, timeout=90)
        check(writer.returncode == 0, f"zb-sample-writer failed: {writer.stderr}")
        samples = relay.wait_for("zerobuffer_relay_route_frames_total", "copy", FRAMES)
        check(samples[("zerobuffer_relay_route_frames_total", "copy")] == FRAMES, f"frames: {samples}")
        check(samples[("zerobuffer_relay_route_bytes_total", "copy")] == FRAMES * FRAME_BYTES, "bytes")
        check(samples[("zerobuffer_relay_route_drops_total", "copy")] == 0, "drops on a lossless route")
        check(samples[("zerobuffer_relay_route_frames_per_second", "copy")] >= 0, "rate")
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
    sender = Relay(relay_bin, ["--from", f"ring:{tag}-c", "--to", address, "--name", "out", "--insecure",
                               "--metrics", "[::1]:0" if socket.has_ipv6 and ipv6_loopback() else "127.0.0.1:0"])
    reader = subprocess.Popen([reader_bin, f"{tag}-d"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sender.wait_for("zerobuffer_relay_route_peers", "out", 1)
        receiver.wait_for("zerobuffer_relay_route_peers", "in", 1)
        writer = subprocess.run([writer_bin, f"{tag}-c", str(FRAMES)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, timeout=90)
        check(writer.returncode == 0, f"zb-sample-writer failed: {writer.stderr}")
        sender.wait_for("zerobuffer_relay_route_frames_total", "out", FRAMES)
        samples = receiver.wait_for("zerobuffer_relay_route_frames_total", "in", FRAMES)
        check(samples[("zerobuffer_relay_route_bytes_total", "in")] == FRAMES * FRAME_BYTES, "received bytes")
        check(samples[("zerobuffer_relay_route_disconnects_total", "in")] == 0, "a disconnect before the kill")
        sender.proc.kill()  # The sender dies: the receiver loses its connection and says so.
        sender.proc.wait()
        samples = receiver.wait_for("zerobuffer_relay_route_disconnects_total", "in", 1)
        check(samples[("zerobuffer_relay_route_peers", "in")] == 0, "still connected to a dead sender")
    finally:
        reader.kill()
        reader.wait()
        if sender.proc.poll() is None:
            sender.stop()
        check(receiver.stop() == 0, "the receiver's exit status after SIGTERM is not 0")
    print(f"ring -> tcp -> ring: {FRAMES} frames on both sides, the sender's death counted as a disconnect")


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
    if len(argv) != 5 or any(arg.startswith("-") for arg in argv[1:]):
        print(f"relay-metrics-test.py: expected ZB_RELAY SAMPLE_WRITER SAMPLE_READER ZBCTL\n{__doc__}", file=sys.stderr)
        return 2
    relay_bin, writer_bin, reader_bin, zbctl = argv[1:]
    tag = f"relay-metrics-{os.getpid()}"
    try:
        ring_to_ring(relay_bin, writer_bin, reader_bin, tag)
        over_tcp(relay_bin, writer_bin, reader_bin, tag)
        errors(relay_bin, tag)
    except (Failure, subprocess.TimeoutExpired, OSError, KeyError) as failure:
        print(f"FAIL: {failure!r}", file=sys.stderr)
        return 1
    finally:
        for suffix in "abcdef":
            subprocess.run([zbctl, "gc", f"{tag}-{suffix}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    left = [name for name in os.listdir("/dev/shm") if tag in name]
    if left:
        print(f"FAIL: left in /dev/shm: {left}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
