#!/bin/bash
# Case 5: Kafka is down when the job ends. The epilog's helper cannot deliver, spools the node's files and the
# epilog still returns in bounded time with one clear log line; the node is not drained. Once Kafka is back,
# kafka-stream-push --drain-spool delivers the spooled transfer and the sink rebuilds the file.
# Stops the harness's broker 1 for the duration (restarted on exit).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/slurm_jobs.sh"
needs_built push sink
[ "${KAFKA_BROKERS:-1}" = 1 ] || skip "written for the single-broker harness"
job=""
on_exit '[ -z "$job" ] || env SLURM_CONF="$SLURM_CONF" scancel "$job" 2>/dev/null'
on_exit 'harness kafka-start >/dev/null 2>&1'

out=$T/out
mkdir "$out"
uid=$(id -u "$KS_TEST_USER")
topic=$(unique_topic)
create_topic "$topic"
# The job writes its result, then waits (bounded) for the test to take Kafka down.
cat >"$jobdir/job.sh" <<JOB
#!/bin/bash
echo "precious result \$SLURM_JOB_ID" >"\$TMPDIR/result.txt"
touch "$jobdir/written"
for i in \$(seq 600); do [ -e "$jobdir/go" ] && exit 0; sleep 0.2; done
exit 1
JOB
chmod 755 "$jobdir/job.sh"
# No spool directory yet (a fresh harness) counts as no entries.
spool_entries() { [ -d "$KS_STATE/spool/$uid" ] || { echo 0; return; }; find "$KS_STATE/spool/$uid" -mindepth 1 -maxdepth 1 -type d | wc -l; }
spooled_before=$(spool_entries)
job=$(as_user sbatch --parsable --output="$jobdir/out.txt" --kafka-stream="$topic" "$jobdir/job.sh")
for ((i = 0; i < 600; i++)); do [ -e "$jobdir/written" ] && break; sleep 0.2; done
[ -e "$jobdir/written" ] || fail "job $job did not start"
node=$(env SLURM_CONF="$SLURM_CONF" squeue -h -j "$job" -o %N)
note "job $job on $node wrote its result; stopping Kafka"
harness kafka-stop
touch "$jobdir/go"
wait_gone "$job" "the epilog is not bounded"
log=$KS_STATE/log/slurmd-$node.log
grep -h "kafka_stream: job $job:" "$log" || true
grep -q "kafka_stream: job $job: NOT delivered, spooled" "$log" || fail "no 'NOT delivered, spooled' line for job $job"
grep -q "kafka_stream: job $job: delivered" "$log" && fail "delivery reported while Kafka was down"
state=$(env SLURM_CONF="$SLURM_CONF" sinfo -h -n "$node" -o %T)
note "$node is $state"
case $state in *drain*|*down*|*fail*) fail "$node is $state after the failed transfer";; esac
[ "$(spool_entries)" -gt "$spooled_before" ] || fail "no new entry in $KS_STATE/spool/$uid"

note "Kafka back: drain the spool, then the sink gets the file"
harness kafka-start
"$PUSH" "${KS_AUTH[@]}" --config "$KS_STREAM_CONF" --timeout 120 --drain-spool "$KS_STATE/spool/$uid" || fail "--drain-spool failed"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5
[ "$(cat "$out/$KS_TEST_USER/$job/$node/result.txt" 2>/dev/null)" = "precious result $job" ] ||
    fail "the spooled result did not arrive: $(find "$out" | head)"
