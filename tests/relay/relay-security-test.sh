#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: relay-security-test.sh CASE ZB_RELAY ZB_RELAY_PEER   (security tests of zb-relay and its broker with real
# processes on 127.0.0.1: CURVE admission and pinning, hostile senders and subscribers, HELLO and multipart floods
# with the peak memory read from /proc, and the connection limits). The rules they check are in docs/relay.md ("Security",
# "Limits") and docs/security.md.
source "$(dirname "${BASH_SOURCE[0]}")/relay-test-lib.sh" "$@"

case "$case_name" in
curve-refusals)
    # One allowed receiver gets every frame while a receiver with an unknown key and a plain one are refused.
    keys
    port=$(free_port)
    frames=90
    start good_reader "$peer" read "$tag-good" --frames $frames --width 640 --height 360
    gr=$last_pid
    start good "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-good?wait-readers=1" \
        --curve-secret "$tmp/client.key" --server-key "$tmp/server.pub"
    good=$last_pid
    start stranger "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-stranger" \
        --curve-secret "$tmp/stranger.key" --server-key "$tmp/server.pub"
    stranger=$last_pid
    start plain "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-plain" --insecure
    plain=$last_pid
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port?wait-peers=1" \
        --curve-secret "$tmp/server.key" --allowed-keys "$tmp/allowed.txt"
    sender=$last_pid
    wait_for sender.err "refused a client from .*: client key .* is not in the allowed-keys file"
    wait_for sender.err "refused a client from .*handshake failed"
    start writer "$peer" write "$tag-src" --frames $frames --width 640 --height 360 --wait-readers 1 --fps 200
    finish "$last_pid" writer
    finish "$gr" good_reader
    has good_reader.out "^frames: $frames$"
    has good_reader.out "^mismatches: 0$"
    wait_for stranger.err "refused our key"
    stop "$sender" sender
    stop "$good" good
    stop "$stranger" stranger
    stop "$plain" plain
    has sender.err "subscriber #1 \(lossless\): sent $((frames + 1)), dropped 0"
    lacks sender.err "subscriber #2"
    has stranger.err "output ring '$tag-stranger': 0 written"
    has plain.err "output ring '$tag-plain': 0 written"
    check_shm_clean
    ;;

hostile-sender)
    # A fake sender speaks garbage to a receiving relay, then a good stream: garbage dropped, frames kept.
    port=$(free_port)
    start reader "$peer" read "$tag-dst" --frames 5 --width 64 --height 48 --timeout-s 30
    reader=$last_pid
    start receiver "$relay" --from "tcp://127.0.0.1:$port?max-frame=1M" --to "ring:$tag-dst?wait-readers=1" \
        --insecure --status-interval 1
    receiver=$last_pid
    start hostile "$peer" hostile-sender "tcp://127.0.0.1:$port"
    finish "$last_pid" hostile
    finish "$reader" reader
    has reader.out "^frames: 5$"
    has reader.out "^mismatches: 0$"
    kill -0 "$receiver" 2>/dev/null || fail "the receiving relay died"
    has receiver.err "dropped a bad message from the sender: message of 1 part"
    has receiver.err "message of 3 parts"
    has receiver.err "wrong magic"
    has receiver.err "wire version 9"
    has receiver.err "unknown message kind"
    has receiver.err "metadata_size 500 does not match"
    has receiver.err "header says 1000 payload bytes"
    has receiver.err "reserved header field"
    has receiver.err "stream metadata is not JSON"
    has receiver.err "stream metadata is nested deeper than 32 levels"
    has receiver.err "over the limit"
    stop "$receiver" receiver
    has receiver.err "received 6 frames, rejected 14 messages" # 5 frames and the end-of-stream frame
    check_shm_clean
    ;;

torn-frame)
    # A sending relay that dies in the middle of a payload on its payload stream (played by the peer, so that
    # it happens on every run): frame 0 arrives whole, frame 1 only half. The receiving relay commits frame 0,
    # never frame 1 (the reader, which checks every byte, sees one frame), and starts a new session.
    port=$(free_port)
    start reader "$peer" read "$tag-dst" --frames 2 --width 320 --height 240 --timeout-s 8
    reader=$last_pid
    start receiver "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-dst?wait-readers=1" --insecure
    receiver=$last_pid
    start torn "$peer" torn-sender "tcp://127.0.0.1:$port" --width 320 --height 240
    finish "$last_pid" torn
    has torn.out "^tore frame 1 after 57600 of 115200 payload bytes$"
    has torn.out "^new session after the torn frame$"
    wait "$reader" # No end-of-stream comes: it exits 1 at its timeout, after printing what it saw.
    has reader.out "^frames: 1$"
    has reader.out "^last: 0$"
    has reader.out "^mismatches: 0$"
    kill -0 "$receiver" 2>/dev/null || fail "the receiving relay died"
    has receiver.err "payload stream connected"
    has receiver.err "the payload stream ended in the middle of a frame .*the frame was not written"
    stop "$receiver" receiver
    has receiver.err "output ring '$tag-dst': 1 written, 1 dropped"
    check_shm_clean
    ;;

