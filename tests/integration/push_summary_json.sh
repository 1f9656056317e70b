#!/bin/bash
# The machine-readable summary lines: a push prints one JSON object on standard output (delivered, spooled, or lost)
# that agrees with its human summary on standard error; a drain prints one too, and with --metrics-file writes the
# spool's entries, bytes and oldest entry's age in node_exporter's textfile format, so a site can alert on a spool
# that is not draining.
. "$(dirname "$0")/../lib/common.sh"
needs_built push
src=$T/src
mkdir -p "$src/d" "$T/metrics"
head -c 1500000 /dev/urandom > "$src/d/data.bin"
echo "a,b" > "$src/result.csv"
ln -s result.csv "$src/link"
closed=127.0.0.1:9   # discard port: nothing listens on it
json() {  # json FILE EXPR: evaluates a Python expression on the single JSON line in FILE (as j)
    "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
assert len(lines) == 1, "expected one line on stdout, got %r" % lines
j = json.loads(lines[0])
print(eval(sys.argv[2], {"j": j}))
PYEOF
}
prom() { awk -v n="kafka_stream_spool_$1{spool=\"$T/spool\"}" '$1 == n { print $2 }' "$T/metrics/spool.prom"; }

note "delivered"
topic=$(unique_topic); create_topic "$topic" 1
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster c --job-id 5 --node n1 \
    --spool "$T/spool" "$src" >"$T/out1" 2>"$T/err1" || fail "push: $(cat "$T/err1")"
tid=$(sed -n 's/.*transfer \([0-9a-f]\{32\}\) to .*/\1/p' "$T/err1")
[ "$(json "$T/out1" 'j["summary"], j["status"], j["exit_code"]')" = "('push', 'delivered', 0)" ] || fail "$(cat "$T/out1")"
[ "$(json "$T/out1" 'j["transfer"], j["topic"]')" = "('$tid', '$topic')" ] || fail "identity: $(cat "$T/out1")"
[ "$(json "$T/out1" 'j["files"], j["bytes"], j["skipped"], j["spooled_files"], j["spool_entry"]')" = \
    "(2, 1500004, 1, 0, None)" ] || fail "counts: $(cat "$T/out1")"
[ "$(json "$T/out1" 'isinstance(j["seconds"], float) and j["seconds"] >= 0')" = True ] || fail "seconds"

note "spooled"
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=$closed --topic "$topic" --cluster c --job-id 6 --node n1 --timeout 3 \
    --spool "$T/spool" "$src" >"$T/out2" 2>"$T/err2" || rc=$?
[ $rc = 3 ] || fail "exit $rc, expected 3"
[ "$(json "$T/out2" 'j["status"], j["exit_code"], j["files"], j["spooled_files"]')" = "('spooled', 3, 0, 2)" ] \
    || fail "$(cat "$T/out2")"
entry=$(json "$T/out2" 'j["spool_entry"]')
[ -f "$entry/transfer.json" ] || fail "the summary names no spool entry: $entry"

note "lost: the spool cannot be written"
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=$closed --topic "$topic" --cluster c --job-id 7 --node n1 --timeout 2 \
    --spool /proc/no-such-spool "$src" >"$T/out3" 2>/dev/null || rc=$?
[ $rc = 4 ] && [ "$(json "$T/out3" 'j["status"], j["exit_code"]')" = "('lost', 4)" ] || fail "$(cat "$T/out3")"

note "a drain that cannot deliver: the entry stays, and the metrics say so"
bytes=$(find "$entry" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=$closed --timeout 3 --drain-spool "$T/spool" --metrics-file "$T/metrics/spool.prom" \
    >"$T/out4" 2>"$T/err4" || rc=$?
[ $rc = 3 ] || fail "drain: exit $rc, expected 3: $(cat "$T/err4")"
[ "$(json "$T/out4" 'j["summary"], j["status"], j["exit_code"], j["spool"]')" = "('drain', 'entries remain', 3, '$T/spool')" ] \
    || fail "$(cat "$T/out4")"
[ "$(json "$T/out4" 'j["entries_before"], j["entries_drained"], j["entries_remaining"], j["bytes_remaining"]')" = \
    "(1, 0, 1, $bytes)" ] || fail "drain counts: $(cat "$T/out4")"
[ "$(prom entries)" = 1 ] && [ "$(prom bytes)" = "$bytes" ] || fail "spool metrics: $(cat "$T/metrics/spool.prom")"
awk -v a="$(prom oldest_entry_age_seconds)" 'BEGIN { exit !(a >= 0 && a < 3600) }' || fail "oldest age: $(prom oldest_entry_age_seconds)"
awk -v t="$(prom last_drain_timestamp_seconds)" -v now="$(date +%s)" 'BEGIN { exit !(t > now - 600 && t <= now + 1) }' \
    || fail "last drain time"
grep -q '^# TYPE kafka_stream_spool_entries gauge$' "$T/metrics/spool.prom" || fail "no TYPE line"
[ "$(ls -A "$T/metrics")" = spool.prom ] || fail "temporary files beside the metrics file: $(ls -A "$T/metrics")"

for name in $(awk '/^# TYPE / { print $3 }' "$T/metrics/spool.prom"); do
    grep -q "$name" "$KS_ROOT/man/kafka-stream-push.1" && grep -q "\`$name" "$KS_ROOT/docs/metrics.md" \
        || fail "$name is not documented"
done
for name in $(grep -o 'kafka_stream_spool_[a-z_]*' "$KS_ROOT/etc/grafana-kafka-stream-sink.json" | sort -u); do
    grep -q "^# TYPE $name " "$T/metrics/spool.prom" || fail "the dashboard uses $name, which the drain does not write"
done

note "a drain that delivers: the spool is empty"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --timeout 60 --drain-spool "$T/spool" \
    --metrics-file "$T/metrics/spool.prom" >"$T/out5" 2>"$T/err5" || fail "drain: $(cat "$T/err5")"
[ "$(json "$T/out5" 'j["status"], j["entries_before"], j["entries_drained"], j["entries_remaining"], j["bytes_remaining"], j["oldest_remaining_age_seconds"]')" = \
    "('drained', 1, 1, 0, 0, 0.0)" ] || fail "$(cat "$T/out5")"
[ "$(prom entries)" = 0 ] && [ "$(prom bytes)" = 0 ] && [ "$(prom oldest_entry_age_seconds)" = 0 ] \
    || fail "spool metrics after the drain: $(cat "$T/metrics/spool.prom")"

rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --metrics-file x "$src" >/dev/null 2>"$T/err6" || rc=$?
[ $rc = 2 ] && grep -q 'goes with --drain-spool' "$T/err6" || fail "--metrics-file without --drain-spool: exit $rc"
echo "PASS"
