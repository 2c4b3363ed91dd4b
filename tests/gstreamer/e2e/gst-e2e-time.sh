#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross-process tests of time downstream of zerobuffersrc: running time across segment changes, and latency.
#
#   gst-e2e-time.sh CASE
#     concat          two 10-frame clips through concat into the sink: the reader's running time goes on from
#                     400 ms (pts start again at 0); every buffer line, running time included, equals the writer's
#     loop            a 1 s clip played 3 times with segment seeks (a looping player): running time 0 to 3 s
#     flushing-seek   a flushing seek back in the writer: its running time restarts at 0, the reader's goes on
#                     without a gap or a step back (frame i at i x 40 ms)
#     splitmuxsrc     two 1 s files, each with timestamps from 0, played by splitmuxsrc: the reader's running
#                     time goes on across the parts exactly as the writer's
#     late-reader     a reader that joins a running writer plays at once: its first frame at running time 0
#     live-latency    zerobuffersrc is-live=true ! fakesink sync=true (lossless and latest): no "Pipeline
#                     construction is invalid", the latency query answers one frame (33 ms) and, lossless, the
#                     ring's 16 frames
#
# See e2e-lib.sh for the environment; FFMPEG makes the clips of loop, flushing-seek and splitmuxsrc.
set -u

case_name=${1:-}
shift
# shellcheck source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"

# running_times FILE: the running= value of each buffer line.
running_times() { sed -n 's/^buffer .* running=\([0-9]*\) .*/\1/p' "$(out_file "$1")"; }

# expect_running FILE STEP: the buffers' running times are 0, STEP, 2 STEP, ... (continuous, never back).
expect_running() {
    local expected=0 t count=0
    while read -r t; do
        [ "$t" = "$expected" ] || fail "$1: buffer $count at running time $t, expected $expected"
        expected=$((expected + $2))
        count=$((count + 1))
    done < <(running_times "$1")
    [ "$count" -gt 0 ] || fail "$1 has no running times"
}

clip() { # clip FILE: 1 s of 25 fps H.264
    "$FFMPEG" -loglevel error -y -f lavfi -i testsrc=size=160x120:rate=25 -t 1 -c:v libx264 -preset ultrafast \
        -g 25 -pix_fmt yuv420p "$1" || fail "ffmpeg could not make the clip"
}

start_timed_reader() {
    "$ZB_GST_PROBE" --checksums --running-time --timeout 90 zerobuffersrc name=probe ring="$ring" reconnect=true ! \
        fakesink >"$tmp/reader.out" 2>"$tmp/reader.err" &
    reader_pid=$!
    pids+=("$reader_pid")
}

case "$case_name" in
concat)
    caps=video/x-raw,format=I420,width=160,height=120,framerate=25/1
    start_timed_reader
    run_writer writer --running-time concat name=c ! "$caps" ! zerobuffersink name=probe ring="$ring" wait-for-reader=true \
        videotestsrc num-buffers=10 pattern=smpte ! "$caps" ! c. videotestsrc num-buffers=10 pattern=ball ! "$caps" ! c.
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$reader_pid" reader
    compare_streams writer reader
    has reader.out '^buffer 10 pts=0 .* running=400000000 '
    expect_running reader.out 40000000
    ring_gone
    ;;

loop)
    clip "$tmp/clip.mp4"
    start_timed_reader
    run_writer writer --running-time --loop 3 filesrc location="$tmp/clip.mp4" ! qtdemux ! h264parse ! avdec_h264 ! \
        zerobuffersink name=probe ring="$ring" wait-for-reader=true
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$reader_pid" reader
    [ "$(buffer_count writer)" -eq 75 ] || fail "the writer sent $(buffer_count writer) frames, not 3 x 25"
    compare_streams writer reader
    # Each pass starts again at pts 0; the running time goes on (qtdemux ends a pass after the last frame's pts).
    [ "$(grep -c '^buffer [0-9]* pts=0 ' "$tmp/reader.out")" -eq 3 ] || fail "the reader did not see 3 passes"
    prev=-1
    while read -r t; do
        [ "$t" -ge "$prev" ] || fail "the reader's running time went back from $prev to $t"
        prev=$t
    done < <(running_times reader.out)
    [ "$prev" -ge 2800000000 ] || fail "the third pass ends at running time $prev, before 2.8 s"
    ring_gone
    ;;

