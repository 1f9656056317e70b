#!/bin/bash
# Records mode through the real path: sbatch --kafka-stream=T --kafka-stream-format=records -> kafka_stream.so ->
# epilog -> kafka-stream-push --format records -> Kafka. A plain kafka-python consumer (json.loads) reads the job's
# CSV line by line in order; kafka-stream-sink rebuilds it identically (digest compared). A bad format value is
# refused at submission.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/slurm_jobs.sh"
needs_built push sink

out=$T/out
mkdir "$out"
topic=$(unique_topic)
create_topic "$topic"
create_topic "$topic.ks-meta"  # records mode's companion topic (open message, chunks, manifest), as a site creates it

note "a bad --kafka-stream-format is refused at submission"
if as_user sbatch --parsable --kafka-stream="$topic" --kafka-stream-format=lines --wrap=true >"$T/bad.out" 2>&1; then
    jobs_started+=("$(cat "$T/bad.out")")
    fail "sbatch accepted --kafka-stream-format=lines"
fi
grep -q "records" "$T/bad.out" || fail "no reason given: $(cat "$T/bad.out")"

cat >"$jobdir/job.sh" <<JOB
#!/bin/bash
set -e
cd "\$TMPDIR"
for i in \$(seq 1 20000); do echo "\$i,\$((i * 7)),label \$i"; done >result.csv
printf 'a,b\r\nlast' >crlf.csv
sha256sum result.csv crlf.csv >"$jobdir/digests"
JOB
chmod 755 "$jobdir/job.sh"
j=$(as_user sbatch --parsable --output="$jobdir/job.out" --kafka-stream="$topic" --kafka-stream-format=records \
    "$jobdir/job.sh")
jobs_started+=("$j")
note "job $j -> $topic (records)"
wait_gone "$j"
grep -h -E "kafka_stream: job $j:" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" || true

note "the classic consumer, unchanged, reads the topic: only records, result.csv's lines in order"
"$PY" - "$KAFKA_BOOTSTRAP" "$topic" "$jobdir/digests" <<'PYEOF'
import hashlib, json, sys
from kafka import KafkaConsumer
bootstrap, topic, digests = sys.argv[1:4]
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                         consumer_timeout_ms=10000, group_id=None, value_deserializer=json.loads)
lines = []
for msg in consumer:
    rec = msg.value
    line = f"{rec['timestamp']},{rec['data']}"  # what the classic pipeline writes, for every message
    if rec["ks"]["path"] == "result.csv":
        lines.append(rec["data"])
consumer.close()
expected = ["%d,%d,label %d" % (i, i * 7, i) for i in range(1, 20001)]
assert lines == expected, "%d lines, %d expected" % (len(lines), len(expected))
want = dict(l.split()[::-1] for l in open(digests))
assert hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest() == want["result.csv"]
PYEOF

note "the sink rebuilds the files identically"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5
node_dir=$(ls -d "$out/$KS_TEST_USER/$j"/n[12] | head -1)
[ -n "$node_dir" ] || fail "nothing persisted for job $j"
(cd "$node_dir" && sha256sum -c "$jobdir/digests") || fail "the rebuilt files differ"
grep -q '"format":"records"' "$out/$KS_TEST_USER/$j/_manifests/"n[12].json || fail "the manifest does not say records"
echo "PASS"
