#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross-process tests of raw audio and of audio with video through zerobuffersink/zerobuffersrc.
#
#   gst-e2e-av.sh CASE [ARGS...]
#     audio FORMAT CHANNELS RATE LAYOUT    audiotestsrc converted to FORMAT/CHANNELS/RATE/LAYOUT (interleaved or
#                                          non-interleaved): every buffer arrives byte-identical with its samples
#                                          and planes (hashed through GstAudioMeta), and the reader's audioconvert
#                                          can use it
#     decoded-aac CHANNELS RATE            an AAC file made with ffmpeg, decoded (planar float) into the sink; the
#                                          reader re-encodes with audioconvert ! avenc_aac ! mp4mux: every decoded
#                                          buffer identical, and the recording has the channels, rate and duration
#     av-split-mux                         a file with video and audio (the audio 200 ms late) split into a video
#                                          ring and an audio ring, muxed back by mp4mux in another process: both
#                                          streams, the same start times (A/V sync), durations and video pts
#
# See e2e-lib.sh for the environment; FFMPEG and FFPROBE are needed by the last two cases.
set -u

case_name=${1:-}
shift
# shellcheck source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"

# stream_field FILE TYPE FIELD: one field of the first stream of TYPE (video/audio) in FILE, from ffprobe.
stream_field() {
    "$FFPROBE" -v error -select_streams "${2:0:1}:0" -show_entries "stream=$3" -of csv=p=0 "$1"
}

# close_to A B TOLERANCE: |A - B| <= TOLERANCE (decimal seconds).
close_to() {
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'
}

case "$case_name" in
audio)
    format=$1 channels=$2 rate=$3 layout=$4
    ring="e2e-audio-$format-$channels-$rate-$layout-$$"
    # The reader converts what it gets: audioconvert maps planar buffers only through their GstAudioMeta.
    "$ZB_GST_PROBE" --checksums --timeout 90 zerobuffersrc name=probe ring="$ring" reconnect=true ! audioconvert ! \
        audio/x-raw,format=S16LE,layout=interleaved ! fakesink >"$tmp/reader.out" 2>"$tmp/reader.err" &
    reader_pid=$!
    pids+=("$reader_pid")
    run_writer writer audiotestsrc wave=sine freq=330 samplesperbuffer=1000 num-buffers=40 ! audioconvert ! \
        "audio/x-raw,format=$format,channels=$channels,rate=$rate,layout=$layout" ! \
        zerobuffersink name=probe ring="$ring" wait-for-reader=true
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$reader_pid" reader
    [ "$(buffer_count writer)" -eq 40 ] || fail "the writer sent $(buffer_count writer) buffers, not 40"
    compare_streams writer reader
    planes=1
    [ "$layout" = non-interleaved ] && planes=$channels
    has reader.out "^buffer 0 .* samples=1000 planes=$planes "
    for field in "format=(string)$format" "layout=(string)$layout" "rate=(int)$rate" "channels=(int)$channels"; do
        grep -q "^caps audio/x-raw,.* ${field}" "$tmp/reader.out" || fail "the reader's caps lack $field"
    done
    ring_gone
    ;;

decoded-aac)
    channels=$1 rate=$2
    "$FFMPEG" -loglevel error -y -f lavfi -i "sine=frequency=440:sample_rate=$rate" -t 2 -ac "$channels" \
        -c:a aac "$tmp/in.m4a" || fail "ffmpeg could not make the AAC clip"
    "$ZB_GST_PROBE" --checksums --timeout 90 zerobuffersrc name=probe ring="$ring" reconnect=true ! audioconvert ! \
        avenc_aac ! mp4mux ! filesink location="$tmp/out.m4a" >"$tmp/reader.out" 2>"$tmp/reader.err" &
    reader_pid=$!
    pids+=("$reader_pid")
    run_writer writer filesrc location="$tmp/in.m4a" ! qtdemux ! decodebin ! audio/x-raw ! \
        zerobuffersink name=probe ring="$ring" wait-for-reader=true
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$reader_pid" reader
    has writer.out '^caps audio/x-raw, format=\(string\)F32LE, layout=\(string\)non-interleaved'
    compare_streams writer reader
    [ "$(stream_field "$tmp/out.m4a" audio channels)" = "$channels" ] || fail "the recording has not $channels channels"
    [ "$(stream_field "$tmp/out.m4a" audio sample_rate)" = "$rate" ] || fail "the recording is not at $rate Hz"
    # Re-encoding may add one AAC frame of priming (1024 samples).
    in_duration=$(stream_field "$tmp/in.m4a" audio duration)
    out_duration=$(stream_field "$tmp/out.m4a" audio duration)
    close_to "$in_duration" "$out_duration" 0.05 || fail "the recording lasts $out_duration s, the clip $in_duration s"
    ring_gone
    ;;

