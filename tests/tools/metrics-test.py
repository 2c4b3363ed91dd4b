#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Usage: metrics-test.py ZBCTL HOLDER

Tests `zbctl metrics` and `zbctl serve` against real processes: a writer and two readers (zb-ring-holder) hold a
ring; the exposition printed by zbctl metrics and fetched over HTTP from zbctl serve (urllib, a real client)
must pass the Prometheus text parser of python3-prometheus-client and agree with `zbctl inspect --json`; a live
stream must show growing counters and per-second rates. Rings are named after this process; none is left.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ring_processes import Failure, Processes, check  # noqa: E402


def usage_error(message):
    print(f"metrics-test.py: {message}", file=sys.stderr)
    print(__doc__, file=sys.stderr)
    sys.exit(2)


def parse_exposition(text):
    """Samples keyed by (name, sorted labels), through the Prometheus parser (which raises on bad input)."""
    from prometheus_client.parser import text_string_to_metric_families

    samples = {}
    types = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            check(key not in samples, f"sample {key} appears twice")
            samples[key] = sample.value
            types[sample.name] = family.type
    return samples, types


def value(samples, name, **labels):
    key = (name, tuple(sorted((k, str(v)) for k, v in labels.items())))
    check(key in samples, f"no sample {name}{labels}; have {sorted(k for k in samples if k[0] == name)}")
    return samples[key]


def compare_with_inspect(samples, snapshot):
    """Every figure that does not move on a quiet ring equals the one of zbctl inspect --json."""
    ring = snapshot["name"]
    writer = {"ring": ring, "pid": snapshot["writer"]["pid"]}
    counters = snapshot["writer"]["counters"]
    pairs = [
        ("zerobuffer_writer_frames_total", counters["frames_written"]),
        ("zerobuffer_writer_bytes_total", counters["bytes_written"]),
        ("zerobuffer_writer_frames_copied_total", counters["frames_copied"]),
        ("zerobuffer_writer_waits_total", counters["waits"]),
        ("zerobuffer_writer_wraps_total", counters["wraps"]),
        ("zerobuffer_writer_up", 1 if snapshot["writer"]["alive"] else 0),
        ("zerobuffer_writer_waiting", 1 if snapshot["writer"]["waiting"] else 0),
    ]
    for name, expected in pairs:
        got = value(samples, name, **writer)
        check(got == expected, f"{name}: metrics say {got}, inspect says {expected}")
    layout, memory = snapshot["layout"], snapshot["memory"]
    for name, expected in [
        ("zerobuffer_ring_segment_bytes", layout["segment_size"]),
        ("zerobuffer_ring_capacity_bytes", layout["payload_capacity"]),
        ("zerobuffer_ring_frame_slots", layout["frame_slots"]),
        ("zerobuffer_ring_reader_slots", layout["max_readers"]),
        ("zerobuffer_ring_in_use_bytes", memory["bytes_in_use"]),
        ("zerobuffer_ring_in_use_frames", memory["frames_in_use"]),
        ("zerobuffer_ring_readers", snapshot["readers_alive"]),
    ]:
        got = value(samples, name, ring=ring)
        check(got == expected, f"{name}: metrics say {got}, inspect says {expected}")
    fill = value(samples, "zerobuffer_ring_fill_ratio", ring=ring)
    check(abs(fill - memory["bytes_in_use"] / layout["payload_capacity"]) < 1e-6, f"fill ratio {fill}")
    info = value(samples, "zerobuffer_ring_info", ring=ring, state=snapshot["state"], integrity=snapshot["integrity"],
                 writer_command=snapshot["writer"]["command"], format="application/octet-stream test")
    check(info == 1, "ring_info is not 1")
    for reader in snapshot["readers"]:
        labels = {"ring": ring, "slot": reader["slot"], "policy": reader["policy"], "pid": reader["pid"]}
        c = reader["counters"]
        for name, expected in [
            ("zerobuffer_reader_frames_total", c["frames_read"]),
            ("zerobuffer_reader_bytes_total", c["bytes_read"]),
            ("zerobuffer_reader_frames_skipped_total", c["frames_skipped"]),
            ("zerobuffer_reader_lag_frames", reader["lag_frames"]),
            ("zerobuffer_reader_lag_bytes", reader["lag_bytes"]),
            ("zerobuffer_reader_held_frames", reader["held_frames"]),
            ("zerobuffer_reader_held_bytes", reader["held_bytes"]),
            ("zerobuffer_reader_up", 1 if reader["alive"] else 0),
            ("zerobuffer_reader_cadence_hits_total", c["cadence_hits"]),
            ("zerobuffer_reader_cadence_misses_total", c["cadence_misses"]),
        ]:
            got = value(samples, name, **labels)
            check(got == expected, f"{name}{labels}: metrics say {got}, inspect says {expected}")
        for name, expected in [  # Seconds, printed with 9 significant digits.
            ("zerobuffer_reader_poll_seconds_total", c["spin_ns"] / 1e9),
            ("zerobuffer_reader_cadence_interval_seconds", reader["cadence_interval_ns"] / 1e9),
        ]:
            got = value(samples, name, **labels)
            check(abs(got - expected) <= 1e-8 * max(1.0, expected), f"{name}{labels}: metrics say {got}, inspect says {expected}")
        hold = value(samples, "zerobuffer_reader_oldest_hold_seconds", **labels)
        check((hold > 0) == (reader["oldest_hold_age_ns"] >= 0), f"oldest hold {hold} vs {reader['oldest_hold_age_ns']}")


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


