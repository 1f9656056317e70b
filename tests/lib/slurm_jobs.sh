# Sourced (after common.sh) by tests that submit jobs to the harness as the test user.
# as_user CMD...       runs CMD as $KS_TEST_USER in $jobdir, with the harness's SLURM_CONF
# wait_gone JOB [WHY]  waits (at most 180 s) until JOB has left the queue, i.e. its epilogs ended on every node
# harness CMD...       tests/cluster/cluster for this harness instance (kafka-stop, kafka-start, ...)
# and sets up $jobdir (the job scripts' directory, the test user's) and jobs_started (job ids cancelled on exit).
: "${SLURM_CONF:?no SLURM_CONF: run make cluster-up}" "${KS_TEST_USER:?no KS_TEST_USER: run make cluster-up}"
as_user() { (cd "$jobdir" && runuser -u "$KS_TEST_USER" -- env SLURM_CONF="$SLURM_CONF" "$@"); }
wait_gone() {
    local i
    for ((i = 0; i < 360; i++)); do
        env SLURM_CONF="$SLURM_CONF" squeue -h -j "$1" 2>/dev/null | grep -q . || return 0
        sleep 0.5
    done
    fail "job $1 still in the queue after 180 s${2:+: $2}"
}
harness() { KS_PORT_BASE=$KS_PORT_BASE KS_STATE=$KS_STATE "$KS_ROOT/tests/cluster/cluster" "$@"; }

jobdir=$T/jobs
mkdir -p "$jobdir" && chown "$KS_TEST_USER" "$jobdir"
jobs_started=()
on_exit 'for j in "${jobs_started[@]}"; do env SLURM_CONF="$SLURM_CONF" scancel "$j" 2>/dev/null; done'
