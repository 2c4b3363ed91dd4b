#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: relay-flow-test.sh CASE ZB_RELAY ZB_RELAY_PEER   (flow control of zb-relay, real processes on 127.0.0.1)
# Who waits for whom: slow lossless and latest receivers, fan-out to several receivers of which one is slow, and
# output rings that wait for their first reader. Moving frames in general is relay-test.sh.
source "$(dirname "${BASH_SOURCE[0]}")/relay-test-lib.sh" "$@"

case "$case_name" in
slow-lossless | slow-latest | slow-latest-h264)
    # A slow reader behind the receiving relay: lossless loses nothing; latest drops, and counts every drop.
    port=$(free_port)
    frames=100
    policy=lossless
    reader_flags=()
    if [ "$case_name" != slow-lossless ]; then
        policy=latest
        reader_flags=(--allow-gaps)
    fi
    ring_size=1M
    writer_flags=()
    if [ "$case_name" = slow-latest-h264 ]; then
        # Drops in an encoded stream: the subscriber resumes at the next keyframe (the reader checks it).
        frames=300
        ring_size=256K
        reader_flags+=(--encoded)
        writer_flags=(--encoded --fps 200)
    fi
    start reader "$peer" read "$tag-dst" --frames $frames --width 320 --height 240 --slow-ms 15 "${reader_flags[@]}"
    reader=$last_pid
    start receiver "$relay" --from "tcp://127.0.0.1:$port?policy=$policy&window=2" \
        --to "ring:$tag-dst?size=$ring_size&wait-readers=1" --insecure
    receiver=$last_pid
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port?wait-peers=1" --insecure
    sender=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames --width 320 --height 240 --wait-readers 1 \
        "${writer_flags[@]}"
    finish "$last_pid" writer
    finish "$reader" reader
    has reader.out "^mismatches: 0$"
    stop "$sender" sender
    stop "$receiver" receiver
    read -r sent dropped < <(sed -En "s/.*subscriber #1 \($policy\): sent ([0-9]+), dropped ([0-9]+)$/\1 \2/p" \
        "$tmp/sender.err")
    [ -n "$sent" ] || fail "no subscriber summary"
    got=$(value reader.out frames)
    sent=$((sent - 1)) # The sender's count includes the end-of-stream frame, which is never dropped.
    if [ "$policy" = lossless ]; then
        [ "$got" -eq $frames ] && [ "$sent" -eq $frames ] && [ "$dropped" -eq 0 ] ||
            fail "lossless: reader $got, sent $sent, dropped $dropped of $frames"
    else
        [ "$got" -eq "$sent" ] || fail "latest: reader got $got but the sender sent $sent"
        [ $((sent + dropped)) -eq $frames ] || fail "latest: sent $sent + dropped $dropped != $frames"
        [ "$dropped" -gt 0 ] || fail "latest: a reader this slow must cause drops"
        has sender.err "subscriber #1: dropped frame \(subscriber has no credit, policy latest\)"
        if [ "$case_name" = slow-latest-h264 ]; then
            [ "$(value reader.out discontinuities)" -ge 2 ] || fail "expected several resumptions after drops"
        fi
        # Every dropped frame shows as a gap the reader saw (inside the stream or after its last frame).
        missing=$(value reader.out missing)
        last=$(value reader.out last)
        [ $((missing + frames - 1 - last)) -eq $((frames - got)) ] ||
            fail "reader saw $missing missing up to frame $last, expected $((frames - got)) in all"
    fi
    check_shm_clean
    ;;

