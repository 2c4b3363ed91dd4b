# SPDX-License-Identifier: MIT
"""PNG plots of an SLA report (Debian's python3-matplotlib, no display needed)."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

# The benches report percentiles, not every sample: the tail is drawn through p50, p99, p99.9 and the maximum
# (at 1 / frames), as the fraction of frames slower than x on a log scale so that the tail is visible.
PERCENTILES = (("p50_us", 0.50), ("p99_us", 0.99), ("p999_us", 0.999))


def ok_rows(figures, bench, section):
    entry = figures["benches"].get(bench) or {}
    rows = (entry.get("figures") or {}).get(section) if entry.get("status") == "ok" else None
    return [r for r in rows or [] if isinstance(r, dict) and r.get("ok", True)]


def tail_points(row):
    count = row.get("round_trips") or row.get("frames")
    has_count = isinstance(count, (int, float)) and count > 1
    # A percentile finer than one frame in the run (p99.9 of 180 frames) is the maximum: left out.
    points = [(row[key], 1.0 - q) for key, q in PERCENTILES if isinstance(row.get(key), (int, float)) and row[key] > 0
              and (not has_count or 1.0 - q > 1.0 / count)]
    if isinstance(row.get("max_us"), (int, float)) and has_count:
        points.append((row["max_us"], 1.0 / count))
    return points


def tail_plot(curves, out_dir, name, title):
    curves = [(label, pts) for label, pts in curves if len(pts) >= 2]
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(10, 6))
    for label, pts in curves:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency (us, log scale)")
    ax.set_ylabel("fraction of frames slower (p50 = 0.5, p99 = 0.01, p99.9 = 0.001, max)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return save(fig, out_dir, name)


def latency_cdf(figures, out_dir):
    """Two plots: the core's round trips next to bare futex and spin, and one-way latency per transport and rate."""
    core = [(r["label"], tail_points(r)) for r in ok_rows(figures, "core", "latency")]
    one_way = [(f"elements: {r['case']}", tail_points(r)) for r in ok_rows(figures, "gst", "latency")]
    one_way += [(f"relay: {r['case']}", tail_points(r)) for r in ok_rows(figures, "relay", "latency")]
    one_way += [(f"zb-ingest {r['clip']}, {r.get('paced_fps', '?')} fps", tail_points(r))
                for r in ok_rows(figures, "ffmpeg", "latency")]
    made = [tail_plot(core, out_dir, "latency-core-round-trip.png",
                      "Core round trip latency (ring and bare futex/spin), tail from the percentiles"),
            tail_plot(one_way, out_dir, "latency-one-way.png",
                      "One-way latency per transport and rate, tail from the percentiles")]
    return [m for m in made if m]


def frames_per_s(figures, out_dir):
    bars = []
    for r in ok_rows(figures, "gst", "throughput"):
        if r.get("path") == "pool":
            for key, transport in (("a", "one process"), ("b", "zerobuffer"), ("c", "shmsink/shmsrc")):
                bars.append((f"{r['name']}\n{transport}", r.get(key)))
    for r in ok_rows(figures, "relay", "throughput"):
        bars.append((f"{r['size']} I420\n{r['transport']}", r.get("frames_per_s")))
    for r in ok_rows(figures, "python", "sizes"):
        for case, fps in (r.get("fps") or {}).items():
            bars.append((f"{r['size']} I420\n{case}", fps))
    for r in ok_rows(figures, "ffmpeg", "decode"):
        bars.append((f"{r['clip']} H.264\nffmpeg -f null", r.get("ffmpeg_fps")))
        bars.append((f"{r['clip']} H.264\nzb-ingest", r.get("zb_ingest_fps")))
    bars = [(label, v) for label, v in bars if isinstance(v, (int, float)) and v == v]
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(bars)), 6))
    ax.bar(range(len(bars)), [v for _, v in bars])
    ax.set_xticks(range(len(bars)), [label for label, _ in bars], rotation=70, fontsize=6, ha="right")
    ax.set_ylabel("frames/s")
    ax.set_title("Frames/s per format and transport")
    ax.grid(True, axis="y", alpha=0.3)
    return save(fig, out_dir, "frames-per-s.png")


def cpu_per_frame(figures, out_dir):
    bars = []
    for r in ok_rows(figures, "gst", "throughput"):
        if r.get("path") == "pool":
            for key, who in (("cpu_a", "one process"), ("cpu_bw", "zerobuffersink"), ("cpu_br", "zerobuffersrc"),
                             ("cpu_cw", "shmsink"), ("cpu_cr", "shmsrc")):
                bars.append((f"{r['name']}\n{who}", r.get(key)))
    for r in ok_rows(figures, "ffmpeg", "decode"):
        bars.append((f"{r['clip']}\nffmpeg -f null", 1000 * (r.get("ffmpeg_cpu_s_per_frame") or float("nan"))))
        bars.append((f"{r['clip']}\nzb-ingest", 1000 * (r.get("zb_ingest_cpu_s_per_frame") or float("nan"))))
    for r in ok_rows(figures, "gst", "latency"):
        bars.append((f"{r['case']}\nreader", r.get("reader_cpu_ms_per_frame")))
    bars = [(label, v) for label, v in bars if isinstance(v, (int, float)) and v == v]
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(bars)), 6))
    ax.bar(range(len(bars)), [v for _, v in bars], color="tab:orange")
    ax.set_xticks(range(len(bars)), [label for label, _ in bars], rotation=70, fontsize=6, ha="right")
    ax.set_ylabel("CPU ms per frame (per process)")
    ax.set_title("CPU per frame")
    ax.grid(True, axis="y", alpha=0.3)
    return save(fig, out_dir, "cpu-per-frame.png")


def core_throughput(figures, out_dir):
    rows = [r for r in ok_rows(figures, "core", "throughput") if r.get("spin_us", 0) == 0]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(10, 6))
    for mode in ("memcpy", "copy-in", "in-place"):
        pts = sorted((r["size"], r["frames_per_s"]) for r in rows if r.get("mode") == mode)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=mode)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("frame size (bytes)")
    ax.set_ylabel("frames/s")
    ax.set_title("Core ring throughput across processes against memcpy (one process)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save(fig, out_dir, "core-throughput.png")


def save(fig, out_dir, name):
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, name), dpi=100)
    plt.close(fig)
    return name


def make_plots(figures, out_dir):
    """Every plot the figures allow; returns the file names (relative to out_dir)."""
    made = latency_cdf(figures, out_dir)
    made += [plot(figures, out_dir) for plot in (frames_per_s, cpu_per_frame, core_throughput)]
    return [name for name in made if name]
