# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared helpers for scripts/*.sh: Debian package installation and idempotent meson configure/build.
# Sourced, not executed. Callers have `set -euo pipefail` and are in the repository root.

# Parallel jobs for ninja. Kept at 2 by default: the project's machines and CI have 2 cores, and more jobs
# than cores only adds memory pressure during the C++20 compiles.
ZB_JOBS="${ZB_JOBS:-2}"

# Every Debian package any part of the project needs, including the parts of later issues (GStreamer,
# FFmpeg, ZeroMQ), so that a machine set up once stays usable as those parts land.
ZB_PACKAGES=(
    build-essential meson ninja-build pkg-config
    libsodium-dev nlohmann-json3-dev libexpected-dev libgtest-dev
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
    gstreamer1.0-plugins-ugly gstreamer1.0-libav
    libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libavdevice-dev ffmpeg time
    libzmq3-dev
    python3-dev python3-numpy pybind11-dev libdlpack-dev python3-pytest python3-mesonpy python3-venv patchelf
    python3-gi gir1.2-gst-plugins-base-1.0
    python3-matplotlib
    libcpp-httplib-dev python3-prometheus-client
    libcli11-dev
    clang libclang-rt-14-dev
    iproute2 nftables
)

zb_log()
{
    printf '[zb] %s\n' "$*" >&2
}

zb_die()
{
    printf '[zb] error: %s\n' "$*" >&2
    exit 1
}

# A wrong command line: the message, a pointer to --help, exit status 2 (docs/errors.md).
zb_usage_error()
{
    printf '[zb] error: %s (see %s --help)\n' "$*" "$0" >&2
    exit 2
}

# True if the Debian package is fully installed. dpkg-query fails for unknown packages, which counts as missing.
zb_pkg_installed()
{
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1
    [[ "$status" == "install ok installed" ]]
}

# Installs the packages of ZB_PACKAGES that are missing; does nothing (and needs no root) when all are there.
zb_ensure_packages()
{
    if ! command -v dpkg-query >/dev/null 2>&1; then
        zb_log "not a Debian system: install these packages by hand if the build fails: ${ZB_PACKAGES[*]}"
        return 0
    fi
    local missing=() pkg
    for pkg in "${ZB_PACKAGES[@]}"; do
        zb_pkg_installed "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || zb_die "missing packages (${missing[*]}) and not root: run as root"
        sudo=(sudo)
    fi
    zb_log "installing missing packages: ${missing[*]}"
    # Package lists may be absent (fresh image) or old; refresh them once, only when something is missing.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" </dev/null
}

# Prints those of the given -Dkey=value options whose value differs from the configured one in build dir $1.
# Used so that re-running a script does not touch coredata (which would make ninja regenerate) for nothing.
zb_changed_options()
{
    local dir="$1"
    shift
    meson introspect --buildoptions "$dir" | python3 -c '
import json, sys
current = {}
for opt in json.load(sys.stdin):
    value = opt["value"]
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, list):
        value = ",".join(str(v) for v in value)
    current[opt["name"]] = str(value)
for arg in sys.argv[1:]:
    key, _, value = arg[2:].partition("=")
    if current.get(key) != value:
        print(arg)
' "$@"
}

# zb_configure DIR [-Dkey=value...]: sets up DIR with the given options, or updates an existing DIR so that
# it has them. Options not given keep their current values. A DIR whose first configure failed has no
# coredata and is simply set up again.
zb_configure()
{
    local dir="$1"
    shift
    local arg
    for arg in "$@"; do
        [[ "$arg" == -D*=* ]] || zb_die "zb_configure takes only -Dkey=value options, got '$arg'"
    done
    if [[ -f "$dir/meson-private/coredata.dat" ]]; then
        local changed=()
        mapfile -t changed < <(zb_changed_options "$dir" "$@")
        if ((${#changed[@]} > 0)); then
            zb_log "reconfiguring $dir: ${changed[*]}"
            meson configure "$dir" "${changed[@]}"
        fi
    else
        zb_log "configuring $dir: $*"
        meson setup "$dir" "$@"
    fi
}

# zb_build DIR: builds everything in DIR; ninja itself re-runs meson when a meson.build changed.
zb_build()
{
    ninja -C "$1" -j "$ZB_JOBS"
}
