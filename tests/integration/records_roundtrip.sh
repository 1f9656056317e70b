#!/bin/bash
# Records mode: kafka-stream-push --format records sends each line of a text file as {"timestamp","data"} to the
# topic, and everything else (open message, chunks of the binary, long-line and empty files, manifest) to its
# companion topic <topic>.ks-meta; the classic kafka-python consumer, unchanged (value_deserializer=json.loads, no
# header or key filtering), reads the whole topic without an exception and sees every line of the CSV in order;
# kafka-stream-sink, given the topic, reads both and rebuilds every file bit for bit: CRLF, empty lines, a last line
# without newline, invalid UTF-8, control characters, a binary file and a file with a too long line (both sent in
# file mode), an empty file.
. "$(dirname "$0")/../lib/common.sh"
needs_built push sink

src=$T/src out=$T/out
mkdir -p "$src/sub" "$out"
"$PY" - "$src" <<'PYEOF'
import os, random, sys
d = sys.argv[1]
random.seed(7)
with open(os.path.join(d, "result.csv"), "w") as f:
    f.write("id,value,label\n")
    for i in range(200000):
        f.write("%d,%.6f,\"quoted, %d\"\n" % (i, random.random(), i % 13))
with open(os.path.join(d, "sub", "crlf.csv"), "wb") as f:
    f.write(b"a,b\r\n1,2\r\n\r\n\r\nlone\rcr\r\nlast without newline")
with open(os.path.join(d, "sub", "mixed.txt"), "wb") as f:
    f.write(b"caf\xe9 latin-1\n\xc3\xa9 utf-8 \xe6\x97\xa5\n\"q\" \\ \t \x01\x1f\x7f\n\n\ntrailing\n")
with open(os.path.join(d, "binary.dat"), "wb") as f:
    f.write(b"head\n\x00" + os.urandom(5000))
with open(os.path.join(d, "longline.txt"), "w") as f:
    f.write("short\n" + "x" * 300000 + "\nafter\n")
open(os.path.join(d, "empty.csv"), "w").close()
PYEOF

topic=$(unique_topic)
create_topic "$topic"
create_topic "$topic.ks-meta"
note "push --format records to $topic"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --format records --cluster c1 --job-id 2001 \
    --node n1 --user alice --nodes 1 --spool "$T/spool" --timeout 300 "$src"

note "the classic kafka-python consumer, unchanged, reads the whole topic: only records, the CSV's lines in order"
"$PY" - "$KAFKA_BOOTSTRAP" "$topic" "$src" "$T" <<'PYEOF'
import json, sys
from kafka import KafkaConsumer
bootstrap, topic, src, tmp = sys.argv[1:5]
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                         consumer_timeout_ms=10000, group_id=None, value_deserializer=json.loads)
by_path = {}
lines = []
for msg in consumer:
    rec = msg.value
    lines.append(f"{rec['timestamp']},{rec['data']}")   # what the classic pipeline's consumer does with every message
    assert not msg.headers, msg.headers
    assert isinstance(rec["timestamp"], float), rec
    assert abs(msg.timestamp - rec["timestamp"] * 1000) <= 1, (msg.timestamp, rec)  # Kafka's timestamp is the same
    by_path.setdefault(rec["ks"]["path"], []).append((rec, rec["ks"]))
consumer.close()
expected = open(src + "/result.csv", "rb").read().decode().split("\n")[:-1]
got = [r["data"] for r, _ in by_path.get("result.csv", [])]
assert got == expected, "result.csv: %d lines received, %d expected; first difference at %s" % (
    len(got), len(expected), next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected))))
offsets = [m["offset"] for _, m in by_path["result.csv"]]
assert offsets == sorted(offsets), "offsets out of order"
crlf = [(r["data"], m["eol"]) for r, m in by_path["sub/crlf.csv"]]
assert crlf == [("a,b", "\r\n"), ("1,2", "\r\n"), ("", "\r\n"), ("", "\r\n"), ("lone\rcr", "\r\n"),
                ("last without newline", "")], crlf