wait-readers)
    # ring:NAME?wait-readers=N: a route takes nothing from its source before N readers attached to the output, so a
    # reader that comes late still gets the first frame. 100 frames of 320x240 overflow the 1 MiB output ring
    # about 10 times over: without the option the first frames would be overwritten (or dropped unread) before
    # the late reader attaches. Once ring to ring, once through a receiving relay (tcp).
    frames=100
    port=$(free_port)
    start local_relay "$relay" --from "ring:$tag-src" --to "ring:$tag-dst?size=1M&wait-readers=1"
    local_relay=$last_pid
    start receiver "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-net?size=1M&wait-readers=1" --insecure
    receiver=$last_pid
    start sender "$relay" --from "ring:$tag-src2" --to "tcp://127.0.0.1:$port?wait-peers=1" --insecure
    sender=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames --width 320 --height 240 --wait-readers 1
    writer=$last_pid
    start writer2 "$peer" write "$tag-src2" --frames $frames --width 320 --height 240 --wait-readers 1
    writer2=$last_pid
    wait_for local_relay.err "waiting for 1 reader\(s\) of output ring '$tag-dst'"
    wait_for receiver.err "waiting for 1 reader\(s\) of output ring '$tag-net'"
    sleep 1 # The writers are running; nothing may leave their rings until the readers below are there.
    start reader "$peer" read "$tag-dst" --frames $frames --width 320 --height 240
    reader=$last_pid
    start reader2 "$peer" read "$tag-net" --frames $frames --width 320 --height 240
    reader2=$last_pid
    finish "$writer" writer
    finish "$writer2" writer2
    finish "$reader" reader
    finish "$reader2" reader2
    for out in reader.out reader2.out; do
        has $out "^frames: $frames$"
        has $out "^first: 0$"
        has $out "^missing: 0$"
        has $out "^mismatches: 0$"
    done
    stop "$local_relay" local_relay
    stop "$sender" sender
    stop "$receiver" receiver
    has local_relay.err "output ring '$tag-dst': $((frames + 1)) written, 0 dropped"
    has receiver.err "output ring '$tag-net': $((frames + 1)) written, 0 dropped"
    check_shm_clean
    ;;

fanout-slow-latest)
    # One publisher, four receivers over tcp: three lossless ones get every frame byte for byte while the fourth,
    # policy=latest behind a slow reader, drops frames, and the publisher counts every drop against it alone.
    # Had the publisher waited for the slow one, it would have dropped nothing (a latest subscriber loses frames
    # only when the publisher goes on without it).
    port=$(free_port)
    frames=200
    geometry=(--width 320 --height 240)
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port?wait-peers=4" --insecure
    sender=$last_pid
    fast=()
    receivers=()
    for i in 1 2 3; do
        start reader_$i "$peer" read "$tag-f$i" --frames $frames "${geometry[@]}"
        fast+=($last_pid)
        start receiver_$i "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-f$i?wait-readers=1" --insecure
        receivers+=($last_pid)
    done
    start reader_slow "$peer" read "$tag-slow" --frames $frames "${geometry[@]}" --allow-gaps --slow-ms 30
    slow_reader=$last_pid
    start receiver_slow "$relay" --from "tcp://127.0.0.1:$port?policy=latest&window=2" \
        --to "ring:$tag-slow?size=1M&wait-readers=1" --insecure
    receivers+=($last_pid)
    start writer "$peer" write "$tag-src" --frames $frames "${geometry[@]}" --fps 100 --wait-readers 1
    finish "$last_pid" writer
    for i in 1 2 3; do
        finish "${fast[$((i - 1))]}" reader_$i
        has reader_$i.out "^frames: $frames$"
        has reader_$i.out "^missing: 0$"
        has reader_$i.out "^mismatches: 0$"
    done
    finish "$slow_reader" reader_slow
    has reader_slow.out "^mismatches: 0$"
    stop "$sender" sender
    for i in 0 1 2 3; do stop "${receivers[$i]}" "receiver $((i + 1))"; done
    # Counts include the end-of-stream frame, which is never dropped.
    [ "$(grep -Ec "subscriber #[0-9]+ \(lossless\): sent $((frames + 1)), dropped 0$" "$tmp/sender.err")" -eq 3 ] ||
        fail "expected three lossless subscribers with every frame sent"
    read -r sent dropped < <(sed -En "s/.*subscriber #[0-9]+ \(latest\): sent ([0-9]+), dropped ([0-9]+)$/\1 \2/p" \
        "$tmp/sender.err")
    [ -n "$sent" ] || fail "no summary of the latest subscriber"
    [ "$dropped" -gt 0 ] || fail "the slow latest subscriber dropped nothing: the publisher waited for it"
    [ $((sent + dropped)) -eq $((frames + 1)) ] || fail "latest: sent $sent + dropped $dropped != $frames + EOS"
    got=$(value reader_slow.out frames)
    [ $((got + 1)) -eq "$sent" ] || fail "the slow reader got $got frames, the publisher sent it $sent (with EOS)"
    check_shm_clean
    ;;

*)
    fail "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name"
