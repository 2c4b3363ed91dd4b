#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: programs-test.sh SOURCE_DIR BUILD_DIR MESON PROGRAM... -- SCRIPT...
# Every program of the project, and each of its subcommands, answers --help with its usage on stdout (exit 0)
# and a bad argument with its usage or a pointer to --help on stderr (exit 2), without creating a ring. The
# programs run in a private /dev/shm (a mount namespace) that must stay empty; where no namespace can be made,
# the shared /dev/shm is checked for rings named after the arguments. Also checks that no program is missing
# from the list: every executable target of BUILD_DIR and every script under SOURCE_DIR must be given.
# Environment: ZB_PYTHON runs the *.py scripts (default python3); ZB_PROGRAMS_LEFT_OUT names scripts of parts the
# build leaves out.
set -u

usage() { sed -n '3,10s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
if (($# < 4)) || [[ "$1" == -* ]]; then
    echo "programs-test.sh: expected SOURCE_DIR BUILD_DIR MESON PROGRAM... -- SCRIPT..." >&2
    usage >&2
    exit 2
fi

if [ -z "${ZB_PROGRAMS_TEST_PRIVATE_SHM:-}" ]; then
    ns=(unshare --mount --propagation private)
    [ "$(id -u)" -eq 0 ] || ns=(unshare --user --map-root-user --mount --propagation private)
    if "${ns[@]}" true 2>/dev/null; then
        ZB_PROGRAMS_TEST_PRIVATE_SHM=1 exec "${ns[@]}" bash "$0" "$@"
    fi
    echo "note: no mount namespace here; checking the shared /dev/shm for rings named after the arguments"
    ZB_PROGRAMS_TEST_PRIVATE_SHM=shared
fi
if [ "$ZB_PROGRAMS_TEST_PRIVATE_SHM" = 1 ]; then
    mount -t tmpfs -o mode=1777 zb-programs-test /dev/shm || { echo "FAIL: cannot mount a tmpfs on /dev/shm" >&2; exit 1; }
fi

source_dir=$1 build_dir=$2 meson=$3
shift 3
programs=() scripts=()
while (($#)); do
    [ "$1" = -- ] && { shift; scripts=("$@"); break; }
    programs+=("$1")
    shift
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GST_REGISTRY="$tmp/gst-registry.bin" # Programs that start GStreamer never touch ~/.cache.
failures=0
fail() {
    echo "FAIL: $*" >&2
    for f in out err; do
        [ -s "$tmp/$f" ] && { echo "--- $f:" >&2; head -n 20 "$tmp/$f" >&2; }
    done
    failures=$((failures + 1))
}

# The subcommands that have their own --help and argument checks.
subcommands() {
    case "$1" in
    zbctl) printf '%s\n' list inspect watch gc metrics serve doctor help ;;
    zb-relay) printf '%s\n' broker "broker query" keygen ;;
    esac
}

# check LABEL COMMAND...: --help and a bad argument of COMMAND.
check() {
    local label=$1
    shift
    timeout 60 "$@" --help >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "$label --help exited $rc, not 0"
    elif ! grep -qi "usage" "$tmp/out"; then
        fail "$label --help printed no usage on stdout"
    fi
    timeout 60 "$@" --no-such-option </dev/null >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne 2 ]; then
        fail "$label --no-such-option exited $rc, not 2"
    elif ! grep -Eqi -- "usage|--help" "$tmp/err"; then
        fail "$label --no-such-option printed neither its usage nor a pointer to --help on stderr"
    fi
    if [ "$ZB_PROGRAMS_TEST_PRIVATE_SHM" = 1 ]; then
        if [ -n "$(ls -A /dev/shm)" ]; then
            fail "$label left $(ls -A /dev/shm | tr '\n' ' ')in /dev/shm"
            rm -rf /dev/shm/* /dev/shm/.[!.]*
        fi
    else
        for name in help -help --help no-such-option --no-such-option; do
            [ ! -e "/dev/shm/zb-$name" ] || fail "$label created ring '$name'"
        done
    fi
    checked=$((checked + 1))
}

checked=0
for program in "${programs[@]}"; do
    name=$(basename "$program")
    check "$name" "$program"
    while IFS= read -r sub; do
        [ -n "$sub" ] || continue
        # shellcheck disable=SC2086 # A subcommand of two words ("broker query") is split on purpose.
        check "$name $sub" "$program" $sub
    done < <(subcommands "$name")
done
for script in "${scripts[@]}"; do
    case "$script" in
    *.py) check "$(basename "$script")" "${ZB_PYTHON:-python3}" "$script" ;;
    *) check "$(basename "$script")" bash "$script" ;;
    esac
done

# No program may be left out: the executables meson builds and the scripts in the source tree.
given=$(for p in "${programs[@]}" "${scripts[@]}"; do basename "$p"; done | sort -u)
"$meson" introspect --targets "$build_dir" | python3 -c '
import json, os, sys
for target in json.load(sys.stdin):
    if target["type"] == "executable":
        for name in target["filename"]:
            print(os.path.basename(name))' | sort -u >"$tmp/built"
[ -s "$tmp/built" ] || fail "meson introspect listed no executables in $build_dir"
# A Python file without a __main__ block is a module (a pytest file, a sample's helper), not a program.
(cd "$source_dir" && find scripts tests bench samples tools ffmpeg-io relay \( -name '*.sh' -o -name '*.py' \) \
    ! -name common.sh | while IFS= read -r file; do
        [[ "$file" != *.py ]] || grep -q '^if __name__ == "__main__":' "$file" && basename "$file"
    done) | sort -u >"$tmp/scripts"
# ZB_PROGRAMS_LEFT_OUT: scripts of parts this build leaves out (they need what it does not make).
left_out=$(for name in ${ZB_PROGRAMS_LEFT_OUT:-}; do echo "$name"; done)
missing=$(comm -23 <(sort -u "$tmp/built" "$tmp/scripts") <(printf '%s\n%s\n' "$given" "$left_out" | sort -u))
[ -z "$missing" ] || fail "not checked (add them to tests/cli/meson.build): $(echo $missing)"

echo "$checked commands checked, $failures failures"
((failures == 0)) || exit 1
echo "PASS: every program answers --help and refuses a bad argument with exit 2"
