#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: samples-test.sh CASE PROGRAMS...   (tests of the samples as real processes)
#   pair WRITER READER         the sample writer and reader move 50 frames; counts and checksums agree
#   reader-limit WRITER READER a reader that stops after 20 frames; the writer still finishes
#   demo DEMO [ARGS...]        zb-demo exits 0, prints per-second lines and an OK summary
#   demo-usage DEMO            zb-demo rejects bad options with exit 2
# Checks that no ring is left in /dev/shm.
set -u

# --help prints the comment above; a wrong command line prints it too and exits 2.
usage() { sed -n '3,8s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
if (($# < 2)) || [[ "$1" == -* ]]; then
    echo "samples-test.sh: expected CASE PROGRAMS..." >&2
    usage >&2
    exit 2
fi

case_name=$1
shift
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*; do
        [ -s "$f" ] && { echo "--- $(basename "$f"):" >&2; cat "$f" >&2; }
    done
    exit 1
}
has() { grep -Eq -- "$2" "$tmp/$1" || fail "$1 lacks /$2/"; }

case "$case_name" in
pair | reader-limit)
    writer=$1
    reader=$2
    ring="sample-$case_name-$$"
    "$writer" "$ring" 50 >"$tmp/writer.out" 2>"$tmp/writer.err" &
    wpid=$!
    pids+=("$wpid")
    if [ "$case_name" = pair ]; then
        "$reader" "$ring" >"$tmp/reader.out" 2>"$tmp/reader.err"
    else
        "$reader" "$ring" 20 >"$tmp/reader.out" 2>"$tmp/reader.err"
    fi
    reader_rc=$?
    wait "$wpid"
    writer_rc=$?
    [ "$reader_rc" -eq 0 ] || fail "reader exited $reader_rc"
    [ "$writer_rc" -eq 0 ] || fail "writer exited $writer_rc"
    has reader.out "^format: video/x-raw I420 640x480, 460800 bytes per frame$"
    has writer.out "^wrote 50 frames to ring $ring, checksum [0-9a-f]{16}$"
    has reader.out "^dropped: 0$"
    has reader.out "^checksum: [0-9a-f]{16}$"
    if [ "$case_name" = pair ]; then
        has reader.out "^frames: 50$"
        writer_sum=$(sed -n 's/.*checksum \([0-9a-f]*\)$/\1/p' "$tmp/writer.out")
        reader_sum=$(sed -n 's/^checksum: \([0-9a-f]*\)$/\1/p' "$tmp/reader.out")
        if [ -z "$writer_sum" ] || [ "$writer_sum" != "$reader_sum" ]; then
            fail "checksums differ: writer $writer_sum, reader $reader_sum"
        fi
    else
        has reader.out "^frames: 20$"
    fi
    [ ! -e "/dev/shm/zb-$ring" ] || fail "/dev/shm/zb-$ring was left behind"
    ;;

demo)
    demo=$1
    shift
    "$demo" "$@" >"$tmp/demo.out" 2>"$tmp/demo.err"
    rc=$?
    [ "$rc" -eq 0 ] || fail "zb-demo $* exited $rc"
    has demo.out "^zb-demo: [0-9]+x[0-9]+ I420 .* -> ring demo-[0-9]+ "
    has demo.out "^\[ +1s\] +[0-9]+ frames/s +[0-9.]+ GB/s +latency p50 "
    has demo.out "^summary: ([0-9]+) frames written in [0-9.]+ s, ([0-9]+) read, ([0-9]+) verified, 0 mismatches, 0 drops$"
    has demo.out "^throughput: [0-9.]+ frames/s, [0-9.]+ GB/s$"
    has demo.out "^latency commit->acquire: p50 .*, p99 .*, p99.9 .*, max "
    has demo.out "^result: OK"
    # All frames written were read and verified (the three numbers of the summary are equal).
    read -r written read_count verified < <(sed -En \
        's/^summary: ([0-9]+) frames written in [0-9.]+ s, ([0-9]+) read, ([0-9]+) verified.*/\1 \2 \3/p' \
        "$tmp/demo.out")
    if [ "${written:-0}" -eq 0 ] || [ "$written" != "$read_count" ] || [ "$written" != "$verified" ]; then
        fail "summary numbers disagree: ${written:-?} written, ${read_count:-?} read, ${verified:-?} verified"
    fi
    ring=$(sed -En 's/.* -> ring (demo-[0-9]+) .*/\1/p' "$tmp/demo.out")
    [ ! -e "/dev/shm/zb-$ring" ] || fail "/dev/shm/zb-$ring was left behind"
    ;;

demo-usage)
    demo=$1
    for args in "--width 3" "--seconds 0" "--fps x" "--integrity mac" "--bogus 1" "--seconds"; do
        # shellcheck disable=SC2086 # Word splitting of $args is intended.
        "$demo" $args >"$tmp/demo.out" 2>"$tmp/demo.err"
        rc=$?
        [ "$rc" -eq 2 ] || fail "zb-demo $args exited $rc, not 2"
    done
    "$demo" --help >"$tmp/demo.out" 2>&1 || fail "zb-demo --help failed"
    has demo.out "^Usage: zb-demo"
    ;;

*)
    echo "samples-test.sh: unknown case $case_name" >&2
    usage >&2
    exit 2
    ;;
esac
echo "PASS: samples $case_name"
