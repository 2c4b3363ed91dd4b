#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and runs the test suites (meson test), optionally also under ASan+UBSan and TSan.
#
# Usage: scripts/run-tests.sh [--ci] [--only FLAVOURS] [--install-check] [-- MESON_TEST_ARGS...]
#   --ci             what CI runs (also implied by CI=true): warnings are errors (-Dwerror=true), tests and every
#                    part must be found (-Dtests=enabled, -Dgstreamer/-Dffmpeg/-Drelay/-Dpython=enabled), all flavours
#                    run (main, asan, tsan, fuzz), and the install check
#   --only FLAVOURS  run only these flavours (comma separated, repeatable): main, asan, tsan, fuzz
#   --install-check  after main, meson install into a scratch dir and build an app with pkg-config from it
#   -- ARGS          passed to meson test, e.g. `-- core-frames` or `-- --suite core`
# Flavours and their build dirs:
#   main  build       the normal debugoptimized build (the one scripts/setup.sh makes)
#   asan  build-asan  AddressSanitizer + UndefinedBehaviorSanitizer; core, FFmpeg and relay parts, no bench
#   tsan  build-tsan  ThreadSanitizer; core only, no bench
#   fuzz  build-fuzz  clang with libFuzzer, ASan+UBSan: the fuzz harnesses (tests/fuzz), each ZB_FUZZ_SECONDS
#                     (default 20 here) on its committed corpus after replaying it (docs/reliability.md)
# After each flavour it checks that the tests left no zb-* objects in /dev/shm.
# Ends with a line "summary: N passed, N failed, N skipped" and exits non-zero on any failure.
# Environment: ZB_JOBS (ninja jobs, default 2), ZB_TIMEOUT_MULTIPLIER_{MAIN,ASAN,TSAN} (meson test
# --timeout-multiplier, default 1, 3, 6; also exported as ZB_TEST_TIME_SCALE unless that is set).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

ci=false
case "${CI:-}" in true|TRUE|True|1|yes) ci=true ;; esac
only=()
test_args=()
install_check=
while (($#)); do
    case "$1" in
        --ci) ci=true; shift ;;
        --install-check) install_check=true; shift ;;
        --only) IFS=, read -r -a more <<<"${2:?--only needs flavours}"; only+=("${more[@]}"); shift 2 ;;
        --only=*) IFS=, read -r -a more <<<"${1#*=}"; only+=("${more[@]}"); shift ;;
        --) shift; test_args=("$@"); break ;;
        -h|--help) sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) zb_usage_error "unknown argument '$1'" ;;
    esac
done

if ((${#only[@]} > 0)); then
    flavours=("${only[@]}")
elif $ci; then
    flavours=(main asan tsan fuzz)
else
    flavours=(main)
fi
for f in "${flavours[@]}"; do
    case "$f" in main|asan|tsan|fuzz) ;; *) zb_usage_error "unknown flavour '$f' (main, asan, tsan, fuzz)" ;; esac
done
# The install check (scripts/check-install.sh) follows the main flavour in CI: a few seconds.
install_check="${install_check:-$ci}"

# Sanitizer builds skip what their tests do not need (benchmarks, the parts named below) and use -O1 (the
# level the sanitizers recommend; instrumented -O2 compiles are markedly slower) to keep CI on a
# 2-core machine well under 30 minutes. They keep -g for symbolised reports and do not use -Dwerror:
# instrumentation makes GCC emit false positives (-Wnull-dereference, -Wmaybe-uninitialized, -Wtsan);
# warnings are enforced in `build`.
# ASan also builds the FFmpeg and relay programs: they parse files and network messages from outside, where memory
# errors matter most. The GStreamer elements are left out (gst-launch-1.0 is not instrumented, so an instrumented
# plugin cannot load into it), and TSan keeps to the core: libzmq, GLib and FFmpeg are not instrumented, so TSan
# cannot see their hand-offs between threads and reports races that are not there. Neither builds the Python module:
# an instrumented extension cannot be loaded into the uninstrumented /usr/bin/python3 (the duplex channel it wraps is
# core code, tested under both by tests/duplex).
sanitizer_common=(-Doptimization=1 -Ddebug=true -Dwerror=false -Dtests=enabled -Dbench=disabled)

flavour_dir()
{
    case "$1" in main) echo build ;; asan) echo build-asan ;; tsan) echo build-tsan ;; fuzz) echo build-fuzz ;; esac
}

