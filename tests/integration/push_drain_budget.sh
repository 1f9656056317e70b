#!/bin/bash
# One user's spool cannot stall the drain of everyone else's: as root, each SPOOL/<uid> directory is drained in a
# child running as that user, for at most stream.drain.user.seconds (and an even share of --timeout), users whose
# entries are oldest first; entries left by interrupted runs are removed; a planted entry is never sent.
. "$(dirname "$0")/../lib/common.sh"
needs_built push
: "${KS_TEST_USER2:?no second test user: run make cluster-up}"
spool=$T/spool
src=$T/src
mkdir -p "$src" && echo "x,y" >"$src/a.csv" && chmod -R a+rX "$src"
for u in "$KS_TEST_USER" "$KS_TEST_USER2"; do
    rc=0
    "$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=127.0.0.1:9 --topic t-budget --cluster c --job-id "b-$u" --node n1 \
        --user "$u" --run-as "$(id -u "$u"):$(id -g "$u")" --spool "$spool" --timeout 2 "$src" 2>/dev/null || rc=$?
    [ $rc = 3 ] || fail "spooling for $u: exit $rc"
done
# What an interrupted run leaves (its pid is gone).
first=$(id -u "$KS_TEST_USER")
mkdir -p "$spool/$first/.0123456789abcdef0123456789abcdef.partial-999999999/data"
chown -R "$KS_TEST_USER" "$spool/$first/.0123456789abcdef0123456789abcdef.partial-999999999"

note "Kafka unreachable: each user gets 3 s, not the whole 120 s"
start=$(date +%s)
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=127.0.0.1:9 -X stream.drain.user.seconds=3 --timeout 120 \
    --drain-spool "$spool" 2>"$T/drain.err" || rc=$?
secs=$(($(date +%s) - start))
cat "$T/drain.err"
[ $rc = 3 ] || fail "drain exit $rc, expected 3 (entries remain)"
[ "$secs" -lt 60 ] || fail "the drain took $secs s for two users of 3 s each"
[ "$(grep -c 'not delivered' "$T/drain.err")" = 2 ] || fail "both users' entries should have been tried"
grep -q 'removed 1 entries left by interrupted runs' "$T/drain.err" || fail "the interrupted entry was not removed"
[ ! -e "$spool/$first/.0123456789abcdef0123456789abcdef.partial-999999999" ] || fail "the partial entry is still there"
[ "$(ls "$spool/$first" | wc -l)" = 1 ] && [ "$(ls "$spool/$(id -u "$KS_TEST_USER2")" | wc -l)" = 1 ] ||
    fail "an entry was lost"

note "Kafka back: both delivered"
topic=$(unique_topic)
create_topic "$topic"
for e in "$spool"/*/*; do
    "$PY" - "$e/transfer.json" "$topic" <<'PYEOF'
import json, sys
e = json.load(open(sys.argv[1])); e["topic"] = sys.argv[2]; json.dump(e, open(sys.argv[1], "w"))
PYEOF
    "$PY" "$KS_ROOT/tests/tools/kswire.py" sign-spool "$e"  # as the node that wrote it
done
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --timeout 60 --drain-spool "$spool" 2>"$T/drain2.err" ||
    fail "drain with Kafka back: $(cat "$T/drain2.err")"
[ "$(grep -c 'delivered 1 spooled files' "$T/drain2.err")" = 2 ] || fail "expected two entries delivered"
echo "PASS (two users, Kafka unreachable: $secs s)"
