#!/bin/bash
# Records mode and the spool: a push --format records that cannot reach Kafka spools its files and says which were
# going out as records; --drain-spool sends those as records again (a plain consumer of the topic gets every line,
# with the timestamps the manifest lists), the others as chunks, and the sink rebuilds the tree bit for bit.
. "$(dirname "$0")/../lib/common.sh"
needs_built sink
src=$T/src out=$T/out
mkdir -p "$src/sub" "$out"
seq 1 5000 | sed 's/.*/&,value &,"q"/' > "$src/result.csv"
printf 'a,b\r\nlast' > "$src/sub/crlf.csv"
head -c 300000 /dev/urandom > "$src/blob.bin"
closed=127.0.0.1:9   # discard port: nothing listens on it

note "broker down: spooled"
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=$closed --format records --topic will-not-exist --cluster c --job-id 71 --node n1 \
    --user alice --timeout 3 --spool "$T/spool" "$src" 2>"$T/err" || rc=$?
[ $rc = 3 ] || fail "exit $rc, expected 3 (spooled): $(cat "$T/err")"
tid=$(sed -n 's/.*transfer \([0-9a-f]\{32\}\) to .*/\1/p' "$T/err")
entry=$T/spool/$(id -u)/$tid
[ -f "$entry/transfer.json" ] || fail "no complete spool entry at $entry"
topic=$(unique_topic rdrain); create_topic "$topic"; create_topic "$topic.ks-meta"
"$PY" - "$entry/transfer.json" "$topic" <<'PYEOF'
import json, sys
e = json.load(open(sys.argv[1]))
fmt = {f["path"]: f.get("format", "files") for f in e["manifest"]["files"]}
assert fmt == {"result.csv": "records", "sub/crlf.csv": "records", "blob.bin": "files"}, fmt
e["topic"] = sys.argv[2]   # point the entry at this run's fresh topic
json.dump(e, open(sys.argv[1], "w"))
PYEOF
# Changing the entry breaks the node's signature (the drain would refuse it): sign it again, as the node.
"$PY" "$KS_ROOT/tests/tools/kswire.py" sign-spool "$entry"

note "drain with the broker back"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --timeout 60 --drain-spool "$T/spool" 2>"$T/drain.err" \
    || fail "drain: exit $?: $(cat "$T/drain.err")"
[ ! -e "$entry" ] || fail "entry still there after a successful drain"

note "a plain consumer gets every line as a record, and nothing else; the rest is on the companion topic"
"$PY" - "$KAFKA_BOOTSTRAP" "$topic" "$src/result.csv" "$tid" <<'PYEOF'
import json, sys
from kafka import KafkaConsumer
bootstrap, topic, csv, tid = sys.argv[1:5]
c = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=10000,
                  group_id=None, value_deserializer=json.loads)
lines, manifest = [], None
for msg in c:
    rec = msg.value
    assert not msg.headers and rec["ks"]["transfer"] == tid, (msg.headers, rec)
    if rec["ks"]["path"] == "result.csv":
        lines.append(rec["data"])
meta = KafkaConsumer(topic + ".ks-meta", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                     consumer_timeout_ms=10000, group_id=None)
for msg in meta:
    if dict(msg.headers).get("ks.type") == b"manifest":
        manifest = json.loads(msg.value)
expected = open(csv).read().split("\n")[:-1]
assert lines == expected, "%d lines, %d expected" % (len(lines), len(expected))
f = {e["path"]: e for e in manifest["files"]}
assert f["result.csv"]["format"] == "records" and f["result.csv"]["chunks"] == 5000, f["result.csv"]
assert f["result.csv"]["timestamps"][0][0] == 0, f["result.csv"]
assert "format" not in f["blob.bin"], f["blob.bin"]
print("drained records: %d lines in order" % len(lines))
PYEOF

note "the sink rebuilds the tree"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5 \
    --records-timestamp-data
diff <(tree_digests "$src") <(cd "$out/alice/71/n1" && find . -type f ! -name '*.timestamp_data' -print0 | sort -z |
    xargs -0r sha256sum) || fail "output differs from the source"
[ "$(wc -l < "$out/alice/71/n1/result.csv.timestamp_data")" = 5000 ] || fail "timestamp_data of result.csv incomplete"
echo "records_spool_drain: all checks passed"
