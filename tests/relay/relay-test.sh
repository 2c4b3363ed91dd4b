#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: relay-test.sh CASE ZB_RELAY ZB_RELAY_PEER   (tests of zb-relay with real processes and sockets on 127.0.0.1)
# ZB_RELAY_PEER writes known frames into a ring and verifies every byte, FrameInfo field, metadata blob and the
# stream metadata of what comes out of the relays (see zb-relay-peer.cpp). Every case checks /dev/shm is clean.
# Hostile peers and the security rules: relay-security-test.sh; flow control: relay-flow-test.sh.
source "$(dirname "${BASH_SOURCE[0]}")/relay-test-lib.sh" "$@"

# net_case NAME WIDTH HEIGHT FRAMES SECURE(yes/no) [PEER-FLAGS...]: ring -> relay -> tcp -> relay -> ring.
net_case() {
    local width=$2 height=$3 frames=$4 secure=$5
    shift 5
    local port
    port=$(free_port)
    local send_security=(--insecure) receive_security=(--insecure)
    if [ "$secure" = yes ]; then
        keys
        send_security=(--curve-secret "$tmp/server.key" --allowed-keys "$tmp/allowed.txt")
        receive_security=(--curve-secret "$tmp/client.key" --server-key "$tmp/server.pub")
    fi
    local size=$((width * height * 3 / 2 * 6 + 4 * 1048576))
    start reader "$peer" read "$tag-dst" --frames "$frames" --width "$width" --height "$height" "$@"
    local reader=$last_pid
    start receiver "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-dst?size=$size&wait-readers=1" \
        "${receive_security[@]}" --status-interval 1
    local receiver=$last_pid
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port?wait-peers=1" \
        "${send_security[@]}" --status-interval 1
    local sender=$last_pid
    start writer "$peer" write "$tag-src" --frames "$frames" --width "$width" --height "$height" \
        --wait-readers 1 --ring-size "$size" "$@"
    local writer=$last_pid
    finish "$writer" writer
    finish "$reader" reader
    has reader.out "^frames: $frames$"
    has reader.out "^mismatches: 0$"
    has reader.out "^eos: yes$"
    wait_for sender.err "fps, [0-9.]+ MB/s, [0-9]+ frames, drops 0, peers 1" 5
    wait_for receiver.err "fps, [0-9.]+ MB/s, [0-9]+ frames, drops 0, peers 1" 5
    stop "$sender" sender
    stop "$receiver" receiver
    # Relay counts include the end-of-stream frame.
    has sender.err "subscriber #1 \((lossless|latest)\): sent $((frames + 1)), dropped 0"
    if [ "$secure" = yes ]; then has sender.err "\(CURVE\)"; else has sender.err "INSECURE"; fi
    check_shm_clean
}

