#!/bin/bash
# The epilog's timeout sends SIGTERM to the helper before SIGKILL: the push stops sending, spools what is not
# confirmed and exits 3 (spooled), well before its own --timeout; the spool entry is complete and signed.
. "$(dirname "$0")/../lib/common.sh"
needs_built push
src=$T/src
mkdir -p "$src"
head -c 3000000 /dev/urandom >"$src/data.bin"
echo "a,b" >"$src/result.csv"

start=$(date +%s)
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=127.0.0.1:9 --topic t-sigterm --cluster c --job-id 5 --node n1 \
    --timeout 300 --spool "$T/spool" "$src" 2>"$T/err" &
pid=$!
on_exit "kill -9 $pid 2>/dev/null"
sleep 2
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
secs=$(($(date +%s) - start))
cat "$T/err"
[ $rc = 3 ] || fail "exit $rc after SIGTERM, expected 3 (spooled)"
[ "$secs" -lt 120 ] || fail "it took $secs s to stop after SIGTERM (its own timeout is 300 s)"
grep -q 'interrupted (SIGTERM' "$T/err" || fail "the log does not say why it stopped"
entry=$(ls -d "$T/spool/$(id -u)"/*)
[ -f "$entry/transfer.json" ] && [ -f "$entry/transfer.sig" ] || fail "no complete, signed spool entry"
[ "$(ls "$entry/data" | wc -l)" = 2 ] || fail "expected both files in the spool"
echo "PASS (stopped $secs s after the start, SIGTERM at 2 s)"
