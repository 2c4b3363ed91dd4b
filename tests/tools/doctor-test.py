#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Usage: doctor-test.py ZBCTL HOLDER

Tests `zbctl doctor` against real processes (zb-ring-holder writers and readers): each situation it diagnoses
is built for real (a writer blocked on a stuck lossless reader, a reader holding frames, a latest reader
skipping most frames, a reader killed with -9, a writer killed with -9, a ring too small for its frames, a
writer without stream metadata) and doctor must name it, in text and JSON, with its exit status; a healthy
ring gets exit 0. Rings are named after this process; none is left.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ring_processes import Failure, Processes, check  # noqa: E402


def doctor(procs, ring, expect_rc):
    text = procs.zbctl_run("doctor", ring)
    check(text.returncode == expect_rc, f"doctor {ring} exited {text.returncode}, not {expect_rc}:\n{text.stdout}{text.stderr}")
    as_json = procs.zbctl_run("doctor", ring, "--json")
    check(as_json.returncode == expect_rc, f"doctor {ring} --json exited {as_json.returncode}")
    report = json.loads(as_json.stdout)
    check(len(report["rings"]) == 1 and report["rings"][0]["name"] == ring, f"report not about {ring}: {report}")
    return text.stdout, report


def finding(report, code):
    found = [f for f in report["rings"][0]["findings"] if f["code"] == code]
    check(found, f"no '{code}' finding in {json.dumps(report, indent=1)}")
    return found[0]


def codes(report):
    return sorted(f["code"] for f in report["rings"][0]["findings"])


def healthy(procs, ring):
    writer = procs.start_holder("writer", ring, "--frames", "30", "--wait-readers", "1")
    reader = procs.start_holder("reader", ring, "--frames", "30")
    procs.wait_for(writer, "ready")
    procs.wait_for(reader, "ready")
    text, report = doctor(procs, ring, 0)
    check(report["healthy"] and report["problems"] == 0 and report["warnings"] == 0, f"not healthy: {report}")
    check(f"{ring}: ok" in text, f"no ok line: {text}")


def writer_blocked(procs, ring):
    # 100 kB frames in 1 MiB: the writer fills the ring and waits for a lossless reader that read one frame.
    writer = procs.start_holder("writer", ring, "--frames", "1000", "--frame-bytes", "100000", "--wait-readers", "1",
                                "--reader-timeout-ms", "60000")
    stuck = procs.start_holder("reader", ring, "--frames", "1")
    procs.wait_for(stuck, "ready")
    deadline = time.monotonic() + 30
    while True:
        inspected = json.loads(procs.zbctl_run("inspect", ring, "--json").stdout)
        if inspected["writer"]["waiting"] and inspected["writer"]["waiting_for_ns"] > 1_500_000_000:
            break
        check(time.monotonic() < deadline, f"the writer never blocked: {inspected['writer']}")
        time.sleep(0.2)
    text, report = doctor(procs, ring, 1)
    blocked = finding(report, "writer-blocked")
    pid = stuck[0].pid
    check(blocked["severity"] == "problem" and blocked["pid"] == pid, f"names the wrong reader: {blocked}")
    check(f"pid {pid}" in blocked["message"] and "lossless" in blocked["message"], blocked["message"])
    check("writer-blocked" in text and "what to do" in text, text)
    procs.kill(writer)


def long_hold(procs, ring):
    writer = procs.start_holder("writer", ring, "--frames", "10", "--wait-readers", "1")
    holder = procs.start_holder("reader", ring, "--frames", "5", "--keep", "1")
    procs.wait_for(holder, "ready")
    procs.wait_for(writer, "ready")
    time.sleep(2.5)
    _, report = doctor(procs, ring, 3)
    hold = finding(report, "long-hold")
    check(hold["pid"] == holder[0].pid and hold["severity"] == "warning", f"{hold}")


def latest_skipping(procs, ring):
    procs.start_holder("writer", ring, "--frames", "0", "--stream-ms", "1", "--wait-readers", "1")
    slow = procs.start_holder("reader", ring, "--frames", "4", "--policy", "latest", "--delay-ms", "150")
    procs.wait_for(slow, "ready")
    _, report = doctor(procs, ring, 3)
    skipping = finding(report, "latest-skipping")
    check(skipping["pid"] == slow[0].pid, f"{skipping}")
    check(codes(report) == ["latest-skipping"], f"other findings: {codes(report)}")


def dead_reader(procs, ring):
    writer = procs.start_holder("writer", ring, "--frames", "0", "--wait-readers", "1")
    victim = procs.start_holder("reader", ring, "--frames", "0")
    procs.wait_for(victim, "ready")
    procs.wait_for(writer, "ready")
    pid = victim[0].pid
    procs.kill(victim)
    _, report = doctor(procs, ring, 3)
    dead = finding(report, "dead-reader")
    check(dead["pid"] == pid and "not reclaimed" in dead["message"], f"{dead}")


def stale_ring(procs, ring):
    writer = procs.start_holder("writer", ring, "--frames", "3")
    procs.wait_for(writer, "ready")
    procs.kill(writer)
    text, report = doctor(procs, ring, 1)
    stale = finding(report, "stale-ring")
    check(f"zbctl gc {ring}" in stale["advice"], stale["advice"])
    check(report["rings"][0]["state"] == "stale", f"{report}")
    check(procs.zbctl_run("gc", ring).returncode == 0, "gc of the stale ring failed")


def too_small(procs, ring):
    # 30 kB frames in 64 KiB of frame memory: two fit.
    writer = procs.start_holder("writer", ring, "--frames", "5", "--frame-bytes", "30000", "--ring-bytes", "65536")
    procs.wait_for(writer, "ready")
    _, report = doctor(procs, ring, 1)
    small = finding(report, "ring-too-small")
    check("only 2 fit" in small["message"], small["message"])


def no_metadata(procs, ring):
    writer = procs.start_holder("writer", ring, "--frames", "2", "--no-metadata")
    procs.wait_for(writer, "ready")
    _, report = doctor(procs, ring, 3)
    check(codes(report) == ["no-metadata"], f"{codes(report)}")


def missing(procs, ring):
    result = procs.zbctl_run("doctor", ring)
    check(result.returncode == 1 and "no ring named" in result.stderr, f"unknown ring: {result}")
    check(procs.zbctl_run("doctor", "bad/name").returncode == 2, "a bad name is a usage error")


CASES = {
    "healthy": healthy,
    "writer-blocked": writer_blocked,
    "long-hold": long_hold,
    "latest-skipping": latest_skipping,
    "dead-reader": dead_reader,
    "stale-ring": stale_ring,
    "ring-too-small": too_small,
    "no-metadata": no_metadata,
    "missing": missing,
}


def main(argv):
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        return 0
    if len(argv) != 2 or any(arg.startswith("-") for arg in argv):
        print("doctor-test.py: expected ZBCTL HOLDER\n" + __doc__, file=sys.stderr)
        return 2
    failures = 0
    for name, case in CASES.items():
        procs = Processes(*argv)
        ring = f"doctor-{os.getpid()}-{name}"
        procs.rings = [ring]
        try:
            case(procs, ring)
            procs.close()
            print(f"ok: {name}")
        except (Failure, subprocess.TimeoutExpired, OSError, ValueError) as failure:
            print(f"FAIL: {name}: {failure}", file=sys.stderr)
            failures += 1
            try:
                procs.close()
            except Failure as leftover:
                print(f"FAIL: {name}: {leftover}", file=sys.stderr)
    if failures:
        return 1
    print("PASS: zbctl doctor names every situation it was built for")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
