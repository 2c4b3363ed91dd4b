#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross-process tests of how the elements meet their neighbours: keyframe requests upstream, caps negotiation,
# start errors and gst-inspect.
#
#   gst-e2e-elements.sh CASE
#     keyframe-late-reader   x264enc with key-int-max=10000 into the sink; a reader that joins after 30 frames asks
#                            for a keyframe and gets one within 5 frames (the encoder's next would come at 10000)
#     keyframe-downstream    a reader's downstream sends force-key-unit (as a decoder does after an error): the
#                            writer's encoder makes a keyframe within 5 frames
#     preferred-caps         upstream that can do many formats picks I420 for the sink (README's 4K example), NV12
#                            when it cannot do I420, S16LE for audio; anything is still accepted (ABGR64_LE, H.264)
#     start-error-once       a source or sink that cannot start posts exactly one error, which says why
#     inspect                gst-inspect-1.0 shows every property with its default (and range for numbers) and an
#                            example pipeline in each element's description
#     stats-messages         gst-launch-1.0 -m on both ends with stats-interval=100: each prints zerobuffer-stats
#                            element messages whose frames grow to what went through
#
# See e2e-lib.sh for the environment.
set -u

case_name=${1:-}
shift
# shellcheck source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"

h264_writer() { # h264_writer NUM_BUFFERS: a live 30 fps H.264 writer that makes one keyframe unless asked
    GST_DEBUG=zerobuffersink:4 "$ZB_GST_PROBE" --checksums --timeout 90 videotestsrc is-live=true pattern=ball \
        num-buffers="$1" ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! \
        x264enc key-int-max=10000 tune=zerolatency option-string=scenecut=0 ! \
        video/x-h264,stream-format=byte-stream,alignment=au ! zerobuffersink name=probe ring="$ring" \
        >"$tmp/writer.out" 2>"$tmp/writer.err" &
    writer_pid=$!
    pids+=("$writer_pid")
}

# keyframes FILE: the buffer indexes of keyframes (delta=0).
keyframes() { sed -n 's/^buffer \([0-9]*\) .* delta=0 .*/\1/p' "$(out_file "$1")"; }

# caps_of LAUNCH-ARGS...: the caps the sink got, from gst-launch-1.0 -v.
caps_of() {
    timeout 60 "$GST_LAUNCH" -v "$@" 2>&1 | sed -n 's/.*GstZeroBufferSink:[^:]*\.GstPad:sink: caps = //p' | head -n 1
}

case "$case_name" in
keyframe-late-reader)
    h264_writer 150
    wait_for_buffers writer.out 30 30
    "$ZB_GST_PROBE" --checksums --frames 20 --timeout 60 zerobuffersrc name=probe ring="$ring" ! fakesink \
        >"$tmp/reader.out" 2>"$tmp/reader.err" || fail "the late reader exited $?"
    wait_ok "$writer_pid" writer
    first=$(keyframes reader.out | head -n 1)
    [ -n "$first" ] || fail "the late reader got no keyframe in 20 frames"
    [ "$first" -le 5 ] || fail "the late reader's first keyframe is its frame $first, not within 5"
    [ "$(keyframes writer.out | wc -l)" -ge 2 ] || fail "the encoder made no keyframe for the reader"
    has writer.err "a reader of ring '$ring' asks for a keyframe"
    ring_gone
    ;;

keyframe-downstream)
    "$ZB_GST_PROBE" --checksums --force-key-unit 40 --frames 80 --timeout 60 zerobuffersrc ring="$ring" \
        reconnect=true ! fakesink name=probe >"$tmp/reader.out" 2>"$tmp/reader.err" &
    reader_pid=$!
    pids+=("$reader_pid")
    h264_writer 120
    wait_ok "$reader_pid" reader
    wait_ok "$writer_pid" writer
    has reader.out '^force-key-unit sent'
    # Keyframes: the first frame, then one within 5 frames of the request (buffer 40 of the reader).
    second=$(keyframes reader.out | sed -n 2p)
    [ -n "$second" ] || fail "no keyframe followed the reader's force-key-unit"
    [ "$second" -ge 40 ] && [ "$second" -le 45 ] || fail "the keyframe after the request is the reader's frame $second"
    ring_gone
    ;;

preferred-caps)
    caps=$(caps_of videotestsrc num-buffers=1 ! video/x-raw,width=3840,height=2160 ! zerobuffersink ring="$ring")
    [[ "$caps" == *"format=(string)I420"* ]] || fail "videotestsrc 4K negotiated '$caps', not I420"
    caps=$(caps_of videotestsrc num-buffers=1 ! 'video/x-raw,format={ABGR64_LE,Y444,NV12}' ! zerobuffersink ring="$ring")
    [[ "$caps" == *"format=(string)NV12"* ]] || fail "without I420 upstream negotiated '$caps', not NV12"
    caps=$(caps_of audiotestsrc num-buffers=1 ! zerobuffersink ring="$ring")
    [[ "$caps" == *"format=(string)S16LE"* ]] || fail "audiotestsrc negotiated '$caps', not S16LE"
    # Still anything: a format of its own, encoded video.
    caps=$(caps_of videotestsrc num-buffers=1 ! video/x-raw,format=ABGR64_LE,width=64,height=64 ! zerobuffersink ring="$ring")
    [[ "$caps" == *"format=(string)ABGR64_LE"* ]] || fail "an explicit ABGR64_LE was refused: '$caps'"
    caps=$(caps_of videotestsrc num-buffers=2 ! x264enc ! zerobuffersink ring="$ring")
    [[ "$caps" == "video/x-h264"* ]] || fail "H.264 was refused: '$caps'"
    ring_gone
    ;;

