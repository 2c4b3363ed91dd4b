#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross-process tests of the metas that cross a ring (the frames' per-frame metadata).
#
#   gst-e2e-metas.sh CASE
#     metas               regions of interest with parameters, a timecode (timecodestamper), a reference
#                         timestamp, a custom meta and user bytes on every frame of a videotestsrc writer: a reader
#                         gets them all, in order, on the same frames; the frames stay in the ring's pool (in place)
#     metas-videoconvert  a reader behind videoconvert (to RGBA) counts the same regions of interest on every frame
#                         (videoconvert copies the rectangles and ids, not the parameters: GStreamer's own transform)
#     unregistered-custom a reader that has not registered the custom meta warns once, names it, and plays on
#     core-writer-raw     a program using only the core writes its own metadata bytes: zerobuffersrc hands them
#                         out as GstZeroBufferUserMeta
#     core-writer-format  a program using only the core writes the format (a region and user bytes)
#     core-reader         zerobuffersink's frames read by a program using only the core: the same regions and
#                         user bytes, and the segment record
#
# See e2e-lib.sh for the environment; ZB_FRAME_META_TOOL is the core-only writer/reader (zb-frame-meta-tool.cpp).
set -u

case_name=${1:-}
shift
# shellcheck source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
: "${ZB_FRAME_META_TOOL:?}"

writer_with_metas() {
    GST_DEBUG=zerobuffersink:4 run_writer writer --add-metas videotestsrc pattern=smpte horizontal-speed=7 \
        num-buffers=30 ! video/x-raw,format=I420,width=640,height=480,framerate=25/1 ! timecodestamper ! \
        zerobuffersink name=probe ring="$ring" wait-for-reader=true
}

case "$case_name" in
metas)
    start_reader reader
    writer_with_metas
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$reader_pid" reader
    compare_streams writer reader
    for part in 'rois=\[person#0<-1@10,20,100x200\{detection, label=\(string\)person, confidence=\(double\)0.875, frame=\(int\)0;\};face#1<0@40,30,20x24' \
        ' timecode=00:00:00:00' ' refs=\[timestamp/x-zb-probe:0\+1000\]' ' custom=\[ZbProbeMeta, frame=\(int\)0, text=\(string\)probe;\]' \
        ' user=6672616d653d30'; do
        has reader.out "^buffer 0 .*$part"
    done
    has reader.out '^buffer 29 .* timecode=00:00:01:04'
    # The metadata grew past the pool's first 256 bytes: one frame copied, the pool reserves more, the rest in place.
    line=$(grep -o "ring '$ring': [0-9]* frames written ([0-9]* in place" "$tmp/writer.err" | tail -n 1)
    in_place=$(echo "$line" | sed -n 's/.*(\([0-9]*\) in place/\1/p')
    [ -n "$in_place" ] && [ "$in_place" -ge 25 ] || fail "frames with metas left the pool: $line"
    ring_gone
    ;;

metas-videoconvert)
    "$ZB_GST_PROBE" --checksums --timeout 90 zerobuffersrc ring="$ring" reconnect=true ! videoconvert ! \
        video/x-raw,format=RGBA ! fakesink name=probe >"$tmp/converted.out" 2>"$tmp/converted.err" &
    converted_pid=$!
    pids+=("$converted_pid")
    writer_with_metas
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$converted_pid" "converting reader"
    has converted.out '^caps video/x-raw,.* format=\(string\)RGBA'
    sed -n 's/.*\( rois=\[[^]]*\]\).*/\1/p' "$tmp/writer.out" | sed 's/{[^}]*}//g' >"$tmp/writer-rois.txt"
    sed -n 's/.*\( rois=\[[^]]*\]\).*/\1/p' "$tmp/converted.out" | sed 's/{[^}]*}//g' >"$tmp/converted-rois.txt"
    [ "$(wc -l <"$tmp/writer-rois.txt")" -eq 30 ] || fail "the writer did not put regions on its 30 frames"
    diff "$tmp/writer-rois.txt" "$tmp/converted-rois.txt" >"$tmp/diff.txt" ||
        fail "the regions behind videoconvert differ: $(head -n 5 "$tmp/diff.txt")"
    ring_gone
    ;;

unregistered-custom)
    timeout 90 "$GST_LAUNCH" zerobuffersrc ring="$ring" reconnect=true ! fakesink >"$tmp/plain.out" 2>"$tmp/plain.err" &
    plain_pid=$!
    pids+=("$plain_pid")
    writer_with_metas
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$plain_pid" "plain gst-launch-1.0 reader"
    [ "$(grep -c "custom meta 'ZbProbeMeta', which this process has not registered" "$tmp/plain.out" "$tmp/plain.err" |
        awk -F: '{ s += $2 } END { print s }')" -eq 1 ] || fail "the reader did not warn exactly once about ZbProbeMeta"
    ring_gone
    ;;

core-writer-raw | core-writer-format)
    mode=${case_name#core-writer-}
    start_reader reader
    "$ZB_FRAME_META_TOOL" write "$ring" 20 "$mode" >"$tmp/tool.out" 2>"$tmp/tool.err" || fail "the core writer failed"
    wait_ok "$reader_pid" reader
    [ "$(buffer_count reader)" -eq 20 ] || fail "the reader got $(buffer_count reader) frames, not 20"
    for n in 0 7 19; do
        if [ "$mode" = raw ]; then
            bytes=$(printf 'app-frame-%d' "$n" | od -An -tx1 | tr -d ' \n')
            has reader.out "^buffer $n .* user=$bytes sha1="
        else
            bytes=$(printf 'frame=%d' "$n" | od -An -tx1 | tr -d ' \n')
            has reader.out "^buffer $n .* rois=\[car#$n<-1@$n,2,30x20\{detection, label=\(string\)car, confidence=\(double\)0.25;\}\] user=$bytes sha1="
        fi
    done
    ring_gone
    ;;

core-reader)
    "$ZB_FRAME_META_TOOL" read "$ring" >"$tmp/tool.out" 2>"$tmp/tool.err" &
    tool_pid=$!
    pids+=("$tool_pid")
    writer_with_metas
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$tool_pid" "core reader"
    [ "$(grep -c '^frame ' "$tmp/tool.out")" -eq 30 ] || fail "the core reader got $(grep -c '^frame ' "$tmp/tool.out") frames"
    # The regions and user bytes the core reader decoded are the ones the writer's probe listed.
    sed -n 's/.*\( rois=\[[^]]*\]\).* user=\([0-9a-f]*\).*/\1 \2/p' "$tmp/writer.out" >"$tmp/sent.txt"
    sed -n 's/.*\( rois=\[[^]]*\]\) user=\([0-9a-f]*\).*/\1 \2/p' "$tmp/tool.out" >"$tmp/got.txt"
    diff "$tmp/sent.txt" "$tmp/got.txt" >"$tmp/diff.txt" || fail "the core reader decoded other metas: $(head -n 5 "$tmp/diff.txt")"
    grep -q '^frame 0 .* segment=base:0,start:0' "$tmp/tool.out" || fail "frame 0 lacks the writer's segment"
    ring_gone
    ;;

*)
    fail "unknown case"
    ;;
esac
echo "PASS ($case_name)"
exit 0
