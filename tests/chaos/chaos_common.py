# SPDX-License-Identifier: MIT
"""What chaos-gst.py and chaos-relay.py share: the failure type, the time scale, and main(): the command line,
the report on stdout (and in --json), and the checks of the counters that must stay zero."""
import argparse
import json
import os
import subprocess
import sys
import time


class Failure(Exception):
    """A run that cannot go on: a program ended wrongly or a pipeline stalled."""


def scale():
    """ZB_TEST_TIME_SCALE stretches every timeout (sanitizer builds, loaded machines)."""
    return float(os.environ.get("ZB_TEST_TIME_SCALE", "1"))


def main(doc, programs, run, must_be_zero):
    """Parses `programs` (positional: name, help) and the shared options, calls run(options) and reports.

    Exit 0 when every counter of `must_be_zero` is 0 and at least 10 frames a cycle were verified, else 1."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[1], usage=doc.split("\n")[0][7:])
    for name, text in programs:
        parser.add_argument(name, help=text)
    parser.add_argument("--cycles", type=int, default=20, help="kill cycles (default 20; the long mode is 1000)")
    parser.add_argument("--seed", type=int, default=20261207, help="seed of the victims and moments")
    parser.add_argument("--json", help="also write the report to this file")
    options = parser.parse_args()
    if options.cycles < 1:
        parser.error("--cycles must be at least 1")
    started = time.monotonic()
    try:
        report = run(options)
    except (Failure, subprocess.TimeoutExpired, OSError, ValueError) as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2))
    if options.json:
        with open(options.json, "w") as f:
            json.dump(report, f, indent=2)
    bad = {key: report[key] for key in must_be_zero if report[key] != 0}
    if report["frames_verified"] < 10 * report["cycles"]:
        bad["frames_verified"] = report["frames_verified"]
    if bad:
        print(f"FAIL: {bad}", file=sys.stderr)
        return 1
    return 0
