#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: zbctl-test.sh CASE ZBCTL HOLDER JSON_CHECK   (tests of zbctl against real processes)
#   cli   help, version, usage errors (exit 2), unknown rings (exit 1)
#   live  list / inspect / --json / watch on a ring held by a live writer and two readers
#   gc    gc keeps live and orphaned rings, removes stale ones (made by kill -9 of a writer); an orphaned
#         ring goes with its last reader
# Every ring is named after this shell's pid; the script checks that none is left in /dev/shm.
set -u

# --help prints the comment above; a wrong command line prints it too and exits 2.
usage() { sed -n '3,9s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
if (($# < 4)) || [[ "$1" == -* ]]; then
    echo "zbctl-test.sh: expected CASE ZBCTL HOLDER JSON_CHECK" >&2
    usage >&2
    exit 2
fi

case_name=$1
ZBCTL=$2
HOLDER=$3
JSON_CHECK=$4

tmp=$(mktemp -d)
pids=()
rings=()

cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    # After a failure, rings of killed holders may be stale: remove only ours.
    for r in "${rings[@]}"; do
        [ -e "/dev/shm/zb-$r" ] && "$ZBCTL" gc "$r" >/dev/null 2>&1
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in out err; do
        [ -s "$tmp/$f" ] && { echo "--- last zbctl $f:" >&2; cat "$tmp/$f" >&2; }
    done
    exit 1
}

# run CMD...: runs it, keeping stdout in $tmp/out, stderr in $tmp/err and the exit status in $rc.
run() {
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "expected exit $1, got $rc: $2"; }
out_has() { grep -Eq -- "$1" "$tmp/out" || fail "stdout lacks /$1/: $2"; }
out_lacks() { ! grep -Eq -- "$1" "$tmp/out" || fail "stdout has /$1/: $2"; }
err_has() { grep -Eq -- "$1" "$tmp/err" || fail "stderr lacks /$1/: $2"; }
json_check() { "$JSON_CHECK" "$@" <"$tmp/out" || fail "JSON check failed: $*"; }

# start_holder LOGNAME ARGS...: starts zb-ring-holder in the background; its pid is in $holder_pid.
start_holder() {
    local log=$1
    shift
    "$HOLDER" "$@" >"$tmp/$log.log" 2>"$tmp/$log.err" &
    holder_pid=$!
    pids+=("$holder_pid")
}

# wait_for LOGNAME WORD: waits until the holder printed WORD ("attached" or "ready").
wait_for() {
    for _ in $(seq 400); do
        grep -qx "$2" "$tmp/$1.log" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "holder $1 never printed '$2': $(cat "$tmp/$1.err")"
}

# stop PID [SIGNAL]: stops a holder and reaps it.
stop() {
    kill "-${2:-TERM}" "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

expect_no_shm() {
    for r in "$@"; do
        [ ! -e "/dev/shm/zb-$r" ] || fail "/dev/shm/zb-$r was left behind"
    done
}

case "$case_name" in
cli)
    run "$ZBCTL" --help
    expect_rc 0 "--help"
    out_has "^Usage:" "--help"
    out_has "^  watch +live frames/s" "--help lists watch"
    run "$ZBCTL" --version
    expect_rc 0 "--version"
    out_has "^zbctl [0-9]+\.[0-9]+\.[0-9]+ .*protocol [0-9]+" "--version"
    for cmd in list inspect watch gc; do
        run "$ZBCTL" help "$cmd"
        expect_rc 0 "help $cmd"
        out_has "^Usage: zbctl $cmd" "help $cmd"
        out_has "^Examples:" "help $cmd has examples"
        run "$ZBCTL" "$cmd" --help
        expect_rc 0 "$cmd --help"
        out_has "^Usage: zbctl $cmd" "$cmd --help"
    done
    run "$ZBCTL"
    expect_rc 2 "no command"
    run "$ZBCTL" frobnicate
    expect_rc 2 "unknown command"
    err_has "unknown command 'frobnicate'" "unknown command message"
    run "$ZBCTL" inspect
    expect_rc 2 "inspect without NAME"
    err_has "NAME is required" "missing NAME message"
    run "$ZBCTL" inspect a b
    expect_rc 2 "inspect with two names"
    run "$ZBCTL" list --bogus
    expect_rc 2 "unknown option"
    err_has "not expected: --bogus" "unknown option message"
    run "$ZBCTL" list --dry-run
    expect_rc 2 "--dry-run on list"
    run "$ZBCTL" watch x --interval abc
    expect_rc 2 "bad --interval"
    run "$ZBCTL" watch x --count
    expect_rc 2 "--count without value"
    # Bad values name their option (exit 2); negative or hexadecimal numbers are refused, not wrapped around.
    run "$ZBCTL" watch x --count -5
    expect_rc 2 "negative --count"
    err_has "^zbctl: --count: " "negative --count names the option"
    run "$ZBCTL" watch x --count 0x10
    expect_rc 2 "hexadecimal --count"
    run "$ZBCTL" watch x --interval 5
    expect_rc 2 "--interval below 10 ms"
    err_has "^zbctl: --interval: .*at least 10" "short --interval names the option and the minimum"
    run "$ZBCTL" metrics --interval 5
    expect_rc 2 "metrics --interval 5"
    err_has "at least 10 \(or 0\)" "metrics also takes 0"
    run "$ZBCTL" help frobnicate
    expect_rc 2 "help of an unknown command"
    err_has "no help for unknown command 'frobnicate'" "help names the unknown command"
    run "$ZBCTL" help
    expect_rc 0 "help"
    out_has "^Usage: zbctl " "help without COMMAND prints the main help"
    # The completion script: valid bash, knows the commands and their options, and completes them.
    run "$ZBCTL" --completion bash
    expect_rc 0 "--completion bash"
    bash -n "$tmp/out" || fail "the completion script is not valid bash"
    for word in '":gc") path="gc"' --dry-run --interval --count --listen --json; do
        grep -qF -- "$word" "$tmp/out" || fail "the completion script lacks $word"
    done
    cp "$tmp/out" "$tmp/completion.bash"
    got=$(bash -c 'source "$1" && COMP_WORDS=(zbctl gc --dr) COMP_CWORD=2 && _zb_complete_zbctl && echo "${COMPREPLY[*]}"' \
        completion "$tmp/completion.bash")
    [ "$got" = --dry-run ] || fail "completing 'zbctl gc --dr' gave '$got', not --dry-run"
    run "$ZBCTL" --completion zsh
    expect_rc 2 "--completion of an unknown shell"
    run "$ZBCTL" inspect 'bad/name'
    expect_rc 2 "invalid ring name"
    err_has "invalid ring name" "invalid ring name message"

    missing="zbctl-missing-$$"
    for cmd in inspect watch gc; do
        run "$ZBCTL" "$cmd" "$missing"
        expect_rc 1 "$cmd of an unknown ring"
        err_has "no ring named '$missing'" "$cmd names the unknown ring"
    done
    run "$ZBCTL" inspect --json "$missing"
    expect_rc 1 "inspect --json of an unknown ring"

    run "$ZBCTL" list
    expect_rc 0 "list"
    run "$ZBCTL" list --json
    expect_rc 0 "list --json"
    json_check /rings
    run "$ZBCTL" gc --dry-run
    expect_rc 0 "gc --dry-run"
    ;;

live)
    ring="zbctl-live-$$"
    rings+=("$ring")
    # A writer that waits for two readers, then writes 10 frames of 1000 bytes and idles.
    start_holder writer writer "$ring" --frames 10 --wait-readers 2
    wpid=$holder_pid
    wait_for writer attached
    start_holder lossless reader "$ring" --frames 10 --policy lossless
    lpid=$holder_pid
    start_holder latest reader "$ring" --frames 7 --policy latest --max-lag 100
    tpid=$holder_pid
    wait_for writer ready
    wait_for lossless ready
    wait_for latest ready

    run "$ZBCTL" list
    expect_rc 0 "list"
    out_has "^NAME +STATE +WRITER" "list header"
    out_has "^$ring +active +$wpid alive +zb-ring-holder +2/4 +10 " "list line of the live ring"

    run "$ZBCTL" list --json
    expect_rc 0 "list --json"
    json_check --select /rings name "$ring" /state=active "/writer_pid=$wpid" /writer_status=alive \
        /writer_alive=true /readers_alive=2 /readers_attached=2 /max_readers=4 /frames_written=10 \
        /bytes_written=10000 "/segment_size>=1048576"

    run "$ZBCTL" inspect "$ring"
    expect_rc 0 "inspect"
    out_has "^Ring $ring" "inspect title"
    out_has "state +active" "inspect state"
    out_has "segment size +[0-9]+ bytes" "inspect segment size"
    out_has "frame memory +offset [0-9]+, capacity [0-9]+" "inspect frame memory layout"
    out_has "max_readers 4" "inspect reader slots"
    out_has "pid +$wpid .*alive" "inspect writer pid"
    out_has "frames_written +10$" "inspect writer counters"
    out_has "bytes_written +10000$" "inspect writer bytes"
    out_has "application/octet-stream" "inspect stream metadata"
    out_has "^Readers \(2 alive, 2 attached, 4 slots\)" "inspect readers title"
    out_has "^ +[0-9]+ +$lpid +yes +lossless +0 +0 " "inspect lossless reader row"
    out_has "^ +[0-9]+ +$tpid +yes +latest +3 +[0-9]+ " "inspect latest reader row (3 frames behind)"

    run "$ZBCTL" inspect "$ring" --json
    expect_rc 0 "inspect --json"
    json_check "/name=$ring" "/shm_path=/dev/shm/zb-$ring" /state=active /integrity=none \
        "/layout/segment_size>=1048576" "/layout/payload_capacity>=1048576" /layout/max_readers=4 \
        /layout/payload_offset /layout/metadata_offset /layout/readers_offset \
        "/writer/pid=$wpid" /writer/alive=true /writer/closed=false \
        /writer/counters/frames_written=10 /writer/counters/bytes_written=10000 \
        /stream_metadata/media_type=application/octet-stream /readers_alive=2
    json_check --select /readers pid "$lpid" /alive=true /policy=lossless /lag_frames=0 /lag_bytes=0 \
        /counters/frames_read=10 /counters/bytes_read=10000 /counters/frames_skipped=0
    json_check --select /readers pid "$tpid" /alive=true /policy=latest /lag_frames=3 "/lag_bytes>=3000" \
        /counters/frames_read=7

    # watch, not on a terminal: one line for the writer and one per reader at each refresh.
    run "$ZBCTL" watch "$ring" --interval 100 --count 3
    expect_rc 0 "watch --count 3"
    [ "$(grep -c " $ring writer pid=$wpid status=alive state=active frames/s=0.0 MB/s=0.0 frames=10 " "$tmp/out")" -eq 3 ] ||
        fail "watch did not print 3 writer lines"
    [ "$(grep -c " $ring reader slot=[0-9]* pid=$lpid alive=yes policy=lossless frames/s=0.0 " "$tmp/out")" -eq 3 ] ||
        fail "watch did not print 3 lines for the lossless reader"
    out_has "pid=$tpid alive=yes policy=latest .*lag_frames=3 " "watch shows the latest reader's lag"

    # A reader killed with -9 stays in its slot, marked dead, until the writer reclaims it.
    stop "$tpid" KILL
    run "$ZBCTL" inspect "$ring" --json
    expect_rc 0 "inspect after kill -9 of a reader"
    json_check /readers_alive=1
    json_check --select /readers pid "$tpid" /alive=false
    run "$ZBCTL" list
    out_has "^$ring +active +$wpid alive .* 1/4 \(\+1 dead\)" "list counts the dead reader"

    # watch follows the ring until it goes away, then exits 0.
    "$ZBCTL" watch "$ring" --interval 50 --count 400 >"$tmp/watch.out" 2>&1 &
    watch_pid=$!
    sleep 0.3
    stop "$wpid" TERM # The writer closes: the name disappears.
    wait "$watch_pid"
    watch_rc=$?
    [ "$watch_rc" -eq 0 ] || fail "watch exited $watch_rc when the ring went away"
    grep -q "ring $ring is gone" "$tmp/watch.out" || fail "watch did not say the ring is gone"

    run "$ZBCTL" inspect "$ring"
    expect_rc 1 "inspect after the writer closed"
    stop "$lpid" TERM
    expect_no_shm "$ring"
    ;;

gc)
    stale="zbctl-stale-$$"
    stale2="zbctl-stale2-$$"
    keep="zbctl-keep-$$"
    orphan="zbctl-orphan-$$"
    junk="zbctl-junk-$$"
    rings+=("$stale" "$stale2" "$keep" "$orphan" "$junk")

    # A stale ring: its only process, the writer, is killed with -9.
    start_holder stale writer "$stale" --frames 3
    wait_for stale ready
    stop "$holder_pid" KILL
    [ -e "/dev/shm/zb-$stale" ] || fail "kill -9 of the writer did not leave a stale ring"
    # A live ring.
    start_holder keep writer "$keep" --frames 3
    kpid=$holder_pid
    wait_for keep ready
    # An orphaned ring: writer killed, a reader still attached.
    start_holder orphan writer "$orphan" --wait-readers 1 --frames 2
    opid=$holder_pid
    wait_for orphan attached
    start_holder orphan-reader reader "$orphan" --frames 2
    orpid=$holder_pid
    wait_for orphan ready
    wait_for orphan-reader ready
    stop "$opid" KILL

    run "$ZBCTL" list
    expect_rc 0 "list"
    out_has "^$stale +stale +[0-9]+ dead " "list shows the stale ring"
    out_has "^$keep +active +$kpid alive " "list shows the live ring"
    out_has "^$orphan +orphaned +$opid dead .* 1/4 " "list shows the orphaned ring"

    run "$ZBCTL" gc --dry-run
    expect_rc 0 "gc --dry-run"
    out_has "^would remove $stale " "dry run names the stale ring"
    out_lacks " $keep " "dry run spares the live ring"
    out_lacks " $orphan " "dry run spares the orphaned ring"
    [ -e "/dev/shm/zb-$stale" ] || fail "gc --dry-run removed something"

    run "$ZBCTL" gc "$keep"
    expect_rc 1 "gc of a live ring by name"
    err_has "'$keep' is in use" "gc explains why it kept the live ring"
    run "$ZBCTL" gc "$orphan"
    expect_rc 1 "gc of an orphaned ring by name"
    if [ ! -e "/dev/shm/zb-$keep" ] || [ ! -e "/dev/shm/zb-$orphan" ]; then fail "gc NAME removed a ring in use"; fi

    # Machine-wide gc (this test is not run in parallel with others, see meson.build).
    run "$ZBCTL" gc
    expect_rc 0 "gc"
    out_has "^removed $stale( |$)" "gc reports the stale ring"
    out_lacks "removed $keep( |$)" "gc spares the live ring"
    out_lacks "removed $orphan( |$)" "gc spares the orphaned ring"
    [ ! -e "/dev/shm/zb-$stale" ] || fail "gc did not remove the stale ring"
    [ -e "/dev/shm/zb-$keep" ] || fail "gc removed the live ring"
    [ -e "/dev/shm/zb-$orphan" ] || fail "gc removed the orphaned ring"

    # The last reader of the orphaned ring, leaving cleanly, removes it: no gc needed.
    stop "$orpid" TERM
    [ ! -e "/dev/shm/zb-$orphan" ] || fail "the orphaned ring's last reader left without removing it"
    # gc NAME takes exactly the stale ring it names.
    start_holder stale writer "$stale" --frames 1
    wait_for stale ready
    stop "$holder_pid" KILL
    start_holder stale2 writer "$stale2" --frames 1
    wait_for stale2 ready
    stop "$holder_pid" KILL
    run "$ZBCTL" gc --dry-run "$stale"
    expect_rc 0 "gc --dry-run NAME"
    out_has "^would remove $stale " "gc --dry-run NAME"
    run "$ZBCTL" gc "$stale"
    expect_rc 0 "gc NAME of a stale ring"
    out_has "^removed $stale " "gc NAME reports it"
    [ -e "/dev/shm/zb-$stale2" ] || fail "gc NAME removed another ring"
    run "$ZBCTL" gc "$stale"
    expect_rc 1 "gc NAME of a ring already removed"
    run "$ZBCTL" gc "$stale2"
    expect_rc 0 "gc NAME of the second stale ring"

    # A damaged segment (not a ring at all) is listed as unreadable, never crashes zbctl, and gc NAME
    # removes it since no process holds it.
    head -c 4096 /dev/urandom >"/dev/shm/zb-$junk"
    run "$ZBCTL" list
    expect_rc 0 "list with a damaged segment"
    out_has "^$junk +unreadable " "list marks the damaged segment"
    run "$ZBCTL" list --json
    json_check --select /rings name "$junk" /state=unreadable /error/code=CorruptSegment
    run "$ZBCTL" inspect "$junk"
    expect_rc 1 "inspect of a damaged segment"
    err_has "cannot inspect ring '$junk': CorruptSegment" "inspect explains the damage"
    run "$ZBCTL" gc "$junk"
    expect_rc 0 "gc NAME of a damaged segment"
    out_has "^removed $junk " "gc NAME reports the damaged segment"

    stop "$kpid" TERM
    expect_no_shm "$stale" "$stale2" "$keep" "$orphan" "$junk"
    ;;

*)
    echo "zbctl-test.sh: unknown case $case_name" >&2
    usage >&2
    exit 2
    ;;
esac
echo "PASS: zbctl $case_name"
