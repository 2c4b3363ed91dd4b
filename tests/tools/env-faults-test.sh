#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: env-faults-test.sh CASE ZBCTL HOLDER
# Faults of the environment around a ring, with real processes, each case in a private /dev/shm (a tmpfs of its
# own in a mount namespace), so that filling it or planting files there touches nothing else:
#   shm-full          a ring larger than /dev/shm, and a /dev/shm filled by a file: the writer fails with a
#                     message naming /dev/shm and the size, and leaves nothing behind; it works once space is free
#   permissions       a ring of mode 0000 (and, as root, another user's 0600 ring): the reader's error names the
#                     ring, its owner and mode, and the fix; a writer asking for a mode every user can write is
#                     refused, and so is a ring made world-writable afterwards
#   fd-limit          a writer and a reader out of file descriptors: a clear error naming 'ulimit -n', no crash
#   hostile-truncate  (root) a process of another user tries to truncate a live 0600 and 0660 ring: refused by
#                     the kernel, the reader goes on; the same user can truncate it, and the reader dies of
#                     SIGBUS (the limit docs/security.md states)
#   gst-shm-full      (GST_LAUNCH, ZB_GST_PROBE) zerobuffersink in a /dev/shm too small for its ring, at the first
#                     caps and when bigger caps make it re-create the ring: a clear element error, nothing left
#   gst-sigterm       (GST_LAUNCH) gst-launch-1.0 ... ! zerobuffersink killed by SIGTERM: with a reader attached,
#                     the reader's leaving removes the ring; without one, the next writer of that name takes it
#                     over; SIGINT closes it cleanly; no 'zbctl gc' anywhere
# Exit status: 0 pass, 1 fail, 2 usage error, 77 skipped (no mount namespace possible; hostile-truncate not root).
set -u

