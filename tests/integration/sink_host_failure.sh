#!/bin/bash
# A fault of the host (here: out of file descriptors while staging) stops the sink with one clear line and exit 1,
# cleanly (no crash, no hang: the shutdown after an error runs the rebalance callbacks on a consumer that is still
# whole); nothing is lost: restarted with the fault gone, it completes the transfer bit for bit.
. "$(dirname "$0")/../lib/common.sh"
needs_built sink
topic=$(unique_topic)
create_topic "$topic" 1
mkdir -p "$T/src" "$T/out"
for i in $(seq 1 120); do echo "file $i" >"$T/src/f$i.txt"; done
"$PY" "$KS_ROOT/tests/tools/sink_produce.py" "$KAFKA_BOOTSTRAP" "$topic" "$T/src" --cluster c --job 5 --node n1 --user alice

rc=0
(ulimit -n 40 && exec "$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X stream.max.open.files=200 \
    --topic "$topic" --group "g-$topic" --output "$T/out" --exit-when-idle 10) 2>"$T/first.log" || rc=$?
cat "$T/first.log"
[ $rc = 1 ] || fail "exit $rc with too few file descriptors, expected 1 (a crash is 134/139)"
grep -q 'error: .*Too many open files' "$T/first.log" || fail "no line saying what failed"
[ ! -e "$T/out/alice/5/_SUCCESS" ] || fail "finished although staging failed"

"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$T/out" \
    --exit-when-idle 10 2>"$T/second.log" || { cat "$T/second.log"; fail "the restart failed"; }
diff <(tree_digests "$T/src") <(tree_digests "$T/out/alice/5/n1") || fail "the tree differs after the restart"
echo "PASS"