start-error-once)
    check_once() { # check_once NAME EXPECTED-TEXT LAUNCH-ARGS...
        local name=$1 text=$2
        shift 2
        timeout 30 "$GST_LAUNCH" "$@" >"$tmp/$name.out" 2>&1
        local rc=$?
        [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "$name: gst-launch-1.0 exited $rc"
        [ "$(grep -c '^ERROR: from element' "$tmp/$name.out")" -eq 1 ] ||
            fail "$name: not exactly one error: $(grep '^ERROR' "$tmp/$name.out")"
        grep -q "^ERROR: from element .*$text" "$tmp/$name.out" || fail "$name: the error does not say '$text'"
        ! grep -qi 'state change failed' "$tmp/$name.out" || fail "$name: a generic 'state change failed' error"
    }
    check_once missing-ring "ring '$ring' does not exist" zerobuffersrc ring="$ring" ! fakesink
    check_once src-no-name 'no ring name' zerobuffersrc ! fakesink
    check_once sink-no-name 'no ring name' videotestsrc num-buffers=1 ! zerobuffersink
    ring_gone
    ;;

inspect)
    : "${GST_INSPECT:?GST_INSPECT must name gst-inspect-1.0}"
    # property_block FILE NAME: the lines gst-inspect prints for one property.
    property_block() { awk -v name="$2" '$1 == name || $1 == name ":" { on = 1; print; next } on && /^  [a-z]/ { on = 0 } on { print }' "$1"; }
    check_properties() { # check_properties ELEMENT PROPERTY...
        local element=$1 property block
        shift
        "$GST_INSPECT" "$element" >"$tmp/$element.txt" 2>&1 || fail "gst-inspect-1.0 $element failed"
        grep -q 'Example: gst-launch-1.0 ' "$tmp/$element.txt" || fail "$element's description has no example"
        for property in "$@"; do
            block=$(property_block "$tmp/$element.txt" "$property")
            [ -n "$block" ] || fail "$element lacks the property $property"
            [[ "$block" == *"Default:"* ]] || fail "$element $property shows no default"
            if [[ "$block" == *"Integer"* ]]; then
                [[ "$block" == *"Range:"* ]] || fail "$element $property shows no range"
            fi
        done
    }
    check_properties zerobuffersink ring size buffers max-readers wait-for-reader reader-timeout checksum secret permissions \
        stats-interval
    check_properties zerobuffersrc ring policy max-lag timeout reconnect secret verify-checksum max-held is-live \
        commit-timestamp-meta stats-interval
    for element in zerobuffersink zerobuffersrc; do
        block=$(property_block "$tmp/$element.txt" stats)
        [[ "$block" == *"readable"* && "$block" == *"GstStructure"* && "$block" != *"writable"* ]] ||
            fail "$element's stats is not a read-only GstStructure: $block"
    done
    # gst-inspect prints numbers in decimal: the file mode says so.
    property_block "$tmp/zerobuffersink.txt" permissions | grep -q '384 = 0600' || fail "permissions does not explain 384"
    ;;

stats-messages)
    # last_frames FILE ELEMENT: the frames field of the last zerobuffer-stats message ELEMENT posted.
    last_frames() {
        grep "from element \"$2\" (element): zerobuffer-stats" "$tmp/$1" | tail -n 1 |
            sed -n 's/.* frames=(guint64)\([0-9]*\).*/\1/p'
    }
    timeout 60 "$GST_LAUNCH" -m zerobuffersrc name=src ring="$ring" reconnect=true timeout=20000 stats-interval=100 ! \
        fakesink >"$tmp/reader.out" 2>&1 &
    reader_pid=$!
    pids+=("$reader_pid")
    timeout 60 "$GST_LAUNCH" -m videotestsrc is-live=true num-buffers=30 ! \
        video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! \
        zerobuffersink name=sink ring="$ring" wait-for-reader=true stats-interval=100 >"$tmp/writer.out" 2>&1 ||
        fail "the writer exited $?: $(tail -n 5 "$tmp/writer.out")"
    wait_ok "$reader_pid" reader
    for side in writer:sink reader:src; do
        file=${side%%:*}.out element=${side#*:}
        [ "$(grep -c "from element \"$element\" (element): zerobuffer-stats" "$tmp/$file")" -ge 2 ] ||
            fail "$element printed fewer than 2 zerobuffer-stats messages in 1 s of frames"
        frames=$(last_frames "$file" "$element")
        [ -n "$frames" ] && [ "$frames" -gt 0 ] && [ "$frames" -le 30 ] ||
            fail "$element's last zerobuffer-stats says frames=$frames, not 1..30"
        has "$file" "from element \"$element\" \(element\): zerobuffer-stats, ring=\(string\)$ring, .*latency-p99-us"
    done
    ring_gone
    ;;

*)
    fail "unknown case"
    ;;
esac
echo "PASS ($case_name)"
exit 0
