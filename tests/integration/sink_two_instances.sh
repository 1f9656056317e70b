#!/bin/bash
# Two sink instances in one consumer group share the partitions of a 4-partition topic and, writing into one ROOT,
# produce the same tree as the sources: every node's files, one manifest per node, and _SUCCESS once per job even
# when the nodes of a job were finalized by different instances.
. "$(dirname "$0")/../lib/common.sh"
needs_built push sink

topic=$(unique_topic)
create_topic "$topic" 4
out=$T/out
mkdir -p "$out"

# Jobs of two nodes each, chosen so that the message keys (cluster/job/node) cover all four partitions
# (librdkafka's default partitioner: CRC-32 of the key modulo the partition count).
jobs=$("$PY" - <<'PYEOF'
import zlib
seen, jobs = set(), []
j = 100
while len(seen) < 4 or len(jobs) < 4:
    parts = {zlib.crc32(f"c1/{j}/{n}".encode()) % 4 for n in ("n1", "n2")}
    if not parts <= seen or len(jobs) < 4:
        jobs.append(j)
        seen |= parts
    j += 1
print(" ".join(map(str, jobs)))
PYEOF
)
note "jobs: $jobs"

start_sink() {
    "$SINK" "${KS_AUTH[@]}" -v -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" \
        --exit-when-idle 10 2>"$T/sink$1.log" &
    started_pid=$!
    on_exit "kill $started_pid 2>/dev/null"
}
start_sink 1
pid1=$started_pid
start_sink 2
pid2=$started_pid
# Produce only once both members own their share, so both instances have work.
for _ in $(seq 1 600); do
    grep -q 'assigned 2 partition' "$T/sink1.log" && grep -q 'assigned 2 partition' "$T/sink2.log" && break
    sleep 0.1
done
grep -q 'assigned 2 partition' "$T/sink1.log" && grep -q 'assigned 2 partition' "$T/sink2.log" \
    || { cat "$T/sink1.log" "$T/sink2.log"; fail "the two instances did not split the partitions"; }

for job in $jobs; do
    for node in n1 n2; do
        d=$T/src/$job/$node
        mkdir -p "$d/sub"
        head -c $((200 * 1024 + job)) /dev/urandom > "$d/data.bin"
        echo "$job $node" > "$d/sub/info.txt"
        : > "$d/empty"
        "$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster c1 --job-id "$job" --node "$node" \
            --user alice --nodes 2 --spool "$T/spool" --timeout 120 "$d" 2>>"$T/push.log" || { cat "$T/push.log"; fail "push"; }
    done
done

wait "$pid1" || { cat "$T/sink1.log"; fail "sink 1 failed"; }
wait "$pid2" || { cat "$T/sink2.log"; fail "sink 2 failed"; }
grep -h 'finalized\|stopped' "$T/sink1.log" "$T/sink2.log"

for job in $jobs; do
    for node in n1 n2; do
        diff <(tree_digests "$T/src/$job/$node") <(tree_digests "$out/alice/$job/$node") || fail "job $job node $node differs"
    done
    [ -f "$out/alice/$job/_SUCCESS" ] || fail "job $job: _SUCCESS missing"
    [ "$(ls "$out/alice/$job/_manifests")" = "$(printf 'n1.json\nn2.json')" ] || fail "job $job: node manifests"
done
n1=$(grep -c 'finalized job' "$T/sink1.log" || true)
n2=$(grep -c 'finalized job' "$T/sink2.log" || true)
note "instance 1 finalized $n1 node transfers, instance 2 finalized $n2"
[ $((n1 + n2)) -eq 8 ] || fail "expected 8 finalizations in total (each node transfer exactly once)"
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || fail "one instance did no work"
[ "$(grep -c '_SUCCESS written' "$T/sink1.log" "$T/sink2.log" | awk -F: '{s+=$2} END {print s}')" -eq 4 ] \
    || fail "expected each job's _SUCCESS written exactly once"
[ -z "$(ls -A "$out/.staging")" ] || fail "staging not empty"
echo "PASS"
