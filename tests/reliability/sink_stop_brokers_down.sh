#!/bin/bash
# SIGTERM while Kafka is down (stopped for maintenance) ends the sink within its stop bound, stream.stop.timeout.ms
# (10 s by default), with exit status 0: what it read is durable, the commit that cannot reach the coordinator is
# given up, and the consumer is left without waiting for the group coordinator. With Kafka back, a restart re-reads
# what was not committed and the tree is bit for bit the source. The 30 s below is a loose functional bound on the
# 10 s setting (without the bound the sink waited in librdkafka until killed).
. "$(dirname "$0")/../lib/common.sh"
needs_built push sink
[ "${KAFKA_BROKERS:-1}" = 1 ] || skip "needs the one-broker harness"
: "${KS_STATE:?no harness state: run make cluster-up}" "${KS_PORT_BASE:?no KS_PORT_BASE: run make cluster-up}"
cluster() { KS_PORT_BASE=$KS_PORT_BASE KS_STATE=$KS_STATE "$KS_ROOT/tests/cluster/cluster" "$@"; }

src=$T/src
mkdir -p "$src"
head -c $((64 * 1024 * 1024)) /dev/urandom > "$src/big.bin"
echo "a small file" > "$src/small.txt"
topic=$(unique_topic)
create_topic "$topic" 4
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster c1 --job-id 710 --node n1 --user alice \
    --spool "$T/spool" --timeout 300 "$src" || fail "push failed"

out=$T/out
mkdir -p "$out"
# Commits are rare (60 s), so Kafka goes down with read, staged, uncommitted data.
"$SINK" -v "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X stream.commit.interval.ms=60000 -X queued.max.messages.kbytes=2048 \
    --topic "$topic" --group "g-$topic" --output "$out" 2>"$T/sink1.log" &
pid=$!
on_exit "kill -9 $pid 2>/dev/null"
wait_staged "$out" $((4 * 1024 * 1024)) "$pid" || true
[ -f "$out/alice/710/_SUCCESS" ] && fail "the transfer finished before Kafka stopped; nothing was tested"

on_exit 'cluster kafka-start 1 >/dev/null 2>&1'
cluster kafka-stop 1 || fail "could not stop the broker"
note "broker stopped with $(staged_bytes "$out") bytes staged"
sleep 1
begin=$(date +%s.%N)
kill -TERM "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
took=$(awk -v s="$begin" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
if kill -0 "$pid" 2>/dev/null; then
    cat "$T/sink1.log"
    fail "still running $took s after SIGTERM with the brokers down"
fi
rc=0
wait "$pid" || rc=$?
grep -v '^%' "$T/sink1.log" | tail -5
note "exited $took s after SIGTERM, status $rc"
[ $rc -eq 0 ] || fail "exit status $rc"
grep -q 'stopped:' "$T/sink1.log" || fail "no final summary"

cluster kafka-start 1 >/dev/null || fail "could not restart the broker"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" \
    --exit-when-idle 5 2>"$T/sink2.log" || { cat "$T/sink2.log"; fail "the restart failed"; }
diff <(tree_digests "$src") <(tree_digests "$out/alice/710/n1") || fail "the tree differs from the source"
[ -f "$out/alice/710/_SUCCESS" ] || fail "_SUCCESS missing"
[ -z "$(ls -A "$out/.staging")" ] || fail "staging not cleaned up"
echo "PASS"