hostile-subscriber)
    # A fake subscriber sends garbage control messages to a sending relay; a real receiver is not disturbed.
    port=$(free_port)
    frames=60
    start reader "$peer" read "$tag-dst" --frames $frames --width 640 --height 360
    reader=$last_pid
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port?wait-peers=1" --insecure
    sender=$last_pid
    start hostile "$peer" hostile-client "tcp://127.0.0.1:$port"
    finish "$last_pid" hostile
    start receiver "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-dst?wait-readers=1" --insecure
    receiver=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames --width 640 --height 360 --wait-readers 1
    finish "$last_pid" writer
    finish "$reader" reader
    has reader.out "^frames: $frames$"
    has reader.out "^mismatches: 0$"
    has sender.err "ignored a message from a subscriber: message of 2 parts"
    has sender.err "control message of 1 bytes"
    has sender.err "wrong magic"
    has sender.err "window 0 is not 1..64"
    has sender.err "policy 7 is not"
    has sender.err "unknown control kind"
    stop "$sender" sender
    stop "$receiver" receiver
    check_shm_clean
    ;;

curve-pinning)
    # A receiver that pins its publisher's key (--server-key) talks CURVE to that key only, whatever the broker
    # says. An attacker whose key the broker allows registers the stream's name first, pointing at a plain ipc
    # socket of its own: the receiver refuses that address; the name belongs to the attacker's key until it
    # expires, then to the publisher's, and the attacker can no longer take it.
    keys
    (cd "$tmp" && "$relay" keygen broker >/dev/null) || fail "keygen failed"
    cat "$tmp/server.pub" "$tmp/client.pub" "$tmp/stranger.pub" >"$tmp/broker-allowed.txt"
    bport=$(free_port)
    port=$(free_port)
    stream="cam-$tag"
    broker_keys=(--broker-key "$tmp/broker.pub")
    start broker "$relay" broker --bind "tcp://127.0.0.1:$bport" --curve-secret "$tmp/broker.key" \
        --allowed-keys "$tmp/broker-allowed.txt" --status-interval 0
    "$peer" broker-reg "tcp://127.0.0.1:$bport" "$stream" "ipc://$tmp/evil.sock" "${broker_keys[@]}" \
        --curve-secret "$tmp/stranger.key" --ttl-ms 3000 >"$tmp/hijack.out" 2>"$tmp/hijack.err" ||
        fail "the attacker's first REG was refused"
    start reader "$peer" read "$tag-dst" --frames 60 --width 320 --height 240
    reader=$last_pid
    start receiver "$relay" --from "broker://127.0.0.1:$bport/$stream" --to "ring:$tag-dst?wait-readers=1" \
        --curve-secret "$tmp/client.key" --server-key "$tmp/server.pub" "${broker_keys[@]}"
    receiver=$last_pid
    wait_for receiver.err "refused the broker's address ipc://$tmp/evil.sock for stream '$stream': this route pins"
    has_text receiver.err "(registered by key $(cat "$tmp/stranger.pub"))"
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port?wait-peers=1" \
        --curve-secret "$tmp/server.key" --allowed-keys "$tmp/allowed.txt" --broker "tcp://127.0.0.1:$bport" \
        "${broker_keys[@]}" --publish-name "$stream"
    sender=$last_pid
    wait_for sender.err "cannot register '$stream' .*\(not_owner\)"
    wait_for sender.err "registered '$stream'" 15 # once the attacker's registration expired
    wait_for receiver.err "connecting to tcp://127.0.0.1:$port \(CURVE\)" 15
    lacks receiver.err "connecting to ipc"
    start writer "$peer" write "$tag-src" --frames 60 --width 320 --height 240 --wait-readers 1 --fps 200
    finish "$last_pid" writer
    finish "$reader" reader
    has reader.out "^frames: 60$"
    has reader.out "^mismatches: 0$"
    "$peer" broker-reg "tcp://127.0.0.1:$bport" "$stream" "ipc://$tmp/evil.sock" "${broker_keys[@]}" \
        --curve-secret "$tmp/stranger.key" >"$tmp/again.out" 2>"$tmp/again.err"
    [ $? -eq 3 ] || fail "the attacker's REG of a live name of another key was not refused"
    has again.out '"error":"not_owner"'
    has_text again.out "belongs to the key $(cat "$tmp/server.pub")"
    "$relay" broker query "tcp://127.0.0.1:$bport" "${broker_keys[@]}" --curve-secret "$tmp/client.key" \
        >"$tmp/list.out" 2>"$tmp/list.err" || fail "broker query failed"
    has_text list.out "\"owner\":\"$(cat "$tmp/server.pub")\""
    stop "$sender" sender
    stop "$receiver" receiver
    # A pinned receiver pointed at a publisher with another key fails the handshake and writes nothing.
    aport=$(free_port)
    start fake "$relay" --from "ring:$tag-fake" --to "tcp://127.0.0.1:$aport" --curve-secret "$tmp/stranger.key" \
        --allowed-keys "$tmp/allowed.txt"
    fake=$last_pid
    start pinned "$relay" --from "tcp://127.0.0.1:$aport" --to "ring:$tag-pinned" --curve-secret "$tmp/client.key" \
        --server-key "$tmp/server.pub"
    pinned=$last_pid
    # Keys make ipc:// CURVE too: a pinned receiver does not talk plain to a local socket either.
    start plain "$relay" --from "ring:$tag-plain" --to "ipc://$tmp/plain.sock"
    plain=$last_pid
    start pinned_ipc "$relay" --from "ipc://$tmp/plain.sock" --to "ring:$tag-pinned-ipc" \
        --curve-secret "$tmp/client.key" --server-key "$tmp/server.pub"
    pinned_ipc=$last_pid
    wait_for pinned_ipc.err "connecting to ipc://$tmp/plain.sock \(CURVE\)"
    wait_for pinned_ipc.err "handshake with .* failed"
    sleep 1.5
    lacks pinned.err "connected to"
    lacks pinned_ipc.err "connected to"
    for p in fake pinned plain pinned_ipc; do stop "${!p}" "$p"; done
    has pinned.err "output ring '$tag-pinned': 0 written"
    has pinned_ipc.err "output ring '$tag-pinned-ipc': 0 written"
    check_shm_clean
    ;;