flushing-seek)
    clip "$tmp/clip.mp4"
    start_timed_reader
    # Slowed down so that the seek (after 10 frames, back to 200 ms) meets frames still to come.
    run_writer writer --running-time --seek 10:200 filesrc location="$tmp/clip.mp4" ! qtdemux ! h264parse ! \
        avdec_h264 ! identity sleep-time=20000 ! zerobuffersink name=probe ring="$ring" wait-for-reader=true
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$reader_pid" reader
    has writer.out '^seek done'
    # The writer's running time restarted at 0 after the seek, its pts went back to 200 ms.
    has writer.out '^buffer [0-9]* pts=200000000 .* running=0 '
    grep -q '^buffer [1-9][0-9]* pts=200000000 ' "$tmp/reader.out" || fail "the reader did not get the frames after the seek"
    expect_running reader.out 40000000
    # Every frame the reader got is one the writer sent (the running time aside).
    sed -n 's/^buffer [0-9]* \(.*\) running=[0-9]* \(.*\)/\1 \2/p' "$tmp/writer.out" | sort -u >"$tmp/sent.txt"
    sed -n 's/^buffer [0-9]* \(.*\) running=[0-9]* \(.*\)/\1 \2/p' "$tmp/reader.out" | sort -u >"$tmp/got.txt"
    [ -z "$(comm -13 "$tmp/sent.txt" "$tmp/got.txt")" ] || fail "the reader got frames the writer never sent"
    ring_gone
    ;;

splitmuxsrc)
    # Two 1 s files whose timestamps each start at 0 (ffmpeg's segment muxer); splitmuxsrc plays them as one stream.
    "$FFMPEG" -loglevel error -y -f lavfi -i testsrc=size=160x120:rate=25 -t 2 -c:v libx264 -preset ultrafast -g 10 \
        -pix_fmt yuv420p -f segment -segment_time 1 -reset_timestamps 1 "$tmp/part%02d.mp4" ||
        fail "ffmpeg could not write the parts"
    [ -e "$tmp/part00.mp4" ] && [ -e "$tmp/part01.mp4" ] || fail "ffmpeg did not write two parts"
    start_timed_reader
    run_writer writer --running-time splitmuxsrc location="$tmp/part*.mp4" ! h264parse ! avdec_h264 ! \
        zerobuffersink name=probe ring="$ring" wait-for-reader=true
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$reader_pid" reader
    [ "$(buffer_count writer)" -eq 50 ] || fail "the writer sent $(buffer_count writer) frames, not 50"
    compare_streams writer reader
    expect_running reader.out 40000000
    ring_gone
    ;;

late-reader)
    "$ZB_GST_PROBE" --checksums --timeout 90 videotestsrc is-live=true num-buffers=90 pattern=ball ! \
        video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! zerobuffersink name=probe ring="$ring" \
        >"$tmp/writer.out" 2>"$tmp/writer.err" &
    writer_pid=$!
    pids+=("$writer_pid")
    wait_for_buffers writer.out 30 30
    "$ZB_GST_PROBE" --checksums --running-time --frames 10 --timeout 60 zerobuffersrc name=probe ring="$ring" ! \
        fakesink >"$tmp/reader.out" 2>"$tmp/reader.err" || fail "the late reader exited $?"
    wait_ok "$writer_pid" writer
    first_pts=$(sed -n 's/^buffer 0 pts=\([0-9]*\) .*/\1/p' "$tmp/reader.out")
    [ -n "$first_pts" ] && [ "$first_pts" -ge 900000000 ] || fail "the late reader's first frame has pts ${first_pts:-none}"
    has reader.out '^buffer 0 .* running=0 '
    ring_gone
    ;;

live-latency)
    "$GST_LAUNCH" -q videotestsrc is-live=true ! video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! \
        zerobuffersink ring="$ring" >"$tmp/writer.out" 2>"$tmp/writer.err" &
    writer_pid=$!
    pids+=("$writer_pid")
    for policy in lossless latest; do
        GST_DEBUG=zerobuffersrc:5 timeout 60 "$GST_LAUNCH" zerobuffersrc ring="$ring" reconnect=true is-live=true \
            policy="$policy" num-buffers=30 ! fakesink sync=true >"$tmp/$policy.out" 2>"$tmp/$policy.err"
        rc=$?
        [ "$rc" -eq 0 ] || fail "the $policy live reader exited $rc"
        ! grep -q 'Pipeline construction is invalid' "$tmp/$policy.out" "$tmp/$policy.err" ||
            fail "the $policy live reader warned: Pipeline construction is invalid"
        grep -q 'Redistribute latency' "$tmp/$policy.out" || fail "the $policy reader's pipeline configured no latency"
    done
    grep -q 'latency: min 0:00:00.033333333 max 0:00:00.53' "$tmp/lossless.err" ||
        fail "the lossless reader did not answer one frame and the ring's 16 frames"
    grep -q 'latency: min 0:00:00.033333333 max 99:99:99' "$tmp/latest.err" ||
        fail "the latest reader did not answer one frame, no maximum"
    kill -INT "$writer_pid"
    wait "$writer_pid" 2>/dev/null
    ring_gone
    ;;

*)
    fail "unknown case"
    ;;
esac
echo "PASS ($case_name)"
exit 0
