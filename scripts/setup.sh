#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Prepares a Debian 12 machine and the build dir: installs missing packages, configures and builds `build`.
#
# Usage: scripts/setup.sh [--builddir DIR] [--packages-only] [--no-build] [-Dkey=value ...]
#   --builddir DIR    build directory (default: build)
#   --packages-only   only install missing Debian packages
#   --no-build        configure but do not build
#   -Dkey=value       meson options to apply (a fresh dir also gets -Dbuildtype=debugoptimized)
# Idempotent: when everything is installed and built it only asks dpkg and ninja, which takes a second.
# Environment: ZB_JOBS (ninja jobs, default 2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

builddir=build
packages_only=false
do_build=true
options=()
while (($#)); do
    case "$1" in
        --builddir) builddir="${2:?--builddir needs a directory}"; shift 2 ;;
        --builddir=*) builddir="${1#*=}"; shift ;;
        --packages-only) packages_only=true; shift ;;
        --no-build) do_build=false; shift ;;
        -D*=*) options+=("$1"); shift ;;
        -h|--help) sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) zb_usage_error "unknown argument '$1'" ;;
    esac
done

zb_ensure_packages
$packages_only && exit 0

if [[ ! -f "$builddir/meson-private/coredata.dat" ]]; then
    # Optimised code with assertions and debug info: realistic speed for the demo, useful traces on failure.
    options=(-Dbuildtype=debugoptimized "${options[@]}")
fi
zb_configure "$builddir" "${options[@]}"
if $do_build; then
    zb_build "$builddir"
fi
