#!/bin/bash
# Case 7: a job's $TMPDIR holds a symlink to a root-only file (/etc/shadow), a symlink to /, and a FIFO nobody
# writes to. The epilog must finish (the job leaves the queue), the regular file arrives, and no byte of the root-only
# file is ever sent: every message on the topic is read back and searched for it.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/slurm_jobs.sh"
needs_built push sink
[ -s /etc/shadow ] || skip "no /etc/shadow to protect"
job=""
on_exit '[ -z "$job" ] || env SLURM_CONF="$SLURM_CONF" scancel "$job" 2>/dev/null'

out=$T/out
mkdir "$out"
cat >"$jobdir/job.sh" <<'JOB'
#!/bin/bash
set -e
cd "$TMPDIR"
echo "safe content" >safe.txt
ln -s /etc/shadow shadow-link
ln -s / root-link
mkdir sub && ln -s /etc/shadow sub/deeper-link
mkfifo pipe
ls -la
JOB
chmod 755 "$jobdir/job.sh"
topic=$(unique_topic)
# ks-node, the nodes' principal, may write to it but not create it (tests/cluster/lib/secure.sh).
create_topic "$topic"
job=$(as_user sbatch --parsable --output="$jobdir/out.txt" --kafka-stream="$topic" "$jobdir/job.sh")
note "job $job -> $topic"
wait_gone "$job" "the epilog hangs"
cat "$jobdir/out.txt"
grep -h "kafka_stream: job $job:" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" || true

note "the sink rebuilds the job's tree"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5
node_dir=$(find "$out/$KS_TEST_USER/$job" -mindepth 1 -maxdepth 1 -name 'n[12]' | head -1)
[ -n "$node_dir" ] || fail "nothing persisted for job $job: $(find "$out" | head -20)"
[ "$(cat "$node_dir/safe.txt")" = "safe content" ] || fail "the regular file did not arrive"
for p in shadow-link root-link sub/deeper-link pipe; do
    [ ! -e "$node_dir/$p" ] && [ ! -L "$node_dir/$p" ] || fail "$p was persisted"
done
manifest=$(ls "$out/$KS_TEST_USER/$job/_manifests/"*.json)
"$PY" - "$manifest" <<'PYEOF' || fail "the manifest does not list the skipped entries"
import json, sys
m = json.load(open(sys.argv[1]))
files = {f.get("path") for f in m["files"]}
skipped = {s.get("path"): s.get("reason") for s in m["skipped"]}
print("files:", sorted(files), "skipped:", skipped)
assert files == {"safe.txt"}, files
assert {"shadow-link", "root-link", "sub/deeper-link", "pipe"} <= set(skipped), skipped
PYEOF

note "no message on $topic carries any line of /etc/shadow"
"$PY" - "$KAFKA_BOOTSTRAP" "$topic" <<'PYEOF' || fail "root-only content was sent"
import sys
from kafka import KafkaConsumer, TopicPartition
bootstrap, topic = sys.argv[1], sys.argv[2]
secret = [l for l in open("/etc/shadow", "rb").read().split(b"\n") if l.strip()]
c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
parts = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic)]
c.assign(parts)
c.seek_to_beginning(*parts)
end = c.end_offsets(parts)
seen = 0
while any(c.position(p) < end[p] for p in parts):
    for recs in c.poll(timeout_ms=1000).values():
        for r in recs:
            seen += 1
            blob = (r.value or b"") + b"".join(v for _, v in (r.headers or []))
            for line in secret:
                if line in blob:
                    sys.exit("a message at %s/%d carries a line of /etc/shadow" % (r.partition, r.offset))
print("checked %d messages" % seen)
if seen == 0:
    sys.exit("no messages on the topic")
PYEOF
