#!/bin/bash
# Reliability case 1: the (single) broker is killed with kill -9 during a push and restarted a few seconds later.
# The push either completes (the idempotent producer resends what was not acknowledged) or spools, and then a
# --drain-spool completes. The sink's tree is identical to the source, each file exactly once.
# Size: 200 MB (TEST_LONG: 1 GiB). Kills the harness's broker 1 (always restarted on exit).
. "$(dirname "$0")/../lib/common.sh"
: "${KS_STATE:?no harness state: run make cluster-up}" "${KS_PORT_BASE:?no KS_PORT_BASE: run make cluster-up}"
needs_built push sink
[ "${KAFKA_BROKERS:-1}" = 1 ] || skip "written for the single-broker harness"
cluster() { KS_PORT_BASE=$KS_PORT_BASE KS_STATE=$KS_STATE "$KS_ROOT/tests/cluster/cluster" "$@"; }
on_exit 'cluster kafka-start >/dev/null 2>&1'
total_mb=${TEST_LONG:+1024}; total_mb=${total_mb:-200}

src=$T/src
mkdir -p "$src/small"
for i in 1 2 3 4; do head -c $((total_mb / 4 * 1024 * 1024)) /dev/urandom > "$src/part$i.bin"; done
for i in $(seq 1 100); do echo "small file $i" > "$src/small/s$i.txt"; done
sent=$(find "$src" -type f | wc -l)
topic=$(unique_topic)
create_topic "$topic" 4
data_dir=$(sed -n 's/^log.dirs=//p' "$KS_STATE/kafka/1/server.properties")
[ -d "$data_dir" ] || fail "broker data dir not found: $data_dir"
topic_bytes() { du -scb "$data_dir/$topic"-* 2>/dev/null | tail -1 | cut -f1; }

note "push $total_mb MB; kill -9 the broker once a quarter is stored"
push_rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster c1 --job-id 1001 --node n1 --user alice \
    --spool "$T/spool" --timeout $((total_mb / 2 + 90)) "$src" 2>"$T/push.log" &
push=$!
while kill -0 "$push" 2>/dev/null; do
    [ "$(topic_bytes)" -ge $((total_mb * 1024 * 1024 / 4)) ] && break
    sleep 0.1
done
kill -0 "$push" 2>/dev/null || fail "the push ended before the broker could be killed: $(cat "$T/push.log")"
note "killing the broker with $(topic_bytes) bytes stored"
cluster kafka-kill 1
sleep 3
cluster kafka-start 1 >/dev/null
note "broker restarted"
wait "$push" || push_rc=$?
cat "$T/push.log"
drains=0
case $push_rc in
    0) note "the push completed across the restart";;
    3) note "the push spooled; draining"
       until "$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --timeout 120 --drain-spool "$T/spool"; do
           drains=$((drains + 1)); [ $drains -lt 3 ] || fail "--drain-spool did not complete in 3 attempts"
       done
       [ -z "$(find "$T/spool" -mindepth 2 -maxdepth 2)" ] || fail "spool not empty after a successful drain";;
    *) fail "push exit $push_rc (expected 0, or 3 with a spool)";;
esac

out=$T/out
mkdir -p "$out"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5 \
    2>"$T/sink.log" || { tail "$T/sink.log"; fail "sink failed"; }
diff <(tree_digests "$src") <(tree_digests "$out/alice/1001/n1") || fail "the sink's tree differs from the source"
[ "$(ls "$out/.done" | wc -l)" = 1 ] || fail "expected one finalized transfer"
[ "$(ls "$out/.quarantine")" = messages.log ] && [ ! -s "$out/.quarantine/messages.log" ] || fail "unexpected quarantine"
received=$(find "$out/alice/1001/n1" -type f | wc -l)
dup=$(comm -13 <(cd "$src" && find . -type f | sort) <(cd "$out/alice/1001/n1" && find . -type f | sort) | wc -l)
# Chunk messages in the topic beyond one per chunk: resends the sink had to absorb (allowed, reported).
msgs=$(kcat -b "$KAFKA_BOOTSTRAP" -Q -t "$topic:0:-1" -t "$topic:1:-1" -t "$topic:2:-1" -t "$topic:3:-1" 2>/dev/null |
       awk '{n += $NF} END {print n + 0}')
note "push exit $push_rc, $drains failed drains, $msgs messages in the topic"
echo "counts: sent=$sent received=$received duplicated=$dup lost=$((sent - received)) push_exit=$push_rc topic_messages=$msgs"
