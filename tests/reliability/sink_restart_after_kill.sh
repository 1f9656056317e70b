#!/bin/bash
# A sink service killed with SIGKILL in the middle of a transfer and restarted at once (as systemd's Restart= does)
# consumes again within seconds, not after the dead member's session expires (session.timeout.ms, 45 s by default):
# static group membership (group.instance.id) gives the restarted process the dead one's partitions at once.
# The tree is then bit for bit the source. The 30 s below is a loose functional bound (expected: a few seconds;
# without static membership the restart waits about 45 s).
. "$(dirname "$0")/../lib/common.sh"
needs_built push sink

src=$T/src
mkdir -p "$src/sub"
head -c $((48 * 1024 * 1024)) /dev/urandom > "$src/big.bin"
for i in $(seq 1 50); do echo "small $i" > "$src/sub/s$i.txt"; done
topic=$(unique_topic)
create_topic "$topic" 4
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster c1 --job-id 700 --node n1 --user alice \
    --spool "$T/spool" --timeout 300 "$src" || fail "push failed"

out=$T/out
mkdir -p "$out"
start_sink() {  # a long-running service (no --exit-when-idle), default session timeout; sets $pid
    "$SINK" -v "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X stream.commit.interval.ms=200 \
        -X queued.max.messages.kbytes=4096 --topic "$topic" --group "g-$topic" --output "$out" 2>"$1" &
    pid=$!
    on_exit "kill -9 $pid 2>/dev/null"
}

start_sink "$T/sink1.log"
wait_staged "$out" $((8 * 1024 * 1024)) "$pid" || true
[ -f "$out/alice/700/_SUCCESS" ] && fail "the transfer finished before the kill; nothing was tested"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
note "killed with $(staged_bytes "$out") bytes staged"
grep -q 'static member "kafka-stream-sink\.' "$T/sink1.log" || fail "no static group membership: $(cat "$T/sink1.log")"

restart=$(date +%s.%N)
start_sink "$T/sink2.log"
for _ in $(seq 1 300); do
    [ -f "$out/alice/700/_SUCCESS" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$T/sink2.log"; fail "the restarted sink exited"; }
    sleep 0.1
done
took=$(awk -v s="$restart" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
note "restart to _SUCCESS: $took s"
[ -f "$out/alice/700/_SUCCESS" ] || { cat "$T/sink2.log"; fail "no _SUCCESS within 30 s of the restart"; }
grep -q 'assigned 4 partition' "$T/sink2.log" || fail "the restarted sink did not get the partitions"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"

diff <(tree_digests "$src") <(tree_digests "$out/alice/700/n1") || fail "the tree differs from the source"
[ -z "$(ls -A "$out/.staging")" ] || fail "staging not cleaned up"
[ "$(ls "$out/.quarantine")" = messages.log ] && [ ! -s "$out/.quarantine/messages.log" ] || fail "unexpected quarantine"
echo "PASS"