flavour_options()
{
    case "$1" in
        main)
            if $ci; then
                # Every part must be built and tested in CI: a missing dependency fails the configure
                # instead of silently skipping that part's tests.
                echo -Dwerror=true -Dtests=enabled -Dgstreamer=enabled -Dffmpeg=enabled -Drelay=enabled -Dpython=enabled
            fi
            ;;
        asan) echo "${sanitizer_common[@]}" -Dgstreamer=disabled -Dffmpeg=enabled -Drelay=enabled -Dpython=disabled \
                   -Db_sanitize=address,undefined -Db_lundef=false ;;
        tsan) echo "${sanitizer_common[@]}" -Dgstreamer=disabled -Dffmpeg=disabled -Drelay=disabled -Dpython=disabled \
                   -Db_sanitize=thread -Dcpp_args=-Wno-tsan ;;
        fuzz) echo -Doptimization=1 -Ddebug=true -Dwerror=false -Dfuzz=enabled -Db_sanitize=address,undefined \
                   -Db_lundef=false -Dtests=disabled -Dbench=disabled -Dgstreamer=disabled -Dffmpeg=disabled \
                   -Dpython=disabled -Drelay=enabled ;;
    esac
}

flavour_timeout_multiplier()
{
    case "$1" in
        main) echo "${ZB_TIMEOUT_MULTIPLIER_MAIN:-1}" ;;
        asan) echo "${ZB_TIMEOUT_MULTIPLIER_ASAN:-3}" ;;
        tsan) echo "${ZB_TIMEOUT_MULTIPLIER_TSAN:-6}" ;;
        fuzz) echo "${ZB_TIMEOUT_MULTIPLIER_FUZZ:-1}" ;;
    esac
}

# Sanitizer reports must fail the test, not just print: UBSan recovers by default, and meson 1.0 sets none
# of these. Values already in the environment win.
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:print_summary=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:print_summary=1}"

# Lists the ring objects and interrupted-creation leftovers in /dev/shm, one per line.
shm_objects()
{
    local f
    for f in /dev/shm/zb-* /dev/shm/.zb-tmp-*; do
        [[ -e "$f" ]] && printf '%s\n' "$f"
    done
    return 0
}

# Lists those zb objects in /dev/shm that a live process has mapped or open: rings of programs running
# beside the tests (a developer's demo, another build's tests), which are not leaks of this run.
shm_objects_in_use()
{
    {
        cat /proc/[0-9]*/maps 2>/dev/null | awk '$6 ~ /^\/dev\/shm\/(zb-|\.zb-tmp-)/ { print $6 }'
        find /proc/[0-9]*/fd -maxdepth 1 -type l -printf '%l\n' 2>/dev/null | grep -E '^/dev/shm/(zb-|\.zb-tmp-)'
    } | sort -u
    return 0
}