usage() { sed -n '3,21s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
shm-full | permissions | fd-limit | hostile-truncate | gst-shm-full | gst-sigterm) ;;
*) echo "env-faults-test.sh: expected a CASE (see --help)" >&2; usage >&2; exit 2 ;;
esac
if [ $# -ne 3 ]; then
    echo "env-faults-test.sh: expected CASE ZBCTL HOLDER" >&2
    usage >&2
    exit 2
fi
case_name=$1 ZBCTL=$2 HOLDER=$3
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

if [ -z "${ZB_ENV_TEST_PRIVATE_SHM:-}" ]; then
    # Switching users needs real root: inside an unprivileged user namespace only one uid is mapped.
    real_root=0
    [ "$(id -u)" -eq 0 ] && real_root=1
    if [ "$case_name" = hostile-truncate ] && [ "$real_root" -eq 0 ]; then
        echo "SKIP: hostile-truncate runs the hostile process as another user (setpriv) and needs root (CI runs as root)" >&2
        exit 77
    fi
    ns=(unshare --mount --propagation private)
    [ "$real_root" -eq 1 ] || ns=(unshare --user --map-root-user --mount --propagation private)
    if ! "${ns[@]}" true 2>/dev/null; then
        echo "SKIP: cannot make a mount namespace for a private /dev/shm (${ns[*]})" >&2
        exit 77
    fi
    ZB_ENV_TEST_PRIVATE_SHM=1 ZB_ENV_TEST_REAL_ROOT=$real_root exec "${ns[@]}" bash "$0" "$@"
fi
shm_size=8m
mount -t tmpfs -o "mode=1777,size=$shm_size" zb-env-test /dev/shm || { echo "FAIL: cannot mount a tmpfs on /dev/shm" >&2; exit 1; }

tmp=$(mktemp -d)
chmod 755 "$tmp"
export GST_REGISTRY="$tmp/gst-registry.bin"
ulimit -c 0 # The SIGBUS of hostile-truncate is expected: no core file.
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.out "$tmp"/*.err; do
        [ -s "$f" ] && { echo "--- $(basename "$f"):" >&2; tail -n 15 "$f" >&2; }
    done
    echo "--- /dev/shm:" >&2
    ls -la /dev/shm >&2
    exit 1
}
# run NAME CMD...: runs CMD to completion, its output in NAME.out/NAME.err, its exit status in rc.
run() {
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "expected exit $1, got $rc: $2"; }
# A failure must be an exit with a message, never a signal (exit status above 128).
expect_clean_failure() { [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] || fail "expected a failure exit (1-127), got $rc: $1"; }
has() { grep -Eq -- "$2" "$tmp/$1" || fail "$1 lacks /$2/: $3"; }
shm_empty() {
    local left
    left=$(ls -A /dev/shm)
    [ -z "$left" ] || fail "left in /dev/shm: $left: $1"
}
# start NAME CMD...: starts CMD in the background (pid in last_pid) and waits until it printed "ready".
start() {
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    last_pid=$!
    pids+=("$last_pid")
    for _ in $(seq 400); do
        grep -q '^ready$' "$tmp/$name.out" 2>/dev/null && return 0
        kill -0 "$last_pid" 2>/dev/null || break
        sleep 0.05
    done
    fail "$name never got ready"
}
stop() {
    kill -TERM "$1" 2>/dev/null
    wait "$1"
    rc=$?
}
wait_gone() {
    for _ in $(seq 200); do
        [ -e "/dev/shm/zb-$1" ] || return 0
        sleep 0.05
    done
    fail "/dev/shm/zb-$1 is still there: $2"
}

case "$case_name" in
shm-full)
    # Larger than the whole tmpfs: posix_fallocate fails at creation, before the ring has a name.
    run big "$HOLDER" writer envbig --ring-bytes $((16 << 20)) --no-hold
    expect_clean_failure "a ring larger than /dev/shm"
    has big.err "cannot allocate [0-9]+ bytes for the ring in /dev/shm: No space left on device" "the size and /dev/shm"
    has big.err "/dev/shm is full: free space there, remove stale rings with 'zbctl gc', or use a smaller ring" "the fix"
    shm_empty "a failed creation"
    # A /dev/shm that something else filled: the same message for a small ring, and success once there is room.
    dd if=/dev/zero of=/dev/shm/filler bs=1M count=8 2>/dev/null # stops at ENOSPC: the tmpfs is full
    run small "$HOLDER" writer envsmall --no-hold
    expect_clean_failure "a ring in a full /dev/shm"
    has small.err "cannot allocate [0-9]+ bytes for the ring in /dev/shm: No space left on device" "the size and /dev/shm"
    [ "$(ls -A /dev/shm)" = filler ] || fail "the failed creation left something beside the filler: $(ls -A /dev/shm)"
    rm /dev/shm/filler
    run again "$HOLDER" writer envsmall --frames 10 --no-hold
    expect_rc 0 "the same ring once /dev/shm has room"
    shm_empty "a writer that closed"
    ;;

permissions)
    start w0 "$HOLDER" writer envzero --mode 0000
    if [ "$ZB_ENV_TEST_REAL_ROOT" -eq 1 ]; then
        # Root ignores file modes: the reader that is refused is another user's.
        run r0 "${NOBODY[@]}" "$HOLDER" reader envzero --no-hold
    else
        # The root of a user namespace ignores them too: the reader runs as that uid without capabilities.
        run r0 setpriv --bounding-set=-all --inh-caps=-all "$HOLDER" reader envzero --no-hold
    fi
    expect_clean_failure "a reader of a mode-0000 ring"
    has r0.err "cannot open /dev/shm/zb-envzero \(owner uid [0-9]+, group [0-9]+, mode 0000; this process is uid [0-9]+\): Permission denied" \
        "the ring, its owner and mode"
    has r0.err "run as the ring's owner or create the ring with wider permissions" "the fix"
    stop "$last_pid"
    if [ "$ZB_ENV_TEST_REAL_ROOT" -eq 1 ]; then
        start w1 "$HOLDER" writer envroot
        run r1 "${NOBODY[@]}" "$HOLDER" reader envroot --no-hold
        expect_clean_failure "another user's reader of a 0600 ring"
        has r1.err "cannot open /dev/shm/zb-envroot \(owner uid 0, group 0, mode 0600; this process is uid 65534\): Permission denied" \
            "the ring, its owner and mode"
        stop "$last_pid"
    fi
    # Modes that let every local user write the ring: refused when asked for, and refused when found.
    run w2 "$HOLDER" writer envwide --mode 0666 --no-hold
    expect_clean_failure "a writer asking for mode 0666"
    has w2.err "permissions 0666 let every local user write the ring" "why the mode is refused"
    start w3 "$HOLDER" writer envwide --mode 0640
    chmod 0646 /dev/shm/zb-envwide
    run r3 "$HOLDER" reader envwide --no-hold
    expect_clean_failure "a reader of a world-writable ring"
    has r3.err "/dev/shm/zb-envwide \(mode 0646\) can be written by every local user, who could truncate it under its readers: refusing it" \
        "why the ring is refused"
    run i3 "$ZBCTL" inspect envwide
    expect_clean_failure "zbctl inspect of a world-writable ring"
    has i3.err "can be written by every local user" "zbctl says why"
    stop "$last_pid"
    shm_empty "writers that closed"
    ;;

fd-limit)
    # The limit of the running process is lowered to its lowest free descriptor number: its next open fails.
    limit_to_open() {
        local free=0
        while [ -e "/proc/$1/fd/$free" ]; do free=$((free + 1)); done
        prlimit --pid "$1" --nofile="$free:$free" || fail "prlimit failed"
    }
    "$HOLDER" writer envfd --start-after-ms 1000 --no-hold >"$tmp/w.out" 2>"$tmp/w.err" &
    writer=$!
    pids+=("$writer")
    sleep 0.2
    limit_to_open "$writer"
    wait "$writer"
    rc=$?
    expect_clean_failure "a writer without a free file descriptor"
    has w.err "create: cannot create a ring segment in /dev/shm/: Too many open files \(too many open files: raise the limit with 'ulimit -n'\)" \
        "the writer's error"
    shm_empty "a writer that could not create its ring"
    # The reader polls for the ring (NotFound); its limit is lowered before the writer appears.
    "$HOLDER" reader envfd --no-hold >"$tmp/r.out" 2>"$tmp/r.err" &
    reader=$!
    pids+=("$reader")
    sleep 0.2
    limit_to_open "$reader"
    start w "$HOLDER" writer envfd
    wait "$reader"
    rc=$?
    expect_clean_failure "a reader without a free file descriptor"
    has r.err "attach: cannot open /dev/shm/zb-envfd: Too many open files \(too many open files: raise the limit with 'ulimit -n'\)" \
        "the reader's error"
    stop "$last_pid"
    shm_empty "a writer that closed"
    ;;

hostile-truncate)
    for mode in 0600 0660; do
        ring=envtrunc$mode
        start w "$HOLDER" writer "$ring" --mode "$mode" --stream-ms 5 --frame-bytes 4096
        writer=$last_pid
        start r "$HOLDER" reader "$ring" --frames 20 --policy latest
        reader=$last_pid
        # nobody, not in root's group: the kernel refuses it write access, so it can neither truncate nor write.
        run t "${NOBODY[@]}" truncate -s 0 "/dev/shm/zb-$ring"
        expect_clean_failure "another user truncating a $mode ring"
        has t.err "Permission denied" "the kernel refuses the hostile truncation"
        [ "$(stat -c %s "/dev/shm/zb-$ring")" -gt 4096 ] || fail "the $mode ring shrank"
        kill -0 "$reader" 2>/dev/null || fail "the reader died"
        run r2 "$HOLDER" reader "$ring" --frames 20 --policy latest --no-hold
        expect_rc 0 "a reader of the $mode ring after the hostile attempts"
        stop "$reader"
        expect_rc 0 "the reader of the $mode ring"
        stop "$writer"
        expect_rc 0 "the writer of the $mode ring"
    done
    shm_empty "writers that closed"
    # What remains: whoever may write the file (its user, its group with 0660) can shrink it under a reader, and the
    # next access past the end is a SIGBUS. This checks that docs/security.md states the truth.
    start w "$HOLDER" writer envsame --stream-ms 5 --frame-bytes 4096
    writer=$last_pid
    "$HOLDER" reader envsame --frames 100000000 >"$tmp/r.out" 2>"$tmp/r.err" &
    reader=$!
    pids+=("$reader")
    sleep 0.3
    truncate -s 0 /dev/shm/zb-envsame || fail "the owner could not truncate its own ring"
    wait "$reader"
    rc=$?
    # Under ASan or TSan the sanitizer catches the SIGBUS, reports it and exits with its own status (1, 66).
    [ "$rc" -eq $((128 + 7)) ] || { [ "$rc" -lt 128 ] && grep -Eq "(Address|Thread)Sanitizer: BUS" "$tmp/r.err"; } ||
        fail "the reader of a ring its own user truncated exited $rc, not by SIGBUS (7): update docs/security.md"
    kill -KILL "$writer" 2>/dev/null
    wait "$writer" 2>/dev/null
    rm -f /dev/shm/zb-envsame
    ;;

gst-shm-full)
    : "${GST_LAUNCH:?GST_LAUNCH must name gst-launch-1.0}" "${ZB_GST_PROBE:?ZB_GST_PROBE must name zb-gst-probe}"
    # 1080p I420 frames x the default buffers is more than the 8 MiB tmpfs: the first caps cannot get a ring.
    run create "$GST_LAUNCH" -q videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=1920,height=1080 ! \
        zerobuffersink ring=envgst
    expect_clean_failure "a sink whose ring does not fit in /dev/shm"
    has create.err "could not create ring 'envgst' of [0-9]+ bytes \(size/buffers\): cannot allocate [0-9]+ bytes for the ring in /dev/shm: No space left on device" \
        "the element error names the ring, the size and /dev/shm"
    shm_empty "a sink that could not create its ring"
    # QVGA fits; the switch to 1080p makes the sink drop that ring and create a bigger one, which does not fit.
    run grow "$ZB_GST_PROBE" --timeout 60 --switch-caps 4:video/x-raw,format=I420,width=1920,height=1080 \
        videotestsrc num-buffers=12 ! capsfilter name=switch caps=video/x-raw,format=I420,width=320,height=240 ! \
        zerobuffersink name=probe ring=envgst
    expect_clean_failure "a sink whose grown ring does not fit in /dev/shm"
    has grow.out "frames [1-9]" "QVGA frames went through the first ring before the switch"
    has grow.err "could not create ring 'envgst' of [0-9]+ bytes \(size/buffers\): cannot allocate [0-9]+ bytes for the ring in /dev/shm: No space left on device" \
        "the element error of the re-created ring"
    shm_empty "a sink that could not re-create its ring"
    ;;

gst-sigterm)
    : "${GST_LAUNCH:?GST_LAUNCH must name gst-launch-1.0}"
    writer() {
        "$GST_LAUNCH" -q videotestsrc is-live=true "$@" ! video/x-raw,width=320,height=240 ! zerobuffersink ring=envterm \
            >"$tmp/writer.out" 2>"$tmp/writer.err" &
        writer_pid=$!
        pids+=("$writer_pid")
        for _ in $(seq 200); do
            [ -e /dev/shm/zb-envterm ] && return 0
            sleep 0.05
        done
        fail "the gst-launch-1.0 writer never created its ring"
    }
    # 1. A reader is attached: it sees the writer die, leaves, and takes the dead ring with it.
    writer
    start reader "$HOLDER" reader envterm --frames 5 --no-hold
    "$HOLDER" reader envterm --frames 100000000 >"$tmp/reader2.out" 2>"$tmp/reader2.err" &
    reader=$!
    pids+=("$reader")
    sleep 0.5
    kill -TERM "$writer_pid"
    wait "$writer_pid"
    rc=$?
    expect_rc $((128 + 15)) "gst-launch-1.0 killed by SIGTERM"
    wait "$reader"
    rc=$?
    expect_rc 1 "a reader whose writer was killed"
    has reader2.err "acquire: the writer of ring 'envterm' \(pid [0-9]+\) died" "the reader's error"
    wait_gone envterm "the last reader of a killed writer's ring must remove it"
    # 2. No reader: the ring stays (nobody is left to remove it), and the next writer of the name takes it over.
    writer
    sleep 0.5
    kill -TERM "$writer_pid"
    wait "$writer_pid"
    [ -e /dev/shm/zb-envterm ] || fail "the ring of a killed writer with no reader disappeared: update docs/reliability.md"
    run next "$GST_LAUNCH" -q videotestsrc num-buffers=10 ! video/x-raw,width=320,height=240 ! zerobuffersink ring=envterm
    expect_rc 0 "a new writer of a killed writer's ring"
    shm_empty "a writer that took over a stale ring and ended"
    # 3. SIGINT: gst-launch-1.0 stops the pipeline, and the sink closes and removes its ring.
    writer
    sleep 0.5
    kill -INT "$writer_pid"
    wait "$writer_pid"
    rc=$?
    expect_rc 0 "gst-launch-1.0 stopped by SIGINT"
    shm_empty "a writer stopped by SIGINT"
    ;;
esac
echo "PASS: $case_name"
