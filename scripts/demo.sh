#!/bin/bash
# make demo: the main job, end to end, on the local cluster.
# A batch job copies an input CSV into $TMPDIR, processes it there and leaves its results in $TMPDIR — the classic
# pipeline whose last line used to be "cp $TMPDIR/... $SLURM_SUBMIT_DIR". Submitted with --kafka-stream=demo, the
# results reach the sink's durable output root by themselves. The demo shows what arrived where and verifies digests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
t_start=$(date +%s.%N)
step_start=$t_start
step() {  # prints how long the previous step took
    local now; now=$(date +%s.%N)
    [ -n "${step_name:-}" ] && printf '    (%s: %.1f s)\n' "$step_name" "$(awk -v a="$step_start" -v b="$now" 'BEGIN{print b-a}')"
    step_name=$1; step_start=$now
    printf '\n==> %s\n' "$1"
}

step "Installing dependencies (make deps)"
make -s deps
step "Building (make)"
make -s -j"$(nproc)" all >/dev/null
step "Starting the local cluster: munge, slurmctld, slurmd n1+n2, Kafka (make cluster-up)"
tests/cluster/cluster up
# shellcheck disable=SC1090
. "$(tests/cluster/cluster env)"

OUT=$KS_STATE/durable
TOPIC=demo
step "Starting kafka-stream-sink over SASL_SSL ($KAFKA_SASL_BOOTSTRAP): topic $TOPIC -> $OUT"
mkdir -p "$OUT"
# The topic exists before the sink subscribes (a consumer would otherwise wait for its next metadata refresh).
/usr/bin/python3 - "$KAFKA_BOOTSTRAP" "$TOPIC" <<'PY'
import sys
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
try:
    admin.create_topics([NewTopic(sys.argv[2], 4, 1)])
except TopicAlreadyExistsError:
    pass
admin.close()
PY
# A sink an interrupted demo left running on this harness (only that one: other harnesses may run demos too).
if old=$(cat "$KS_STATE/demo-sink.pid" 2>/dev/null) &&
    tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -qF -- "--group $KS_SINK_GROUP_PREFIX-demo --output $OUT "; then
    kill "$old" 2>/dev/null || true
fi
# Over SASL_SSL as the principal ks-sink, with its root-only config (credentials and the site's signing key), as
# README's admin guide says; the compute nodes' helper uses ks-node's (tests/cluster/plugstack.args).
"$ROOT/build/bin/kafka-stream-sink" --config "$KS_SINK_CONF" --topic "$TOPIC" --group "$KS_SINK_GROUP_PREFIX-demo" \
    --output "$OUT" --chown >"$KS_STATE/demo-sink.log" 2>&1 &
sink_pid=$!
echo "$sink_pid" >"$KS_STATE/demo-sink.pid"
trap 'kill $sink_pid 2>/dev/null || true; rm -f "$KS_STATE/demo-sink.pid"' EXIT

step "Submitting the job as $KS_TEST_USER with sbatch --kafka-stream=$TOPIC"
WORK=$KS_STATE/demo-work
rm -rf "$WORK"; mkdir -p "$WORK"
# The input: a CSV of measurements (what a user would have on shared storage).
/usr/bin/python3 - "$WORK/input.csv" <<'PY'
import random, sys
random.seed(42)
with open(sys.argv[1], "w") as f:
    f.write("sample,sensor,value\n")
    for i in range(200000):
        f.write(f"{i},s{random.randrange(16)},{random.gauss(20, 5):.4f}\n")
PY
cat > "$WORK/job.sh" <<'JOB'
#!/bin/bash
#SBATCH --job-name=kafka-stream-demo
#SBATCH --output=slurm-%j.out
set -euo pipefail
echo "job $SLURM_JOB_ID on $SLURMD_NODENAME, TMPDIR=$TMPDIR, results go to Kafka topic $KAFKA_STREAM_TOPIC"
cp input.csv "$TMPDIR/"
cd "$TMPDIR"
mkdir -p results
# Per-sensor statistics and a filtered extract: the "processing" step of the classic pipeline.
awk -F, 'NR>1 {n[$2]++; s[$2]+=$3} END {print "sensor,count,mean"; for (k in n) printf "%s,%d,%.4f\n", k, n[k], s[k]/n[k]}' \
    input.csv | sort > results/stats.csv
awk -F, 'NR==1 || $3 > 30' input.csv > results/hot.csv
rm input.csv
# No "cp $TMPDIR/results $SLURM_SUBMIT_DIR" here: --kafka-stream does it.
sha256sum results/* > "$SLURM_SUBMIT_DIR/expected-$SLURM_JOB_ID.sha256"
JOB
chown -R "$KS_TEST_USER" "$WORK"
jobid=$(cd "$WORK" && runuser -u "$KS_TEST_USER" -- env SLURM_CONF="$SLURM_CONF" \
    sbatch --parsable --kafka-stream="$TOPIC" job.sh)
echo "    submitted job $jobid"

step "Waiting for the job to end and its results to become durable"
for _ in $(seq 1 240); do
    state=$(scontrol show job "$jobid" 2>/dev/null | sed -n 's/.*JobState=\([A-Z]*\).*/\1/p')
    success=$(find "$OUT" -path "*/$jobid/_SUCCESS" 2>/dev/null | head -1)
    [ -n "$success" ] && break
    sleep 0.5
done
[ -n "${success:-}" ] || { echo "results did not arrive; job state: ${state:-?}; sink log:"; tail -20 "$KS_STATE/demo-sink.log"; exit 1; }
JOBDIR=$(dirname "$success")

step "What arrived where"
echo "    job output:   $(head -1 "$WORK/slurm-$jobid.out")"
echo "    durable copy: $JOBDIR"
(cd "$JOBDIR" && find . -printf '      %M %u %10s  %p\n' | sort -k4)
echo "    verifying digests against what the job wrote in \$TMPDIR:"
node=$(sed -n 's/^job [0-9]* on \([^,]*\),.*/\1/p' "$WORK/slurm-$jobid.out")
(cd "$JOBDIR/$node" && sha256sum -c "$WORK/expected-$jobid.sha256" | sed 's/^/      /')
step "Done"
printf '    total %.1f s\n' "$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"
cat <<EOF2

Look further:
  . $(tests/cluster/cluster env); sacct/squeue/scontrol work as usual (SLURM_CONF=$SLURM_CONF)
  kcat -F <(grep -v '^stream\.' $KS_SINK_CONF) -C -t $TOPIC -e -f '%k %h (%S bytes)\n'
                                                   the messages (over SASL_SSL, as ks-sink)
  less $KS_STATE/demo-sink.log                                           the sink's log
Stop the local cluster with: make cluster-down
EOF2
