#!/bin/bash
# Case 6: a job without --kafka-stream is left alone: no TMPDIR is created or set, no KAFKA_STREAM_TOPIC, and its
# epilog runs no helper (no "kafka_stream: job <id>" line in either slurmd log). A job with the flag, run alongside,
# shows what the logs look like when the plugin does act, so the absence above means something.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/slurm_jobs.sh"
needs_built push
plugin_lines() { grep -h "kafka_stream: job $1:" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" || true; }

cat >"$jobdir/job.sh" <<'JOB'
#!/bin/bash
echo "TMPDIR=${TMPDIR:-} TOPIC=${KAFKA_STREAM_TOPIC:-}"
[ -n "${TMPDIR:-}" ] && [ -w "${TMPDIR:-/nonexistent}" ] && echo "result" >"$TMPDIR/ks-no-flag-$SLURM_JOB_ID.txt"
exit 0
JOB
chmod 755 "$jobdir/job.sh"
topic=$(unique_topic)
# ks-node, the nodes' principal, may write to it but not create it (tests/cluster/lib/secure.sh).
create_topic "$topic"

plain=$(as_user sbatch --parsable --output="$jobdir/plain.out" "$jobdir/job.sh")
jobs_started+=("$plain")
flagged=$(as_user sbatch --parsable --output="$jobdir/flagged.out" --kafka-stream="$topic" "$jobdir/job.sh")
jobs_started+=("$flagged")
note "jobs $plain (no flag) and $flagged (--kafka-stream=$topic)"
wait_gone "$plain"
wait_gone "$flagged"
cat "$jobdir/plain.out" "$jobdir/flagged.out"

note "control: the flagged job got its TMPDIR and topic, and its epilog ran the helper"
grep -Eq "TMPDIR=$KS_SCRATCH/n[12]/job_$flagged TOPIC=$topic" "$jobdir/flagged.out" ||
    fail "the flagged job did not get the plugin's TMPDIR and KAFKA_STREAM_TOPIC"
plugin_lines "$flagged"
plugin_lines "$flagged" | grep -q "job $flagged: delivered" || fail "no delivery logged for the flagged job"

note "the job without the flag"
grep -q "TOPIC=$" "$jobdir/plain.out" || fail "KAFKA_STREAM_TOPIC was set without the flag"
grep -q "TMPDIR=$KS_SCRATCH" "$jobdir/plain.out" && fail "the plugin set TMPDIR without the flag"
for n in n1 n2; do
    [ ! -e "$KS_SCRATCH/$n/job_$plain" ] || fail "the plugin created $KS_SCRATCH/$n/job_$plain without the flag"
done
lines=$(plugin_lines "$plain")
[ -z "$lines" ] || fail "the plugin acted on job $plain: $lines"
note "nothing done for job $plain"
