#!/bin/bash
# Broker unreachable: the run ends within --timeout with exit 3 and a complete spool entry (same transfer id);
# --drain-spool against the real broker delivers everything, verified against the source, and removes the entry.
# A spool that cannot be written gives exit 4. A second drain has nothing left to do.
. "$(dirname "$0")/../lib/common.sh"
src=$T/src
mkdir -p "$src/out"
head -c 2500000 /dev/urandom > "$src/out/data.bin"
: > "$src/out/zero"
echo "x,y" > "$src/result.csv"
mkfifo "$src/pipe"
closed=127.0.0.1:9   # discard port: nothing listens on it

note "broker down: spooled"
start=$(date +%s)
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=$closed --topic will-not-exist --cluster c --job-id 7 --node n1 --timeout 3 \
    --spool "$T/spool" "$src" 2>"$T/err" || rc=$?
cat "$T/err"
[ $rc = 3 ] || fail "exit $rc, expected 3 (spooled)"
tid=$(sed -n 's/.*transfer \([0-9a-f]\{32\}\) to .*/\1/p' "$T/err")
[ -n "$tid" ] || fail "no transfer id in the summary"
entry=$T/spool/$(id -u)/$tid
[ -f "$entry/transfer.json" ] || fail "no complete spool entry at $entry"
[ "$(ls "$entry/data" | wc -l)" = 3 ] || fail "expected 3 spooled files"
"$PY" - "$entry/transfer.json" "$tid" <<'PYEOF'
import json, sys
e = json.load(open(sys.argv[1]))
assert e["identity"]["transfer_id"] == sys.argv[2] and e["key"] == "c/7/n1", e["identity"]
m = e["manifest"]
assert sorted(f["path"] for f in m["files"]) == ["out/data.bin", "out/zero", "result.csv"], m["files"]
assert m["skipped"] == [{"path": "pipe", "reason": "fifo"}], m["skipped"]
assert sorted(e["resend"]) == [0, 1, 2]
PYEOF

note "drain with the broker back"
topic=$(unique_topic drain); create_topic "$topic"
# The entry names the topic it was meant for; point it at this run's fresh topic.
"$PY" - "$entry/transfer.json" "$topic" <<'PYEOF'
import json, sys
e = json.load(open(sys.argv[1])); e["topic"] = sys.argv[2]; json.dump(e, open(sys.argv[1], "w"))
PYEOF
# Changing the entry breaks the node's signature (the drain would refuse it): sign it again, as the node.
"$PY" "$KS_ROOT/tests/tools/kswire.py" sign-spool "$entry"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --timeout 60 --drain-spool "$T/spool" 2>"$T/drain.err" \
    || fail "drain: exit $?: $(cat "$T/drain.err")"
cat "$T/drain.err"
[ ! -e "$entry" ] || fail "entry still there after a successful drain"
"$PY" "$KS_ROOT/tests/tools/push_verify.py" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --source "$src" \
    --timeout 60 --skip pipe=fifo
n=$(kcat -b "$KAFKA_BOOTSTRAP" -C -t "$topic" -e -q -f '%h\n' 2>/dev/null | grep -c "ks.transfer=$tid")
[ "$n" = 7 ] || fail "expected 7 messages of transfer $tid (open, 5 chunks, manifest), got $n"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --timeout 30 --drain-spool "$T/spool" 2>/dev/null \
    || fail "draining an empty spool must succeed"

note "a damaged spool entry is kept, never sent"
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=$closed --topic "$topic" --job-id 8 --node n1 --timeout 2 --spool "$T/spool" "$src" \
    2>/dev/null || rc=$?
[ $rc = 3 ] || fail "second spool: exit $rc"
entry2=$(ls -d "$T/spool/$(id -u)"/*)
printf 'corrupt' | dd of="$entry2/data/0" bs=1 seek=10 conv=notrunc 2>/dev/null
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --timeout 30 --drain-spool "$entry2" 2>"$T/bad.err" || rc=$?
[ $rc = 3 ] && grep -q 'does not match the manifest' "$T/bad.err" || fail "damaged entry: rc=$rc $(cat "$T/bad.err")"
[ -f "$entry2/transfer.json" ] || fail "damaged entry was removed"

note "spool not writable: exit 4"
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=$closed --topic x --job-id 9 --node n1 --timeout 2 --spool /proc/no-such-spool "$src" \
    2>"$T/err4" || rc=$?
[ $rc = 4 ] && grep -q 'NOT delivered and NOT spooled' "$T/err4" || fail "exit $rc, expected 4: $(cat "$T/err4")"
elapsed=$(( $(date +%s) - start ))
echo "push_spool_drain: all checks passed (${elapsed}s)"
