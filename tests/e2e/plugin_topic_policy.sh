#!/bin/bash
# Case 4: an invalid or disallowed topic fails sbatch/srun/salloc at once with the plugin's message, and no job is
# queued; a valid one is accepted (so the check below can tell the two apart). The harness's policy
# (tests/cluster/plugstack.args) is topics=(t|ks|%u)[-.].+ ; the options are listed in each command's --help.
. "$(dirname "$0")/../lib/common.sh"
: "${SLURM_CONF:?no SLURM_CONF: run make cluster-up}" "${KS_TEST_USER:?no KS_TEST_USER: run make cluster-up}"
as_user() { (cd "$T" && runuser -u "$KS_TEST_USER" -- env SLURM_CONF="$SLURM_CONF" "$@"); }
name=ks-topic-policy-$$
# Accepted jobs are held for an hour: if the plugin let a bad topic through, squeue would show it.
on_exit "env SLURM_CONF=$SLURM_CONF scancel --name=$name >/dev/null 2>&1; env SLURM_CONF=$SLURM_CONF scancel --name=$name-alloc >/dev/null 2>&1"
queued() { env SLURM_CONF="$SLURM_CONF" squeue -h --name="$name" -o %i | wc -l; }

for cmd in sbatch srun salloc; do
    as_user "$cmd" --help >"$T/help" 2>&1 || true
    grep -q -- '--kafka-stream=TOPIC' "$T/help" || fail "$cmd --help does not list --kafka-stream"
    grep -q -- '--kafka-stream-include' "$T/help" || fail "$cmd --help does not list --kafka-stream-include"
done

# expect_refused DESCRIPTION EXPECTED-MESSAGE COMMAND...
expect_refused() {
    local what=$1 message=$2 rc=0
    shift 2
    as_user timeout 60 "$@" >"$T/out" 2>&1 || rc=$?
    cat "$T/out"
    [ $rc != 0 ] || fail "$what: accepted"
    [ $rc != 124 ] || fail "$what: timed out instead of failing at once"
    grep -q "kafka_stream: .*$message" "$T/out" || fail "$what: no 'kafka_stream: ... $message' message"
    [ "$(queued)" = 0 ] || fail "$what: a job was queued"
    note "$what: refused"
}
hold=(--begin=now+3600 --job-name="$name" --output=/dev/null)
expect_refused "sbatch, bad character" "Kafka does not allow" sbatch "${hold[@]}" --kafka-stream=bad/topic --wrap true
expect_refused "sbatch, empty topic" "empty" sbatch "${hold[@]}" --kafka-stream= --wrap true
expect_refused "sbatch, '..'" "not allowed by Kafka" sbatch "${hold[@]}" --kafka-stream=.. --wrap true
expect_refused "sbatch, too long" "longer than 249" sbatch "${hold[@]}" --kafka-stream="t-$(printf 'x%.0s' {1..260})" --wrap true
expect_refused "sbatch, disallowed by the site" "not allowed on this cluster" \
    sbatch "${hold[@]}" --kafka-stream=forbidden.results --wrap true
expect_refused "sbatch, another user's prefix" "not allowed on this cluster" \
    sbatch "${hold[@]}" --kafka-stream=root.results --wrap true
expect_refused "sbatch, bad include list" "empty pattern" \
    sbatch "${hold[@]}" --kafka-stream="$KS_TEST_USER.ok" --kafka-stream-include='*.csv,,*.txt' --wrap true
cat >"$T/job.sh" <<'JOB'
#!/bin/bash
#SBATCH --kafka-stream=forbidden.in-script
true
JOB
chmod 755 "$T/job.sh"
expect_refused "#SBATCH, disallowed" "not allowed on this cluster" sbatch "${hold[@]}" "$T/job.sh"
expect_refused "srun, disallowed" "not allowed on this cluster" \
    srun --job-name="$name" --kafka-stream=forbidden.results true
expect_refused "salloc, invalid" "Kafka does not allow" \
    salloc --job-name="$name" --kafka-stream='a b' true

# Streaming happens at job end: an srun inside an allocation that did not ask for it (or asked for another topic)
# would create a TMPDIR nobody sends. It is refused inside the allocation, and the allocation itself is fine.
as_user timeout 120 salloc --job-name="$name-alloc" -N1 bash -c \
    "srun --kafka-stream=$KS_TEST_USER.step true; echo srun-exit=\$?" >"$T/out" 2>&1 || true
cat "$T/out"
grep -q "srun-exit=0" "$T/out" && fail "srun --kafka-stream inside an allocation without it was accepted"
grep -q "kafka_stream: .*give --kafka-stream to sbatch or salloc" "$T/out" || fail "no explanation for the srun refusal"
as_user timeout 120 salloc --job-name="$name-alloc" -N1 --kafka-stream="$KS_TEST_USER.job" bash -c \
    "srun --kafka-stream=$KS_TEST_USER.job true; echo same=\$?; srun --kafka-stream=$KS_TEST_USER.other true; echo other=\$?" \
    >"$T/out" 2>&1 || true
cat "$T/out"
grep -q "same=0" "$T/out" || fail "srun with the job's own topic was refused"
grep -q "other=0" "$T/out" && fail "srun with another topic than the job's was accepted"
note "srun inside allocations: checked against the job's topic"

note "a valid topic is accepted (control)"
control=$(as_user sbatch --parsable "${hold[@]}" --kafka-stream="$KS_TEST_USER.results" --kafka-stream-include='*.csv' \
    --wrap true) || fail "a valid topic was refused"
on_exit "env SLURM_CONF=$SLURM_CONF scancel $control"
[ "$(queued)" = 1 ] || fail "the accepted job is not queued"
env SLURM_CONF="$SLURM_CONF" scancel "$control"
