# SPDX-License-Identifier: MIT
"""SLA report generator: figures.json (written by run_sla.py) + an SLA file -> report.json, report.md, plots.

Also runs on its own, on a recorded figures file:
    /usr/bin/python3 bench/sla/sla_report.py --figures FIGURES.json --sla SLA.toml --out DIR
Exit codes: 0 every SLA passed (or was not measured because its bench did not run), 1 an SLA failed,
2 usage error or an unreadable SLA / figures file.
"""
import argparse
import json
import math
import os
import sys
import tomllib

import sla_plots

DISTURBED = 0.10  # other processes used more than 10 % of a CPU during a measurement (zb-bench's threshold)


class SlaFileError(Exception):
    """The SLA file or the figures file cannot be used; the message says what to fix."""


def load_slas(path):
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SlaFileError(f"cannot read SLA file {path}: {error}") from error
    slas = data.get("sla")
    if not isinstance(slas, list) or not slas:
        raise SlaFileError(f"{path}: no [[sla]] entries (see docs/sla.md for the format)")
    for i, sla in enumerate(slas, 1):
        where = f"{path}: [[sla]] number {i}"
        for key in ("name", "bench", "section", "field"):
            if not isinstance(sla.get(key), str) or not sla[key]:
                raise SlaFileError(f"{where}: '{key}' must be a non-empty string")
        if ("max" in sla) == ("min" in sla):
            raise SlaFileError(f"{where} ('{sla['name']}'): give exactly one of 'max' or 'min'")
        limit = sla.get("max", sla.get("min"))
        if not isinstance(limit, (int, float)) or isinstance(limit, bool):
            raise SlaFileError(f"{where} ('{sla['name']}'): the limit must be a number, not {limit!r}")
        if not isinstance(sla.get("where", {}), dict):
            raise SlaFileError(f"{where} ('{sla['name']}'): 'where' must be a table, e.g. where = {{ size = 1024 }}")
    return slas


def load_figures(path):
    try:
        with open(path) as f:
            figures = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        raise SlaFileError(f"cannot read figures file {path}: {error}") from error
    if not isinstance(figures, dict) or not isinstance(figures.get("benches"), dict):
        raise SlaFileError(f"{path}: not a figures file of run_sla.py (no 'benches' object)")
    return figures


def rows_of(figures, bench, section):
    """The rows of one section of one bench (a list of objects), or None when the bench did not run."""
    entry = figures["benches"].get(bench)
    if not entry or entry.get("status") != "ok":
        return None
    rows = entry.get("figures", {}).get(section)
    return rows if isinstance(rows, list) else []


def number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def check_sla(sla, figures):
    """One SLA against the figures: a result row for report.json and report.md."""
    limit_is_max = "max" in sla
    limit = float(sla["max"] if limit_is_max else sla["min"])
    result = {"name": sla["name"], "bench": sla["bench"], "section": sla["section"], "field": sla["field"],
              "where": sla.get("where", {}), "limit": limit, "op": "<=" if limit_is_max else ">=",
              "unit": sla.get("unit", ""), "value": None, "disturbed": False}
    rows = rows_of(figures, sla["bench"], sla["section"])
    if rows is None:
        result["status"] = "NOT RUN"
        return result
    chosen = [r for r in rows if all(r.get(k) == v for k, v in sla.get("where", {}).items())]
    values = [(number(r.get(sla["field"])), r) for r in chosen]
    values = [(v, r) for v, r in values if v is not None and not math.isnan(v)]
    if not values:
        # The bench ran but did not produce this figure: a failure, not a pass by default.
        result["status"] = "FAIL"
        result["reason"] = f"no row of {sla['bench']}.{sla['section']} matches {sla.get('where', {})} with a number in '{sla['field']}'"
        return result
    value, row = max(values, key=lambda vr: vr[0]) if limit_is_max else min(values, key=lambda vr: vr[0])
    result["value"] = value
    result["ratio_to_limit"] = value / limit if limit else None
    result["disturbed"] = (number(row.get("other_cpu")) or 0.0) > DISTURBED
    result["status"] = "PASS" if (value <= limit if limit_is_max else value >= limit) else "FAIL"
    return result


def peer_ratios(figures):
    """Ratios to the peers and the machine's limits that the benches measured, for the report's second table."""
    out = []
    core = rows_of(figures, "core", "latency") or []
    for r in core:
        if r.get("kind") == "ring" and "p99_vs_bare_futex" in r and r.get("spin_us", 0) == 0:
            out.append((f"core round trip {r['label']}: p99 / bare futex p99", r["p99_vs_bare_futex"]))
        if r.get("kind") == "ring" and "p99_vs_bare_spin" in r and r.get("spin_us", 0) > 0:
            out.append((f"core round trip {r['label']}: p99 / bare spin p99", r["p99_vs_bare_spin"]))
    for r in rows_of(figures, "core", "throughput") or []:
        if "vs_memcpy" in r:
            spin = f" spin {r['spin_us']:.0f} us" if r.get("spin_us", 0) > 0 else ""
            out.append((f"core throughput {r['label']} {r['mode']}{spin}: frames/s / memcpy", r["vs_memcpy"]))
    for r in rows_of(figures, "gst", "throughput") or []:
        out.append((f"elements {r['name']} {r['path']}: zerobuffer / one process", r.get("ba")))
        out.append((f"elements {r['name']} {r['path']}: zerobuffer / shmsink-shmsrc", r.get("bc")))
    for r in rows_of(figures, "relay", "ratios") or []:
        out.append((f"relay {r['size']}: {r['what']} (GB/s)", r.get("ratio")))
    for r in rows_of(figures, "python", "sizes") or []:
        out.append((f"Python reader {r['size']}: Python / C++ frames/s", r.get("python_ratio")))
    for r in rows_of(figures, "ffmpeg", "decode") or []:
        out.append((f"zb-ingest {r['clip']}: zb-ingest / ffmpeg -f null frames/s", r.get("ratio")))
    return [(name, value) for name, value in out if number(value) is not None]