case "$case_name" in
cli)
    "$relay" --help >"$tmp/help.out" 2>&1 || fail "--help exited $?"
    has help.out "zb-relay --from ring:camera --to ring:inference"
    has help.out "keygen"
    # The shared conventions (docs/cli.md): a bad value names its option (exit 2), --version, --completion bash.
    "$relay" --from ring:a --to ring:b --status-interval -1 >"$tmp/si.out" 2>"$tmp/si.err"
    [ $? -eq 2 ] || fail "--status-interval -1: expected exit 2"
    has si.err "--status-interval"
    "$relay" broker --insecure --max-streams 0 >"$tmp/ms.out" 2>"$tmp/ms.err"
    [ $? -eq 2 ] || fail "broker --max-streams 0: expected exit 2"
    has ms.err "--max-streams"
    "$relay" --bogus >"$tmp/bogus.out" 2>"$tmp/bogus.err"
    [ $? -eq 2 ] || fail "--bogus: expected exit 2"
    has bogus.err "not expected: --bogus"
    lacks bogus.err "needs a value"
    (cd "$tmp" && "$relay" keygen -- -x >"$tmp/kx.out" 2>"$tmp/kx.err")
    [ $? -eq 2 ] || fail "keygen -x: expected exit 2"
    [ ! -e "$tmp/-x.key" ] || fail "keygen wrote -x.key"
    "$relay" --version >"$tmp/version.out" 2>&1 || fail "--version exited $?"
    has version.out "^zb-relay [0-9]"
    "$relay" --completion bash >"$tmp/completion.out" || fail "--completion bash exited $?"
    bash -n "$tmp/completion.out" || fail "the completion script is not valid bash"
    has completion.out "--from"
    has completion.out "--max-request-bytes"
    has completion.out "broker query"
    "$relay" --from ring:a >"$tmp/a.out" 2>"$tmp/a.err"
    [ $? -eq 2 ] || fail "no --to: expected exit 2"
    has a.err "zb-relay: error: .*no output"
    "$relay" --from ring:a --to foo:b >"$tmp/b.out" 2>"$tmp/b.err"
    [ $? -eq 2 ] || fail "bad endpoint: expected exit 2"
    has b.err "endpoint 'foo:b' is not understood"
    "$relay" --from ring:a --to 'ring:b?policy=sometimes' >"$tmp/c.out" 2>"$tmp/c.err"
    [ $? -eq 2 ] || fail "bad policy: expected exit 2"
    has c.err "policy 'sometimes' is unknown: use lossless or latest"
    "$relay" --from ring:a --to 'tcp://*:5999' >"$tmp/d.out" 2>"$tmp/d.err"
    [ $? -eq 2 ] || fail "tcp without keys: expected exit 2"
    has d.err "needs CURVE keys .*zb-relay keygen"
    "$relay" --from tcp://127.0.0.1:5999 --to 'tcp://*:5998' --insecure >"$tmp/e.out" 2>"$tmp/e.err"
    [ $? -eq 2 ] || fail "net to net: expected exit 2"
    has e.err "network to network is not supported"
    "$relay" --from ring:a --to 'ring:b?size=lots' >"$tmp/f.out" 2>"$tmp/f.err"
    [ $? -eq 2 ] || fail "bad size: expected exit 2"
    has f.err "size 'lots' is not a size"
    (cd "$tmp" && "$relay" keygen k >"$tmp/k.out" 2>&1) || fail "keygen failed"
    [ "$(wc -c <"$tmp/k.pub")" -eq 41 ] || fail "k.pub is not one Z85 line"
    [ "$(stat -c %a "$tmp/k.key")" = 600 ] || fail "k.key is not mode 600"
    (cd "$tmp" && "$relay" keygen k >"$tmp/k2.out" 2>"$tmp/k2.err")
    [ $? -eq 1 ] || fail "keygen over existing keys: expected exit 1"
    has k2.err "remove it first"
    # A secret key that group or others can read is refused, as ssh refuses one (exit 1, saying how to fix it).
    port=$(free_port)
    chmod 644 "$tmp/k.key"
    "$relay" --from ring:a --to "tcp://127.0.0.1:$port" --curve-secret "$tmp/k.key" \
        --allowed-keys "$tmp/k.pub" >"$tmp/open.out" 2>"$tmp/open.err"
    [ $? -eq 1 ] || fail "a secret key of mode 644: expected exit 1"
    has open.err "k.key' is accessible by group or others \(mode 0644\).*run \`chmod 600 '$tmp/k.key'\`"
    chmod 600 "$tmp/k.key"
    # --insecure with a key list would serve everyone and ignore the list: a contradiction (exit 2).
    "$relay" --from ring:a --to "tcp://127.0.0.1:$port" --insecure --allowed-keys "$tmp/k.pub" \
        >"$tmp/both.out" 2>"$tmp/both.err"
    [ $? -eq 2 ] || fail "--insecure --allowed-keys: expected exit 2"
    has both.err "--insecure and CURVE keys .* together: choose one"
    # A key file that is not a key: a runtime error naming the file, exit 1.
    echo "not a key" >"$tmp/bad.key"
    chmod 600 "$tmp/bad.key"
    "$relay" --from ring:a --to "tcp://127.0.0.1:$port" --curve-secret "$tmp/bad.key" \
        --allowed-keys "$tmp/k.pub" >"$tmp/g.out" 2>"$tmp/g.err"
    [ $? -eq 1 ] || fail "bad key file: expected exit 1"
    has g.err "bad.key' does not hold a 40-character Z85 key"
    # An output ring that another live relay writes: refused at start with exit 1, naming the ring.
    start holder "$relay" --from "ring:$tag-in" --to "ring:$tag-held"
    holder=$last_pid
    wait_for holder.err "waiting for source ring"
    "$relay" --from "ring:$tag-in2" --to "ring:$tag-held" >"$tmp/h.out" 2>"$tmp/h.err"
    [ $? -eq 1 ] || fail "busy output ring: expected exit 1"
    has h.err "zb-relay: error: route .*cannot create output ring '$tag-held'"
    stop "$holder" holder
    check_shm_clean
    ;;

