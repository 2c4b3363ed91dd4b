#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks what `meson install` delivers: installs a build dir into a scratch DESTDIR, then builds and runs a
# small application (tests/public_api/install_consumer.cpp) using only `pkg-config --cflags --libs zerobuffer`
# from that staged install, with the prefix moved there by --define-variable. When the Python module is built, it
# also imports it from the staged install and checks `pip install .` offline (scripts/check-pip.sh).
#
# Usage: scripts/check-install.sh [BUILD_DIR]   (default: build; must be configured and built)
set -euo pipefail

case "${1:-}" in
    -h | --help) sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "check-install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac
(($# <= 1)) || { echo "check-install.sh: one BUILD_DIR at most (see --help)" >&2; exit 2; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
builddir="${1:-build}"
[[ -f "$builddir/build.ninja" ]] || { echo "check-install: $builddir is not a configured build dir" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/zb-install-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT

read -r prefix libdir includedir < <(meson introspect --buildoptions "$builddir" | python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
print(opts["prefix"], opts["libdir"], opts["includedir"])')
under_prefix()
{
    if [[ "$1" == /* ]]; then echo "$1"; else echo "$prefix/$1"; fi
}
staged_prefix="$work/destdir$prefix"
staged_libdir="$work/destdir$(under_prefix "$libdir")"
staged_includedir="$work/destdir$(under_prefix "$includedir")"

meson install -C "$builddir" --no-rebuild --quiet --destdir "$work/destdir" >/dev/null

status=0
for f in "$staged_libdir/pkgconfig/zerobuffer.pc" "$staged_includedir/zerobuffer/zerobuffer.h"; do
    [[ -f "$f" ]] || { echo "check-install: not installed: ${f#"$work"/destdir}" >&2; status=1; }
done
((status == 0)) || exit 1
for header in core/include/zerobuffer/*.h; do
    [[ -f "$staged_includedir/zerobuffer/$(basename "$header")" ]] \
        || { echo "check-install: header not installed: $header" >&2; status=1; }
done
((status == 0)) || exit 1

export PKG_CONFIG_PATH="$staged_libdir/pkgconfig"
read -r -a flags < <(pkg-config --define-variable=prefix="$staged_prefix" --cflags --libs zerobuffer)
echo "check-install: pkg-config --cflags --libs zerobuffer: ${flags[*]}"
"${CXX:-c++}" -std=c++20 -Wall -Wextra -Werror tests/public_api/install_consumer.cpp "${flags[@]}" \
    -Wl,-rpath,"$staged_libdir" -o "$work/install-consumer"
"$work/install-consumer"

# The parts that are built must be usable from the staged install too: the GStreamer plugin loads (with the
# installed libzerobuffer) and the programs start.
staged_bindir="$work/destdir$(under_prefix "$(meson introspect --buildoptions "$builddir" | python3 -c '
import json, sys
print({o["name"]: o["value"] for o in json.load(sys.stdin)}["bindir"])')")"
export LD_LIBRARY_PATH="$staged_libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
plugin_dir="$staged_libdir/gstreamer-1.0"
if [[ -f "$plugin_dir/libgstzerobuffer.so" ]]; then
    for element in zerobuffersink zerobuffersrc; do
        if ! GST_REGISTRY="$work/registry.bin" GST_PLUGIN_PATH="$plugin_dir" gst-inspect-1.0 "$element" >/dev/null; then
            echo "check-install: the installed plugin in ${plugin_dir#"$work"/destdir} does not provide $element" >&2
            status=1
        fi
    done
    echo "check-install: GStreamer plugin loads from ${plugin_dir#"$work"/destdir}"
fi
for program in zb-ingest zb-record zb-relay; do
    if [[ -x "$staged_bindir/$program" ]]; then
        "$staged_bindir/$program" --help >/dev/null || { echo "check-install: $program --help failed" >&2; status=1; }
        echo "check-install: $program runs"
    fi
done
# The Python module, when built: it must be installed where /usr/bin/python3 looks for it (once the staging
# directory is taken off the path), and import and work from there.
python_ext="$(find "$work/destdir" -name '_zerobuffer*.so' -print -quit)"
if [[ -n "$python_ext" ]]; then
    staged_site="$(dirname "$(dirname "$python_ext")")"
    site="${staged_site#"$work"/destdir}"
    if ! /usr/bin/python3 -c 'import sys; sys.exit(0 if sys.argv[1] in sys.path else 1)' "$site"; then
        echo "check-install: the Python package went to $site, which /usr/bin/python3 does not search" >&2
        status=1
    fi
    if ! (cd "$work" && PYTHONPATH="$staged_site" /usr/bin/python3 - "zb-install-check-$$" <<'PY'
import sys
import zerobuffer as zb
assert "/destdir/" in zb.__file__, f"imported {zb.__file__}, not the staged install"
name = sys.argv[1]
with zb.Writer(name) as writer, zb.Reader(name) as reader:
    writer.set_format(zb.video_format("RGB", 5, 3))
    writer.write(bytes(range(48)))
    frame = reader.acquire(timeout=5)
    assert frame.array().shape == (3, 5, 3), frame.array().shape
print("check-install: the installed Python module works:", zb.__file__)
PY
    ); then
        echo "check-install: the installed Python module does not import or work" >&2
        status=1
    fi
fi
((status == 0)) || exit 1
if [[ -n "$python_ext" ]]; then
    bash scripts/check-pip.sh || exit 1
fi
echo "check-install: ok"
