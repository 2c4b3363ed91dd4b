#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of zb-ingest and zb-record with real processes on both ends of real rings.
# Usage: ffmpeg-test.sh CASE ZB_INGEST ZB_RECORD ZB_FRAME_MD5 ZBCTL ZB_HOSTILE_WRITER
# Clips are made here with the ffmpeg CLI in a temporary folder; expected frames come from a direct FFmpeg decode.
set -euo pipefail

# --help prints the comment above; a wrong command line prints it too and exits 2.
usage() { sed -n '3,5s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
if (($# < 6)) || [[ "$1" == -* ]]; then
    echo "ffmpeg-test.sh: expected CASE ZB_INGEST ZB_RECORD ZB_FRAME_MD5 ZBCTL ZB_HOSTILE_WRITER" >&2
    usage >&2
    exit 2
fi

CASE=$1 INGEST=$2 RECORD=$3 FRAME_MD5=$4 ZBCTL=$5 HOSTILE_WRITER=$6
WORK=$(mktemp -d /tmp/zb-ffmpeg-test.XXXXXX)
PREFIX="zbff-$$"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    # Rings of killed writers: remove only ours, by name.
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

# expect_contains FILE TEXT: the file (usually a program's stderr) holds TEXT.
expect_contains() {
    grep -qF -- "$2" "$1" || fail "expected '$2' in $(basename "$1"), got: $(head -c 600 "$1")"
}

assert_no_rings() {
    local left
    left=$(ls /dev/shm | grep -c "^zb-$PREFIX-" || true)
    [[ "$left" == 0 ]] || fail "rings left in /dev/shm: $(ls /dev/shm | grep "^zb-$PREFIX-" | tr '\n' ' ')"
}

# clip FILE SIZE FRAMES [extra ffmpeg output options]: a real H.264 clip of the testsrc2 pattern.
clip() {
    local file=$1 size=$2 frames=$3
    shift 3
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=$size:rate=30" -frames:v "$frames" \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$@" "$WORK/$file" || fail "cannot make clip $file"
}

# framemd5 FILE [ffmpeg output options]: one MD5 per decoded frame, as the ffmpeg CLI computes it.
framemd5() {
    local file=$1
    shift
    ffmpeg -nostdin -v error -i "$file" "$@" -f framemd5 - | grep -v '^#' | awk -F', *' '{print $6}'
}

# rawvideo_md5 FILE: one MD5 per frame of 'ffmpeg -f rawvideo' output (the decoder's yuv420p planes, rows without
# padding, frame after frame), hashed as it streams out: the bytes a reader's frames must equal.
rawvideo_md5() {
    local size
    size=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=s=x:p=0 "$1")
    local width=${size%x*} height=${size#*x}
    ffmpeg -nostdin -v error -i "$1" -f rawvideo -pix_fmt yuv420p - | python3 -c '
import hashlib, sys
frame_size = int(sys.argv[1])
stream = sys.stdin.buffer
while frame := stream.read(frame_size):
    if len(frame) != frame_size:
        sys.exit(f"ffmpeg -f rawvideo ended with a partial frame of {len(frame)} bytes")
    print(hashlib.md5(frame).hexdigest())
' $((width * height + 2 * ((width + 1) / 2) * ((height + 1) / 2)))
}

frame_count() {
    ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"
}

packet_times() {
    ffprobe -v error -select_streams v:0 -show_entries packet=pts_time -of csv=p=0 "$1"
}

# plays FILE: ffprobe reads it and a full decode reports no error.
plays() {
    ffprobe -v error "$1" >/dev/null 2>&1 || fail "ffprobe cannot read $1"
    local errors
    errors=$(ffmpeg -nostdin -v error -i "$1" -f null - 2>&1 | head -5)
    [[ -z "$errors" ]] || fail "decoding $1 reports errors: $errors"
}

# wait_pid PID SECONDS: waits for a background process, sets RC to its exit code (fails the test on a hang).
# Not usable in $(...): only this shell can wait for its children.
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

# wait_for_file_line FILE TEXT SECONDS
wait_for_text() {
    local file=$1 text=$2 limit=$3 waited=0
    until grep -qF -- "$text" "$file" 2>/dev/null; do
        sleep 0.1
        waited=$((waited + 1))
        ((waited < limit * 10)) || fail "'$text' did not appear in $(basename "$file") within $limit s"
    done
}

# has_b_frames FILE: the clip's decoder reorders frames (B-frames), so output order differs from decode order.
has_b_frames() {
    local delay
    delay=$(ffprobe -v error -select_streams v:0 -show_entries stream=has_b_frames -of csv=p=0 "$1")
    ((delay > 0)) || fail "$(basename "$1") has no B-frames (has_b_frames=$delay): the clip does not test reordering"
}

# md5_lines_match EXPECTED FRAMES: every "frame SEQ ..." line of a reader's output has the MD5 of the SEQ-th frame
# of the expected decode (sequence numbers count the frames committed, from 0). Prints how many frames it saw.
md5_lines_match() {
    awk 'NR == FNR { expected[NR - 1] = $1; next }
         $1 == "frame" { seen++; if (expected[$2] != $5) { print "frame " $2 ": " $5 " instead of " expected[$2]; bad++ } }
         END { if (bad) exit 1; print seen + 0 }' "$1" "$2"
}

# decode_and_compare SIZE FRAMES: ingest a clip with B-frames, read every frame in another process, compare with
# 'ffmpeg -f rawvideo' of the same clip; every frame is decoded straight into ring memory (none copied).
decode_and_compare() {
    local size=$1 frames=$2 ring="$PREFIX-decode"
    clip clip.mp4 "$size" "$frames" -bf 3 -refs 4
    has_b_frames "$WORK/clip.mp4"
    rawvideo_md5 "$WORK/clip.mp4" >"$WORK/expected.md5" || fail "ffmpeg -f rawvideo failed"
    [[ $(wc -l <"$WORK/expected.md5") == "$frames" ]] || fail "ffmpeg decoded $(wc -l <"$WORK/expected.md5") frames"

    "$FRAME_MD5" "$ring" >"$WORK/frames.txt" 2>"$WORK/reader.err" &
    local reader=$!
    PIDS+=("$reader")
    "$INGEST" --wait-for-reader "$WORK/clip.mp4" "$ring" 2>"$WORK/ingest.err" || fail "zb-ingest exited with $?"
    local rc
    wait_pid "$reader" 60; rc=$RC
    [[ "$rc" == 0 ]] || fail "reader exited with $rc (no end-of-stream?)"
    grep '^frame ' "$WORK/frames.txt" | awk '{print $5}' >"$WORK/actual.md5"
    diff -q "$WORK/expected.md5" "$WORK/actual.md5" >/dev/null ||
        fail "ring frames differ from ffmpeg -f rawvideo: $(diff "$WORK/expected.md5" "$WORK/actual.md5" | head -5)"
    local width=${size%x*} height=${size#*x}
    expect_contains "$WORK/frames.txt" "\"pixel_format\":\"I420\""
    expect_contains "$WORK/frames.txt" "\"width\":$width"
    expect_contains "$WORK/frames.txt" "\"height\":$height"
    expect_contains "$WORK/frames.txt" "format=(string)I420, width=(int)$width, height=(int)$height, framerate=(fraction)30/1"
    expect_contains "$WORK/ingest.err" "$frames frames in"
    # The ring's counters: every video frame decoded in ring memory (the end-of-stream frame is not counted here).
    expect_contains "$WORK/ingest.err" "0 corrupt packets or frames, $frames in place, 0 copied"
    # The planes are where the decoder put them (its padded height and plane padding), not a packed copy.
    local frame_size
    frame_size=$(grep -o '"frame_size":[0-9]*' "$WORK/frames.txt" | head -1 | cut -d: -f2)
    ((frame_size > width * height * 3 / 2)) ||
        fail "frame_size $frame_size is the packed size: the frames were not decoded in ring memory"
    # Timestamps: 30 fps in ns, starting at 0, in output order.
    local second_pts
    second_pts=$(grep '^frame ' "$WORK/frames.txt" | sed -n 2p | awk '{print $3}')
    [[ "$second_pts" == 33333333 ]] || fail "second frame pts is $second_pts ns, expected 33333333"
    assert_no_rings
}

# Decoders that cannot render into ring memory, and --copy: the same frames, each copied once, and said why.
case_decode_copy() {
    local ring="$PREFIX-copy" rc
    # rawvideo has no direct rendering (AV_CODEC_CAP_DR1).
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=638x360:rate=30" -frames:v 20 -c:v rawvideo \
        -pix_fmt yuv420p "$WORK/raw.nut" || fail "cannot make the rawvideo clip"
    clip clip.mp4 1280x720 30 -bf 3 -refs 4
    has_b_frames "$WORK/clip.mp4"
    local input frames option
    for input in raw.nut clip.mp4; do
        frames=30 option=--copy
        [[ "$input" == raw.nut ]] && frames=20 option=--verbose
        "$FRAME_MD5" "$ring" >"$WORK/frames.txt" 2>"$WORK/reader.err" &
        local reader=$!
        PIDS+=("$reader")
        "$INGEST" --wait-for-reader "$option" "$WORK/$input" "$ring" 2>"$WORK/ingest-$input.err" ||
            fail "zb-ingest $option $input exited with $?"
        wait_pid "$reader" 60; [[ "$RC" == 0 ]] || fail "reader exited with $RC"
        diff -q <(framemd5 "$WORK/$input") <(grep '^frame ' "$WORK/frames.txt" | awk '{print $5}') >/dev/null ||
            fail "$input: ring frames differ from FFmpeg's decode"
        expect_contains "$WORK/ingest-$input.err" "0 corrupt packets or frames, 0 in place, $frames copied"
        expect_contains "$WORK/ingest-$input.err" "$frames of $frames frames were copied into the ring once: "
    done
    expect_contains "$WORK/ingest-raw.nut.err" \
        "decoded frames are copied into the ring once: the rawvideo decoder cannot decode into memory it is given"
    expect_contains "$WORK/ingest-clip.mp4.err" "copied into the ring once: --copy asks for it"
    rc=0
    "$INGEST" --copy --no-decode "$WORK/clip.mp4" "$ring" 2>"$WORK/usage.err" || rc=$?
    [[ "$rc" == 2 ]] || fail "--copy --no-decode gave exit $rc, expected 2"
    expect_contains "$WORK/usage.err" "--no-decode excludes --copy"
    assert_no_rings
}

# summary_count FILE WHAT: the number before "in place" or "copied" in zb-ingest's summary line (its first).
summary_count() {
    grep -o "[0-9][0-9]* $2" "$1" | head -1 | cut -d' ' -f1
}

# A ring too small for the decoder's reference frames (--ring-size of 8 pictures: the decoder's share is 4, it
# keeps about 8 with 4 references and 3 B-frames): the pictures beyond its share come from libavcodec's memory and
# are copied once, counted as copied; the frames are still every frame of 'ffmpeg -f rawvideo', none dropped, and
# the decoder never holds more ring pictures than its share.
case_decode_small_ring() {
    local ring="$PREFIX-small" frames=60
    clip clip.mp4 1280x720 "$frames" -bf 3 -refs 4
    has_b_frames "$WORK/clip.mp4"
    rawvideo_md5 "$WORK/clip.mp4" >"$WORK/expected.md5" || fail "ffmpeg -f rawvideo failed"
    "$FRAME_MD5" "$ring" >"$WORK/frames.txt" 2>"$WORK/reader.err" &
    local reader=$!
    PIDS+=("$reader")
    "$INGEST" --wait-for-reader --verbose --threads 2 --ring-size 12M "$WORK/clip.mp4" "$ring" \
        2>"$WORK/ingest.err" || fail "zb-ingest exited with $?"
    wait_pid "$reader" 60; [[ "$RC" == 0 ]] || fail "reader exited with $RC"
    diff -q "$WORK/expected.md5" <(grep '^frame ' "$WORK/frames.txt" | awk '{print $5}') >/dev/null ||
        fail "ring frames differ from ffmpeg -f rawvideo"
    expect_contains "$WORK/ingest.err" "$frames frames in"
    expect_contains "$WORK/ingest.err" ", 0 dropped, 0 corrupt packets or frames, "
    local in_place copied
    in_place=$(summary_count "$WORK/ingest.err" "in place")
    copied=$(summary_count "$WORK/ingest.err" copied)
    ((in_place > 0 && copied > 0 && in_place + copied == frames)) ||
        fail "$in_place in place and $copied copied of $frames frames: expected both, adding up"
    expect_contains "$WORK/ingest.err" "$copied of $frames frames were copied into the ring once: "
    expect_contains "$WORK/ingest.err" "decoder pictures found no room in the ring"
    expect_contains "$WORK/ingest.err" "--ring-size gives more"
    # The decoder's share: the ring's frames less the readers' (8, or half of a small ring).
    local frame_size ring_frames share kept
    frame_size=$(grep -o '"frame_size":[0-9]*' "$WORK/frames.txt" | head -1 | cut -d: -f2)
    ring_frames=$((12 * 1024 * 1024 / ((frame_size + 63) / 64 * 64)))
    share=$((ring_frames - (ring_frames / 2 < 8 ? ring_frames / 2 : 8)))
    kept=$(sed -n 's/.*the decoder kept up to \([0-9]*\) pictures in ring memory at once.*/\1/p' "$WORK/ingest.err")
    [[ -n "$kept" ]] && ((kept >= 1 && kept <= share)) ||
        fail "the decoder kept '$kept' ring pictures at once; its share of a $ring_frames-frame ring is $share"
    assert_no_rings
}

# A lossless reader that keeps its last 14 frames of a 16-frame ring (beyond the readers' share, docs/ffmpeg.md
# "Limit"): with --copy, which needs room for one frame only, every frame still arrives, none dropped, all
# counted as copied, and no held frame changes (zb-frame-md5 exits 4 if one does).
case_decode_held_copy() {
    local ring="$PREFIX-held" frames=60
    clip clip.mp4 1280x720 "$frames" -bf 3 -refs 4
    rawvideo_md5 "$WORK/clip.mp4" >"$WORK/expected.md5" || fail "ffmpeg -f rawvideo failed"
    "$FRAME_MD5" "$ring" >"$WORK/fast.txt" 2>"$WORK/fast.err" &
    local fast=$!
    "$FRAME_MD5" "$ring" --hold 14 --delay 5 >"$WORK/holder.txt" 2>"$WORK/holder.err" &
    local holder=$!
    PIDS+=("$fast" "$holder")
    "$INGEST" --copy --wait-for-readers 2 --ring-size $((16 * 1280 * 736 * 3 / 2)) "$WORK/clip.mp4" "$ring" \
        2>"$WORK/ingest.err" || fail "zb-ingest exited with $?"
    local name pid
    for name in fast holder; do
        pid=$fast
        [[ $name == holder ]] && pid=$holder
        wait_pid "$pid" 60
        [[ "$RC" == 0 ]] || fail "the $name reader exited with $RC: $(cat "$WORK/$name.err")"
        diff -q "$WORK/expected.md5" <(grep '^frame ' "$WORK/$name.txt" | awk '{print $5}') >/dev/null ||
            fail "the $name reader's frames differ from ffmpeg -f rawvideo"
    done
    expect_contains "$WORK/ingest.err" "$frames frames in"
    expect_contains "$WORK/ingest.err" ", 0 dropped, 0 corrupt packets or frames, 0 in place, $frames copied"
    assert_no_rings
}

# Readers that hold frames, read slowly or only take the newest ones beside a decoder that keeps reference
# frames in the ring: nobody sees a frame change or differ from FFmpeg's decode.
case_decode_readers() {
    local ring="$PREFIX-readers"
    clip clip.mp4 1920x1080 90 -bf 3 -refs 4 -g 45
    has_b_frames "$WORK/clip.mp4"
    framemd5 "$WORK/clip.mp4" >"$WORK/expected.md5"
    # A small ring (about 15 frames): memory is reused all the time, around the decoder's reference frames and
    # what readers hold. A fast lossless reader, a slow one (20 ms a frame) and a latest reader holding its last 4.
    "$FRAME_MD5" "$ring" >"$WORK/fast.txt" 2>"$WORK/fast.err" &
    local fast=$!
    "$FRAME_MD5" "$ring" --delay 20 >"$WORK/slow.txt" 2>"$WORK/slow.err" &
    local slow=$!
    "$FRAME_MD5" "$ring" --latest --hold 4 --delay 5 >"$WORK/holder.txt" 2>"$WORK/holder.err" &
    local holder=$!
    PIDS+=("$fast" "$slow" "$holder")
    "$INGEST" --wait-for-readers 3 --ring-size 48M "$WORK/clip.mp4" "$ring" 2>"$WORK/ingest.err" ||
        fail "zb-ingest exited with $?"
    local name pid
    for name in fast slow holder; do
        pid=$fast
        [[ $name == slow ]] && pid=$slow
        [[ $name == holder ]] && pid=$holder
        wait_pid "$pid" 60; [[ "$RC" == 0 ]] || fail "the $name reader exited with $RC: $(cat "$WORK/$name.err")"
    done
    local seen
    for name in fast slow; do
        seen=$(md5_lines_match "$WORK/expected.md5" "$WORK/$name.txt") || fail "$name reader: $seen"
        [[ "$seen" == 90 ]] || fail "the $name lossless reader got $seen frames, expected 90"
    done
    seen=$(md5_lines_match "$WORK/expected.md5" "$WORK/holder.txt") || fail "latest reader: $seen"
    ((seen >= 1)) || fail "the latest reader got no frame"
    expect_contains "$WORK/ingest.err" "90 frames in"
    expect_contains "$WORK/ingest.err" ", 0 dropped, 0 corrupt packets or frames, "
    # Room in a ring this small runs out at times: frames are then copied once, never lost or wrong.
    local in_place copied
    in_place=$(summary_count "$WORK/ingest.err" "in place")
    copied=$(summary_count "$WORK/ingest.err" copied)
    ((in_place + copied == 90 && in_place > 0)) || fail "$in_place in place and $copied copied of 90 frames"
    # How many depends on the readers' timing; those copied are counted and explained.
    ((copied == 0)) || expect_contains "$WORK/ingest.err" "$copied of 90 frames were copied into the ring once: "

    # Only a latest reader, holding 2 frames: the writer reuses everything else at once.
    "$FRAME_MD5" "$ring" --latest --hold 2 >"$WORK/latest.txt" 2>"$WORK/latest.err" &
    holder=$!
    PIDS+=("$holder")
    "$INGEST" --wait-for-reader --ring-size 48M "$WORK/clip.mp4" "$ring" 2>"$WORK/ingest2.err" ||
        fail "zb-ingest exited with $?"
    wait_pid "$holder" 60; [[ "$RC" == 0 ]] || fail "the latest reader exited with $RC: $(cat "$WORK/latest.err")"
    seen=$(md5_lines_match "$WORK/expected.md5" "$WORK/latest.txt") || fail "latest reader alone: $seen"
    expect_contains "$WORK/ingest2.err" "90 in place, 0 copied"

    # The live ring's own counters (zbctl reads the segment): frames decoded in place, none copied.
    "$FRAME_MD5" "$ring" --latest >"$WORK/live.txt" 2>"$WORK/live.err" &
    PIDS+=("$!")
    "$INGEST" --wait-for-reader --realtime "$WORK/clip.mp4" "$ring" 2>"$WORK/ingest3.err" &
    local writer=$!
    PIDS+=("$writer")
    local waited=0
    until (($(grep -c '^frame ' "$WORK/live.txt" || true) >= 10)); do
        sleep 0.1
        waited=$((waited + 1))
        ((waited < 300)) || fail "the latest reader got no 10 frames within 30 s"
    done
    "$ZBCTL" inspect --json "$ring" >"$WORK/inspect.json" || fail "zbctl inspect failed"
    python3 -c 'import json, sys
counters = json.load(open(sys.argv[1]))["writer"]["counters"]
assert counters["frames_in_place"] >= 10 and counters["frames_copied"] == 0 and counters["frames_retained"] >= 10, counters' \
        "$WORK/inspect.json" || fail "the live ring's counters: $(cat "$WORK/inspect.json" | tr -d '\n' | head -c 600)"
    wait_pid "$writer" 30; [[ "$RC" == 0 ]] || fail "zb-ingest --realtime exited with $RC"
    assert_no_rings
}

# An input over the network: the clip served over HTTP on loopback (python3 is there: meson needs it).
case_http() {
    local ring="$PREFIX-http"
    # faststart: the index comes first, so FFmpeg reads the file front to back (a simple server has no ranges).
    clip clip.mp4 1280x720 20 -movflags +faststart
    python3 -c 'import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.log_message = lambda *args: None
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()' "$WORK" >"$WORK/port.txt" 2>"$WORK/http.err" &
    PIDS+=("$!")
    local port=""
    for _ in $(seq 100); do
        port=$(head -n 1 "$WORK/port.txt" 2>/dev/null || true)
        [[ -n "$port" ]] && break
        sleep 0.1
    done
    [[ -n "$port" ]] || fail "the HTTP server did not start"
    "$FRAME_MD5" "$ring" >"$WORK/frames.txt" 2>"$WORK/reader.err" &
    local reader=$!
    PIDS+=("$reader")
    "$INGEST" --wait-for-reader --timeout 10 "http://127.0.0.1:$port/clip.mp4" "$ring" 2>"$WORK/ingest.err" ||
        fail "zb-ingest over HTTP exited with $?"
    wait_pid "$reader" 60; [[ "$RC" == 0 ]] || fail "reader did not see end-of-stream"
    diff -q <(framemd5 "$WORK/clip.mp4") <(grep '^frame ' "$WORK/frames.txt" | awk '{print $5}') >/dev/null ||
        fail "frames read over HTTP differ from FFmpeg's decode of the file"
    # A path the server does not have.
    local rc=0
    "$INGEST" --timeout 5 "http://127.0.0.1:$port/missing.mp4" "$ring" 2>"$WORK/missing.err" || rc=$?
    [[ "$rc" == 3 ]] || fail "missing HTTP resource: exit $rc, expected 3"
    expect_contains "$WORK/missing.err" "cannot open input 'http://127.0.0.1:$port/missing.mp4': Server returned 404 Not Found"
    assert_no_rings
}

case_help() {
    "$INGEST" --help >"$WORK/ingest-help.txt" || fail "zb-ingest --help exited with $?"
    expect_contains "$WORK/ingest-help.txt" "Usage: zb-ingest [OPTIONS] INPUT RING"
    expect_contains "$WORK/ingest-help.txt" "Examples:"
    expect_contains "$WORK/ingest-help.txt" "--copy"
    expect_contains "$WORK/ingest-help.txt" "decode straight into ring memory"
    "$RECORD" --help >"$WORK/record-help.txt" || fail "zb-record --help exited with $?"
    expect_contains "$WORK/record-help.txt" "Usage: zb-record [OPTIONS] RING OUTPUT"
    expect_contains "$WORK/record-help.txt" "Examples:"
    local rc=0
    "$INGEST" --bogus a b 2>"$WORK/usage.err" || rc=$?
    [[ "$rc" == 2 ]] || fail "unknown option gave exit $rc, expected 2"
    expect_contains "$WORK/usage.err" "zb-ingest: The following argument was not expected: --bogus"
    expect_contains "$WORK/usage.err" "Run 'zb-ingest --help' for usage and examples."
    rc=0
    "$RECORD" onlyring 2>"$WORK/usage2.err" || rc=$?
    [[ "$rc" == 2 ]] || fail "missing OUTPUT gave exit $rc, expected 2"
    expect_contains "$WORK/usage2.err" "zb-record: OUTPUT is required"
    rc=0
    "$INGEST" --pix-fmt nosuchfmt in ring 2>"$WORK/usage3.err" || rc=$?
    [[ "$rc" == 2 ]] || fail "bad --pix-fmt gave exit $rc, expected 2"
    expect_contains "$WORK/usage3.err" "unknown or unsupported pixel format 'nosuchfmt': use one of I420, NV12"
    # Bad values (docs/cli.md): exit 2 before anything is opened or created, the message names the option.
    expect_usage_error "$INGEST" "--ring-size: needs a byte count like 65536, 64K, 64M or 1G, not '64x'" \
        --ring-size 64x in "$PREFIX-usage"
    expect_usage_error "$INGEST" "--ring-size: needs a byte count" --ring-size -1 in "$PREFIX-usage"
    expect_usage_error "$INGEST" "--frames: needs a whole number of at least 1, not '-5'" --frames -5 in "$PREFIX-usage"
    expect_usage_error "$INGEST" "--timeout: needs seconds like 10 or 2.5, not 'nan'" --timeout nan in "$PREFIX-usage"
    expect_usage_error "$INGEST" "--input-option: needs KEY=VALUE" -o video_size in "$PREFIX-usage"
    expect_usage_error "$INGEST" "--audio-ring must name another ring than the video ring '$PREFIX-usage'" \
        --audio-ring "$PREFIX-usage" in "$PREFIX-usage"
    expect_usage_error "$RECORD" "--frames: needs a whole number of at least 1, not '-1'" --frames -1 ring "$WORK/out.mp4"
    expect_usage_error "$RECORD" "--bitrate: needs bits per second like 4000000, 4000K or 4M" --bitrate 4X ring "$WORK/out.mp4"
    expect_usage_error "$RECORD" "--crf: needs a whole number from 0 to 63, not '64'" --crf 64 ring "$WORK/out.mp4"
    expect_usage_error "$RECORD" "--wait-timeout: needs seconds" --wait-timeout -2 ring "$WORK/out.mp4"
    [[ ! -e "$WORK/out.mp4" ]] || fail "a bad command line wrote a file"
    assert_no_rings
    # --version, and a completion script that bash accepts and that completes each program's options.
    local program name complete_fn option
    for program in "$INGEST" "$RECORD"; do
        name=$(basename "$program")
        "$program" --version >"$WORK/version.txt" || fail "$name --version exited with $?"
        expect_contains "$WORK/version.txt" "$name "
        expect_contains "$WORK/version.txt" "FFmpeg "
        "$program" --completion bash >"$WORK/$name.bash" || fail "$name --completion bash exited with $?"
        bash -n "$WORK/$name.bash" || fail "bash -n refuses the completion script of $name"
        expect_contains "$WORK/$name.bash" "complete -o filenames -F "
        complete_fn=$(sed -n 's/^complete -o filenames -F \([^ ]*\) .*/\1/p' "$WORK/$name.bash")
        bash -c 'source "$1"; COMP_WORDS=("$2" "$3"); COMP_CWORD=1; "$4"; printf "%s\n" "${COMPREPLY[@]}"' _ \
            "$WORK/$name.bash" "$name" --fr "$complete_fn" >"$WORK/$name.completed" || fail "$name completion failed"
        expect_contains "$WORK/$name.completed" "--frames"
    done
    for option in --ring-size --no-decode --audio-ring --wait-for-readers --input-option --pix-fmt; do
        expect_contains "$WORK/zb-ingest.bash" " $option"
    done
    for option in --no-reconnect --encoder-option --bitrate --audio-ring --wait-timeout; do
        expect_contains "$WORK/zb-record.bash" " $option"
    done
}

# expect_usage_error PROGRAM MESSAGE ARGS...: a bad command line exits 2 with MESSAGE and the pointer to --help.
expect_usage_error() {
    local program=$1 message=$2 rc=0
    shift 2
    "$program" "$@" 2>"$WORK/usage.err" || rc=$?
    [[ "$rc" == 2 ]] || fail "$(basename "$program") $* exited with $rc, expected 2: $(cat "$WORK/usage.err")"
    expect_contains "$WORK/usage.err" "$message"
    expect_contains "$WORK/usage.err" "Run '$(basename "$program") --help' for usage and examples."
}

case_convert() {
    local ring="$PREFIX-convert"
    clip clip.mp4 1920x1080 10
    # The same conversion through the ffmpeg CLI's scale filter (bicubic, like zb-ingest).
    framemd5 "$WORK/clip.mp4" -vf scale=1280:720:flags=bicubic -pix_fmt nv12 >"$WORK/expected.md5"
    "$FRAME_MD5" "$ring" >"$WORK/frames.txt" 2>"$WORK/reader.err" &
    local reader=$!
    PIDS+=("$reader")
    "$INGEST" --wait-for-reader --pix-fmt NV12 --size 1280x720 "$WORK/clip.mp4" "$ring" 2>"$WORK/ingest.err" ||
        fail "zb-ingest exited with $?"
    wait_pid "$reader" 60; [[ "$RC" == 0 ]] || fail "reader did not see end-of-stream"
    expect_contains "$WORK/frames.txt" "\"pixel_format\":\"NV12\""
    expect_contains "$WORK/frames.txt" "\"planes\":[{\"offset\":0,\"stride\":1280},{\"offset\":921600,\"stride\":1280}]"
    grep '^frame ' "$WORK/frames.txt" | awk '{print $5}' >"$WORK/actual.md5"
    [[ $(wc -l <"$WORK/actual.md5") == 10 ]] || fail "read $(wc -l <"$WORK/actual.md5") frames, expected 10"
    diff -q "$WORK/expected.md5" "$WORK/actual.md5" >/dev/null ||
        fail "converted frames differ from ffmpeg's scale filter: $(diff "$WORK/expected.md5" "$WORK/actual.md5" | head -3)"
    assert_no_rings
}

case_passthrough_h264() {
    local ring="$PREFIX-h264"
    # B-frames (veryfast) so that pts and dts differ; a keyframe every 15 frames.
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30" -frames:v 60 \
        -c:v libx264 -preset veryfast -g 15 -pix_fmt yuv420p "$WORK/clip.mp4" || fail "cannot make clip"
    local out
    for out in copy.mp4 copy.mkv; do
        "$FRAME_MD5" "$ring" >"$WORK/frames-$out.txt" 2>"$WORK/reader.err" &
        local reader=$!
        "$RECORD" --wait-timeout 30 "$ring" "$WORK/$out" 2>"$WORK/record.err" &
        local recorder=$!
        PIDS+=("$reader" "$recorder")
        # Both readers must be attached before the first frame.
        "$INGEST" --no-decode --wait-for-readers 2 "$WORK/clip.mp4" "$ring" 2>"$WORK/ingest.err" ||
            fail "zb-ingest --no-decode exited with $?"
        wait_pid "$recorder" 60; [[ "$RC" == 0 ]] || fail "zb-record exited non-zero"
        wait_pid "$reader" 60; [[ "$RC" == 0 ]] || fail "reader did not see end-of-stream"
        plays "$WORK/$out"
        [[ $(frame_count "$WORK/$out") == 60 ]] || fail "$out has $(frame_count "$WORK/$out") frames, expected 60"
        # Matroska stores milliseconds: compare at the precision of the container.
        local digits=6
        [[ "$out" == *.mkv ]] && digits=3
        diff <(packet_times "$WORK/clip.mp4" | sort -n | awk -v d=$digits '{printf "%.*f\n", d, $1}') \
            <(packet_times "$WORK/$out" | sort -n | awk -v d=$digits '{printf "%.*f\n", d, $1}') >"$WORK/times.diff" ||
            fail "$out timestamps differ from the source: $(head -4 "$WORK/times.diff")"
        # Remuxing is lossless: the decoded pictures are identical.
        diff -q <(framemd5 "$WORK/clip.mp4") <(framemd5 "$WORK/$out") >/dev/null || fail "$out decodes differently"
    done
    local frames="$WORK/frames-copy.mp4.txt"
    expect_contains "$frames" "\"media_type\":\"video/x-h264\""
    expect_contains "$frames" "\"codec\":\"h264\""
    expect_contains "$frames" "\"codec_extradata\":"
    expect_contains "$frames" "\"stream_format\":\"byte-stream\""
    expect_contains "$frames" "video/x-h264, stream-format=(string)byte-stream, alignment=(string)au"
    # Keyframe flags (bit 0) on exactly the source's keyframes: 60 frames, one every 15.
    local keyframes
    keyframes=$(grep '^frame ' "$frames" | awk '$4 % 2 == 1' | wc -l)
    [[ "$keyframes" == 4 ]] || fail "$keyframes frames carry the keyframe flag, expected 4"
    assert_no_rings
}

case_encode_raw() {
    # 638x360: odd chroma width, so the ring's strides (640, 320) carry padding that zb-record must skip.
    local ring="$PREFIX-raw" size
    for size in 638x360 1920x1080; do
        clip "clip-$size.mp4" "$size" 20
        "$RECORD" --wait-timeout 30 -e qp=0 "$ring" "$WORK/lossless-$size.mp4" 2>"$WORK/record.err" &
        local recorder=$!
        PIDS+=("$recorder")
        "$INGEST" --wait-for-reader "$WORK/clip-$size.mp4" "$ring" 2>"$WORK/ingest.err" || fail "zb-ingest exited"
        wait_pid "$recorder" 120; [[ "$RC" == 0 ]] || fail "zb-record exited non-zero"
        plays "$WORK/lossless-$size.mp4"
        [[ $(frame_count "$WORK/lossless-$size.mp4") == 20 ]] || fail "recorded $(frame_count "$WORK/lossless-$size.mp4") frames, expected 20"
        # Lossless x264 (qp 0): the recorded pictures are exactly the ingested ones.
        diff -q <(framemd5 "$WORK/clip-$size.mp4") <(framemd5 "$WORK/lossless-$size.mp4") >/dev/null ||
            fail "lossless recording of $size differs from the source"
    done
    expect_contains "$WORK/record.err" "20 frames in"
    expect_contains "$WORK/record.err" "end of stream"
    # Another encoder and container, with a pixel format conversion (ffv1 takes yuv420p; we ask for yuv444p).
    "$RECORD" --wait-timeout 30 --codec ffv1 --pix-fmt yuv444p "$ring" "$WORK/ffv1.mkv" 2>"$WORK/record2.err" &
    local recorder=$!
    PIDS+=("$recorder")
    "$INGEST" --wait-for-reader "$WORK/clip-638x360.mp4" "$ring" 2>"$WORK/ingest.err" || fail "zb-ingest exited"
    wait_pid "$recorder" 60; [[ "$RC" == 0 ]] || fail "zb-record --codec ffv1 exited non-zero"
    plays "$WORK/ffv1.mkv"
    [[ $(frame_count "$WORK/ffv1.mkv") == 20 ]] || fail "ffv1 recording has $(frame_count "$WORK/ffv1.mkv") frames"
    ffprobe -v error -show_entries stream=codec_name,pix_fmt -of csv=p=0 "$WORK/ffv1.mkv" | grep -q '^ffv1,yuv444p$' ||
        fail "ffv1.mkv is $(ffprobe -v error -show_entries stream=codec_name,pix_fmt -of csv=p=0 "$WORK/ffv1.mkv")"
    assert_no_rings
}

# expect_ingest_error EXIT_CODE MESSAGE ARGS...: zb-ingest fails with that code and message, and leaves no ring.
expect_ingest_error() {
    local code=$1 message=$2 rc=0
    shift 2
    "$INGEST" "$@" 2>"$WORK/error.err" || rc=$?
    [[ "$rc" == "$code" ]] || fail "zb-ingest $* exited with $rc, expected $code: $(cat "$WORK/error.err")"
    expect_contains "$WORK/error.err" "$message"
    assert_no_rings
}

case_passthrough_hevc() {
    local ring="$PREFIX-hevc"
    local encoders
    encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null)
    if [[ "$encoders" != *" libx265 "* ]]; then
        echo "SKIP: this ffmpeg has no libx265 encoder to make an H.265 clip"
        exit 77
    fi
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=640x360:rate=30" -frames:v 30 -c:v libx265 \
        -preset ultrafast -x265-params log-level=none "$WORK/clip.mp4" || fail "cannot make clip"
    "$FRAME_MD5" "$ring" >"$WORK/frames.txt" 2>"$WORK/reader.err" &
    local reader=$!
    "$RECORD" --wait-timeout 30 "$ring" "$WORK/copy.mp4" 2>"$WORK/record.err" &
    local recorder=$!
    PIDS+=("$reader" "$recorder")
    "$INGEST" --no-decode --wait-for-readers 2 "$WORK/clip.mp4" "$ring" 2>"$WORK/ingest.err" || fail "zb-ingest failed"
    wait_pid "$recorder" 60; [[ "$RC" == 0 ]] || fail "zb-record exited non-zero"
    wait_pid "$reader" 60; [[ "$RC" == 0 ]] || fail "reader did not see end-of-stream"
    expect_contains "$WORK/frames.txt" "\"media_type\":\"video/x-h265\""
    expect_contains "$WORK/frames.txt" "\"codec\":\"hevc\""
    plays "$WORK/copy.mp4"
    diff -q <(framemd5 "$WORK/clip.mp4") <(framemd5 "$WORK/copy.mp4") >/dev/null || fail "H.265 remux decodes differently"
    assert_no_rings
}

case_lavfi() {
    local ring="$PREFIX-lavfi"
    "$FRAME_MD5" "$ring" >"$WORK/frames.txt" 2>"$WORK/reader.err" &
    local reader=$!
    PIDS+=("$reader")
    "$INGEST" --wait-for-reader --format lavfi --frames 12 "testsrc2=size=320x240:rate=25" "$ring" \
        2>"$WORK/ingest.err" || fail "zb-ingest from lavfi exited with $?"
    wait_pid "$reader" 30; [[ "$RC" == 0 ]] || fail "reader did not see end-of-stream"
    [[ $(grep -c '^frame ' "$WORK/frames.txt") == 12 ]] || fail "--frames 12 gave $(grep -c '^frame ' "$WORK/frames.txt") frames"
    # Same frames as the ffmpeg CLI makes from the same source.
    diff -q <(ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x240:rate=25" -frames:v 12 -f framemd5 - |
        grep -v '^#' | awk -F', *' '{print $6}') <(grep '^frame ' "$WORK/frames.txt" | awk '{print $5}') >/dev/null ||
        fail "lavfi frames differ from the ffmpeg CLI's"
    expect_contains "$WORK/frames.txt" "framerate=(fraction)25/1"
    assert_no_rings
}

case_bad_input() {
    local ring="$PREFIX-bad"
    expect_ingest_error 3 "zb-ingest: error: cannot open input '$WORK/missing.mp4': No such file or directory - check the path" \
        "$WORK/missing.mp4" "$ring"
    expect_ingest_error 3 "cannot open input 'tcp://127.0.0.1:1': Connection refused - check the URL and that the server is running" \
        --timeout 2 tcp://127.0.0.1:1 "$ring"
    # Unroutable address: nothing answers, so the timeout ends it.
    expect_ingest_error 3 "cannot open input 'tcp://10.255.255.1:9': " --timeout 1 tcp://10.255.255.1:9 "$ring"
    head -c 200000 /dev/zero | tr '\0' 'x' >"$WORK/garbage.mp4"
    expect_ingest_error 3 "Invalid data found when processing input - the file is corrupt, truncated or not a media file FFmpeg can read" \
        "$WORK/garbage.mp4" "$ring"
    clip clip.mp4 640x360 30
    head -c 20000 "$WORK/clip.mp4" >"$WORK/truncated.mp4"
    expect_ingest_error 3 "the file is corrupt, truncated or not a media file" "$WORK/truncated.mp4" "$ring"
    expect_ingest_error 2 "unknown input format 'nosuchformat'" --format nosuchformat "$WORK/clip.mp4" "$ring"
    expect_ingest_error 2 "input option 'no_such_option' is not known to the mov,mp4,m4a,3gp,3g2,mj2 demuxer" \
        -o no_such_option=1 "$WORK/clip.mp4" "$ring"
    ffmpeg -nostdin -v error -y -f lavfi -i "sine=frequency=440:duration=1" "$WORK/audio.wav"
    expect_ingest_error 3 "has no video stream" "$WORK/audio.wav" "$ring"
    expect_ingest_error 2 "--no-decode excludes --size" --no-decode --size 64x64 \
        "$WORK/clip.mp4" "$ring"
    # A ring smaller than one frame: the decoder's first picture (decoded in place) and the copy path say so alike.
    local option
    for option in --verbose --copy; do
        expect_ingest_error 4 "bytes does not fit in ring '$ring' (at most 65536 bytes): use a larger --ring-size" \
            --ring-size 64K "$option" "$WORK/clip.mp4" "$ring"
    done
    expect_ingest_error 2 "--ring-size: needs a whole number of at least 1, not '0'" --ring-size 0 "$WORK/clip.mp4" "$ring"
    expect_ingest_error 2 "--ring-size: needs a byte count like 65536, 64K, 64M or 1G, not '12Q'" --ring-size 12Q \
        "$WORK/clip.mp4" "$ring"
    expect_ingest_error 2 "--threads: needs a whole number from 0 to 64, not '65'" --threads 65 "$WORK/clip.mp4" "$ring"
    expect_ingest_error 2 "--no-decode excludes --copy" --no-decode --copy "$WORK/clip.mp4" "$ring"
    # A writer already on the ring: exit 4, the ring of the other writer is untouched.
    "$INGEST" --realtime --loop "$WORK/clip.mp4" "$ring" 2>"$WORK/first.err" &
    local first=$!
    PIDS+=("$first")
    local waited=0
    until [[ -e "/dev/shm/zb-$ring" ]]; do
        sleep 0.1
        waited=$((waited + 1))
        ((waited < 100)) || fail "first writer did not create its ring"
    done
    local rc=0
    "$INGEST" "$WORK/clip.mp4" "$ring" 2>"$WORK/busy.err" || rc=$?
    [[ "$rc" == 4 ]] || fail "second writer exited with $rc, expected 4"
    expect_contains "$WORK/busy.err" "cannot create ring '$ring': "
    expect_contains "$WORK/busy.err" "already has a live writer"
    kill -INT "$first"
    wait_pid "$first" 20; [[ "$RC" == 0 ]] || fail "zb-ingest did not stop cleanly on SIGINT"
    expect_contains "$WORK/first.err" "stopped by signal"
    assert_no_rings
}

case_corrupt_middle() {
    local ring="$PREFIX-corrupt"
    # An elementary H.264 stream with a keyframe every 10 frames; bytes in the middle are overwritten.
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=640x360:rate=30" -frames:v 60 -c:v libx264 \
        -preset ultrafast -g 10 -pix_fmt yuv420p -f h264 "$WORK/clip.h264" || fail "cannot make clip"
    local size
    size=$(stat -c %s "$WORK/clip.h264")
    head -c 3000 /dev/urandom >"$WORK/noise"
    dd if="$WORK/noise" of="$WORK/clip.h264" bs=1 seek=$((size / 2)) conv=notrunc status=none
    "$FRAME_MD5" "$ring" >"$WORK/frames.txt" 2>"$WORK/reader.err" &
    local reader=$!
    PIDS+=("$reader")
    local rc=0
    "$INGEST" --wait-for-reader "$WORK/clip.h264" "$ring" 2>"$WORK/ingest.err" || rc=$?
    [[ "$rc" == 0 ]] || fail "zb-ingest stopped on a corrupt packet (exit $rc)"
    wait_pid "$reader" 60; [[ "$RC" == 0 ]] || fail "reader did not see end-of-stream"
    expect_contains "$WORK/ingest.err" "zb-ingest: warning: corrupt"
    local frames
    frames=$(grep -c '^frame ' "$WORK/frames.txt")
    ((frames >= 50)) || fail "only $frames of 60 frames came through after the corrupt packet"
    # Frames after the damage (the last keyframe interval) still arrive intact.
    diff -q <(framemd5 "$WORK/clip.h264" 2>/dev/null | tail -n 5) \
        <(grep '^frame ' "$WORK/frames.txt" | awk '{print $5}' | tail -n 5) >/dev/null ||
        fail "the frames after the damaged part differ from FFmpeg's decode"

    # Pass-through of an MPEG-TS whose middle packets lost their sync bytes: the demuxer flags the damaged
    # packet; zb-ingest reports it, writes it with kFrameCorrupted (16) and goes on to the end.
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=640x360:rate=30" -frames:v 60 -c:v libx264 \
        -preset ultrafast -g 10 -pix_fmt yuv420p -f mpegts "$WORK/clip.ts" || fail "cannot make clip"
    size=$(stat -c %s "$WORK/clip.ts")
    head -c 2000 /dev/zero | tr '\0' '\377' >"$WORK/ff"
    dd if="$WORK/ff" of="$WORK/clip.ts" bs=1 seek=$((size / 2)) conv=notrunc status=none
    "$FRAME_MD5" "$ring" >"$WORK/ts-frames.txt" 2>"$WORK/reader.err" &
    reader=$!
    PIDS+=("$reader")
    "$INGEST" --no-decode --wait-for-reader "$WORK/clip.ts" "$ring" 2>"$WORK/ingest-ts.err" ||
        fail "zb-ingest --no-decode stopped on a damaged TS packet"
    wait_pid "$reader" 60; [[ "$RC" == 0 ]] || fail "reader did not see end-of-stream"
    expect_contains "$WORK/ingest-ts.err" "(the demuxer lost data; written flagged corrupted)"
    local flagged
    flagged=$(grep '^frame ' "$WORK/ts-frames.txt" | awk 'int($4 / 16) % 2 == 1' | wc -l)
    ((flagged >= 1)) || fail "no frame carries kFrameCorrupted"
    frames=$(grep -c '^frame ' "$WORK/ts-frames.txt")
    ((frames >= 55)) || fail "only $frames frames came through the damaged TS"
    assert_no_rings
}

# start_realtime_writer RING: a writer that keeps going (realtime loop) until stopped.
start_realtime_writer() {
    "$INGEST" --realtime --loop "$WORK/clip.mp4" "$1" 2>"$WORK/ingest.err" &
    WRITER=$!
    PIDS+=("$WRITER")
}

case_sigint_record() {
    local ring="$PREFIX-sigint"
    clip clip.mp4 640x360 30
    start_realtime_writer "$ring"
    "$RECORD" --wait-timeout 30 "$ring" "$WORK/out.mp4" 2>"$WORK/record.err" &
    local recorder=$!
    PIDS+=("$recorder")
    sleep 2
    kill -INT "$recorder"
    wait_pid "$recorder" 20; [[ "$RC" == 0 ]] || fail "zb-record exited non-zero after SIGINT"
    expect_contains "$WORK/record.err" "stopped by signal"
    plays "$WORK/out.mp4"
    local frames
    frames=$(frame_count "$WORK/out.mp4")
    ((frames >= 5)) || fail "only $frames frames recorded in 2 s of a 30 fps stream"
    # SIGTERM works the same way.
    "$RECORD" --wait-timeout 30 "$ring" "$WORK/out2.mkv" 2>"$WORK/record2.err" &
    recorder=$!
    PIDS+=("$recorder")
    sleep 1.5
    kill -TERM "$recorder"
    wait_pid "$recorder" 20; [[ "$RC" == 0 ]] || fail "zb-record exited non-zero after SIGTERM"
    plays "$WORK/out2.mkv"
    kill -INT "$WRITER"
    wait_pid "$WRITER" 20; [[ "$RC" == 0 ]] || fail "zb-ingest did not stop cleanly"
    assert_no_rings
}

case_writer_killed() {
    local ring="$PREFIX-killed"
    clip clip.mp4 640x360 30
    start_realtime_writer "$ring"
    "$RECORD" --no-reconnect --wait-timeout 30 "$ring" "$WORK/out.mp4" 2>"$WORK/record.err" &
    local recorder=$!
    PIDS+=("$recorder")
    sleep 2
    kill -9 "$WRITER"
    wait_pid "$recorder" 20; [[ "$RC" == 0 ]] || fail "zb-record did not finish after the writer died"
    expect_contains "$WORK/record.err" "the writer of ring '$ring' is gone without end-of-stream; finishing the file"
    plays "$WORK/out.mp4"
    local frames
    frames=$(frame_count "$WORK/out.mp4")
    ((frames >= 5)) || fail "only $frames frames recorded before the writer died"
    # zb-record, the last reader of the dead writer's ring, removed it as it left: no gc needed.
    assert_no_rings
}

case_writer_restart() {
    local ring="$PREFIX-restart"
    clip clip.mp4 640x360 30
    start_realtime_writer "$ring"
    "$RECORD" --wait-timeout 30 "$ring" "$WORK/out.mp4" 2>"$WORK/record.err" &
    local recorder=$!
    PIDS+=("$recorder")
    sleep 1.5
    kill -9 "$WRITER"
    wait_for_text "$WORK/record.err" "waiting for a new writer of ring '$ring'" 10
    # A new writer takes the ring over; the recording continues in the same file until its end-of-stream.
    "$INGEST" --wait-for-reader "$WORK/clip.mp4" "$ring" 2>"$WORK/ingest2.err" || fail "second writer failed"
    wait_pid "$recorder" 30; [[ "$RC" == 0 ]] || fail "zb-record exited non-zero"
    plays "$WORK/out.mp4"
    local frames
    frames=$(frame_count "$WORK/out.mp4")
    ((frames >= 35)) || fail "$frames frames recorded; expected the first writer's and all 30 of the second's"
    # Timestamps keep increasing across the restart.
    packet_times "$WORK/out.mp4" | sort -n | uniq -d | grep -q . && fail "repeated timestamps after the restart"
    assert_no_rings
}

case_record_errors() {
    local rc=0
    "$RECORD" --no-wait "$PREFIX-missing" "$WORK/out.mp4" 2>"$WORK/e1.err" || rc=$?
    [[ "$rc" == 3 ]] || fail "--no-wait on a missing ring exited $rc, expected 3"
    expect_contains "$WORK/e1.err" "ring '$PREFIX-missing' does not exist - start its writer first, or drop --no-wait"
    [[ ! -e "$WORK/out.mp4" ]] || fail "a file was written without frames"
    rc=0
    "$RECORD" --wait-timeout 0.5 "$PREFIX-missing" "$WORK/out.mp4" 2>"$WORK/e2.err" || rc=$?
    [[ "$rc" == 3 ]] || fail "--wait-timeout on a missing ring exited $rc, expected 3"
    expect_contains "$WORK/e2.err" "did not appear within --wait-timeout"
    rc=0
    "$RECORD" ring "$WORK/out.unknownext" 2>"$WORK/e3.err" || rc=$?
    [[ "$rc" == 2 ]] || fail "unknown extension exited $rc, expected 2"
    expect_contains "$WORK/e3.err" "cannot tell the container from"
    rc=0
    "$RECORD" --codec nosuchcodec ring "$WORK/out.mp4" 2>"$WORK/e4.err" || rc=$?
    [[ "$rc" == 2 ]] || fail "unknown encoder exited $rc, expected 2"
    expect_contains "$WORK/e4.err" "unknown encoder 'nosuchcodec'"
    # An output folder that does not exist: exit 4 once the first frame arrives.
    local ring="$PREFIX-rec"
    clip clip.mp4 320x240 5
    "$RECORD" --wait-timeout 30 "$ring" "$WORK/no/such/dir/out.mp4" 2>"$WORK/e5.err" &
    local recorder=$!
    PIDS+=("$recorder")
    "$INGEST" --wait-for-reader --reader-timeout 2000 "$WORK/clip.mp4" "$ring" 2>"$WORK/ingest.err" || true
    wait_pid "$recorder" 30; rc=$RC
    [[ "$rc" == 4 ]] || fail "unwritable output exited $rc, expected 4"
    expect_contains "$WORK/e5.err" "cannot create '$WORK/no/such/dir/out.mp4': No such file or directory - check the folder exists and is writable"
    assert_no_rings
}

# A stream that changes size mid-recording (two clips of two sizes in one MPEG-TS): zb-record finishes the file
# with the frames of the first size, exits 3, and its summary says that the change stopped it, not end of stream.
case_record_format_change() {
    local ring="$PREFIX-change"
    clip big.ts 640x480 15
    clip small.ts 320x240 15
    cat "$WORK/big.ts" "$WORK/small.ts" >"$WORK/sizes.ts"
    "$RECORD" --wait-timeout 30 "$ring" "$WORK/out.mkv" 2>"$WORK/record.err" &
    local recorder=$!
    PIDS+=("$recorder")
    "$INGEST" --wait-for-reader "$WORK/sizes.ts" "$ring" 2>"$WORK/ingest.err" || fail "zb-ingest exited with $?"
    wait_pid "$recorder" 60
    [[ "$RC" == 3 ]] || fail "zb-record exited $RC at a change of stream format, expected 3"
    expect_contains "$WORK/record.err" "the ring's stream changed to video/x-raw 320x240 mid-recording"
    expect_contains "$WORK/record.err" "zb-record: 15 frames in"
    expect_contains "$WORK/record.err" "stopped at a change of stream format, wrote $WORK/out.mkv"
    ! grep -q "end of stream" "$WORK/record.err" || fail "the summary says end of stream: $(cat "$WORK/record.err")"
    plays "$WORK/out.mkv"
    [[ $(frame_count "$WORK/out.mkv") == 15 ]] || fail "recorded $(frame_count "$WORK/out.mkv") frames, expected 15"
    assert_no_rings
}

# Rings whose stream format or frames do not add up: zb-record must refuse or skip them, never read out of bounds.
case_hostile_ring() {
    local ring="$PREFIX-hostile" mode rc
    for mode in planes-out-of-bounds no-metadata short-frame; do
        "$RECORD" --wait-timeout 30 "$ring" "$WORK/$mode.mkv" 2>"$WORK/$mode.err" &
        local recorder=$!
        PIDS+=("$recorder")
        "$HOSTILE_WRITER" "$ring" "$mode" 2>"$WORK/writer.err" || fail "zb-hostile-writer $mode failed"
        wait_pid "$recorder" 30
        rc=$RC
        case "$mode" in
        planes-out-of-bounds)
            [[ "$rc" == 3 ]] || fail "out-of-bounds planes: exit $rc, expected 3"
            expect_contains "$WORK/$mode.err" "plane 2 (offset 115200, stride 160, 120 rows) runs past the frame payload of 115200 bytes"
            [[ ! -e "$WORK/$mode.mkv" ]] || fail "a file was written from a ring with impossible planes"
            ;;
        no-metadata)
            [[ "$rc" == 3 ]] || fail "no stream metadata: exit $rc, expected 3"
            expect_contains "$WORK/$mode.err" "has no stream metadata, so its frames cannot be interpreted"
            ;;
        short-frame)
            [[ "$rc" == 0 ]] || fail "one short frame: exit $rc, expected 0"
            expect_contains "$WORK/$mode.err" "has 57600 bytes, less than its format's 115200: skipped"
            expect_contains "$WORK/$mode.err" "1 bad frames skipped"
            plays "$WORK/$mode.mkv"
            [[ $(frame_count "$WORK/$mode.mkv") == 9 ]] || fail "recorded $(frame_count "$WORK/$mode.mkv") frames, expected 9"
            ;;
        esac
    done
    assert_no_rings
}

