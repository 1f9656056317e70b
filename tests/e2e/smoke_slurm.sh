#!/bin/bash
# Smoke test of the harness's Slurm: a 2-node batch job (sbatch -N2) submitted by the non-root test user runs one
# task on n1 and one on n2, as that user.
. "$(dirname "$0")/../lib/common.sh"
: "${SLURM_CONF:?no SLURM_CONF: run make cluster-up}" "${KS_TEST_USER:?no KS_TEST_USER: run make cluster-up}"

job_dir=$T/job
mkdir "$job_dir"
chown "$KS_TEST_USER" "$job_dir"
cat >"$job_dir/job.sh" <<'JOB'
#!/bin/bash
srun -N2 --ntasks-per-node=1 bash -c 'echo "task on=$SLURMD_NODENAME user=$(id -un)"' | sort
JOB
chmod 755 "$job_dir/job.sh"

as_user() { runuser -u "$KS_TEST_USER" -- env SLURM_CONF="$SLURM_CONF" "$@"; }
# If the bounded wait expires, the job must not stay behind.
on_exit 'job=$(sed -n "s/^Submitted batch job \([0-9]*\).*/\1/p" "$T/sbatch.out"); [ -z "$job" ] || env SLURM_CONF="$SLURM_CONF" scancel "$job"'

note "submitting a 2-node job as $KS_TEST_USER"
rc=0
as_user timeout 180 sbatch -N2 --wait --time=3 --job-name=ks-smoke --chdir="$job_dir" \
    --output="$job_dir/out.txt" --error="$job_dir/err.txt" "$job_dir/job.sh" >"$T/sbatch.out" 2>&1 || rc=$?
cat "$T/sbatch.out"
note "job output:"
cat "$job_dir/out.txt" 2>/dev/null || true
note "job stderr:"
cat "$job_dir/err.txt" 2>/dev/null || true
[ $rc = 0 ] || fail "sbatch --wait exited with $rc"

expected="task on=n1 user=$KS_TEST_USER
task on=n2 user=$KS_TEST_USER"
[ "$(cat "$job_dir/out.txt")" = "$expected" ] || fail "the job did not run one task on n1 and one on n2 as $KS_TEST_USER"
note "ran on n1 and n2 as $KS_TEST_USER"
