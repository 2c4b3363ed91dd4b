# SPDX-License-Identifier: MIT
"""Tests of the SLA report: the generator on a recorded figures file, and one real --quick run of zb-bench."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("ZB_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("ZB_BUILD_ROOT", os.path.join(SOURCE, "build"))
REPORT = os.path.join(SOURCE, "bench", "sla", "sla_report.py")
RUN_SLA = os.path.join(SOURCE, "scripts", "run-sla.sh")
DEFAULT_SLA = os.path.join(SOURCE, "bench", "sla", "default-sla.toml")
FIGURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures-recorded.json")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(argv, tmp):
    env = {**os.environ, "MPLCONFIGDIR": os.path.join(tmp, "mpl")}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=200)


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class RecordedFigures(unittest.TestCase):
    def setUp(self):
        self.tmp_dir = tempfile.TemporaryDirectory(prefix="zb-sla-test-")
        self.tmp = self.tmp_dir.name

    def tearDown(self):
        self.tmp_dir.cleanup()

    def report(self, sla):
        out = os.path.join(self.tmp, "out")
        result = run(["/usr/bin/python3", REPORT, "--figures", FIGURES, "--sla", sla, "--out", out], self.tmp)
        return result, out

    def test_writes_every_file_and_field(self):
        # Limits nobody misses, so the exit code is the "all passed" one.
        sla = write(self.tmp, "easy.toml", """
[[sla]]
name = "1 KiB frames >= 1 frame/s"
bench = "core"
section = "throughput"
where = { size = 1024, mode = "copy-in", spin_us = 0.0 }
field = "frames_per_s"
min = 1.0
unit = "frames/s"

[[sla]]
name = "1080p60 one-way p99 <= 1 hour"
bench = "gst"
section = "latency"
where = { case = "zerobuffer paced 60 fps" }
field = "p99_us"
max = 3.6e9
unit = "us"
""")
        result, out = self.report(sla)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        for key in ("date", "run", "machine", "versions", "slas", "ratios", "disturbed", "benches", "plots"):
            self.assertIn(key, report)
        for key in ("model", "cpus", "kernel"):
            self.assertIn(key, report["machine"])
        self.assertIn("git_commit", report["versions"])
        self.assertEqual([r["status"] for r in report["slas"]], ["PASS", "PASS"])
        self.assertTrue(all(isinstance(r["value"], float) for r in report["slas"]))
        self.assertTrue(report["ratios"], "the recorded figures have ratios to peers")
        for name in ("latency-core-round-trip.png", "latency-one-way.png", "frames-per-s.png", "cpu-per-frame.png", "core-throughput.png"):
            self.assertIn(name, report["plots"])
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(8), PNG_MAGIC, name)
        with open(os.path.join(out, "report.md")) as f:
            md = f.read()
        self.assertIn("| 1 KiB frames >= 1 frame/s |", md)
        self.assertIn("PASS", md)
        self.assertIn("![latency-one-way.png](latency-one-way.png)", md)

    def test_failing_sla_exits_1(self):
        sla = write(self.tmp, "hard.toml", """
[[sla]]
name = "1 KiB frames >= 1e30/s"
bench = "core"
section = "throughput"
where = { size = 1024, mode = "copy-in", spin_us = 0.0 }
field = "frames_per_s"
min = 1e30
""")
        result, out = self.report(sla)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("FAIL", result.stdout)
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        self.assertEqual(report["slas"][0]["status"], "FAIL")
        self.assertFalse(report["passed"])

    def test_figure_missing_from_a_bench_that_ran_fails(self):
        sla = write(self.tmp, "missing.toml", """
[[sla]]
name = "a frame size zb-bench never measures"
bench = "core"
section = "throughput"
where = { size = 7 }
field = "frames_per_s"
min = 1
""")
        result, out = self.report(sla)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)

    def test_default_sla_file_is_valid(self):
        result, out = self.report(DEFAULT_SLA)
        self.assertIn(result.returncode, (0, 1), result.stderr)
        with open(os.path.join(out, "report.json")) as f:
            statuses = {r["status"] for r in json.load(f)["slas"]}
        self.assertLessEqual(statuses, {"PASS", "FAIL", "NOT RUN"})

    def test_bad_sla_file_exits_2_with_the_problem(self):
        sla = write(self.tmp, "bad.toml", '[[sla]]\nname = "x"\nbench = "core"\nsection = "idle_reader"\nfield = "cpu_percent"\n')
        result, _ = self.report(sla)
        self.assertEqual(result.returncode, 2)
        self.assertIn("exactly one of 'max' or 'min'", result.stderr)


class RealQuickRun(unittest.TestCase):
    def test_quick_core_run(self):
        with tempfile.TemporaryDirectory(prefix="zb-sla-run-") as tmp:
            bad = run([RUN_SLA, "--quick", "--benches", "nope", "--build", BUILD], tmp)
            self.assertEqual(bad.returncode, 2)
            self.assertIn("unknown", bad.stderr)
            result = run([RUN_SLA, "--quick", "--benches", "core", "--build", BUILD, "--out", tmp], tmp)
            # Exit 0 or 1 depends on this machine's speed: only the files and fields are checked.
            self.assertIn(result.returncode, (0, 1), result.stdout + result.stderr)
            self.assertIn("core: starting", result.stdout)
            folders = [d for d in os.listdir(tmp) if d.startswith("sla-") and d.endswith("-quick")]
            self.assertEqual(len(folders), 1, os.listdir(tmp))
            out = os.path.join(tmp, folders[0])
            with open(os.path.join(out, "report.json")) as f:
                report = json.load(f)
            self.assertEqual(report["benches"]["core"]["status"], "ok", report["benches"]["core"])
            figures = report["benches"]["core"]["figures"]
            self.assertTrue(figures["latency"] and figures["throughput"] and figures["idle_reader"])
            by_name = {r["name"]: r for r in report["slas"]}
            self.assertIn(by_name["idle reader CPU < 0.1 % of one CPU"]["status"], ("PASS", "FAIL"))
            self.assertEqual(by_name["1080p60 one-way p99 <= 1 ms (zerobuffersink -> zerobuffersrc, live 60 fps)"]
                             ["status"], "NOT RUN")
            self.assertTrue(os.path.exists(os.path.join(out, "report.md")))
            self.assertTrue(os.path.exists(os.path.join(out, "core-throughput.png")))


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