case_gst_roundtrip() {
    command -v gst-launch-1.0 >/dev/null || fail "gst-launch-1.0 is missing"
    gst-inspect-1.0 zerobuffersrc >/dev/null 2>&1 || fail "the zerobuffer GStreamer plugin is not in GST_PLUGIN_PATH"
    local ring_in="$PREFIX-gst-in" ring_out="$PREFIX-gst-out"
    clip clip.mp4 1920x1080 20
    # zb-ingest -> ring -> zerobuffersrc ! zerobuffersink -> ring -> zb-record (lossless), each its own process.
    "$RECORD" --wait-timeout 60 -e qp=0 "$ring_out" "$WORK/out.mp4" 2>"$WORK/record.err" &
    local recorder=$!
    "$INGEST" --wait-for-reader "$WORK/clip.mp4" "$ring_in" 2>"$WORK/ingest.err" &
    local ingest=$!
    PIDS+=("$recorder" "$ingest")
    sleep 0.5
    timeout 90 gst-launch-1.0 -q zerobuffersrc "ring=$ring_in" ! queue ! \
        zerobuffersink "ring=$ring_out" wait-for-reader=true >"$WORK/gst.out" 2>"$WORK/gst.err" ||
        fail "gst-launch-1.0 failed: $(tail -5 "$WORK/gst.err")"
    wait_pid "$ingest" 30; [[ "$RC" == 0 ]] || fail "zb-ingest exited non-zero"
    wait_pid "$recorder" 60; [[ "$RC" == 0 ]] || fail "zb-record exited non-zero"
    plays "$WORK/out.mp4"
    [[ $(frame_count "$WORK/out.mp4") == 20 ]] || fail "round trip recorded $(frame_count "$WORK/out.mp4") frames"
    diff -q <(framemd5 "$WORK/clip.mp4") <(framemd5 "$WORK/out.mp4") >/dev/null ||
        fail "frames changed on the way through GStreamer"

    # GStreamer producers into zb-record: odd-width raw video (padded strides) in planar, packed RGB and packed
    # YUV formats (the last two converted for the encoder), and H.264 in both packagings.
    local packaging
    for packaging in I420 BGRx YUY2 byte-stream avc; do
        local raw_format=$packaging
        [[ "$packaging" == byte-stream || "$packaging" == avc ]] && raw_format=I420
        local pipeline=(videotestsrc num-buffers=45 ! "video/x-raw,format=$raw_format,width=638,height=360,framerate=30/1")
        if [[ "$packaging" == byte-stream || "$packaging" == avc ]]; then
            pipeline+=(! x264enc speed-preset=ultrafast key-int-max=15 ! h264parse !
                "video/x-h264,stream-format=$packaging,alignment=au")
        fi
        "$RECORD" --wait-timeout 60 "$ring_out" "$WORK/gst.mkv" 2>"$WORK/record-gst.err" &
        recorder=$!
        PIDS+=("$recorder")
        timeout 90 gst-launch-1.0 -q "${pipeline[@]}" ! zerobuffersink "ring=$ring_out" wait-for-reader=true \
            >"$WORK/gst.out" 2>"$WORK/gst.err" || fail "gst-launch-1.0 ($packaging) failed: $(tail -5 "$WORK/gst.err")"
        wait_pid "$recorder" 60; [[ "$RC" == 0 ]] || fail "zb-record of the $packaging ring exited with $RC"
        plays "$WORK/gst.mkv"
        [[ $(frame_count "$WORK/gst.mkv") == 45 ]] ||
            fail "$packaging: recorded $(frame_count "$WORK/gst.mkv") frames, expected 45"
    done
    assert_no_rings
}

case "$CASE" in
help) case_help ;;
http) case_http ;;
decode-1080p) decode_and_compare 1920x1080 30 ;;
decode-4k) decode_and_compare 3840x2160 30 ;;
decode-copy) case_decode_copy ;;
decode-small-ring) case_decode_small_ring ;;
decode-held-copy) case_decode_held_copy ;;
decode-readers) case_decode_readers ;;
convert) case_convert ;;
passthrough-h264) case_passthrough_h264 ;;
passthrough-hevc) case_passthrough_hevc ;;
lavfi) case_lavfi ;;
encode-raw) case_encode_raw ;;
bad-input) case_bad_input ;;
corrupt-middle) case_corrupt_middle ;;
sigint-record) case_sigint_record ;;
writer-killed) case_writer_killed ;;
writer-restart) case_writer_restart ;;
record-errors) case_record_errors ;;
record-format-change) case_record_format_change ;;
gst-roundtrip) case_gst_roundtrip ;;
hostile-ring) case_hostile_ring ;;
*) echo "ffmpeg-test.sh: unknown case '$CASE'" >&2; usage >&2; exit 2 ;;
esac
echo "PASS [$CASE]"
