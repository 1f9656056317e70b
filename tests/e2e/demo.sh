#!/bin/bash
# `make demo` (README's first command) works: the demo job's results arrive at the sink and their digests verify.
. "$(dirname "$0")/../lib/common.sh"
needs_built push sink plugin
bash "$KS_ROOT/scripts/demo.sh" >"$T/demo.out" 2>&1 || { cat "$T/demo.out"; fail "make demo failed"; }
cat "$T/demo.out"
[ "$(grep -c ': OK$' "$T/demo.out")" = 2 ] || fail "expected two verified result files"
grep -q '_SUCCESS' "$T/demo.out" || fail "no _SUCCESS shown"
# The sink ran with --chown as root: the job's files belong to the job's user, with the job's modes.
# shellcheck disable=SC1091
. "$("$KS_ROOT/tests/cluster/cluster" env)"
jobdir=$(sed -n 's/^    durable copy: //p' "$T/demo.out")
[ -d "$jobdir" ] || fail "durable copy not found"
owners=$(find "$jobdir" -path '*/results/*' -type f -printf '%u\n' | sort -u)
[ "$owners" = "$KS_TEST_USER" ] || fail "result files owned by '$owners', expected $KS_TEST_USER"