mixed = by_path["sub/mixed.txt"]
assert mixed[0][0]["data"] == "caf\ufffd latin-1" and "data_b64" in mixed[0][0], mixed[0]
assert mixed[1][0]["data"] == "\u00e9 utf-8 \u65e5" and "data_b64" not in mixed[1][0]
assert mixed[2][0]["data"] == "\"q\" \\ \t \x01\x1f\x7f"
for name in ("binary.dat", "longline.txt", "empty.csv"):
    assert name not in by_path, name + " should have gone in file mode"
for name in ("result.csv", "sub/crlf.csv"):  # what the classic pipeline's consumer writes
    with open(tmp + "/py-" + name.replace("/", "-"), "w") as f:
        for rec, _ in by_path[name]:
            f.write(f"{rec['timestamp']},{rec['data']}\n")
# Everything else is on the companion topic: the open message first, the chunks, the manifest last.
meta = KafkaConsumer(topic + ".ks-meta", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                     consumer_timeout_ms=10000, group_id=None)
kinds = [dict(m.headers)["ks.type"].decode() for m in meta]
meta.close()
assert kinds[0] == "open" and kinds[-1] == "manifest" and kinds.count("chunk") >= 3, kinds
print("classic consumer: %d messages, all records (%d of result.csv, in order); companion topic: %s" % (
    len(lines), len(got), {k: kinds.count(k) for k in set(kinds)}))
PYEOF

note "the sink rebuilds every file bit for bit (with a small prefetch queue, so it runs full and dry many times)"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X queued.min.messages=20000 --topic "$topic" --group "g-$topic" \
    --output "$out" --exit-when-idle 5 -v 2> "$T/sink.log" || fail "sink failed: $(tail -5 "$T/sink.log")"
if [ "$(printf '%s\n' "$(pkg-config --modversion rdkafka)" 2.2.0 | sort -V | head -1)" != 2.2.0 ]; then
    # librdkafka < 2.2 stops fetching while the queue is full; the sink must have restarted the fetch itself.
    grep -q "fetch restarted [1-9][0-9]* time" "$T/sink.log" || fail "no fetch restart: $(grep restarted "$T/sink.log")"
fi
job=$out/alice/2001
[ -f "$job/_SUCCESS" ] || fail "_SUCCESS missing"
diff <(tree_digests "$src") <(tree_digests "$job/n1") || fail "output differs from the source"
[ ! -s "$out/.quarantine/messages.log" ] || fail "unexpected quarantine: $(cat "$out/.quarantine/messages.log")"
"$PY" - "$job/_manifests/n1.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
fmt = {f.get("path"): f.get("format", "files") for f in m["files"]}
assert fmt["result.csv"] == "records" and fmt["sub/crlf.csv"] == "records" and fmt["sub/mixed.txt"] == "records", fmt
assert fmt["binary.dat"] == "files" and fmt["longline.txt"] == "files" and fmt["empty.csv"] == "files", fmt
PYEOF

note "--records-timestamp-data: also FILE.timestamp_data, as the classic Python consumer writes it"
out2=$T/out2
mkdir -p "$out2"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g3-$topic" --output "$out2" --exit-when-idle 5 \
    --records-timestamp-data
job2=$out2/alice/2001
cmp "$T/py-result.csv" "$job2/n1/result.csv.timestamp_data" || fail "result.csv.timestamp_data differs from the Python consumer's"
cmp "$T/py-sub-crlf.csv" "$job2/n1/sub/crlf.csv.timestamp_data" || fail "crlf.csv.timestamp_data differs"
[ -f "$job2/n1/sub/mixed.txt.timestamp_data" ] || fail "no mixed.txt.timestamp_data"
for f in binary.dat longline.txt empty.csv; do
    [ ! -e "$job2/n1/$f.timestamp_data" ] || fail "$f was not sent as records but got a .timestamp_data"
done
for f in result.csv sub/crlf.csv sub/mixed.txt binary.dat longline.txt empty.csv; do
    cmp "$src/$f" "$job2/n1/$f" || fail "$f differs with --records-timestamp-data"
done
[ -f "$job2/_SUCCESS" ] || fail "_SUCCESS missing with --records-timestamp-data"

note "a replay through a new group changes nothing"
before=$(tree_digests "$out")
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g2-$topic" --output "$out" --exit-when-idle 5
[ "$before" = "$(tree_digests "$out")" ] || fail "a replay changed the output"
echo "PASS"