def start_serve(procs, *args):
    serve = subprocess.Popen([procs.zbctl, "serve", "--listen", "127.0.0.1:0", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    procs.children.append(serve)
    line = serve.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
    check(match, f"zbctl serve printed no address: {line!r} {serve.stderr.read() if serve.poll() is not None else ''}")
    return serve, f"http://127.0.0.1:{match.group(1)}"


def quiet_ring(procs, ring):
    """A writer with 50 frames, a lossless reader holding 2 of the 20 it read and a latest reader: no motion."""
    writer = procs.start_holder("writer", ring, "--frames", "50", "--wait-readers", "2", "--frame-bytes", "4000")
    procs.wait_for(writer, "attached")
    lossless = procs.start_holder("reader", ring, "--frames", "20", "--keep", "2")
    latest = procs.start_holder("reader", ring, "--frames", "1", "--policy", "latest")
    procs.wait_for(lossless, "attached")
    procs.wait_for(latest, "attached")
    procs.wait_for(writer, "ready")
    procs.wait_for(lossless, "ready")
    procs.wait_for(latest, "ready")

    inspected = procs.zbctl_run("inspect", ring, "--json")
    check(inspected.returncode == 0, f"inspect failed: {inspected.stderr}")
    snapshot = json.loads(inspected.stdout)
    check(len(snapshot["readers"]) == 2, "expected two readers")

    printed = procs.zbctl_run("metrics", ring, "--interval", "200")
    check(printed.returncode == 0, f"zbctl metrics exited {printed.returncode}: {printed.stderr}")
    samples, types = parse_exposition(printed.stdout)
    compare_with_inspect(samples, snapshot)
    check(types["zerobuffer_writer_frames_total"] == "counter", "frames_total is not a counter")
    check(types["zerobuffer_reader_lag_frames"] == "gauge", "lag_frames is not a gauge")
    lossless_reader = next(r for r in snapshot["readers"] if r["policy"] == "lossless")
    lag = value(samples, "zerobuffer_reader_lag_frames", ring=ring, slot=lossless_reader["slot"],
                policy="lossless", pid=lossless_reader["pid"])
    check(lag == 30, f"the lossless reader read 20 of 50 frames, so lags 30, not {lag}")
    check(value(samples, "zerobuffer_writer_frames_per_second", ring=ring, pid=snapshot["writer"]["pid"]) == 0,
          "a quiet writer has a rate of 0")

    # Every ring, one look only: our ring is among them, and there are no rates.
    everything = procs.zbctl_run("metrics", "--interval", "0")
    check(everything.returncode == 0, f"zbctl metrics (all) exited {everything.returncode}: {everything.stderr}")
    all_samples, _ = parse_exposition(everything.stdout)
    compare_with_inspect(all_samples, snapshot)
    check(not any(k[0] == "zerobuffer_writer_frames_per_second" for k in all_samples), "rates without a window")

    serve, base = start_serve(procs, ring, "--interval", "100")
    status, content_type, body = fetch(base + "/metrics")
    check(status == 200 and content_type.startswith("text/plain; version=0.0.4"), f"{status} {content_type}")
    served, _ = parse_exposition(body)
    compare_with_inspect(served, snapshot)
    try:
        fetch(base + "/nothing-here")
        raise Failure("an unknown path answered 200")
    except urllib.error.HTTPError as error:
        check(error.code == 404, f"unknown path gave {error.code}")
    serve.send_signal(signal.SIGTERM)
    check(serve.wait(timeout=20) == 0, f"zbctl serve exited {serve.returncode} on SIGTERM")


def live_stream(procs, ring):
    """A writer committing every 5 ms to a lossless reader: counters grow, rates are there and positive."""
    writer = procs.start_holder("writer", ring, "--frames", "0", "--stream-ms", "5", "--wait-readers", "1")
    procs.wait_for(writer, "attached")
    reader = procs.start_holder("reader", ring, "--frames", "100000000")
    procs.wait_for(reader, "attached")
    serve, base = start_serve(procs, ring, "--interval", "200")
    first, _ = parse_exposition(fetch(base + "/metrics")[2])
    time.sleep(1.0)
    second, _ = parse_exposition(fetch(base + "/metrics")[2])
    inspected = json.loads(procs.zbctl_run("inspect", ring, "--json").stdout)
    pid = inspected["writer"]["pid"]
    before = value(first, "zerobuffer_writer_frames_total", ring=ring, pid=pid)
    after = value(second, "zerobuffer_writer_frames_total", ring=ring, pid=pid)
    check(after > before, f"frames_total did not grow during a live stream: {before} then {after}")
    check(inspected["writer"]["counters"]["frames_written"] >= after, "inspect (taken later) saw fewer frames")
    check(value(second, "zerobuffer_writer_frames_per_second", ring=ring, pid=pid) > 0, "no frame rate while live")
    age = value(second, "zerobuffer_writer_last_frame_age_seconds", ring=ring, pid=pid)
    check(0 <= age < 5, f"last frame {age} s ago on a live stream")
    r = inspected["readers"][0]
    labels = {"ring": ring, "slot": r["slot"], "policy": "lossless", "pid": r["pid"]}
    check(value(second, "zerobuffer_reader_frames_per_second", **labels) > 0, "no reader rate while live")
    check(value(second, "zerobuffer_reader_frames_total", **labels) <= r["counters"]["frames_read"], "reader ahead")
    serve.send_signal(signal.SIGTERM)
    check(serve.wait(timeout=20) == 0, "zbctl serve did not stop cleanly")


def errors(procs, ring):
    missing = procs.zbctl_run("metrics", ring + "-absent", "--interval", "0")
    check(missing.returncode == 1 and "no ring named" in missing.stderr, f"unknown ring: {missing.returncode}")
    for bad in ["nonsense", "127.0.0.1", "127.0.0.1:99999", "::1:80"]:
        result = procs.zbctl_run("serve", "--listen", bad)
        check(result.returncode == 2 and "--listen: wants ADDR:PORT" in result.stderr, f"--listen {bad}: {result}")
    busy, base = start_serve(procs)
    port = base.rsplit(":", 1)[1]
    taken = procs.zbctl_run("serve", "--listen", "127.0.0.1:" + port)
    check(taken.returncode == 1 and "cannot listen" in taken.stderr, f"port in use: {taken}")
    busy.send_signal(signal.SIGINT)
    check(busy.wait(timeout=20) == 0, "zbctl serve did not stop on SIGINT")
    short = procs.zbctl_run("serve", "--interval", "5")
    check(short.returncode == 2, "serve --interval 5 accepted")
    check(procs.zbctl_run("list", "--listen", "127.0.0.1:1").returncode == 2, "--listen accepted by list")


def main(argv):
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        return 0
    if len(argv) != 2 or any(arg.startswith("-") for arg in argv):
        usage_error("expected ZBCTL HOLDER")
    procs = Processes(*argv)
    base = f"metrics-{os.getpid()}"
    procs.rings = [base + "-quiet", base + "-live"]
    try:
        quiet_ring(procs, procs.rings[0])
        live_stream(procs, procs.rings[1])
        errors(procs, base)
    except (Failure, subprocess.TimeoutExpired, OSError, ValueError) as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    finally:
        procs.close()
    print("PASS: zbctl metrics and serve agree with inspect and pass the Prometheus parser")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