flood-publisher)
    # A raw ZMTP client sends 4,000-byte parts flagged MORE without end (the publisher reached 627 MB this way): the
    # connection guard drops it once libzmq holds 64 KiB of it, and a real receiver beside it gets every frame.
    port=$(free_port)
    frames=120
    start reader "$peer" read "$tag-dst" --frames $frames --width 320 --height 240
    reader=$last_pid
    start sender "${measured[@]}" "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port" --insecure \
        --status-interval 0
    sender=$last_pid
    start receiver "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-dst?wait-readers=1" --insecure
    receiver=$last_pid
    wait_for sender.err "subscriber #1 joined"
    before=$(rss_kb "$sender")
    start writer "$peer" write "$tag-src" --frames $frames --width 320 --height 240 --wait-readers 1 --fps 60
    writer=$last_pid
    "$peer" flood-client "tcp://127.0.0.1:$port" --part-bytes 4000 --megabytes 300 >"$tmp/flood.out" 2>&1 ||
        fail "the flood client failed"
    peak=$(peak_kb "$sender")
    finish "$writer" writer
    finish "$reader" reader
    has reader.out "^frames: $frames$"
    has reader.out "^mismatches: 0$"
    echo "$(cat "$tmp/flood.out"); publisher memory $before kB, peak $peak kB"
    has flood.out "then the relay dropped the connection"
    wait_for sender.err "dropped the connection from 127.0.0.1:[0-9]+: libzmq held [0-9]+ bytes .* over the limit of 65536 bytes"
    [ $((peak - before)) -lt 65536 ] || fail "the publisher grew from $before kB to a peak of $peak kB"
    stop "$sender" sender
    stop "$receiver" receiver
    has sender.err "connections refused \(max-peers=64\): 0, dropped for holding too much: 1"
    check_shm_clean
    ;;

