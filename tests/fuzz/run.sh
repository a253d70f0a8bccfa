#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/fuzz/run.sh SECONDS [TARGET...]: builds the libFuzzer targets with
# clang (-Dfuzz=true, ASan + UBSan) and runs each for SECONDS, two at a time,
# starting from its seed corpus (tests/fuzz/corpus/NAME, read only: new
# inputs go to a scratch corpus).  Exits non-zero when any target crashes,
# leaks or trips a sanitizer, and names the input that did it (copy it into
# the corpus: the unit suite then replays it as a regression test).
# Environment: TD_FUZZ_BUILD (default $TMPDIR/td-fuzz-build), CC (clang).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:?usage: tests/fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tar oci squashfs devtable options overlay)
build=${TD_FUZZ_BUILD:-${TMPDIR:-/tmp}/td-fuzz-build}
command -v "${CC:-clang}" >/dev/null || { echo "run.sh: needs clang (apt-get install clang)" >&2; exit 77; }

if [ ! -f "$build/build.ninja" ]; then
        CC=${CC:-clang} meson setup "$build" "$top" -Dfuzz=true -Db_sanitize=address,undefined \
                -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$build" $(printf 'tests/fuzz/fuzz-%s ' "${targets[@]}") >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/td-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
run_one() {
        local t=$1 rc=0
        mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                TMPDIR="$work/$t" "$build/tests/fuzz/fuzz-$t" -max_total_time="$secs" -rss_limit_mb=4096 \
                -timeout=30 -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
                "$work/$t/corpus" "$top/tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1 || rc=$?
        local runs
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
        if [ $rc = 0 ]; then
                echo "fuzz-$t: ok, ${runs:-?} runs in ${secs}s"
        else
                echo "fuzz-$t: FAILED (exit $rc), ${runs:-?} runs:"
                grep -E 'ERROR|SUMMARY|Test unit written' "$work/$t.log" | head -n 10
                mkdir -p "$top/tests/fuzz/crashes"
                cp "$work/$t/artifacts/"* "$top/tests/fuzz/crashes/" 2>/dev/null &&
                        echo "fuzz-$t: the input is in tests/fuzz/crashes/: add it to tests/fuzz/corpus/$t"
                return 1
        fi
}
status=0
pids=()
for t in "${targets[@]}"; do
        run_one "$t" &
        pids+=($!)
        if [ ${#pids[@]} = 2 ]; then
                wait "${pids[0]}" || status=1
                pids=("${pids[@]:1}")
        fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
