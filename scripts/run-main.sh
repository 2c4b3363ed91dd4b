#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: sets up and builds, then runs a GStreamer pipeline pair through the zerobuffer elements - a
# writer process (videotestsrc ! zerobuffersink) and a reader process (zerobuffersrc ! fakesink) - and prints
# frames/s and the one-way latency of each frame (p50/p99) every second and at the end.
#
# Usage: scripts/run-main.sh [--seconds N] [--fps F] [--width W] [--height H] [--format FMT] [--builddir DIR]
#        scripts/run-main.sh --core-demo [ZB_DEMO_ARGS...]   (the core library's demo, without GStreamer)
#   --seconds N     how long the writer runs (default 10)
#   --fps F         frames per second of the live source (default 60)
#   --width W, --height H, --format FMT   the video (default 1920x1080 I420; any GStreamer raw video format)
#   --builddir DIR  build directory (default: build)
# Exit status: 0 when the reader received every frame the writer sent, 1 otherwise or on an error, 2 bad arguments.
# Ctrl-C stops both processes (the writer sends end of stream first) and removes the ring from /dev/shm.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; }
bad_usage() {
    printf 'run-main.sh: error: %s - see --help\n' "$*" >&2
    exit 2
}
is_positive() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

seconds=10 fps=60 width=1920 height=1080 format=I420 builddir=build
while (($#)); do
    case "$1" in
    -h | --help) usage; exit 0 ;;
    --core-demo)
        shift
        bash scripts/setup.sh --builddir "$builddir"
        exec "$builddir/samples/zb-demo" "$@"
        ;;
    --seconds | --fps | --width | --height)
        is_positive "${2:-}" || bad_usage "$1 needs a positive whole number"
        declare "${1#--}=$2"
        shift 2
        ;;
    --format)
        [[ "${2:-}" =~ ^[A-Za-z0-9_]+$ ]] || bad_usage "--format needs a GStreamer video format name, e.g. I420"
        format=$2
        shift 2
        ;;
    --builddir)
        [ -n "${2:-}" ] || bad_usage "--builddir needs a directory"
        builddir=$2
        shift 2
        ;;
    *) bad_usage "unknown argument '$1'" ;;
    esac
done

bash scripts/setup.sh --builddir "$builddir"

# Where the build put the plugin and the probe program (their folders depend on which parts are enabled).
read -r probe plugin zbctl < <(meson introspect --targets "$builddir" | python3 -c '
import json, os, sys
found = {}
for target in json.load(sys.stdin):
    for name in ("zb-gst-probe", "gstzerobuffer", "zbctl"):
        if target["name"] == name:
            found[name] = target["filename"][0]
print(found.get("zb-gst-probe", "-"), found.get("gstzerobuffer", "-"), found.get("zbctl", "-"))
')
if [ "$plugin" = - ] || [ ! -f "$plugin" ]; then
    echo "run-main.sh: error: the GStreamer part is not built in $builddir (see the 'Parts' summary of" \
        "'meson setup') - install libgstreamer-plugins-base1.0-dev, or run the core demo: $0 --core-demo" >&2
    exit 1
fi
if [ "$probe" = - ] || [ ! -x "$probe" ]; then
    echo "run-main.sh: error: zb-gst-probe is not built in $builddir: it comes with the tests or the bench -" \
        "reconfigure with: meson configure $builddir -Dbench=enabled" >&2
    exit 1
fi

tmp=$(mktemp -d)
ring="main-$$"
export GST_PLUGIN_PATH="$(dirname "$plugin")"
export GST_REGISTRY="$tmp/registry.bin"
pids=()
cleanup() {
    local p
    trap - INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.2
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    "$zbctl" gc "$ring" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
# Ctrl-C reaches both children too (same process group): the writer sends end of stream, both stop and print
# their figures (exit 4: interrupted), then we report and clean up.
interrupted=false
trap 'interrupted=true' INT TERM

frames=$((seconds * fps))
caps="video/x-raw,format=$format,width=$width,height=$height,framerate=$fps/1"
echo "main job: $frames frames of ${width}x${height} $format at $fps fps through ring '$ring', two processes:"
echo "  writer: videotestsrc pattern=ball is-live=true ! $caps ! zerobuffersink ring=$ring"
echo "  reader: zerobuffersrc ring=$ring ! fakesink"
echo "  latency: CLOCK_MONOTONIC written into each frame before zerobuffersink, read after zerobuffersrc"

"$probe" --label reader --latency --warmup 2 --report-every 1 --timeout $((seconds + 60)) \
    zerobuffersrc name=probe ring="$ring" reconnect=true ! fakesink sync=false >"$tmp/reader.out" &
pids+=($!)
reader=$!
tail -n +1 -f "$tmp/reader.out" --pid "$reader" &
pids+=($!)
"$probe" --label writer --stamp --timeout $((seconds + 60)) \
    videotestsrc pattern=ball is-live=true num-buffers="$frames" ! "$caps" ! \
    zerobuffersink name=probe ring="$ring" wait-for-reader=true sync=false >"$tmp/writer.out" &
pids+=($!)
writer=$!

# wait_child PID NAME: waits (again if a signal interrupted the wait); exit 4 means the child was interrupted.
wait_child() {
    local rc=0
    while :; do
        rc=0
        wait "$1" || rc=$?
        kill -0 "$1" 2>/dev/null || break
    done
    if [ "$rc" -eq 4 ]; then
        interrupted=true
    elif [ "$rc" -ne 0 ]; then
        echo "run-main.sh: error: the $2 process failed (exit $rc)" >&2
        status=1
    fi
}
status=0
wait_child "$writer" writer
wait_child "$reader" reader
sleep 0.1 # let tail print the reader's last lines
cat "$tmp/writer.out"
received=$(sed -n 's/^reader: frames \([0-9]*\) .*/\1/p' "$tmp/reader.out")
sent=$(sed -n 's/^writer: frames \([0-9]*\) .*/\1/p' "$tmp/writer.out")
if $interrupted; then
    echo "result: interrupted; the writer sent ${sent:-?} frames and the reader received ${received:-?}"
    exit 130
elif [ "$status" -eq 0 ] && [ -n "$sent" ] && [ "$sent" = "$received" ]; then
    echo "result: OK, the reader received all $sent frames"
else
    echo "result: FAILED, the writer sent ${sent:-?} frames and the reader received ${received:-?}" >&2
    status=1
fi
exit "$status"