flood-receiver)
    # A hostile sending relay sends 200,000-byte parts flagged MORE without end: the receiver drops the connection
    # once libzmq holds more than a real sender may have in flight (window x max-frame, plus GOP replays).
    port=$(free_port)
    start receiver "${measured[@]}" "$relay" --from "tcp://127.0.0.1:$port?max-frame=1M&window=2" \
        --to "ring:$tag-dst" --insecure
    receiver=$last_pid
    sleep 0.3
    before=$(rss_kb "$receiver")
    "$peer" flood-sender "tcp://127.0.0.1:$port" --part-bytes 200000 --megabytes 400 >"$tmp/flood.out" 2>&1 ||
        fail "the flood sender failed"
    peak=$(peak_kb "$receiver")
    echo "$(cat "$tmp/flood.out"); receiver memory $before kB, peak $peak kB"
    has flood.out "then the relay dropped the connection"
    wait_for receiver.err "dropped the connection from 127.0.0.1:$port: libzmq held [0-9]+ bytes"
    [ $((peak - before)) -lt 131072 ] || fail "the receiver grew from $before kB to a peak of $peak kB"
    kill -0 "$receiver" 2>/dev/null || fail "the receiving relay died"
    stop "$receiver" receiver
    check_shm_clean
    ;;

max-peers)
    # A publishing route keeps at most max-peers connections: a second receiver is refused, the first gets every frame.
    port=$(free_port)
    frames=90
    start reader "$peer" read "$tag-dst" --frames $frames --width 320 --height 240
    reader=$last_pid
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port?max-peers=1" --insecure
    sender=$last_pid
    start receiver "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-dst?wait-readers=1" --insecure
    receiver=$last_pid
    wait_for sender.err "subscriber #1 joined"
    start extra "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-extra" --insecure
    extra=$last_pid
    wait_for sender.err "refused a connection from 127.0.0.1:[0-9]+: max-peers=1 connections are open already"
    start writer "$peer" write "$tag-src" --frames $frames --width 320 --height 240 --wait-readers 1 --fps 100
    finish "$last_pid" writer
    finish "$reader" reader
    has reader.out "^frames: $frames$"
    has reader.out "^mismatches: 0$"
    stop "$extra" extra
    stop "$sender" sender
    stop "$receiver" receiver
    lacks sender.err "subscriber #2"
    has extra.err "output ring '$tag-extra': 0 written"
    has sender.err "connections refused \(max-peers=1\): [1-9][0-9]*, dropped for holding too much: 0"
    check_shm_clean
    ;;

hello-flood)
    # One connection sends HELLOs with a new session each for 8 s: the publisher keeps one session per connection,
    # lets a connection start about one a second, sums up departed subscribers, and rate-limits its log lines with
    # counts (before: two lines and a kept record per session, 96k lines and +11 MB in 10 s). Its memory settles:
    # what it holds 4 s into the flood (allocator warm-up included) is what it holds at the end. Anonymous memory
    # (RssAnon) is measured: the source ring's mapping counts in VmRSS as its pages are read. A real receiver beside
    # it gets every frame.
    port=$(free_port)
    frames=240
    start reader "$peer" read "$tag-dst" --frames $frames --width 320 --height 240
    reader=$last_pid
    start sender "${measured[@]}" "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port" --insecure \
        --status-interval 0
    sender=$last_pid
    start receiver "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-dst?wait-readers=1" --insecure
    receiver=$last_pid
    wait_for sender.err "subscriber #1 joined"
    before=$(anon_kb "$sender")
    start flood "$peer" hello-flood "tcp://127.0.0.1:$port" --seconds 8
    flood=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames --width 320 --height 240 --wait-readers 1 --fps 60
    writer=$last_pid
    sleep 4
    middle=$(anon_kb "$sender")
    finish "$writer" writer
    finish "$flood" flood
    after=$(anon_kb "$sender")
    wait_for sender.err "ignored [0-9]+ new session\(s\) so far: a connection may start one a second"
    wait_for sender.err "\.\.\. [0-9]+ more subscriber joins, sessions and departures in the last 1[0-9] s" 15
    finish "$reader" reader
    has reader.out "^frames: $frames$"
    has reader.out "^mismatches: 0$"
    sent=$(sed -En 's/^sent ([0-9]+) HELLOs$/\1/p' "$tmp/flood.out")
    lines=$(wc -l <"$tmp/sender.err")
    echo "HELLOs sent $sent, publisher log lines $lines, RssAnon $before kB, $middle kB after 4 s, $after kB after 8 s"
    [ "$sent" -gt 10000 ] || fail "the flood sent only $sent HELLOs"
    [ "$lines" -lt 200 ] || fail "$lines log lines for a HELLO flood"
    [ $((after - middle)) -lt 1024 ] || fail "the publisher kept growing: $middle kB after 4 s, $after kB after 8 s"
    [ $((after - before)) -lt 16384 ] || fail "the publisher grew from $before to $after kB during a HELLO flood"
    stop "$sender" sender
    stop "$receiver" receiver
    check_shm_clean
    ;;

*)
    fail "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name"