av-split-mux)
    video_ring="e2e-av-video-$$" audio_ring="e2e-av-audio-$$"
    extra_rings+=("$video_ring" "$audio_ring")
    # 2 s of 25 fps video, and audio that starts 200 ms later: a reader that lost the sync would start both at 0.
    "$FFMPEG" -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=25 -itsoffset 0.2 \
        -f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
        -c:a aac -ac 2 "$tmp/in.mp4" || fail "ffmpeg could not make the clip"
    timeout 120 "$GST_LAUNCH" -q zerobuffersrc ring="$video_ring" reconnect=true ! videoconvert ! \
        x264enc tune=zerolatency ! queue ! mux. \
        zerobuffersrc ring="$audio_ring" reconnect=true ! audioconvert ! avenc_aac ! queue ! mux. \
        mp4mux name=mux ! filesink location="$tmp/out.mp4" >"$tmp/reader.out" 2>"$tmp/reader.err" &
    reader_pid=$!
    pids+=("$reader_pid")
    timeout 120 "$GST_LAUNCH" -q filesrc location="$tmp/in.mp4" ! qtdemux name=d \
        d.video_0 ! queue ! decodebin ! zerobuffersink ring="$video_ring" wait-for-reader=true \
        d.audio_0 ! queue ! decodebin ! audio/x-raw ! zerobuffersink ring="$audio_ring" wait-for-reader=true \
        >"$tmp/writer.out" 2>"$tmp/writer.err"
    rc=$?
    [ "$rc" -eq 0 ] || fail "writer exited $rc"
    wait_ok "$reader_pid" reader
    for type in video audio; do
        [ -n "$(stream_field "$tmp/out.mp4" "$type" codec_type)" ] || fail "the recording has no $type stream"
        in_start=$(stream_field "$tmp/in.mp4" "$type" start_time)
        out_start=$(stream_field "$tmp/out.mp4" "$type" start_time)
        close_to "$in_start" "$out_start" 0.002 ||
            fail "the $type stream starts at $out_start s, in the clip at $in_start s: A/V sync lost"
        in_duration=$(stream_field "$tmp/in.mp4" "$type" duration)
        out_duration=$(stream_field "$tmp/out.mp4" "$type" duration)
        close_to "$in_duration" "$out_duration" 0.05 ||
            fail "the $type stream lasts $out_duration s, in the clip $in_duration s"
    done
    # Every video frame at the pts it had in the clip.
    "$FFPROBE" -v error -select_streams v:0 -show_entries packet=pts_time -of csv=p=0 "$tmp/in.mp4" | sort -n \
        >"$tmp/in-pts.txt"
    "$FFPROBE" -v error -select_streams v:0 -show_entries packet=pts_time -of csv=p=0 "$tmp/out.mp4" | sort -n \
        >"$tmp/out-pts.txt"
    diff "$tmp/in-pts.txt" "$tmp/out-pts.txt" >"$tmp/diff.txt" ||
        fail "the recording's video pts differ from the clip's: $(head -n 10 "$tmp/diff.txt")"
    ring_gone
    ;;

*)
    fail "unknown case"
    ;;
esac
echo "PASS ($case_name)"
exit 0