def disturbed_measurements(figures):
    """Per bench section, how many rows were measured while other processes used over 10 % of a CPU."""
    found = []
    for bench, entry in figures["benches"].items():
        for section, rows in (entry.get("figures") or {}).items():
            rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
            loads = [number(r.get("other_cpu")) or 0.0 for r in rows]
            hit = [load for load in loads if load > DISTURBED]
            if hit:
                found.append(f"{bench}.{section}: {len(hit)} of {len(rows)} measurements disturbed "
                             f"(other processes used up to {100 * max(hit):.0f} % of a CPU)")
    return found


def fmt(value):
    if value is None:
        return "-"
    if abs(value) >= 1e5:
        return f"{value:.3g}"
    return f"{value:.4g}"


def render_markdown(report):
    m, lines = report["machine"], []
    lines.append(f"# ZeroBuffer SLA report, {report['date']}")
    lines.append("")
    lines.append(f"- run: {report['run']}, {report['duration_s']:.0f} s; commit {report['versions'].get('git_commit', '?')}")
    lines.append(f"- machine: {m.get('model', '?')}, {m.get('cpus', '?')} CPUs, kernel {m.get('kernel', '?')}, "
                 f"load at start {m.get('loadavg_at_start', '?')}")
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if k != "git_commit"))
    verdict = "all SLAs passed" if report["passed"] else f"{report['failed']} SLA(s) FAILED"
    lines += ["", f"**{verdict}**", "", "| SLA | figure | limit | value / limit | result |", "|---|---|---|---|---|"]
    for r in report["slas"]:
        star = " (disturbed)" if r["disturbed"] else ""
        lines.append(f"| {r['name']} | {fmt(r['value'])} {r['unit']} | {r['op']} {fmt(r['limit'])} {r['unit']} | "
                     f"{fmt(r.get('ratio_to_limit'))} | {r['status']}{star} |")
    lines += ["", "## Ratios to peers and to the machine's limits", "", "| comparison | ratio |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in report["ratios"]]
    lines += ["", "## Benches", "", "| bench | status | seconds | log |", "|---|---|---|---|"]
    for name, entry in report["benches"].items():
        lines.append(f"| {name} | {entry.get('status')} | {fmt(entry.get('seconds'))} | {entry.get('log', '-')} |")
    if report["disturbed"]:
        lines += ["", "## Warning: the machine was disturbed", "",
                  "Other processes used the CPUs during these measurements; their figures measure the load too:", ""]
        lines += [f"- {d}" for d in report["disturbed"]]
    if report["plots"]:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in report["plots"]]
    return "\n".join(lines) + "\n"


def without_nan(value):
    """NaN (a figure a bench could not measure) as null, so that report.json is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nan(v) for v in value]
    return value


def generate(figures, slas, out_dir):
    """Writes report.json, report.md and the plots into out_dir; returns the report."""
    os.makedirs(out_dir, exist_ok=True)
    results = [check_sla(sla, figures) for sla in slas]
    failed = sum(1 for r in results if r["status"] == "FAIL")
    report = {"date": figures.get("date", "?"), "run": figures.get("run", "?"),
              "duration_s": figures.get("duration_s", 0.0), "machine": figures.get("machine", {}),
              "versions": figures.get("versions", {}), "slas": results, "failed": failed, "passed": failed == 0,
              "ratios": peer_ratios(figures), "disturbed": disturbed_measurements(figures),
              "benches": figures["benches"]}
    report["plots"] = sla_plots.make_plots(figures, out_dir)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(without_nan(report), f, indent=2, allow_nan=False, default=str)
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(render_markdown(report))
    return report


def print_summary(report, out_dir, stream=sys.stdout):
    for r in report["slas"]:
        print(f"  {r['status']:<8} {r['name']}: {fmt(r['value'])} {r['unit']} ({r['op']} {fmt(r['limit'])})"
              f"{' (disturbed)' if r['disturbed'] else ''}", file=stream)
    for d in report["disturbed"]:
        print(f"  warning: disturbed: {d}", file=stream)
    print(f"report: {os.path.join(out_dir, 'report.md')} ({'all SLAs passed' if report['passed'] else str(report['failed']) + ' SLA(s) failed'})",
          file=stream)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--figures", required=True, help="figures.json written by run_sla.py")
    parser.add_argument("--sla", required=True, help="SLA file (TOML, see docs/sla.md)")
    parser.add_argument("--out", required=True, help="folder for report.json, report.md and the plots")
    args = parser.parse_args()
    try:
        report = generate(load_figures(args.figures), load_slas(args.sla), args.out)
    except SlaFileError as error:
        print(f"sla_report: error: {error}", file=sys.stderr)
        return 2
    print_summary(report, args.out)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
