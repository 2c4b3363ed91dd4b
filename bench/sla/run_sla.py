# SPDX-License-Identifier: MIT
"""run-sla: runs the project's benchmarks in one go, checks their figures against SLAs, writes a dated report.

The benches are the existing ones (bench/): zb-bench (core ring against bare futex/spin and memcpy), gst-bench
(the elements against one process and shmsink/shmsrc, live latency), ffmpeg-bench (zb-ingest against
ffmpeg -f null), zb-relay-bench (ring to ring, tcp, CURVE, plain ZeroMQ) and py-bench (Python reader against
C++). Each writes JSON; this script only orchestrates, and sla_report.py turns the figures into the report.
Exit codes: 0 every SLA passed, 1 an SLA failed (or a bench failed), 2 usage error, 130 interrupted.
"""
import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

import sla_report

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
BENCHES = ("core", "gst", "ffmpeg", "relay", "python")
# Expected seconds per bench (quick, full) on a 2-CPU machine: for the "time left" in the progress lines.
ESTIMATE = {"core": (20, 300), "gst": (60, 420), "ffmpeg": (25, 150), "relay": (60, 240), "python": (25, 150)}


def first_existing(*paths):
    return next((p for p in paths if os.path.exists(p)), paths[0])


def bench_command(name, build, quick, json_path):
    """(argv, env additions, programs that must exist) of one bench."""
    q = ["--quick"] if quick else []
    if name == "core":
        only = ["--only", "latency,throughput,idle"] if quick else []
        exe = os.path.join(build, "bench", "zb-bench")
        return [exe, "--json"] + q + only, {}, [exe]
    if name == "gst":
        probe = first_existing(os.path.join(build, "bench", "gstreamer", "zb-gst-probe"),
                               os.path.join(build, "tests", "gstreamer", "e2e", "zb-gst-probe"))
        plugin = os.path.join(build, "gst-plugins")
        return ([sys.executable, os.path.join(SOURCE, "bench", "gstreamer", "gst-bench.py"), "--probe", probe,
                 "--plugin-dir", plugin, "--zbctl", os.path.join(build, "tools", "zbctl", "zbctl"), "--json"] + q,
                {}, [probe, os.path.join(plugin, "libgstzerobuffer.so")])
    if name == "ffmpeg":
        ingest = os.path.join(build, "ffmpeg-io", "zb-ingest")
        latency = os.path.join(build, "bench", "ffmpeg", "zb-ffmpeg-latency")
        return (["bash", os.path.join(SOURCE, "bench", "ffmpeg", "ffmpeg-bench.sh"), ingest, latency] + q,
                {"ZB_BENCH_JSON": json_path}, [ingest, latency])
    if name == "relay":
        exe, relay = os.path.join(build, "bench", "relay", "zb-relay-bench"), os.path.join(build, "relay", "zb-relay")
        return [exe, relay, "--json", json_path] + q, {}, [exe, relay]
    peer = os.path.join(build, "bench", "python", "zb-py-bench-peer")
    return ([sys.executable, os.path.join(SOURCE, "bench", "python", "py-bench.py"), "--peer", peer,
             "--pythonpath", os.path.join(build, "python"), "--python", sys.executable, "--json"] + q,
            {}, [peer])


def normalise(name, data):
    """The bench's JSON as {section: [rows]}; 'other_cpu' where the bench counted other processes' load."""
    if name == "python":
        sizes = [{"size": size, **entry} for size, entry in (data.get("sizes") or {}).items()]
        overhead = [{"python_overhead_us": data.get("python_overhead_us"), "cpp_overhead_us": data.get("cpp_overhead_us")}]
        return {"sizes": sizes, "overhead": overhead}
    sections = {k: v for k, v in data.items() if isinstance(v, list)}
    if name == "gst":
        for row in sections.get("throughput", []):
            row["other_cpu"] = row.get("other")  # share of the machine's CPUs used by other processes
    return sections


class Progress:
    def __init__(self, names, quick):
        self.start = time.monotonic()
        self.left = {n: ESTIMATE[n][0 if quick else 1] for n in names}

    def say(self, text):
        print(f"run-sla [{time.monotonic() - self.start:6.0f} s] {text}", flush=True)

    def remaining(self):
        return sum(self.left.values())


def run_bench(name, build, quick, out_dir, progress):
    json_path = os.path.join(out_dir, f"{name}.json")
    log_path = os.path.join(out_dir, f"{name}.log")
    argv, env_add, needed = bench_command(name, build, quick, json_path)
    missing = [p for p in needed if not os.path.exists(p)]
    if missing:
        progress.left.pop(name)
        progress.say(f"{name}: skipped, not built: {', '.join(missing)} (configure with the option that builds it)")
        return {"status": "not built", "missing": missing}
    estimate = progress.left[name]
    progress.say(f"{name}: starting (about {estimate} s; about {progress.remaining()} s left in all)")
    began = time.monotonic()
    # zb-bench, gst-bench and py-bench print their JSON on stdout (tables on stderr); ffmpeg-bench writes it to
    # ZB_BENCH_JSON and zb-relay-bench to its --json FILE: their stdout is the log.
    json_on_stdout = name in ("core", "gst", "python")
    with open(log_path, "w") as log, open(json_path if json_on_stdout else log_path, "a") as stdout:
        child = subprocess.Popen(argv, stdout=stdout, stderr=log, env={**os.environ, **env_add},
                                 start_new_session=True)
        try:
            while True:
                try:
                    child.wait(timeout=15)
                    break
                except subprocess.TimeoutExpired:
                    spent = time.monotonic() - began
                    progress.left[name] = max(0, int(estimate - spent))
                    progress.say(f"{name}: measuring, {spent:.0f} s so far (about {progress.remaining()} s left)")
                    if spent > 3 * estimate + 120:
                        os.killpg(child.pid, signal.SIGINT)
        except KeyboardInterrupt:
            os.killpg(child.pid, signal.SIGINT)
            child.wait()
            raise
    seconds = time.monotonic() - began
    progress.left.pop(name)
    entry = {"status": "ok", "seconds": seconds, "log": os.path.basename(log_path), "exit": child.returncode,
             "command": argv}
    try:
        with open(json_path) as f:
            raw = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        entry.update(status="failed", error=f"no JSON figures ({error}); see {entry['log']}")
        progress.say(f"{name}: FAILED (exit {child.returncode}), see {log_path}")
        return entry
    if child.returncode != 0:
        entry.update(status="failed", error=f"exit code {child.returncode}; see {entry['log']}")
    entry["figures"] = normalise(name, raw)
    entry["raw"] = os.path.basename(json_path)
    entry["library_version"] = raw.get("library_version")
    progress.say(f"{name}: done in {seconds:.0f} s")
    return entry


