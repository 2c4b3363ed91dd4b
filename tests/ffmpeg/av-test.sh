#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of audio with video: zb-ingest --audio-ring and zb-record --audio-ring, real processes on real rings.
# Usage: av-test.sh CASE ZB_INGEST ZB_RECORD ZBCTL
# Clips (testsrc + sine, H.264 + AAC) are made here with the ffmpeg CLI; ffprobe and ffmpeg check what was written.
set -euo pipefail

usage() { sed -n '3,5s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
if (($# < 4)) || [[ "$1" == -* ]]; then
    echo "av-test.sh: expected CASE ZB_INGEST ZB_RECORD ZBCTL" >&2
    usage >&2
    exit 2
fi

CASE=$1 INGEST=$2 RECORD=$3 ZBCTL=$4
WORK=$(mktemp -d /tmp/zb-av-test.XXXXXX)
PREFIX="zbav-$$"
PIDS=()
FPS=25

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    local shm
    for shm in /dev/shm/zb-"$PREFIX"-*; do
        [[ -e "$shm" ]] && "$ZBCTL" gc "${shm#/dev/shm/zb-}" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL [$CASE]: $*" >&2
    local log
    for log in "$WORK"/*.err; do
        [[ -s "$log" ]] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
    done
    exit 1
}

expect_contains() {
    grep -qF -- "$2" "$1" || fail "expected '$2' in $(basename "$1"), got: $(head -c 600 "$1")"
}

assert_no_rings() {
    local left
    left=$(ls /dev/shm | grep -c "^zb-$PREFIX-" || true)
    [[ "$left" == 0 ]] || fail "rings left in /dev/shm: $(ls /dev/shm | grep "^zb-$PREFIX-" | tr '\n' ' ')"
}

wait_pid() {
    local pid=$1 limit=$2 waited=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 0.1
        waited=$((waited + 1))
        ((waited < limit * 10)) || fail "process $pid did not finish within $limit s"
    done
    RC=0
    wait "$pid" || RC=$?
}

# av_clip FILE SECONDS [CHANNELS]: testsrc video (H.264, $FPS fps) and a sine (AAC, 48 kHz) of the same length.
av_clip() {
    local file=$1 seconds=$2 channels=${3:-1}
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc=size=320x240:rate=$FPS:duration=$seconds" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$seconds" \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -ac "$channels" "$WORK/$file" ||
        fail "cannot make clip $file"
}

# samples FILE: audio samples a full decode of the file's audio gives (per channel).
samples() {
    local bytes
    bytes=$(ffmpeg -nostdin -v error -i "$1" -map 0:a:0 -ac 1 -f s16le - | wc -c)
    echo $((bytes / 2))
}

# stream_span FILE TYPE: "START END" in seconds of the file's first stream of TYPE (v or a), from its decoded
# frames (what a player presents: the AAC encoder's priming samples are trimmed). A frame without a duration
# lasts as long as the step to the one before.
stream_span() {
    ffprobe -v error -select_streams "$2:0" -show_entries frame=pts_time,duration_time -of csv=p=0 "$1" |
        python3 -c '
import sys
rows = [line.strip().split(",")[:2] + [""] for line in sys.stdin if line.strip()]
times = sorted((float(r[0]), float(r[1]) if r[1] not in ("", "N/A") else 0.0) for r in rows if r[0] not in ("", "N/A"))
if not times:
    sys.exit("no frames")
step = times[-1][0] - times[-2][0] if len(times) > 1 else 0.0
print(f"{times[0][0]:.4f} {max(t + (d if d > 0 else step) for t, d in times):.4f}")'
}

# check_av INPUT OUTPUT: one video and one audio stream, starting and ending within a video frame of each other,
# and as many audio samples as the input within one AAC frame (1024 samples).
check_av() {
    local input=$1 output=$2
    ffprobe -v error "$output" >/dev/null 2>&1 || fail "ffprobe cannot read $output"
    local errors
    errors=$(ffmpeg -nostdin -v error -i "$output" -f null - 2>&1 | head -5)
    [[ -z "$errors" ]] || fail "decoding $output reports errors: $errors"
    local types
    types=$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$output" | sort | tr '\n' ' ')
    [[ "$types" == "audio video " ]] || fail "$output has streams '$types', expected one audio and one video"
    local video audio
    video=$(stream_span "$output" v) || fail "no video packets in $output"
    audio=$(stream_span "$output" a) || fail "no audio packets in $output"
    python3 -c '
import sys
vs, ve, as_, ae, fps = map(float, sys.argv[1:])
frame = 1.0 / fps + 1e-6
if abs(vs - as_) > frame or abs(ve - ae) > frame:
    sys.exit(f"video spans {vs:.3f}..{ve:.3f} s, audio {as_:.3f}..{ae:.3f} s: not within a frame ({frame:.3f} s)")
' $video $audio $FPS || fail "audio and video out of step in $output"
    local expected got
    expected=$(samples "$input")
    got=$(samples "$output")
    ((expected > 0)) || fail "the input decodes to no audio"
    local diff=$((got - expected))
    ((diff < 0)) && diff=$((-diff))
    ((diff <= 1024)) || fail "$output has $got audio samples, the input $expected (more than one AAC frame apart)"
    echo "$output: video $video, audio $audio, $got samples (input $expected)"
}

# ingest_and_record INPUT OUTPUT [zb-ingest options...]: both tools as their own processes, lossless.
ingest_and_record() {
    local input=$1 output=$2
    shift 2
    local video="$PREFIX-v" sound="$PREFIX-a"
    "$RECORD" --wait-timeout 60 --audio-ring "$sound" "$video" "$WORK/$output" 2>"$WORK/record.err" &
    local recorder=$!
    PIDS+=("$recorder")
    "$INGEST" --wait-for-reader --audio-ring "$sound" "$@" "$WORK/$input" "$video" 2>"$WORK/ingest.err" ||
        fail "zb-ingest exited with $?"
    wait_pid "$recorder" 60
    [[ "$RC" == 0 ]] || fail "zb-record exited with $RC"
    expect_contains "$WORK/ingest.err" "into ring '$sound'"
    assert_no_rings
}

case_av_decode() {
    # Decoded audio (AAC -> F32LE planar ring frames) re-encoded to AAC, in mp4 and in stereo.
    av_clip av.mp4 2 1
    ingest_and_record av.mp4 out.mp4
    expect_contains "$WORK/record.err" "encoded to AAC"
    check_av "$WORK/av.mp4" "$WORK/out.mp4"
    av_clip stereo.mkv 2 2
    ingest_and_record stereo.mkv stereo.mp4
    check_av "$WORK/stereo.mkv" "$WORK/stereo.mp4"
    [[ $(ffprobe -v error -select_streams a:0 -show_entries stream=channels -of csv=p=0 "$WORK/stereo.mp4") == 2 ]] ||
        fail "the stereo recording lost its channels"
}

case_av_passthrough() {
    # Encoded H.264 and AAC packets through both rings and remuxed, mkv and mp4 in and out.
    av_clip av.mkv 2
    ingest_and_record av.mkv out.mkv --no-decode
    expect_contains "$WORK/record.err" "aac remuxed"
    check_av "$WORK/av.mkv" "$WORK/out.mkv"
    av_clip av.mp4 2
    ingest_and_record av.mp4 out.mp4 --audio-no-decode
    expect_contains "$WORK/record.err" "aac remuxed"
    check_av "$WORK/av.mp4" "$WORK/out.mp4"
}

case_av_bad_input() {
    # A file without audio: an error naming the problem, no ring left behind.
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc=size=320x240:rate=$FPS:duration=1" -c:v libx264 \
        -preset ultrafast "$WORK/silent.mp4" || fail "cannot make silent.mp4"
    local rc=0
    "$INGEST" --audio-ring "$PREFIX-a" "$WORK/silent.mp4" "$PREFIX-v" 2>"$WORK/ingest.err" || rc=$?
    [[ "$rc" == 3 ]] || fail "zb-ingest --audio-ring on a file without audio exited with $rc, expected 3"
    expect_contains "$WORK/ingest.err" "has no audio stream for --audio-ring '$PREFIX-a': drop --audio-ring"
    assert_no_rings
    rc=0
    "$INGEST" --audio-ring "$PREFIX-v" "$WORK/silent.mp4" "$PREFIX-v" 2>"$WORK/ingest.err" || rc=$?
    [[ "$rc" == 2 ]] || fail "zb-ingest with the same ring for audio and video exited with $rc, expected 2"
    expect_contains "$WORK/ingest.err" "--audio-ring must name another ring"
    rc=0
    "$RECORD" --audio-ring "$PREFIX-v" "$PREFIX-v" "$WORK/x.mp4" 2>"$WORK/record.err" || rc=$?
    [[ "$rc" == 2 ]] || fail "zb-record with the same ring for audio and video exited with $rc, expected 2"
    # The rings swapped: zb-record names the ring given to --audio-ring and what it carries.
    av_clip av.mp4 1
    "$INGEST" --wait-for-reader --audio-ring "$PREFIX-a" "$WORK/av.mp4" "$PREFIX-v" 2>"$WORK/ingest.err" &
    local ingest=$!
    PIDS+=("$ingest")
    rc=0
    "$RECORD" --wait-timeout 30 --audio-ring "$PREFIX-v" "$PREFIX-a" "$WORK/x.mp4" 2>"$WORK/record.err" || rc=$?
    [[ "$rc" == 3 ]] || fail "zb-record with the rings swapped exited with $rc, expected 3"
    expect_contains "$WORK/record.err" "ring '$PREFIX-v' given to --audio-ring carries 'video/x-raw', not audio"
    [[ ! -e "$WORK/x.mp4" ]] || fail "zb-record wrote a file although it could not record the rings"
    kill "$ingest" 2>/dev/null || true
    wait_pid "$ingest" 30
    assert_no_rings
}

case_av_gst() {
    # zerobuffersrc negotiates audio caps from a zb-ingest audio ring: the samples GStreamer gets are the ones
    # FFmpeg's own decode gives, byte for byte.
    command -v gst-launch-1.0 >/dev/null || fail "gst-launch-1.0 is missing"
    gst-inspect-1.0 zerobuffersrc >/dev/null 2>&1 || fail "the zerobuffer GStreamer plugin is not in GST_PLUGIN_PATH"
    av_clip av.mp4 2 2
    "$INGEST" --wait-for-reader --audio-ring "$PREFIX-a" "$WORK/av.mp4" "$PREFIX-v" 2>"$WORK/ingest.err" &
    local ingest=$!
    PIDS+=("$ingest")
    timeout 90 gst-launch-1.0 -q zerobuffersrc "ring=$PREFIX-v" reconnect=true timeout=30000 ! fakesink \
        zerobuffersrc "ring=$PREFIX-a" reconnect=true timeout=30000 ! audioconvert ! audio/x-raw,format=F32LE,layout=interleaved ! \
        filesink "location=$WORK/gst.f32" >"$WORK/gst.out" 2>"$WORK/gst.err" ||
        fail "gst-launch-1.0 failed: $(tail -5 "$WORK/gst.err")"
    wait_pid "$ingest" 30
    [[ "$RC" == 0 ]] || fail "zb-ingest exited with $RC"
    ffmpeg -nostdin -v error -i "$WORK/av.mp4" -map 0:a -f f32le "$WORK/ffmpeg.f32" || fail "ffmpeg decode failed"
    [[ -s "$WORK/gst.f32" ]] || fail "GStreamer got no audio"
    cmp -s "$WORK/gst.f32" "$WORK/ffmpeg.f32" ||
        fail "GStreamer's samples ($(stat -c %s "$WORK/gst.f32") bytes) differ from FFmpeg's ($(stat -c %s "$WORK/ffmpeg.f32") bytes)"
    assert_no_rings
}

case "$CASE" in
av-decode) case_av_decode ;;
av-passthrough) case_av_passthrough ;;
av-bad-input) case_av_bad_input ;;
av-gst) case_av_gst ;;
*) echo "av-test.sh: unknown case '$CASE'" >&2; usage >&2; exit 2 ;;
esac