ring-fanout)
    # One ring to two: a lossless output (every frame, byte for byte) and a latest output whose reader is slow.
    frames=60
    start reader_a "$peer" read "$tag-a" --frames $frames --width 1920 --height 1080 --format-change-at 40
    ra=$last_pid
    start reader_b "$peer" read "$tag-b" --frames $frames --width 1920 --height 1080 --format-change-at 40 \
        --allow-gaps --slow-ms 30
    rb=$last_pid
    start relay "$relay" --from "ring:$tag-src" --to "ring:$tag-a?wait-readers=1" \
        --to "ring:$tag-b?policy=latest&size=16M&wait-readers=1" --status-interval 1
    relay_pid=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames --width 1920 --height 1080 --wait-readers 1 \
        --format-change-at 40
    finish "$last_pid" writer
    finish "$ra" reader_a
    finish "$rb" reader_b
    stop "$relay_pid" relay
    has reader_a.out "^frames: $frames$"
    has reader_a.out "^mismatches: 0$"
    has reader_b.out "^mismatches: 0$"
    # The latest output: what its reader got plus what the relay counted as dropped is every frame.
    got=$(value reader_b.out frames)
    read -r written dropped < <(sed -En "s/.*output ring '$tag-b': ([0-9]+) written, ([0-9]+) dropped.*/\1 \2/p" \
        "$tmp/relay.err")
    [ -n "$written" ] || fail "no summary line for output b"
    # The relay's counts include the end-of-stream frame, which is never dropped.
    [ $((got + 1)) -eq "$written" ] || fail "reader b got $got frames, relay wrote $written (with EOS)"
    [ $((written + dropped)) -eq $((frames + 1)) ] || fail "written $written + dropped $dropped != $frames + EOS"
    has relay.err "output ring '$tag-a': $((frames + 1)) written, 0 dropped"
    check_shm_clean
    ;;

ring-4k)
    frames=20
    start reader "$peer" read "$tag-dst" --frames $frames --width 3840 --height 2160
    r=$last_pid
    start relay "$relay" --from "ring:$tag-src" --to "ring:$tag-dst?size=128M&wait-readers=1"
    relay_pid=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames --width 3840 --height 2160 --wait-readers 1 \
        --ring-size 134217728
    finish "$last_pid" writer
    finish "$r" reader
    stop "$relay_pid" relay
    has reader.out "^frames: $frames$"
    has reader.out "^mismatches: 0$"
    check_shm_clean
    ;;

net-1080p-curve) net_case "$case_name" 1920 1080 60 yes --format-change-at 45 ;;
net-4k) net_case "$case_name" 3840 2160 20 no ;;
net-h264) net_case "$case_name" 1920 1080 120 no --encoded ;;

net-ipc)
    # ipc:// needs no keys (file permissions protect it).
    frames=60
    address="ipc://$tmp/relay.sock"
    start reader "$peer" read "$tag-dst" --frames $frames --width 640 --height 360
    reader=$last_pid
    start receiver "$relay" --from "$address" --to "ring:$tag-dst?wait-readers=1"
    receiver=$last_pid
    start sender "$relay" --from "ring:$tag-src" --to "$address?wait-peers=1"
    sender=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames --width 640 --height 360 --wait-readers 1
    finish "$last_pid" writer
    finish "$reader" reader
    has reader.out "^frames: $frames$"
    has reader.out "^mismatches: 0$"
    stop "$sender" sender
    stop "$receiver" receiver
    has sender.err "subscriber #1 \(lossless\): sent $((frames + 1)), dropped 0"
    check_shm_clean
    ;;

