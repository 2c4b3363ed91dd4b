#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: gc-test.sh CASE ZBCTL HOLDER [WRITERS]
# Tests of the machine-wide garbage collector (zbctl gc / collect_garbage) in a private /dev/shm:
#   users           another user's live ring does not stop gc: as nobody, gc removes nobody's stale ring,
#                   names the rings it may not open or remove, exits 1; the dry run judges the same (needs root)
#   dry-run         gc --dry-run judges temporary files by their locks, as the real run does, not by the pid
#                   in their names (a live creator in another pid namespace, a dead one whose pid was reused)
#   creation-race   'zbctl gc' in a loop beside WRITERS (default 2000) short-lived writers: no writer fails
# Each case runs in its own mount namespace with an empty tmpfs on /dev/shm, so the machine-wide gc neither
# sees nor removes other tests' rings, and nothing is left behind: the tmpfs goes away with the namespace.
set -u

usage() { sed -n '3,11s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
users | dry-run | creation-race) ;;
*) echo "gc-test.sh: expected a CASE: users, dry-run or creation-race" >&2; usage >&2; exit 2 ;;
esac
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "gc-test.sh: expected CASE ZBCTL HOLDER [WRITERS]" >&2
    usage >&2
    exit 2
fi
case_name=$1
ZBCTL=$2
HOLDER=$3
WRITERS=${4:-2000}
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

if [ -z "${ZB_GC_TEST_PRIVATE_SHM:-}" ]; then
    if [ "$case_name" = users ] && [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: the users case switches users with setpriv and needs root (CI runs as root)" >&2
        exit 77
    fi
    ns=(unshare --mount --propagation private)
    [ "$(id -u)" -eq 0 ] || ns=(unshare --user --map-root-user --mount --propagation private)
    if ! "${ns[@]}" true 2>/dev/null; then
        echo "SKIP: cannot make a mount namespace for a private /dev/shm (${ns[*]}); gc must not run on the shared one" >&2
        exit 77
    fi
    ZB_GC_TEST_PRIVATE_SHM=1 exec "${ns[@]}" bash "$0" "$@"
fi
mount -t tmpfs -o mode=1777 zb-gc-test /dev/shm || { echo "FAIL: cannot mount a tmpfs on /dev/shm" >&2; exit 1; }

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in out err; do
        [ -s "$tmp/$f" ] && { echo "--- last $f:" >&2; cat "$tmp/$f" >&2; }
    done
    echo "--- /dev/shm:" >&2
    ls -la /dev/shm >&2
    exit 1
}
run() {
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "expected exit $1, got $rc: $2"; }
out_has() { grep -Eq -- "$1" "$tmp/out" || fail "stdout lacks /$1/: $2"; }
out_lacks() { ! grep -Eq -- "$1" "$tmp/out" || fail "stdout has /$1/: $2"; }
err_has() { grep -Eq -- "$1" "$tmp/err" || fail "stderr lacks /$1/: $2"; }
exists() { [ -e "/dev/shm/$1" ] || fail "/dev/shm/$1 is gone: $2"; }
gone() { [ ! -e "/dev/shm/$1" ] || fail "/dev/shm/$1 is still there: $2"; }

# start_holder LOG CMD...: starts a holder in the background and waits until it printed "ready".
start_holder() {
    local log=$1
    shift
    "$@" >"$tmp/$log.log" 2>"$tmp/$log.err" &
    holder_pid=$!
    pids+=("$holder_pid")
    for _ in $(seq 400); do
        grep -qx ready "$tmp/$log.log" 2>/dev/null && return 0
        kill -0 "$holder_pid" 2>/dev/null || break
        sleep 0.05
    done
    fail "holder $log never got ready: $(cat "$tmp/$log.err")"
}
kill9() {
    kill -KILL "$1"
    wait "$1" 2>/dev/null
}

# The verdicts of a gc output without the verb: a dry run must print exactly what the real run does.
verdicts() { sed -E 's/^(would remove|removed) //' "$1" | sort; }

