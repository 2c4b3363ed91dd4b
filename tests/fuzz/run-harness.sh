#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs one libFuzzer harness as a test: replays every committed input of SEEDS (regressions), then fuzzes for
# ZB_FUZZ_SECONDS (default 30) on a scratch corpus in WORK seeded from SEEDS. Crashes go to WORK/artifacts/.
# Usage: run-harness.sh HARNESS SEEDS WORK
# Exit 0: no finding; 1: a crash, leak, timeout or sanitizer report (libFuzzer's output says which input).
set -euo pipefail

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
    sed -n '3,6s/^# \{0,1\}//p' "$0"
    exit 0
fi
if (($# != 3)) || [[ "$1" == -* ]]; then
    echo "usage: $0 HARNESS SEEDS WORK (see $0 for what it does)" >&2
    exit 2
fi
harness="$1" seeds="$2" work="$3"
seconds="${ZB_FUZZ_SECONDS:-30}"
[[ -d "$seeds" ]] || { echo "run-harness.sh: error: no seed corpus $seeds - commit one" >&2; exit 1; }
mkdir -p "$work/corpus" "$work/artifacts"

# Rings of a harness that crashed stay in /dev/shm: remove them, whatever happens.
cleanup()
{
    local pid
    for pid in "${pids[@]}"; do
        rm -f /dev/shm/zb-fuzz-"$pid"-* 2>/dev/null || true
    done
}
pids=()
trap cleanup EXIT

# -timeout: one input may take at most 10 s (a hang is a finding); -rss_limit_mb and -malloc_limit_mb: no input
# may make a reader allocate without bound; -max_len covers the largest seed (a 24 KiB segment image).
common=(-timeout=10 -rss_limit_mb=1536 -malloc_limit_mb=256 -max_len=32768 -artifact_prefix="$work/artifacts/"
        -print_final_stats=1)

echo "== replaying $(find "$seeds" -type f | wc -l) committed inputs of $seeds"
"$harness" "${common[@]}" -runs=0 "$seeds" &
pids+=($!)
wait $!

echo "== fuzzing for $seconds s"
"$harness" "${common[@]}" -max_total_time="$seconds" "$work/corpus" "$seeds" &
pids+=($!)
wait $!