kill-receiver | kill-sender | kill-receiver-4k | kill-sender-4k)
    # kill -9 one relay mid-stream and start it again: the stream resumes, the gap is flagged. With 4K frames
    # (12 MB, most of the time spent inside one frame's transfer) the kill lands in the middle of a frame: the
    # reader, which checks every byte, must never see the torn frame (a receiver commits a frame only once its
    # payload arrived whole; a killed receiver commits nothing).
    port=$(free_port)
    kind=${case_name%-4k}
    frames=500 fps=100 out_size="" geometry=(--width 640 --height 360) ring=()
    if [ "$kind" != "$case_name" ]; then
        frames=60 fps=20 out_size="&size=128M" geometry=(--width 3840 --height 2160) ring=(--ring-size 134217728)
    fi
    start reader "$peer" read "$tag-dst" --frames $frames "${geometry[@]}" --allow-gaps --reattach --timeout-s 60
    reader=$last_pid
    receiver_cmd=("$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-dst?wait-readers=1$out_size" --insecure)
    sender_cmd=("$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port" --insecure)
    start receiver "${receiver_cmd[@]}"
    receiver=$last_pid
    start sender "${sender_cmd[@]}"
    sender=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames "${geometry[@]}" --wait-readers 1 --fps $fps "${ring[@]}"
    writer=$last_pid
    wait_for sender.err "subscriber #1 joined"
    sleep 1.5
    if [ "$kind" = kill-receiver ]; then
        kill -9 "$receiver"
        wait "$receiver" 2>/dev/null
        sleep 0.3
        start receiver2 "${receiver_cmd[@]}"
        receiver=$last_pid
        wait_for sender.err "subscriber #2 joined"
    else
        kill -9 "$sender"
        wait "$sender" 2>/dev/null
        sleep 0.3
        start sender2 "${sender_cmd[@]}"
        sender=$last_pid
        wait_for sender2.err "subscriber #1 joined"
    fi
    finish "$writer" writer
    finish "$reader" reader
    has reader.out "^mismatches: 0$"
    has reader.out "^eos: yes$"
    has reader.out "^last: $((frames - 1))$"
    disc=$(value reader.out discontinuities)
    missing=$(value reader.out missing)
    [ "$disc" -ge 1 ] || fail "the gap was not flagged (discontinuities: $disc)"
    [ "$missing" -ge 1 ] || [ "$kind" = kill-receiver ] || fail "no frame missing after a kill?"
    if [ "$kind" = kill-receiver ]; then has reader.out "^reattached: [1-9]"; fi
    stop "$sender" sender
    stop "$receiver" receiver
    check_shm_clean
    ;;

