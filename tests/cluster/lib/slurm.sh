# munged, slurmctld and the two slurmd of the harness (sourced by tests/cluster/cluster, after lib/daemons.sh).
# All on this host: n1 and n2 are two slurmd processes on distinct ports, each with its own spool, log and scratch.

SLURM_NODES=(n1 n2)
SLURM_CONF_FILE() { echo "$KS_STATE/slurm.conf"; }
MUNGE_SOCKET() { echo "$KS_STATE/munge/munge.socket"; }

# The harness's own munged: its own key, socket and logs in the state dir, so it never touches /etc/munge or a
# munged the machine already runs.
munge_prepare() {
    local d=$KS_STATE/munge
    mkdir -p "$d"
    chmod 0755 "$d"   # clients (sbatch as the test user) must reach the socket
    if [ ! -s "$d/munge.key" ]; then
        if command -v mungekey >/dev/null; then mungekey --create --keyfile="$d/munge.key" --force
        else dd if=/dev/urandom of="$d/munge.key" bs=1024 count=1 status=none; fi
        chmod 0600 "$d/munge.key"
    fi
}

# munged is only useful with its socket (a removed state dir takes the socket with it).
munge_usable() { daemon_running munged && [ -S "$(MUNGE_SOCKET)" ]; }

munge_start() {
    munge_usable && return 0
    if daemon_running munged; then
        echo "cluster: munged lost its socket: restarting it"
        stop_daemons 10 munged
    fi
    local d=$KS_STATE/munge
    rm -f "$d/munge.socket" "$d/munge.socket.lock"
    start_daemon munged "$KS_STATE/log/munged.out" munged --foreground --force \
        --socket="$d/munge.socket" --key-file="$d/munge.key" --pid-file="$d/munged.pid" \
        --seed-file="$d/munged.seed"
    # In the foreground munged logs to stderr, i.e. munged.out.
    wait_for "munged's socket" 20 "[ -S '$d/munge.socket' ]" "show_log '$KS_STATE/log/munged.out'" \
        "daemon_running munged"
}

slurm_write_conf() {
    local host cpus
    host=$(hostname -s)
    # Each "node" offers what this machine has, so slurmd accepts its registration.
    cpus=$(slurmd -C 2>/dev/null | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')
    cpus=${cpus:-$(nproc)}
    mkdir -p "$KS_STATE/slurm/ctld" "$KS_STATE/log" "$KS_STATE/run"
    local tmp=$KS_STATE/slurm.conf.new
    cat >"$tmp" <<CONF
# Written by tests/cluster/cluster: a two-node Slurm cluster on one host, for tests only.
ClusterName=ks
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$KS_PORT_BASE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$(MUNGE_SOCKET)
StateSaveLocation=$KS_STATE/slurm/ctld
SlurmdSpoolDir=$KS_STATE/slurm/%n
SlurmctldPidFile=$KS_STATE/run/slurmctld.pid
SlurmdPidFile=$KS_STATE/run/slurmd-%n.pid
SlurmctldLogFile=$KS_STATE/log/slurmctld.log
SlurmdLogFile=$KS_STATE/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
KillWait=5
# slurmd reads this at start only: the harness restarts the slurmds whenever it changes.
PlugStackConfig=$KS_STATE/plugstack.conf
# A hung epilog must not keep a node COMPLETING for ever.
PrologEpilogTimeout=120
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((KS_PORT_BASE + 1)) CPUs=$cpus State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((KS_PORT_BASE + 2)) CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
CONF
    chmod 0644 "$tmp"
    mv "$tmp" "$(SLURM_CONF_FILE)"
}

# Per-node scratch for the jobs' TMPDIRs (the files kafka-stream-push sends): $KS_SCRATCH/n1, $KS_SCRATCH/n2.
slurm_prepare_scratch() {
    local n
    for n in "${SLURM_NODES[@]}"; do
        mkdir -p "$KS_STATE/scratch/$n"
        chmod 1777 "$KS_STATE/scratch/$n"
    done
}

slurm_env() { env SLURM_CONF="$(SLURM_CONF_FILE)" "$@"; }

slurmctld_start() {
    daemon_running slurmctld && return 0
    start_daemon slurmctld "$KS_STATE/log/slurmctld.out" env SLURM_CONF="$(SLURM_CONF_FILE)" \
        slurmctld -D -f "$(SLURM_CONF_FILE)"
}

slurmctld_wait() {
    wait_for "slurmctld to answer" 60 "slurm_env scontrol ping | grep -q UP" \
        "show_log '$KS_STATE/log/slurmctld.log'" "daemon_running slurmctld"
}

slurmd_start() {
    local node=$1
    daemon_running "slurmd-$node" && return 0
    # Remember which plugstack.conf this slurmd loaded: it reads the file only at start.
    cp "$KS_STATE/plugstack.conf" "$KS_STATE/run/plugstack.conf.$node"
    # ... and when slurmctld last saw it start, so the wait below sees this slurmd's registration, not the last one.
    slurmd_start_time "$node" >"$KS_STATE/run/slurmd-start-seen.$node"
    start_daemon "slurmd-$node" "$KS_STATE/log/slurmd-$node.out" env SLURM_CONF="$(SLURM_CONF_FILE)" \
        slurmd -D -N "$node" -f "$(SLURM_CONF_FILE)"
}

slurmd_stale_plugstack() {
    ! cmp -s "$KS_STATE/plugstack.conf" "$KS_STATE/run/plugstack.conf.$1"
}

slurmd_stop() { stop_daemons 15 "slurmd-$1"; }

slurmd_start_time() {
    slurm_env scontrol -o show node "$1" 2>/dev/null | grep -o 'SlurmdStartTime=[^ ]*' || true
}

# A node is ready when the slurmd started last has registered and slurmctld sees the node responding and usable:
# idle on a fresh cluster; after a slurmd restart under running jobs, allocated or mixed is as good (a trailing '*'
# would mean "not responding").
node_ready() {
    [[ $(slurm_env sinfo -h -n "$1" -o '%t' 2>/dev/null) =~ ^(idle|alloc|mix)$ ]] &&
        [ "$(slurmd_start_time "$1")" != "$(cat "$KS_STATE/run/slurmd-start-seen.$1" 2>/dev/null)" ]
}

slurmd_alive() {
    local n
    for n in "$@"; do daemon_running "slurmd-$n" || return 1; done
}

slurm_wait_nodes() {
    local logs="" n
    for n in "$@"; do logs+="show_log '$KS_STATE/log/slurmd-$n.log'; "; done
    logs+="slurm_env sinfo -N"
    local check="" 
    for n in "$@"; do check+="node_ready $n && "; done
    check+=true
    wait_for "sinfo to show $* idle" 60 "$check" "$logs" "slurmd_alive $* && daemon_running slurmctld"
}

# Cancels every job and waits (bounded) until the queue is empty, so no slurmstepd or job process outlives `down`.
slurm_cancel_all_jobs() {
    daemon_running slurmctld || return 0
    slurm_env scancel --quiet --partition=debug 2>/dev/null || true
    wait_for "the job queue to drain" 30 "[ -z \"\$(slurm_env squeue -h -o %i 2>/dev/null)\" ]" \
        "slurm_env squeue" || true
}

# The test user submits the test jobs: a plain account with no password.
ensure_test_user() {
    local u
    for u in "$KS_TEST_USER" "$KS_TEST_USER2"; do
        id "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$u"
    done
}
