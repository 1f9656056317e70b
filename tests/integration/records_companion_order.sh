#!/bin/bash
# Records mode's two topics (the records on TOPIC, the open message, chunks and manifest on TOPIC.ks-meta) read in
# adversarial orders: the sink never finalizes before it has every record the manifest promises, never drops a record
# whose open message is behind it on the companion topic, and a rebalance or a kill -9 at any time gives the same
# tree. The transfers come from tests/tools/records_produce.py (kafka-python, signed with the harness's key).
. "$(dirname "$0")/../lib/common.sh"
needs_built push sink
PRODUCE=$KS_ROOT/tests/tools/records_produce.py
topic=$(unique_topic)
create_topic "$topic" 4
create_topic "$topic.ks-meta" 4
src=$T/src
mkdir -p "$src"
"$PY" - "$src" <<'PYEOF'
import os, sys
d = sys.argv[1]
with open(os.path.join(d, "result.csv"), "w") as f:
    for i in range(100000):
        f.write("%d,%d,row %d\n" % (i, i * 3, i))
open(os.path.join(d, "crlf.txt"), "wb").write(b"a\r\nb\r\nlast")
open(os.path.join(d, "blob.bin"), "wb").write(b"\0binary" * 1000)
PYEOF
sink() {  # sink ROOT GROUP [args...]: one-shot sink in the background; pid in $! 
    local root=$1 group=$2
    shift 2
    "$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "$group" \
        --output "$root" --exit-when-idle 8 "$@" 2>>"$root.log" &
}
wait_file() {  # wait_file PATH WHAT: at most 120 s
    local i
    for ((i = 0; i < 600; i++)); do [ -e "$1" ] && return 0; sleep 0.2; done
    fail "$2: $1 did not appear"
}
same_tree() { diff <(tree_digests "$src") <(tree_digests "$1") >/dev/null || fail "$2: the tree differs"; }

note "A: the manifest first, the records last"
out=$T/a && mkdir -p "$out"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$src" --job a --part meta
sink "$out" "g-a-$topic"
pid=$!
on_exit "kill $pid 2>/dev/null"
tid=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import kswire; print(kswire.transfer_id("c", "a", "n1"))' \
    "$KS_ROOT/tests/tools")
wait_file "$out/.staging/$tid/manifest.json" "A: the manifest staged"
sleep 2
[ ! -e "$out/alice/a/_SUCCESS" ] || fail "A: finalized before the records came"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$src" --job a --part records
wait_file "$out/alice/a/_SUCCESS" "A: the records after the manifest"
wait "$pid" || fail "A: the sink failed: $(tail -5 "$out.log")"
same_tree "$out/alice/a/n1" "A"

note "B: the companion topic read behind the records (a backlog of 30,000 messages before the open message)"
out=$T/b && mkdir -p "$out"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$src" --job b --part all --backlog 30000
sink "$out" "g-b-$topic" -X queued.max.messages.kbytes=64
wait $! || fail "B: the sink failed: $(tail -5 "$out.log")"
[ -e "$out/alice/b/_SUCCESS" ] || fail "B: not finalized: $(grep -v 'quarantined message' "$out.log" | tail -5)"
same_tree "$out/alice/b/n1" "B"
grep -q 'records deferred until their open message was read' "$out.log" ||
    note "B: no record had to wait this time (the companion topic was read first)"
grep -o '[0-9]* records deferred[^;]*' "$out.log" || true

note "C: a second sink joins the group in the middle (a rebalance)"
out=$T/c && mkdir -p "$out"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$src" --job c --part all
sink "$out" "g-c-$topic" -X queued.max.messages.kbytes=64 -X stream.static.membership=false
first=$!
sleep 1
sink "$out" "g-c-$topic" -X queued.max.messages.kbytes=64 -X stream.static.membership=false
second=$!
wait "$first" || fail "C: the first sink failed: $(tail -5 "$out.log")"
wait "$second" || fail "C: the second sink failed: $(tail -5 "$out.log")"
[ -e "$out/alice/c/_SUCCESS" ] || fail "C: not finalized"
same_tree "$out/alice/c/n1" "C"

note "D: kill -9 at random moments, then a restart"
out=$T/d && mkdir -p "$out"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$src" --job d --part all
for delay in 0.5 1.5 0.8; do
    sink "$out" "g-d-$topic" -X queued.max.messages.kbytes=64 -X stream.commit.interval.ms=200
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
sink "$out" "g-d-$topic"
wait $! || fail "D: the last sink failed: $(tail -5 "$out.log")"
[ -e "$out/alice/d/_SUCCESS" ] || fail "D: not finalized"
same_tree "$out/alice/d/n1" "D"

note "E: the sink runs before the companion topic exists; the first records-mode push creates it (auto-create)"
topic_e=$(unique_topic)
create_topic "$topic_e" 1
out=$T/e && mkdir -p "$out"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic_e" --group "g-e-$topic_e" \
    --output "$out" --exit-when-idle 30 -v 2>>"$out.log" &
pid=$!
on_exit "kill $pid 2>/dev/null"
for ((i = 0; i < 300; i++)); do grep -q "assigned" "$out.log" 2>/dev/null && break; sleep 0.2; done
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic_e" --format records --cluster c \
    --job-id e --node n1 --user alice --nodes 1 --spool "$T/spool-e" --timeout 120 "$src" >/dev/null ||
    fail "E: the push failed"
wait_file "$out/alice/e/_SUCCESS" "E: records whose companion topic appeared after the sink subscribed"
kill "$pid" 2>/dev/null
same_tree "$out/alice/e/n1" "E"
! grep -q "was not opened" "$out.log" || fail "E: a record was dropped: $(grep 'was not opened' "$out.log" | head -2)"
echo "PASS"