resume-h264)
    # Encoded streams resume from the NEWEST keyframe: a receiver that joins, or restarts, in the middle of a GOP
    # first gets the keyframe the sender already sent before it connected (from the sender's GOP cache), then
    # every following frame live, with no gap and no duplicate. Keyframes are frames 0, 10, 20, ...; the writer
    # pauses before frames 25 and 47 so that receivers (re)connect at known points in mid-GOP.
    port=$(free_port)
    frames=60
    geometry=(--width 320 --height 240 --encoded)
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port" --insecure
    sender=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames "${geometry[@]}" --fps 100 --wait-readers 1 \
        --pause-at 25 --pause-at 47 --pause-ms 4000
    writer=$last_pid
    wait_for writer.out "^paused at 25$"
    # A: joins before frame 25 and stays to the end.
    start reader_a "$peer" read "$tag-a" --frames $frames "${geometry[@]}" --allow-gaps
    reader_a=$last_pid
    start receiver_a "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-a?wait-readers=1" --insecure
    receiver_a=$last_pid
    # B: joins before frame 25, is killed (-9) before frame 47 and restarted on the same ring.
    start reader_b1 "$peer" read "$tag-b" --frames $frames "${geometry[@]}" --allow-gaps
    reader_b1=$last_pid
    start receiver_b1 "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-b?wait-readers=1" --insecure
    receiver_b1=$last_pid
    wait_for receiver_a.err "connected to" 3
    wait_for receiver_b1.err "connected to" 3
    wait_for writer.out "^paused at 47$" 10
    sleep 0.5 # Frames 25..46 reach B's ring at 100 fps before the pause; then B dies mid-GOP.
    kill -KILL "$receiver_b1" "$reader_b1"
    wait "$receiver_b1" "$reader_b1" 2>/dev/null
    start receiver_b2 "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-b?wait-readers=1" --insecure
    receiver_b2=$last_pid
    start reader_b2 "$peer" read "$tag-b" --frames $frames "${geometry[@]}" --allow-gaps --reattach
    reader_b2=$last_pid
    wait_for receiver_b2.err "connected to" 3
    finish "$writer" writer
    finish "$reader_a" "reader A"
    finish "$reader_b2" "reader B (after the restart)"
    for r in reader_a reader_b2; do
        has $r.out "^mismatches: 0$"
        has $r.out "^eos: yes$"
        has $r.out "^discontinuities: 1$" # Only the first frame: nothing missing after it.
        has $r.out "^last: $((frames - 1))$"
    done
    # A's first frame is keyframe 20 (sent before A connected, before the pause at 25), then 21..59 in order.
    has reader_a.out "^first: 20$"
    has reader_a.out "^frames: $((frames - 20))$"
    has reader_a.out "^missing: 20$"
    # B restarted before frame 47: its first frame is keyframe 40, then 41..59.
    has reader_b2.out "^first: 40$"
    has reader_b2.out "^frames: $((frames - 40))$"
    has reader_b2.out "^missing: 40$"
    has sender.err "resumed from the newest keyframe \(sequence 20, 5 cached frame\(s\)\)"
    has sender.err "resumed from the newest keyframe \(sequence 40, 7 cached frame\(s\)\)"
    stop "$receiver_a" "receiver A"
    stop "$receiver_b2" "receiver B"
    stop "$sender" sender
    # Counts include the end-of-stream frame; the cached frames count as sent, none as dropped.
    has sender.err "subscriber #[0-9] \(lossless\): sent 41, dropped 0$"
    has sender.err "subscriber #[0-9] \(lossless\): sent 21, dropped 0$"
    check_shm_clean
    ;;

resume-long-gop)
    # A GOP longer than the sender's cache bound (300 frames): caching stops at its 301st frame, and a receiver
    # that joins after that falls back to waiting for the next keyframe (frame 400), which it gets first.
    port=$(free_port)
    frames=450
    geometry=(--width 320 --height 240 --encoded --gop 400)
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port" --insecure
    sender=$last_pid
    start writer "$peer" write "$tag-src" --frames $frames "${geometry[@]}" --fps 400 --wait-readers 1 \
        --pause-at 350 --pause-ms 3000
    writer=$last_pid
    wait_for writer.out "^paused at 350$"
    start reader "$peer" read "$tag-dst" --frames $frames "${geometry[@]}" --allow-gaps
    reader=$last_pid
    start receiver "$relay" --from "tcp://127.0.0.1:$port" --to "ring:$tag-dst?wait-readers=1" --insecure
    receiver=$last_pid
    wait_for receiver.err "connected to" 3
    finish "$writer" writer
    finish "$reader" reader
    has reader.out "^mismatches: 0$"
    has reader.out "^eos: yes$"
    has reader.out "^first: 400$"
    has reader.out "^frames: 50$"
    has reader.out "^discontinuities: 1$"
    has sender.err "a GOP is over the cache bound \(300 frames, 16 MiB\)"
    lacks sender.err "resumed from the newest keyframe"
    stop "$receiver" receiver
    stop "$sender" sender
    # Frames 350..399 went by while the subscriber waited for the keyframe: counted as dropped.
    has sender.err "subscriber #1 \(lossless\): sent 51, dropped 50$"
    check_shm_clean
    ;;