case "$case_name" in
users)
    # nobody's dead ring, root's live 0600 ring (nobody may not open it), root's dead 0666 ring (nobody
    # may open it but, /dev/shm being sticky, not remove it), nobody's live ring.
    start_holder old "${NOBODY[@]}" "$HOLDER" writer gcaold
    kill9 "$holder_pid"
    start_holder root "$HOLDER" writer gcaroot
    rootpid=$holder_pid
    start_holder shared "$HOLDER" writer gcashared
    kill9 "$holder_pid"
    chmod 666 /dev/shm/zb-gcashared
    start_holder mine "${NOBODY[@]}" "$HOLDER" writer gcamine
    minepid=$holder_pid

    run "${NOBODY[@]}" "$ZBCTL" gc --dry-run
    expect_rc 1 "a dry run as nobody that cannot judge everything"
    cp "$tmp/out" "$tmp/dry.out"
    cp "$tmp/err" "$tmp/dry.err"
    out_has "^would remove gcaold " "the dry run names the stale ring nobody may remove"
    out_lacks "gcaroot|gcashared|gcamine" "the dry run would remove only gcaold"
    err_has "left ring 'gcaroot' in place, cannot judge it: SystemError: cannot open /dev/shm/zb-gcaroot .*Permission denied" \
        "the dry run names the ring it may not open"
    err_has "left ring 'gcashared' in place, cannot judge it: SystemError: cannot remove /dev/shm/zb-gcashared" \
        "the dry run names the ring it may not remove"
    exists zb-gcaold "a dry run removes nothing"

    run "${NOBODY[@]}" "$ZBCTL" gc
    expect_rc 1 "gc as nobody left rings it could not judge"
    out_has "^removed gcaold \(writer [0-9]+ dead, no readers\)" "gc reports the stale ring it removed"
    err_has "left ring 'gcaroot' in place" "gc names the ring it may not open"
    err_has "left ring 'gcashared' in place" "gc names the ring it may not remove"
    err_has "gc left 2 object\(s\) in /dev/shm that it could not judge" "gc says how many it left"
    [ "$(verdicts "$tmp/dry.out")" = "$(verdicts "$tmp/out")" ] || fail "the dry run and the real run disagree"
    diff "$tmp/dry.err" "$tmp/err" >/dev/null || fail "the dry run and the real run skip different rings"
    gone zb-gcaold "gc as nobody must remove nobody's stale ring"
    exists zb-gcaroot "root's live ring"
    exists zb-gcashared "a ring nobody may not remove"
    exists zb-gcamine "nobody's live ring"

    # gc NAME judges the same way, and its dry run too.
    for dry in --dry-run ""; do
        run "${NOBODY[@]}" "$ZBCTL" gc $dry gcashared
        expect_rc 1 "gc $dry NAME of a ring nobody may not remove"
        err_has "cannot remove /dev/shm/zb-gcashared" "gc $dry NAME says why"
    done

    # As root everything can be judged: the stale ring goes, the live ones stay, exit 0.
    run "$ZBCTL" gc
    expect_rc 0 "gc as root"
    out_has "^removed gcashared " "root removes the shared stale ring"
    out_lacks "gcaroot|gcamine" "live rings stay"
    gone zb-gcashared "root's gc"
    exists zb-gcaroot "root's live ring after root's gc"
    exists zb-gcamine "nobody's live ring after root's gc"
    run "$ZBCTL" gc --dry-run
    expect_rc 0 "a dry run that judged everything"
    out_has "^nothing to remove$" "nothing left to remove"
    kill -TERM "$rootpid" "$minepid"
    wait "$rootpid" "$minepid"
    ;;

dry-run)
    # A creator's temporary file in another pid namespace: its name holds a pid that does not exist here,
    # but the creator is alive and holds its lock. And a temporary file nobody holds, whose name holds a
    # live pid (ours): a dead creator whose pid was reused.
    held=.zb-tmp-4194305-00000000000000aa
    dead=.zb-tmp-$$-00000000000000bb
    : >"/dev/shm/$held"
    : >"/dev/shm/$dead"
    # (unshare ignores SIGTERM while its child runs; --kill-child ends the holder when unshare is killed.)
    start_holder lock unshare --pid --fork --kill-child "$HOLDER" lock "/dev/shm/$held"
    lockpid=$holder_pid
    # A damaged ring nobody holds, and a live ring.
    head -c 4096 /dev/urandom >/dev/shm/zb-gcjunk
    start_holder live "$HOLDER" writer gclive
    livepid=$holder_pid

    run "$ZBCTL" gc --dry-run
    expect_rc 0 "gc --dry-run"
    cp "$tmp/out" "$tmp/dry.out"
    out_has "^would remove /dev/shm/$dead \(leftover of an interrupted creation\)$" "the unlocked temporary file"
    out_has "^would remove gcjunk \(unreadable segment, no process holds it\)$" "the damaged ring"
    out_lacks "$held" "the dry run must spare the temporary file of a live creator"
    out_lacks "gclive" "the dry run must spare the live ring"
    exists "$dead" "a dry run removes nothing"

    run "$ZBCTL" gc
    expect_rc 0 "gc"
    [ "$(verdicts "$tmp/dry.out")" = "$(verdicts "$tmp/out")" ] || fail "the dry run and the real run disagree"
    gone "$dead" "gc removes the unlocked temporary file"
    gone zb-gcjunk "gc removes the damaged ring"
    exists "$held" "gc spares the temporary file of a live creator"
    exists zb-gclive "gc spares the live ring"
    kill -TERM "$livepid"
    wait "$livepid"
    kill9 "$lockpid"
    ;;

creation-race)
    # The collector in a tight loop, beside writers that create a ring, write a frame and close it.
    (
        runs=0
        while [ ! -e "$tmp/stop" ]; do
            "$ZBCTL" gc >/dev/null 2>>"$tmp/gc.err" || echo "zbctl gc exited $?" >>"$tmp/gc.err"
            runs=$((runs + 1))
        done
        echo "$runs" >"$tmp/gc.runs"
    ) &
    gc_loop=$!
    pids+=("$gc_loop")
    failed=0
    for ((i = 0; i < WRITERS; i += 2)); do
        "$HOLDER" writer "gcrace$i" --frames 1 --no-hold >/dev/null 2>>"$tmp/writers.err" &
        second=$!
        "$HOLDER" writer "gcrace$((i + 1))" --frames 1 --no-hold >/dev/null 2>>"$tmp/writers.err" ||
            failed=$((failed + 1))
        wait "$second" || failed=$((failed + 1))
    done
    touch "$tmp/stop"
    wait "$gc_loop"
    runs=$(cat "$tmp/gc.runs")
    echo "$WRITERS writers beside $runs gc runs, $failed failed"
    [ "$failed" -eq 0 ] || { sort "$tmp/writers.err" | uniq -c | sort -rn | head -5 >&2; fail "$failed of $WRITERS writers failed beside gc"; }
    [ ! -s "$tmp/gc.err" ] || { head -5 "$tmp/gc.err" >&2; fail "gc failed while writers came and went"; }
    # The loop must really have raced the writers, or the test proves nothing.
    [ "$runs" -ge 20 ] || fail "only $runs gc runs happened during the writers"
    [ -z "$(ls -A /dev/shm)" ] || fail "the writers or gc left files behind"
    ;;
esac
echo "PASS: gc $case_name"