def command_line(argv, *extra):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    fields = {}
    for line in command_line(["lscpu"]).splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return {"model": fields.get("Model name", "unknown"), "cpus": os.cpu_count(),
            "threads_per_core": fields.get("Thread(s) per core"), "cores_per_socket": fields.get("Core(s) per socket"),
            "sockets": fields.get("Socket(s)"), "hypervisor": fields.get("Hypervisor vendor"),
            "kernel": f"{platform.system()} {platform.release()}",
            "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def versions(benches):
    commit = command_line(["git", "-C", SOURCE, "rev-parse", "HEAD"]).strip() or "unknown"
    if command_line(["git", "-C", SOURCE, "status", "--porcelain", "--untracked-files=no"]).strip():
        commit += " (with uncommitted changes)"
    gst = command_line(["gst-launch-1.0", "--version"]).splitlines()
    ffmpeg = command_line(["ffmpeg", "-version"]).split()
    import matplotlib
    lib = next((e.get("library_version") for e in benches.values() if e.get("library_version")), None)
    return {"git_commit": commit, "libzerobuffer": lib or "unknown",
            "gstreamer": gst[1].split()[-1] if len(gst) > 1 else "unknown",
            "ffmpeg": ffmpeg[2] if len(ffmpeg) > 2 else "unknown",
            "libzmq": command_line(["pkg-config", "--modversion", "libzmq"]).strip() or "unknown",
            "python": platform.python_version(), "matplotlib": matplotlib.__version__}


def parse_args():
    parser = argparse.ArgumentParser(prog="run-sla.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every bench briefly (under 3 minutes)")
    parser.add_argument("--sla", default=os.path.join(HERE, "default-sla.toml"), help="SLA file (TOML, docs/sla.md)")
    parser.add_argument("--out", default="sla-reports", help="folder in which the dated report folder is made")
    parser.add_argument("--build", default=os.path.join(SOURCE, "build"), help="meson build folder (default: build)")
    parser.add_argument("--benches", default=",".join(BENCHES), help=f"comma-separated subset of {','.join(BENCHES)}")
    args = parser.parse_args()
    args.benches = [b for b in args.benches.split(",") if b]
    unknown = [b for b in args.benches if b not in BENCHES]
    if unknown or not args.benches:
        parser.error(f"--benches: unknown or empty: {','.join(unknown) or '(none)'}; choose from {','.join(BENCHES)}")
    if not os.path.isdir(args.build):
        parser.error(f"--build: {args.build} is not a folder; build first: bash scripts/setup.sh (docs/building.md)")
    return args


def main():
    args = parse_args()
    try:
        slas = sla_report.load_slas(args.sla)  # a broken SLA file fails now, not after 20 minutes
    except sla_report.SlaFileError as error:
        print(f"run-sla: error: {error}", file=sys.stderr)
        return 2
    now = datetime.datetime.now(datetime.timezone.utc)
    out_dir = os.path.join(args.out, now.strftime("sla-%Y%m%d-%H%M%S") + ("-quick" if args.quick else ""))
    os.makedirs(out_dir, exist_ok=True)
    progress = Progress(args.benches, args.quick)
    progress.say(f"{'quick' if args.quick else 'full'} run of {', '.join(args.benches)} into {out_dir} "
                 f"(about {progress.remaining()} s)")
    figures = {"date": now.isoformat(timespec="seconds"), "run": "quick" if args.quick else "full",
               "machine": machine(), "sla_file": os.path.abspath(args.sla), "benches": {}}
    try:
        for name in args.benches:
            figures["benches"][name] = run_bench(name, args.build, args.quick, out_dir, progress)
    except KeyboardInterrupt:
        print("run-sla: interrupted", file=sys.stderr)
        return 130
    figures["duration_s"] = time.monotonic() - progress.start
    figures["machine"]["loadavg_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    figures["versions"] = versions(figures["benches"])
    with open(os.path.join(out_dir, "figures.json"), "w") as f:
        json.dump(figures, f, indent=2, default=str)
    report = sla_report.generate(figures, slas, out_dir)
    sla_report.print_summary(report, out_dir)
    failed_benches = [n for n, e in figures["benches"].items() if e["status"] == "failed"]
    for name in failed_benches:
        print(f"run-sla: bench {name} failed: {figures['benches'][name].get('error')}", file=sys.stderr)
    return 0 if report["passed"] and not failed_benches else 1


if __name__ == "__main__":
    sys.exit(main())
