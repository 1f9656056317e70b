#!/bin/bash
# Reliability case 8: libFuzzer targets (tests/fuzz/*.cpp, built by `make fuzz` with clang, ASan and UBSan): the sink's
# decoding of untrusted messages and manifests, its path and layout handling, and both tools' config parsing.
# First every kept regression input (tests/fuzz/regressions/<target>/) and the seed corpus are replayed, then each
# target fuzzes for a fixed time: 15 s (TEST_LONG: 300 s). A crash fails the test; its input is printed and kept in
# the log directory: fix the bug and add the input to tests/fuzz/regressions/<target>/.
. "$(dirname "$0")/../lib/common.sh"
cd "$KS_ROOT"
fuzz_cxx=$(command -v clang++-16 clang++ 2>/dev/null | head -1 || true)
[ -n "$fuzz_cxx" ] || skip "no clang++ for libFuzzer (make deps installs clang-16)"
make -s fuzz -j2 >"$T/build.log" 2>&1 || { tail -20 "$T/build.log"; fail "make fuzz failed"; }
secs=${TEST_LONG:+300}; secs=${secs:-15}
targets=$(cd tests/fuzz && ls ./*.cpp | sed 's|^\./||; s|\.cpp$||')
total_runs=0 crashes=0 replayed=0
for t in $targets; do
    bin=build/fuzz/$t
    [ -x "$bin" ] || fail "$bin not built"
    inputs=()
    for d in tests/fuzz/regressions/$t tests/fuzz/corpus/$t; do
        [ -d "$d" ] && while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$d" -type f -print0)
    done
    if [ ${#inputs[@]} -gt 0 ]; then
        "$bin" -runs=1 "${inputs[@]}" >"$T/$t.replay.log" 2>&1 || { tail -30 "$T/$t.replay.log"; fail "$t: a kept input crashes"; }
        replayed=$((replayed + ${#inputs[@]}))
    fi
    mkdir -p "$T/corpus/$t" "$T/artifacts/$t"
    rc=0
    (cd "$T" && "$KS_ROOT/$bin" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$T/artifacts/$t/" "$T/corpus/$t" ${inputs[0]:+"$KS_ROOT/tests/fuzz/corpus/$t"}) \
        >"$T/$t.log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/$t.log" | tail -1)
    total_runs=$((total_runs + ${runs:-0}))
    if [ $rc -ne 0 ]; then
        crashes=$((crashes + 1))
        keep=${LOGDIR:-$KS_ROOT/${BUILD}/test-logs}/fuzz-artifacts
        mkdir -p "$keep" && cp "$T/artifacts/$t/"* "$keep/" 2>/dev/null || true
        grep -m1 -A15 -e 'ERROR: ' -e 'runtime error' "$T/$t.log" || tail -20 "$T/$t.log"
        echo "$t: crash input kept in $keep"
    fi
    note "$t: ${runs:-0} runs in $secs s, exit $rc"
done
echo "counts: targets=$(echo "$targets" | wc -w) kept_inputs_replayed=$replayed fuzz_runs=$total_runs crashes=$crashes"
[ $crashes = 0 ] || fail "$crashes fuzz targets crashed"
