#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Formats the project's C++ sources with clang-format (.clang-format), or only checks them.
#
# Usage: scripts/format.sh [--check] [FILES...]
#   --check   change nothing; list files that need formatting and exit 1 if any do
#   FILES     only these files (default: every .cpp/.h under the source directories)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=false
files=()
for arg in "$@"; do
    case "$arg" in
        --check) check=true ;;
        -h|--help) sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "format.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
        *) files+=("$arg") ;;
    esac
done
command -v clang-format >/dev/null 2>&1 || { echo "clang-format not found (apt-get install clang-format)" >&2; exit 1; }

if ((${#files[@]} == 0)); then
    dirs=()
    for d in core tools samples tests bench gst-plugins ffmpeg-io relay; do
        [[ -d "$d" ]] && dirs+=("$d")
    done
    mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.hpp' \) | sort)
fi

if $check; then
    bad=0
    for f in "${files[@]}"; do
        if ! clang-format --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
            echo "needs formatting: $f"
            bad=1
        fi
    done
    exit "$bad"
fi
clang-format --style=file -i "${files[@]}"
