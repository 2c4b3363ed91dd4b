#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that `python3 -m pip install --no-build-isolation .` works offline: installs the checkout through
# meson-python into a scratch venv (with the system site packages, where Debian's numpy, meson-python and
# pybind11 are) with --no-index, so nothing can come from the network, then imports the module and moves a frame.
#
# Usage: scripts/check-pip.sh   (a few minutes: meson-python builds the core and the module from scratch)
set -euo pipefail

case "${1:-}" in
    -h | --help) sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
if (($#)); then
    echo "check-pip.sh: takes no arguments, not '$1' (see --help)" >&2
    exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
work="$(mktemp -d "${TMPDIR:-/tmp}/zb-pip-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 -m venv --system-site-packages "$work/venv"
echo "check-pip: pip install --no-build-isolation --no-index . (into a scratch venv)"
if ! "$work/venv/bin/python" -m pip install --no-build-isolation --no-index --quiet . >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    echo "check-pip: pip install failed" >&2
    exit 1
fi
(cd "$work" && "$work/venv/bin/python" - "zb-pip-check-$$" <<'PY'
import sys
import zerobuffer as zb
assert "/venv/" in zb.__file__, f"imported {zb.__file__}, not the pip-installed package"
name = sys.argv[1]
with zb.Writer(name) as writer, zb.Reader(name) as reader:
    writer.set_format(zb.video_format("I420", 7, 5))
    writer.write(bytes(writer.format["frame_size"]))
    y, u, v = reader.acquire(timeout=5).array()
    assert (y.shape, u.shape) == ((5, 7), (3, 4)), (y.shape, u.shape)
print("check-pip: ok:", zb.__file__)
PY
)