# Reads meson test's summary count for LABEL ("Ok", "Fail", ...) from log $1; 0 when absent.
summary_count()
{
    local n
    n="$(sed -n "s/^$2:[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$1" | tail -n 1)"
    echo "${n:-0}"
}

zb_ensure_packages

initial="$(shm_objects)"
total_passed=0
total_failed=0
total_skipped=0
failures=()
start_all=$SECONDS

for flavour in "${flavours[@]}"; do
    dir="$(flavour_dir "$flavour")"
    read -r -a opts <<<"$(flavour_options "$flavour")"
    if [[ "$flavour" == main && ! -f "$dir/meson-private/coredata.dat" ]]; then
        opts=(-Dbuildtype=debugoptimized "${opts[@]}")
    fi
    zb_log "=== $flavour: configure and build $dir"
    start=$SECONDS
    if [[ "$flavour" == fuzz ]]; then
        CC=clang CXX=clang++ zb_configure "$dir" "${opts[@]}" # libFuzzer is clang's (libclang-rt-14-dev).
    else
        zb_configure "$dir" "${opts[@]}"
    fi
    if ! zb_build "$dir"; then
        zb_die "$flavour: build failed in $dir (see the compiler output above)"
    fi
    zb_log "$flavour: built in $((SECONDS - start)) s"

    before="$(shm_objects)"
    log="$dir/meson-logs/run-tests-output.txt"
    zb_log "=== $flavour: meson test -C $dir"
    start=$SECONDS
    multiplier="$(flavour_timeout_multiplier "$flavour")"
    set +e
    # ZB_TEST_TIME_SCALE stretches the time bounds inside the tests (tests/core/support.cpp) like the timeout.
    ZB_TEST_TIME_SCALE="${ZB_TEST_TIME_SCALE:-$multiplier}" ZB_FUZZ_SECONDS="${ZB_FUZZ_SECONDS:-20}" \
        meson test -C "$dir" --no-rebuild --print-errorlogs --timeout-multiplier "$multiplier" \
        "${test_args[@]}" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    zb_log "$flavour: tests ran in $((SECONDS - start)) s, meson test exit code $rc"

    ok=$(summary_count "$log" "Ok")
    expected_fail=$(summary_count "$log" "Expected Fail")
    fail=$(summary_count "$log" "Fail")
    unexpected_pass=$(summary_count "$log" "Unexpected Pass")
    skipped=$(summary_count "$log" "Skipped")
    timeout=$(summary_count "$log" "Timeout")
    passed=$((ok + expected_fail))
    failed=$((fail + unexpected_pass + timeout))
    if ((rc != 0 && failed == 0)); then
        failed=1 # meson test failed before running tests (bad test name, broken build dir...)
    fi
    if ((rc != 0)); then
        failures+=("$flavour: meson test failed (full log: $dir/meson-logs/testlog.txt)")
    fi
    if ((passed + failed + skipped == 0)); then
        zb_log "warning: $flavour ran no test"
    fi

    # Every test must clean up its rings, also after killing processes (remove_stale_ring). Test processes
    # have exited when meson test returns, but give kernel-side cleanup of killed children a moment.
    leaked=""
    for _ in 1 2 3 4 5 6; do
        new_objects="$(comm -13 <(printf '%s\n' "$before" | sort) <(shm_objects | sort) | sed '/^$/d')"
        in_use="$(comm -12 <(printf '%s\n' "$new_objects") <(shm_objects_in_use))"
        leaked="$(comm -23 <(printf '%s\n' "$new_objects") <(printf '%s\n' "$in_use") | sed '/^$/d')"
        [[ -z "$leaked" ]] && break
        sleep 0.5
    done
    if [[ -n "$in_use" ]]; then
        zb_log "note: $flavour: new zb objects in /dev/shm are held by running processes (not counted):"
        # shellcheck disable=SC2001 # indent every line
        sed 's/^/    /' <<<"$in_use" >&2
    fi
    if [[ -n "$leaked" ]]; then
        zb_log "error: $flavour: tests left shared-memory objects in /dev/shm:"
        # shellcheck disable=SC2001 # indent every line
        sed 's/^/    /' <<<"$leaked" >&2
        zb_log "every test must remove its rings (close the Writer, or remove_stale_ring() after killing one)"
        failures+=("$flavour: tests left objects in /dev/shm")
        failed=$((failed + 1))
    fi

    if [[ "$flavour" == main ]] && $install_check; then
        zb_log "=== $flavour: install check (meson install + pkg-config consumer)"
        if bash scripts/check-install.sh "$dir"; then
            passed=$((passed + 1))
        else
            failures+=("$flavour: install check (scripts/check-install.sh $dir)")
            failed=$((failed + 1))
        fi
    fi

    zb_log "$flavour: $passed passed, $failed failed, $skipped skipped"
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped))
done

# Objects that were there before the run and still are: not ours, but worth knowing about.
remaining="$(comm -12 <(printf '%s\n' "$initial" | sort) <(shm_objects | sort) | sed '/^$/d')"
if [[ -n "$remaining" ]]; then
    zb_log "note: these zb objects were in /dev/shm before the tests ran (not counted; zbctl can inspect them):"
    # shellcheck disable=SC2001 # indent every line
    sed 's/^/    /' <<<"$remaining" >&2
fi

zb_log "flavours: ${flavours[*]}; total time $((SECONDS - start_all)) s"
for f in "${failures[@]}"; do
    zb_log "FAILED $f"
done
echo "summary: $total_passed passed, $total_failed failed, $total_skipped skipped"
((${#failures[@]} == 0))
