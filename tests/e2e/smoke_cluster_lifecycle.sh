#!/bin/bash
# The harness itself, on a second instance with its own ports and state dir (the shared one keeps running):
# `up` twice starts nothing twice; a plugstack.conf change restarts the slurmds; a killed broker makes `status` fail
# and `up` brings it back; `down` stops every process it started, including a running 2-node job's processes, and
# leaves none behind.
. "$(dirname "$0")/../lib/common.sh"
: "${KS_TEST_USER:=ksuser}"
base=$(free_port_base 200) || skip "no free port base found for a second harness"
export KS_PORT_BASE=$base
export KS_STATE=$T/cluster
export KS_CLUSTER_ENV=$T/cluster.env
export KAFKA_BROKERS=1
# Start without the plugin, so that adding it later changes plugstack.conf.
export KS_PLUGIN=$T/no-plugin.so
cluster=$KS_ROOT/tests/cluster/cluster
on_exit '"$cluster" down >/dev/null 2>&1'

pids() { { "$cluster" status || true; } | sed -n 's/^\([a-z0-9-]*\): running (pid \([0-9]*\))$/\1=\2/p' | sort; }
pid_of() { pids | sed -n "s/^$1=//p"; }
marked_processes() {
    local p
    for p in /proc/[0-9]*; do
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "KS_HARNESS=$KS_STATE" && echo "${p#/proc/}"
    done
    return 0
}

note "first up"
"$cluster" up
"$cluster" status >/dev/null || fail "status fails right after up"
first=$(pids)
[ "$(echo "$first" | wc -l)" = 5 ] || fail "expected 5 daemons, got: $first"
. "$KS_CLUSTER_ENV"
[ "$SLURM_CONF" = "$KS_STATE/slurm.conf" ] && [ "$KAFKA_BOOTSTRAP" = "127.0.0.1:$((KS_PORT_BASE + 10))" ] ||
    fail "cluster.env does not describe this instance"

note "a 2-node job that runs until the harness goes down"
marker="$((3000 + RANDOM)).$$"
mkdir "$T/job" && chown "$KS_TEST_USER" "$T/job"
job=$(runuser -u "$KS_TEST_USER" -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable -N2 --chdir="$T/job" \
    --output="$T/job/out.txt" --wrap "srun -N2 sleep $marker")
deadline=$((SECONDS + 60))
until [ "$(pgrep -fc "^[^ ]*sleep $marker\$" || true)" = 2 ]; do
    [ $SECONDS -lt $deadline ] || fail "job $job did not start its 2 tasks: $(SLURM_CONF=$SLURM_CONF squeue; cat "$T/job/out.txt")"
    sleep 0.5
done

note "second up: nothing restarted"
"$cluster" up
[ "$(pids)" = "$first" ] || fail "second up changed the daemons: before $first, after $(pids)"

if [ -f "$KS_ROOT/build/lib/kafka_stream.so" ]; then
    note "plugstack.conf changes: the slurmds restart, the rest stays"
    export KS_PLUGIN=$KS_ROOT/build/lib/kafka_stream.so
    "$cluster" up
    grep -qF "optional $KS_STATE/lib/kafka_stream.so " "$KS_STATE/plugstack.conf" ||
        fail "plugstack.conf does not name the plugin installed in the state dir: $(cat "$KS_STATE/plugstack.conf")"
    cmp -s "$KS_PLUGIN" "$KS_STATE/lib/kafka_stream.so" || fail "the plugin in the state dir is not the build's"
    [ "$(pid_of slurmd-n1)" != "$(echo "$first" | sed -n 's/^slurmd-n1=//p')" ] || fail "slurmd n1 was not restarted"
    [ "$(pid_of slurmd-n2)" != "$(echo "$first" | sed -n 's/^slurmd-n2=//p')" ] || fail "slurmd n2 was not restarted"
    [ "$(pid_of slurmctld)" = "$(echo "$first" | sed -n 's/^slurmctld=//p')" ] || fail "slurmctld was restarted"
    [ "$(pid_of kafka-1)" = "$(echo "$first" | sed -n 's/^kafka-1=//p')" ] || fail "the broker was restarted"
else
    note "no build/lib/kafka_stream.so: the plugstack.conf restart is not checked"
fi

note "kill -9 the broker: status fails, up restarts it alone"
"$cluster" kafka-kill 1
! "$cluster" status >/dev/null || fail "status passes with the broker dead"
before=$(pids)
"$cluster" up
"$cluster" status >/dev/null || fail "status fails after up restarted the broker"
[ "$(pids | grep -v '^kafka-1=')" = "$before" ] || fail "up restarted more than the broker"
kcat -b "$KAFKA_BOOTSTRAP" -L -t x -m 10 | grep -q '1 brokers' ||
    fail "the restarted broker does not answer"

note "down"
all=$(pids | cut -d= -f2)
"$cluster" down
! "$cluster" status >/dev/null || fail "status passes after down"
for pid in $all; do
    [ ! -d "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status" || fail "daemon pid $pid still runs after down"
done
[ -z "$(marked_processes)" ] || fail "processes of the harness still run after down: $(marked_processes)"
[ "$(pgrep -fc "^[^ ]*sleep $marker\$" || true)" = 0 ] || fail "the job's processes outlived down"
[ ! -e "$KS_CLUSTER_ENV" ] || fail "cluster.env is left behind after down"
note "down left no process behind"
