#!/bin/bash
# Reliability case 2: a 3-broker cluster, topic with replication factor 3 and min.insync.replicas=2. The leader of
# the partition being written is killed (kill -9) during a push: the push succeeds without spooling (the idempotent
# producer moves to the new leader), and the sink's tree is identical: nothing lost, nothing duplicated.
# Brings up its own 3-broker harness instance on free ports (state and env file in the test's scratch dir) and takes
# it down at the end; skips if it cannot come up. Size: 100 MB (TEST_LONG: 500 MB).
. "$(dirname "$0")/../lib/common.sh"
[ "$(id -u)" = 0 ] || skip "the harness needs root"
needs_built push sink
total_mb=${TEST_LONG:+500}; total_mb=${total_mb:-100}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=29700
until port_free $base && port_free $((base + 1)) && port_free $((base + 2)) &&
      port_free $((base + 10)) && port_free $((base + 11)) && port_free $((base + 12)) &&
      port_free $((base + 20)) && port_free $((base + 21)) && port_free $((base + 22)) &&
      port_free $((base + 30)) && port_free $((base + 31)) && port_free $((base + 32)) &&
      port_free $((base + 40)) && port_free $((base + 41)) && port_free $((base + 42)); do
    base=$((base + 100)); [ $base -lt 40000 ] || skip "no free port base for a 3-broker cluster"
done
export KS_PORT_BASE=$base KS_STATE=$T/cluster KS_CLUSTER_ENV=$T/cluster.env KAFKA_BROKERS=3
cluster() { "$KS_ROOT/tests/cluster/cluster" "$@"; }
on_exit 'cluster down >/dev/null 2>&1'
cluster up > "$T/up.log" 2>&1 || { tail -5 "$T/up.log"; skip "the 3-broker cluster did not come up (see above)"; }
# shellcheck disable=SC1091
. "$KS_CLUSTER_ENV"
note "3 brokers at $KAFKA_BOOTSTRAP"

topic=$(unique_topic)
"$PY" - "$KAFKA_BOOTSTRAP" "$topic" <<'PYEOF'
import sys
from kafka.admin import KafkaAdminClient, NewTopic
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
admin.create_topics([NewTopic(sys.argv[2], 1, 3, topic_configs={"min.insync.replicas": "2"})])
admin.close()
PYEOF
leader() { kcat -b "$KAFKA_BOOTSTRAP" -L -t "$topic" 2>/dev/null | sed -n 's/.*partition 0, leader \([0-9]*\),.*/\1/p'; }
for ((i = 0; i < 100; i++)); do [ -n "$(leader)" ] && [ "$(leader)" != -1 ] && break; sleep 0.2; done
lead=$(leader)
[ -n "$lead" ] || fail "no leader for $topic"
kcat -b "$KAFKA_BOOTSTRAP" -L -t "$topic" | grep partition

src=$T/src
mkdir -p "$src/small"
for i in 1 2; do head -c $((total_mb / 2 * 1024 * 1024)) /dev/urandom > "$src/big$i.bin"; done
for i in $(seq 1 50); do echo "small $i" > "$src/small/s$i.txt"; done
sent=$(find "$src" -type f | wc -l)
data_dir() { sed -n 's/^log.dirs=//p' "$KS_STATE/kafka/$1/server.properties"; }
stored() { du -scb "$(data_dir "$lead")/$topic"-* 2>/dev/null | tail -1 | cut -f1; }

rc=0
"$PUSH" "${KS_AUTH[@]}" --config "$KS_STREAM_CONF" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster c2 --job-id 202 \
    --node n1 --user alice --spool "$T/spool" --timeout 240 "$src" 2>"$T/push.log" &
push=$!
while kill -0 "$push" 2>/dev/null; do [ "$(stored)" -ge $((total_mb * 1024 * 1024 / 4)) ] && break; sleep 0.1; done
kill -0 "$push" 2>/dev/null || fail "the push ended before the leader could be killed"
# The harness's broker N has node.id N.
note "killing broker $lead, the leader, with $(stored) bytes stored"
cluster kafka-kill "$lead"
wait "$push" || rc=$?
cat "$T/push.log"
[ $rc -eq 0 ] || fail "push exit $rc: with RF 3 and one broker lost, it must succeed without spooling"
[ -z "$(find "$T/spool" -mindepth 2 2>/dev/null)" ] || fail "something was spooled"
note "new leader: $(leader)"

out=$T/out
mkdir -p "$out"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5 \
    2>"$T/sink.log" || { tail "$T/sink.log"; fail "sink failed"; }
diff <(tree_digests "$src") <(tree_digests "$out/alice/202/n1") || fail "the tree differs from the source"
received=$(find "$out/alice/202/n1" -type f | wc -l)
dup=$(comm -13 <(cd "$src" && find . -type f | sort) <(cd "$out/alice/202/n1" && find . -type f | sort) | wc -l)
echo "counts: sent=$sent received=$received duplicated=$dup lost=$((sent - received)) spooled=0"
