#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs clang-tidy (.clang-tidy) over the project's sources, using the compile commands of a build dir.
# Not part of CI: clang-tidy over the whole tree takes minutes on 2 cores; run it before sending a change.
#
# Usage: scripts/tidy.sh [--builddir DIR] [--fix] [PATH_REGEX...]
#   --builddir DIR  build dir with compile_commands.json (default: build, set up by scripts/setup.sh)
#   --fix           apply suggested fixes
#   PATH_REGEX      only files whose path matches (e.g. core/src/writer); default: all project sources
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

builddir=build
extra=()
filters=()
while (($#)); do
    case "$1" in
        --builddir) builddir="${2:?--builddir needs a directory}"; shift 2 ;;
        --fix) extra+=(-fix); shift ;;
        -h|--help) sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "tidy.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
        *) filters+=("$1"); shift ;;
    esac
done

runner="$(command -v run-clang-tidy || command -v run-clang-tidy-14 || true)"
[[ -n "$runner" ]] || { echo "run-clang-tidy not found (apt-get install clang-tidy)" >&2; exit 1; }
[[ -f "$builddir/compile_commands.json" ]] || bash scripts/setup.sh --builddir "$builddir" --no-build

if ((${#filters[@]} == 0)); then
    # Sources in the tree only: generated files in build dirs are not ours to fix.
    filters=("^$root/(core|tools|samples|tests|bench|gst-plugins|ffmpeg-io|relay)/")
fi
exec "$runner" -p "$builddir" -j "${ZB_JOBS:-2}" -quiet "${extra[@]}" "${filters[@]}"
