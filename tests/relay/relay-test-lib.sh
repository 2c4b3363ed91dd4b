#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: source relay-test-lib.sh CASE ZB_RELAY ZB_RELAY_PEER   (from relay-test.sh and relay-security-test.sh)
# What the zb-relay test scripts share: the scratch directory and unique ring tag, background processes that are stopped on exit, waiting
# for log lines, and checks that fail the case with the logs of every process.
set -u

# --help prints the calling script's header comment; a wrong command line prints it too and exits 2.
usage() { sed -n '3,5s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
if (($# < 3)) || [[ "$1" == -* ]]; then
    echo "$(basename "$0"): expected CASE ZB_RELAY ZB_RELAY_PEER" >&2
    usage >&2
    exit 2
fi

case_name=$1
relay=$(realpath "$2")
peer=$(realpath "$3")
tmp=$(mktemp -d)
tag="rt$$"
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
    rm -f /dev/shm/zb-"$tag"-* 2>/dev/null
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.out "$tmp"/*.err; do
        [ -s "$f" ] && { echo "--- $(basename "$f"):" >&2; grep -v " fps, " "$f" | tail -n 40 >&2; }
    done
    exit 1
}
has() { grep -Eq -- "$2" "$tmp/$1" || fail "$1 lacks /$2/"; }
has_text() { grep -Fq -- "$2" "$tmp/$1" || fail "$1 lacks '$2'"; } # Z85 keys hold regex characters
lacks() { ! grep -Eq -- "$2" "$tmp/$1" || fail "$1 has /$2/"; }
value() { sed -En "s/^$2: (.*)$/\1/p" "$tmp/$1" | tail -n 1; }

# start NAME CMD...: runs CMD in the background with its output in $tmp/NAME.out/.err; sets $last_pid.
start() {
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    last_pid=$!
    pids+=("$last_pid")
}
# finish PID NAME: waits for PID and fails unless it exited 0.
finish() {
    wait "$1"
    local rc=$?
    [ "$rc" -eq 0 ] || fail "$2 exited $rc"
}
# stop PID NAME: SIGTERM, then expects a clean exit 0.
stop() {
    kill -TERM "$1" 2>/dev/null
    finish "$1" "$2"
}
# wait_for FILE REGEX [SECONDS]
wait_for() {
    local limit=$((${3:-20} * 10))
    for ((i = 0; i < limit; i++)); do
        grep -Eq -- "$2" "$tmp/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "timed out waiting for /$2/ in $1"
}
check_shm_clean() {
    sleep 0.2
    local left
    left=$(ls /dev/shm | grep -E "^zb-$tag-" || true)
    [ -z "$left" ] || fail "left in /dev/shm: $left"
}
free_port() { "$peer" free-port; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; } # resident memory of a process, from /proc
peak_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; } # its peak since it started
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; } # its heap and stacks, without mapped rings
# Prefix of a process whose memory a case measures: under AddressSanitizer freed memory is kept in a quarantine
# (256 MB by default), which a flood of small messages fills with libzmq's freed receive buffers.
measured=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0")
keys() {
    (cd "$tmp" && "$relay" keygen server >/dev/null && "$relay" keygen client >/dev/null &&
        "$relay" keygen stranger >/dev/null) || fail "keygen failed"
    cp "$tmp/client.pub" "$tmp/allowed.txt"
}