broker-discovery)
    # Receive by name through the broker; kill -9 the broker (the stream goes on), then kill -9 the sender and
    # start it on another port: the receiver asks the broker again and follows it.
    bport=$(free_port)
    port1=$(free_port)
    port2=$(free_port)
    frames=1200
    stream="cam-$tag"
    start broker "$relay" broker --bind "tcp://127.0.0.1:$bport" --insecure --status-interval 0
    broker=$last_pid
    start reader "$peer" read "$tag-dst" --frames $frames --width 320 --height 240 --allow-gaps --timeout-s 60
    reader=$last_pid
    start receiver "$relay" --from "broker://127.0.0.1:$bport/$stream" --to "ring:$tag-dst?wait-readers=1" \
        --insecure
    receiver=$last_pid
    start sender "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port1" --insecure \
        --broker "tcp://127.0.0.1:$bport" --publish-name "$stream"
    sender=$last_pid
    wait_for receiver.err "the broker says stream '$stream' is at tcp://127.0.0.1:$port1"
    wait_for sender.err "subscriber #1 joined"
    start writer "$peer" write "$tag-src" --frames $frames --width 320 --height 240 --wait-readers 1 --fps 100
    writer=$last_pid
    sleep 1
    kill -9 "$broker"
    wait "$broker" 2>/dev/null
    sleep 0.3
    start broker2 "$relay" broker --bind "tcp://127.0.0.1:$bport" --insecure --status-interval 0
    sleep 0.5
    kill -9 "$sender"
    wait "$sender" 2>/dev/null
    start sender2 "$relay" --from "ring:$tag-src" --to "tcp://127.0.0.1:$port2" --insecure \
        --broker "tcp://127.0.0.1:$bport" --publish-name "$stream"
    sender=$last_pid
    wait_for receiver.err "the broker now gives tcp://127.0.0.1:$port2" 20
    finish "$writer" writer
    finish "$reader" reader
    has reader.out "^mismatches: 0$"
    has reader.out "^eos: yes$"
    has reader.out "^last: $((frames - 1))$"
    disc=$(value reader.out discontinuities)
    [ "$disc" -ge 1 ] || fail "the gap was not flagged"
    stop "$sender" sender2
    stop "$receiver" receiver
    check_shm_clean
    ;;

config-file)
    # Two routes from one JSON file; and clear errors that name the bad key.
    cat >"$tmp/bad.json" <<JSON
{"routes": [{"from": "ring:a", "to": ["ring:b"]}, {"form": "ring:c", "to": "ring:d"}]}
JSON
    "$relay" --config "$tmp/bad.json" >"$tmp/bad.out" 2>"$tmp/bad.err"
    [ $? -eq 2 ] || fail "bad config: expected exit 2"
    has bad.err "routes\[1\]\.form is not a known key"
    echo '{"routes": [' >"$tmp/broken.json"
    "$relay" --config "$tmp/broken.json" >"$tmp/broken.out" 2>"$tmp/broken.err"
    [ $? -eq 2 ] || fail "broken config: expected exit 2"
    has broken.err "is not valid JSON"
    cat >"$tmp/relay.json" <<JSON
{
  "status_interval": 1,
  "routes": [
    {"name": "one", "from": "ring:$tag-s1", "to": ["ring:$tag-d1?wait-readers=1"]},
    {"name": "two", "from": "ring:$tag-s2", "to": "ring:$tag-d2?policy=lossless&wait-readers=1"}
  ]
}
JSON
    start r1 "$peer" read "$tag-d1" --frames 30 --width 320 --height 240
    r1=$last_pid
    start r2 "$peer" read "$tag-d2" --frames 30 --width 320 --height 240 --encoded
    r2=$last_pid
    start relay "$relay" --config "$tmp/relay.json"
    relay_pid=$last_pid
    start w1 "$peer" write "$tag-s1" --frames 30 --width 320 --height 240 --wait-readers 1
    w1=$last_pid
    start w2 "$peer" write "$tag-s2" --frames 30 --width 320 --height 240 --wait-readers 1 --encoded
    finish "$last_pid" w2
    finish "$w1" w1
    finish "$r1" r1
    finish "$r2" r2
    has r1.out "^frames: 30$"
    has r2.out "^frames: 30$"
    wait_for relay.err "route one: .* fps"
    wait_for relay.err "route two: .* fps"
    stop "$relay_pid" relay
    check_shm_clean
    ;;

*)
    fail "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name"
