#!/bin/bash
# `make demo` (README's first command) works: the demo job's results arrive at the sink and their digests verify.
. "$(dirname "$0")/../lib/common.sh"
[ -x "$PUSH" ] && [ -x "$SINK" ] && [ -f "$KS_ROOT/build/lib/kafka_stream.so" ] || skip "tools or plugin not built"
bash "$KS_ROOT/scripts/demo.sh" >"$T/demo.out" 2>&1 || { cat "$T/demo.out"; fail "make demo failed"; }
cat "$T/demo.out"
[ "$(grep -c ': OK$' "$T/demo.out")" = 2 ] || fail "expected two verified result files"
grep -q '_SUCCESS' "$T/demo.out" || fail "no _SUCCESS shown"
