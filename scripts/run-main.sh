#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets up and builds, then runs the main demo: a writer and a reader process moving 1080p frames through a
# ring and printing frames/s and latency. Arguments are passed to zb-demo (try --help).
#
# Usage: scripts/run-main.sh [ZB_DEMO_ARGS...]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh

demo=build/samples/zb-demo
if [[ ! -x "$demo" ]]; then
    echo "[zb] error: $demo was not built (is samples/ enabled in this checkout?)" >&2
    exit 1
fi
exec "$demo" "$@"
