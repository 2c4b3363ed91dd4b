#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# FFmpeg part benchmark (docs/performance.md): decode-and-ingest frames/s of zb-ingest against the ffmpeg CLI
# decoding the same clip to nothing ('ffmpeg -i clip -f null -', same thread count) in the same run, and the
# latency from a frame's commit by zb-ingest to its arrival in a reader process. zb-ingest runs twice: as it is
# (the decoder renders into ring memory) and with --copy (the one-copy path), to show what the copy costs.
# Usage: ffmpeg-bench.sh ZB_INGEST ZB_FFMPEG_LATENCY [--quick]      (ZB_BENCH_THREADS=N to change the threads, default 2)
#   ZB_BENCH_JSON=FILE also writes every figure to FILE as one JSON object (the text output stays the same).
# Prints figures and PASS/MISS against the target (ratio >= 0.95); never fails on speed.
set -euo pipefail

usage() { sed -n '3,8s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
if (($# < 2 || $# > 3)) || [[ "$1" == -* || "$2" == -* ]] || [[ $# == 3 && "$3" != --quick ]]; then
    echo "ffmpeg-bench.sh: expected ZB_INGEST ZB_FFMPEG_LATENCY [--quick]" >&2
    usage >&2
    exit 2
fi
INGEST=$(realpath "$1")
LATENCY=$(realpath "$2")
QUICK=${3:-}
THREADS=${ZB_BENCH_THREADS:-2}
TARGET=0.95
if [[ "$QUICK" == --quick ]]; then
    FRAMES_1080=90 FRAMES_4K=30 RUNS=1 LATENCY_FRAMES=60
else
    FRAMES_1080=600 FRAMES_4K=150 RUNS=3 LATENCY_FRAMES=300
fi
for tool in ffmpeg /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "ffmpeg-bench: $tool is missing: apt-get install ffmpeg time" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/zb-ffmpeg-bench.XXXXXX)
RING="zbff-bench-$$"
trap 'rm -rf "$WORK"' EXIT
# ZB_BENCH_JSON=FILE: also write every figure to FILE as one JSON object (for scripts/run-sla.sh).
JSON_FILE=${ZB_BENCH_JSON:-}
: >"$WORK/decode.json"
: >"$WORK/latency.json"

# "frames N p50_us X ..." (zb-ffmpeg-latency's line) as JSON members '"frames": N, "p50_us": X, ...'.
pairs_json() { awk '{ s = ""; for (i = 1; i < NF; i += 2) s = s (s ? ", " : "") "\"" $i "\": " $(i + 1); print s }' "$1"; }

now_ns() { date +%s%N; }

make_clip() { # FILE SIZE FRAMES
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=$2:rate=30" -frames:v "$3" \
        -c:v libx264 -preset veryfast -pix_fmt yuv420p "$WORK/$1"
}

# "WALL CPU SLOWEST" seconds of the fastest of RUNS runs of a command (CPU = user + system of the process and its
# children), and the wall time of the slowest run (the spread on a noisy machine).
best_run() {
    local best_wall="" best_cpu="" slowest="" run wall cpu
    for ((run = 0; run < RUNS; ++run)); do
        /usr/bin/time -f "%e %U %S" -o "$WORK/time.txt" "$@" >/dev/null 2>&1
        read -r wall cpu <<<"$(awk '{printf "%.3f %.3f", $1, $2 + $3}' "$WORK/time.txt")"
        if [[ -z "$best_wall" ]] || awk -v s="$wall" -v b="$best_wall" 'BEGIN {exit !(s < b)}'; then
            best_wall=$wall best_cpu=$cpu
        fi
        if [[ -z "$slowest" ]] || awk -v s="$wall" -v b="$slowest" 'BEGIN {exit !(s > b)}'; then
            slowest=$wall
        fi
    done
    echo "$best_wall $best_cpu $slowest"
}

ffmpeg_null() { ffmpeg -nostdin -v error -threads "$THREADS" -i "$1" -f null -; }

# zb-ingest with a lossless reader in another process that takes every frame (and records its latency).
ingest_with_reader() {
    "$LATENCY" "$RING" >"$WORK/latency.txt" 2>&1 &
    local reader=$!
    "$INGEST" --threads "$THREADS" --wait-for-reader "$@" "$RING" 2>"$WORK/ingest.err"
    wait "$reader"
}

echo "machine: $(lscpu | grep 'Model name' | sed 's/Model name: *//'), $(nproc) vCPU"
echo "load:    $(uptime | sed 's/.*load average/load average/')"
echo "ffmpeg:  $(ffmpeg -version | head -1 | cut -d' ' -f1-3); decoder threads: $THREADS; best of $RUNS runs"
make_clip c1080.mp4 1920x1080 "$FRAMES_1080"
make_clip c2160.mp4 3840x2160 "$FRAMES_4K"

printf '\n%-13s %6s %11s %14s %7s %-17s %-31s %s\n' clip frames "ffmpeg fps" "zb-ingest fps" ratio "target" \
    "CPU s/frame ffmpeg, zb-ingest" "slowest run fps ffmpeg, zb-ingest"
for entry in "c1080.mp4 1080p $FRAMES_1080" "c2160.mp4 4K $FRAMES_4K"; do
    read -r file label frames <<<"$entry"
    read -r reference reference_cpu reference_slowest <<<"$(best_run bash -c "$(declare -f ffmpeg_null); THREADS=$THREADS ffmpeg_null $WORK/$file")"
    for mode in "" --copy; do
        read -r ours ours_cpu ours_slowest <<<"$(best_run bash -c "$(declare -f ingest_with_reader); INGEST=$INGEST LATENCY=$LATENCY RING=$RING WORK=$WORK THREADS=$THREADS ingest_with_reader $mode $WORK/$file")"
        awk -v l="$label${mode:+ $mode}" -v n="$frames" -v r="$reference" -v o="$ours" -v rc="$reference_cpu" \
            -v oc="$ours_cpu" -v rs="$reference_slowest" -v os="$ours_slowest" -v t="$TARGET" -v m="$mode" 'BEGIN {
            rf = n / r; of = n / o; ratio = of / rf;
            printf "%-13s %6d %11.1f %14.1f %7.3f %-17s %-31s %.1f, %.1f\n", l, n, rf, of, ratio,
                (m != "" ? "(one copy)" : (ratio >= t ? "PASS" : "MISS") " (>= " t ")"),
                sprintf("%.4f, %.4f", rc / n, oc / n), n / rs, n / os
            printf "{\"clip\": \"%s\", \"path\": \"%s\", \"frames\": %d, \"ffmpeg_fps\": %.3f, \"zb_ingest_fps\": %.3f, " \
                "\"ratio\": %.4f, \"ffmpeg_cpu_s_per_frame\": %.6f, \"zb_ingest_cpu_s_per_frame\": %.6f", \
                l, (m != "" ? "copy" : "in-ring"), n, rf, of, ratio, rc / n, oc / n >> "'"$WORK/decode.json"'" }'
        echo ", \"reader_latency\": {$(pairs_json "$WORK/latency.txt")}}" >>"$WORK/decode.json"
        echo "              ring: $(grep -o '[0-9]* in place, [0-9]* copied' "$WORK/ingest.err" | tail -1); reader latency at full speed: $(cat "$WORK/latency.txt")"
    done
done

echo
echo "latency commit -> reader arrival, paced at 30 fps (--realtime), $LATENCY_FRAMES frames:"
for entry in "c1080.mp4 1080p" "c2160.mp4 4K"; do
    read -r file label <<<"$entry"
    ingest_with_reader --realtime --loop --frames "$LATENCY_FRAMES" "$WORK/$file" >/dev/null 2>&1
    echo "  $label: $(cat "$WORK/latency.txt")"
    echo "{\"clip\": \"$label\", \"paced_fps\": 30, $(pairs_json "$WORK/latency.txt")}" >>"$WORK/latency.json"
done
if [[ -n "$JSON_FILE" ]]; then
    {
        echo "{\"tool\": \"ffmpeg-bench\", \"run\": \"$([[ "$QUICK" == --quick ]] && echo quick || echo full)\", \"threads\": $THREADS,"
        echo " \"ffmpeg_version\": \"$(ffmpeg -version | head -1 | cut -d' ' -f3)\","
        echo " \"decode\": [$(paste -sd, "$WORK/decode.json")],"
        echo " \"latency\": [$(paste -sd, "$WORK/latency.json")]}"
    } >"$JSON_FILE"
fi
echo
echo "rerun: ninja -C BUILD bench-ffmpeg   (quick check: bench-ffmpeg-quick)"
