#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One command for the SLA report (docs/sla.md): runs the project's benchmarks, checks the figures against the SLAs
# of an SLA file and writes a dated folder with report.json, report.md and PNG plots.
#   scripts/run-sla.sh [--quick] [--sla FILE] [--out DIR] [--build BUILD] [--benches core,gst,ffmpeg,relay,python]
# Exit codes: 0 every SLA passed, 1 an SLA or a bench failed, 2 usage error, 130 interrupted.
# Build first, preferably a release build: bash scripts/setup.sh -Dgstreamer=enabled -Dffmpeg=enabled ...
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's interpreter on purpose: python3-matplotlib and the GStreamer bindings are installed for it.
exec /usr/bin/python3 "$here/../bench/sla/run_sla.py" "$@"
