#!/bin/bash
# tmpdir=job: the plugin records the $TMPDIR each job really had (here: from the submission environment) and the
# epilog streams that directory; a job whose TMPDIR is /tmp itself is refused (shared), and the records are removed.
# The harness runs tmpdir=<template>; this test switches its plugstack.conf to tmpdir=job for its own jobs
# (slurmstepd and sbatch read the file at each start; slurmd is not restarted) and restores it on exit. To leave other
# users of a shared harness alone it runs only while no other job is queued.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/slurm_jobs.sh"
needs_built push
# Jobs of earlier tests may still be completing: give them a minute.
for ((i = 0; i < 120; i++)); do [ -z "$(env SLURM_CONF="$SLURM_CONF" squeue -h)" ] && break; sleep 0.5; done
[ -z "$(env SLURM_CONF="$SLURM_CONF" squeue -h)" ] ||
    skip "other jobs are queued: not switching the shared plugstack.conf ($(env SLURM_CONF="$SLURM_CONF" squeue -h | head -3))"
conf=$KS_STATE/plugstack.conf
grep -q 'kafka_stream.so' "$conf" || skip "the harness did not load the plugin"
cp "$conf" "$T/plugstack.conf.orig"
on_exit 'cp "$T/plugstack.conf.orig" "$conf"'
state_dir=$T/plugin-state
sed -e 's|tmpdir=[^ ]*|tmpdir=job|' -e 's| create_tmpdir=[^ ]*||' -e 's| state_dir=[^ ]*||' \
    -e "s|\$| state_dir=$state_dir|" "$T/plugstack.conf.orig" >"$conf.new"
mv "$conf.new" "$conf"
cat "$conf"

own_tmp=$T/own-tmp
mkdir "$own_tmp" && chown "$KS_TEST_USER" "$own_tmp" && chmod 700 "$own_tmp"
cat >"$jobdir/job.sh" <<'JOB'
#!/bin/bash
echo "TMPDIR=$TMPDIR"
echo "from job $SLURM_JOB_ID" >"$TMPDIR/ks-from-job-$SLURM_JOB_ID.txt" 2>/dev/null || true
JOB
chmod 755 "$jobdir/job.sh"
topic=$(unique_topic)
# ks-node, the nodes' principal, may write to it but not create it (tests/cluster/lib/secure.sh).
create_topic "$topic"
own=$(as_user env TMPDIR="$own_tmp" sbatch --parsable --output="$jobdir/own.out" --kafka-stream="$topic" "$jobdir/job.sh")
shared=$(as_user env TMPDIR=/tmp sbatch --parsable --output="$jobdir/shared.out" --kafka-stream="$topic" "$jobdir/job.sh")
wait_gone "$own"
wait_gone "$shared"
rm -f "/tmp/ks-from-job-$shared.txt"
cat "$jobdir/own.out" "$jobdir/shared.out"
grep -h -E "kafka_stream: job ($own|$shared):" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" || true
grep -qh "kafka_stream: job $own: delivered $own_tmp\$" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" ||
    fail "job $own: its own TMPDIR $own_tmp was not delivered"
grep -qh "kafka_stream: job $shared: refusing to stream /tmp: it is a shared directory" \
    "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" || fail "job $shared: TMPDIR=/tmp was not refused"
grep -qh "kafka_stream: job $shared: .*delivered" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" &&
    fail "job $shared: something was delivered from /tmp"
[ "$(stat -c '%u %a' "$state_dir")" = "0 700" ] || fail "state_dir is not root-only"
[ -z "$(ls -A "$state_dir")" ] || fail "records left behind: $(ls "$state_dir")"
"$PY" - "$KAFKA_BOOTSTRAP" "$topic" "$own" <<'PYEOF' || fail "the file of job $own is not on the topic"
import sys
from kafka import KafkaConsumer
c = KafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], auto_offset_reset="earliest", consumer_timeout_ms=10000)
want = ("from job %s\n" % sys.argv[3]).encode()
sys.exit(0 if any(m.value == want for m in c) else 1)
PYEOF
