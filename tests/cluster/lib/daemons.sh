# Process bookkeeping for the harness (sourced by tests/cluster/cluster).
# Every daemon is started here, in its own session, with KS_HARNESS=$KS_STATE in its environment and its pid in
# $KS_STATE/pids/NAME.pid. A daemon is "ours" only if that pid is alive AND carries the marker, so a recycled pid is
# never mistaken for (or killed as) a harness daemon. Children (slurmstepd) inherit the marker, which lets `down`
# find what the daemons left behind.

pid_file() { echo "$KS_STATE/pids/$1.pid"; }

# environ_of PID: the process's initial environment, one variable a line (nothing for kernel threads or zombies).
environ_of() { { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null || true; }

carries_marker() { environ_of "$1" | grep -qxF "KS_HARNESS=$KS_STATE"; }

daemon_pid() {
    local f
    f=$(pid_file "$1")
    [ -s "$f" ] && cat "$f"
}

daemon_running() {
    local pid
    pid=$(daemon_pid "$1") && carries_marker "$pid"
}

# start_daemon NAME LOG COMMAND...: runs COMMAND in the foreground of a new session, detached from the caller.
start_daemon() {
    local name=$1 log=$2
    shift 2
    mkdir -p "$KS_STATE/pids"
    # A background job of a non-interactive shell is never a process-group leader, so setsid execs in place
    # and $! is the daemon's own pid.
    # fd 9 holds the harness's command lock: a daemon must not inherit it.
    setsid env KS_HARNESS="$KS_STATE" "$@" >>"$log" 2>&1 </dev/null 9>&- &
    local pid=$!
    echo "$pid" >"$(pid_file "$name")"
    # Until env has exec'd, the new process does not carry the marker yet: wait for that (or for its early death),
    # so that nobody takes a daemon that is still starting for one that has died.
    local deadline=$((SECONDS + 10))
    until carries_marker "$pid" || ! alive "$pid" || [ $SECONDS -ge $deadline ]; do sleep 0.01; done
}

# stop_daemons GRACE_SECONDS NAME...: SIGTERM, wait up to GRACE, then SIGKILL; returns once all have exited.
stop_daemons() {
    local grace=$1
    shift
    local name pid pids=()
    for name in "$@"; do
        if daemon_running "$name"; then
            pid=$(daemon_pid "$name")
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
        rm -f "$(pid_file "$name")"
    done
    [ ${#pids[@]} -eq 0 ] || kill_after_grace "$grace" "${pids[@]}"
}

# kill_daemon NAME: SIGKILL at once (simulates a crash), waits until it is gone.
kill_daemon() {
    local pid
    if daemon_running "$1"; then
        pid=$(daemon_pid "$1")
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone 10 "$pid" || true
    fi
    rm -f "$(pid_file "$1")"
}

alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# wait_gone SECONDS PID...: true once none of the pids is alive.
wait_gone() {
    local secs=$1
    shift
    local deadline=$((SECONDS + secs)) pid any
    while :; do
        any=0
        for pid in "$@"; do alive "$pid" && any=1; done
        [ $any = 0 ] && return 0
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.2
    done
}

kill_after_grace() {
    local grace=$1
    shift
    wait_gone "$grace" "$@" && return 0
    echo "cluster: still running after ${grace}s, sending SIGKILL: $*"
    kill -KILL "$@" 2>/dev/null || true
    wait_gone 10 "$@"
}

# Processes of this harness that no pid file names: children of the daemons (slurmstepd) and job processes
# (their environment names this harness's slurm.conf). The caller's own session is excluded, so an interactive
# shell that sourced cluster.env, and make/cluster themselves, are never touched.
stray_processes() {
    local own_sid pid sid
    own_sid=$(ps -o sid= -p $$ | tr -d ' ')
    local entry
    for entry in /proc/[0-9]*; do
        pid=${entry#/proc/}
        [ "$pid" = $$ ] && continue
        if environ_of "$pid" | grep -qxF -e "KS_HARNESS=$KS_STATE" -e "SLURM_CONF=$KS_STATE/slurm.conf"; then
            # The process may have exited meanwhile (e.g. one of our own short-lived children).
            sid=$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
            [ -z "$sid" ] || [ "$sid" = "$own_sid" ] || echo "$pid"
        fi
    done
    return 0
}

# wait_for DESCRIPTION SECONDS CHECK [ON_FAILURE [STAYS_TRUE]]: polls CHECK (a command) until it succeeds; on
# timeout, or as soon as STAYS_TRUE (e.g. "the daemon is alive") fails, runs ON_FAILURE (e.g. shows a log tail) and
# fails with a clear message.
wait_for() {
    local what=$1 secs=$2 check=$3 on_failure=${4:-} stays_true=${5:-true}
    local deadline=$((SECONDS + secs))
    until eval "$check" >/dev/null 2>&1; do
        if ! eval "$stays_true" >/dev/null 2>&1; then
            echo "cluster: gave up waiting for $what: its process exited" >&2
            [ -z "$on_failure" ] || eval "$on_failure" >&2
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "cluster: timed out after ${secs}s waiting for $what" >&2
            [ -z "$on_failure" ] || eval "$on_failure" >&2
            return 1
        fi
        sleep 0.25
    done
}

# show_log FILE: the tail of a daemon's log, for error messages.
show_log() { echo "--- last lines of $1:"; tail -n 30 "$1" 2>/dev/null | sed 's/^/    /'; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
