# SPDX-License-Identifier: MIT
# Shared by the GStreamer end-to-end scripts (gst-e2e-*.sh), sourced after `case_name` is set: a private temp
# folder and GStreamer registry, the test's ring name(s), the processes it starts (killed at exit, their rings
# removed with zbctl gc), and helpers that wait for and compare zb-gst-probe's buffer lines.
#
# Environment (set by meson): GST_LAUNCH (gst-launch-1.0), ZB_GST_PROBE (zb-gst-probe, which prints one line
# per buffer: see bench/gstreamer/zb-gst-probe.cpp), ZBCTL, GST_PLUGIN_PATH (the build tree's plugin), and FFMPEG
# and FFPROBE (the ffmpeg programs) when installed.

# --help prints the calling script's header comment; a missing or unknown CASE prints it too and exits 2. Run on
# its own, this file explains itself the same way.
e2e_usage() {
    echo "usage: $(basename "$0") CASE [ARGS...]"
    awk '!/^#/ { exit } /^#!/ || /SPDX/ { next } { sub(/^# ?/, ""); print }' "$0"
}
case "${case_name:-${1:-}}" in
-h | --help) e2e_usage; exit 0 ;;
"" | -*) e2e_usage >&2; exit 2 ;;
esac

: "${GST_LAUNCH:?GST_LAUNCH must name gst-launch-1.0}" "${ZB_GST_PROBE:?}" "${ZBCTL:?}"

tmp=$(mktemp -d)
export GST_REGISTRY="$tmp/registry.bin"
export GST_DEBUG_NO_COLOR=1
ring="e2e-$case_name-$$"
extra_rings=() # A test with more rings adds them here; the exit trap removes them all.
pids=()

cleanup() {
    local p
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    "$ZBCTL" gc "$ring" >/dev/null 2>&1
    for p in "${extra_rings[@]}"; do "$ZBCTL" gc "$p" >/dev/null 2>&1; done
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL ($case_name): $*" >&2
    local f
    for f in "$tmp"/*.out "$tmp"/*.err; do
        [ -s "$f" ] && { echo "--- $(basename "$f") (last 30 lines):" >&2; tail -n 30 "$f" >&2; }
    done
    exit 1
}
has() { grep -Eq -- "$2" "$tmp/$1" || fail "$1 lacks /$2/"; }

# Buffer lines (of output NAME or NAME.out) without their index: it counts buffers of a process, not of the stream.
out_file() { if [[ "$1" == *.* ]]; then echo "$tmp/$1"; else echo "$tmp/$1.out"; fi; }
buffers() { sed -n 's/^buffer [0-9]* //p' "$(out_file "$1")"; }
# A process that has not opened its output yet has sent no buffers (an empty count would end a wait at once).
buffer_count() {
    local file
    file="$(out_file "$1")"
    if [ -f "$file" ]; then grep -c '^buffer ' "$file"; else echo 0; fi
}

# wait_for_buffers FILE N SECONDS: until FILE has N buffer lines; fails after SECONDS.
wait_for_buffers() {
    local deadline=$((SECONDS + $3))
    while [ "$(buffer_count "$1")" -lt "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$1 did not reach $2 buffers within $3 s"
        sleep 0.05
    done
}

# wait_pid PID NAME: waits for a background process and fails unless it exited 0.
wait_ok() {
    wait "$1"
    local rc=$?
    [ "$rc" -eq 0 ] || fail "$2 exited $rc"
}

ring_gone() {
    local r
    for r in "$ring" "${extra_rings[@]}"; do
        [ ! -e "/dev/shm/zb-$r" ] || fail "/dev/shm/zb-$r was left behind"
    done
}

# wait_for_line FILE REGEX SECONDS: until a line of FILE matches; fails after SECONDS.
wait_for_line() {
    local deadline=$((SECONDS + $3))
    until grep -Eq -- "$2" "$tmp/$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$1 has no line /$2/ within $3 s"
        sleep 0.05
    done
}

# The reader: a zerobuffersrc that waits for the writer (reconnect=true), so it can start first.
start_reader() {
    local out=$1
    shift
    "$ZB_GST_PROBE" --checksums --timeout 90 zerobuffersrc name=probe ring="$ring" reconnect=true "$@" ! fakesink \
        >"$tmp/$out.out" 2>"$tmp/$out.err" &
    pids+=($!)
    reader_pid=$!
}

# The writer waits for one reader before its first frame, so a lossless reader sees every frame.
run_writer() {
    local out=$1
    shift
    "$ZB_GST_PROBE" --checksums --timeout 90 "$@" >"$tmp/$out.out" 2>"$tmp/$out.err"
}

compare_streams() {
    local writer=$1 reader=$2
    [ "$(buffer_count "$writer")" -gt 0 ] || fail "the writer sent no buffers"
    # The comparison means something only if the frames differ from each other and have content.
    local distinct
    distinct=$(sed -n 's/.* sha1=//p' "$(out_file "$writer")" | sort -u | wc -l)
    [ "$distinct" -ge 2 ] || fail "the writer's frames all have the same checksum: the test cannot see reordering"
    ! grep -q "sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709" "$(out_file "$writer")" ||
        fail "a buffer had no content to compare (SHA-1 of nothing)"
    if ! diff <(buffers "$writer") <(buffers "$reader") >"$tmp/diff.txt"; then
        fail "what the reader received differs from what the writer sent ($(buffer_count "$writer") sent, \
$(buffer_count "$reader") received):
$(head -n 20 "$tmp/diff.txt")"
    fi
}

