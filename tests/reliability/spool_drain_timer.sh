#!/bin/bash
# Reliability case 4: Kafka is unreachable for the whole epilog. The epilog returns within its bound, the node is not
# drained, the job's outputs are in the spool; once Kafka is back, the spool is drained by what the site installs
# for it: the ExecStart line of etc/kafka-stream-drain.service (run by etc/kafka-stream-drain.timer every 5 minutes),
# taken from the unit file with its paths mapped to the test cluster's. The sink then rebuilds every file.
# Stops the harness's broker 1 for the duration (restarted on exit).
. "$(dirname "$0")/../lib/common.sh"
: "${SLURM_CONF:?no SLURM_CONF: run make cluster-up}" "${KS_TEST_USER:?no KS_TEST_USER: run make cluster-up}"
needs_built push sink
[ "${KAFKA_BROKERS:-1}" = 1 ] || skip "written for the single-broker harness"
unit=$KS_ROOT/etc/kafka-stream-drain.service
[ -f "$unit" ] || fail "no $unit"
cluster() { KS_PORT_BASE=$KS_PORT_BASE KS_STATE=$KS_STATE "$KS_ROOT/tests/cluster/cluster" "$@"; }
slurm() { env SLURM_CONF="$SLURM_CONF" "$@"; }
as_user() { (cd "$jobdir" && runuser -u "$KS_TEST_USER" -- env SLURM_CONF="$SLURM_CONF" "$@"); }
job=""
on_exit '[ -z "$job" ] || slurm scancel "$job" 2>/dev/null'
on_exit 'cluster kafka-start >/dev/null 2>&1'
# The epilog's bound: the plugin's timeout (plugstack.args) plus time for Slurm to notice; the node must be idle again.
plugin_timeout=$(grep -o 'timeout=[0-9]*' "$KS_ROOT/tests/cluster/plugstack.args" | head -1 | cut -d= -f2)
wait_gone() {
    local i
    for ((i = 0; i < (plugin_timeout + 60) * 2; i++)); do
        slurm squeue -h -j "$1" 2>/dev/null | grep -q . || return 0
        sleep 0.5
    done
    fail "job $1 still in the queue $((plugin_timeout + 60)) s after Kafka went down: the epilog is not bounded"
}

jobdir=$T/jobs out=$T/out
mkdir "$jobdir" "$out" && chown "$KS_TEST_USER" "$jobdir"
uid=$(id -u "$KS_TEST_USER")
topic=$(unique_topic)
create_topic "$topic"
cat >"$jobdir/job.sh" <<JOB
#!/bin/bash
cd "\$TMPDIR"
mkdir -p res
for i in \$(seq 1 10); do echo "result \$i of \$SLURM_JOB_ID" > "res/r\$i.txt"; done
head -c 2500000 /dev/urandom > res/blob.bin
find . -type f -print0 | sort -z | xargs -0 sha256sum > "$jobdir/digests"
touch "$jobdir/written"
for i in \$(seq 600); do [ -e "$jobdir/go" ] && exit 0; sleep 0.2; done
exit 1
JOB
chmod 755 "$jobdir/job.sh"
spool_entries() { { find "$KS_STATE/spool/$uid" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null || true; } | sort; }
before=$(spool_entries)
job=$(as_user sbatch --parsable --output="$jobdir/out.txt" --kafka-stream="$topic" "$jobdir/job.sh")
for ((i = 0; i < 600; i++)); do [ -e "$jobdir/written" ] && break; sleep 0.2; done
[ -e "$jobdir/written" ] || fail "job $job did not start"
node=$(slurm squeue -h -j "$job" -o %N)
note "job $job on $node wrote its results; stopping Kafka for the whole epilog"
cluster kafka-stop
touch "$jobdir/go"
wait_gone "$job"
log=$KS_STATE/log/slurmd-$node.log
grep -q "kafka_stream: job $job: NOT delivered, spooled" "$log" || { grep "job $job" "$log" | tail; fail "no 'NOT delivered, spooled' line"; }
state=$(slurm sinfo -h -n "$node" -o %T)
case $state in *drain*|*down*|*fail*) fail "$node is $state after the failed transfer";; esac
new=$(comm -13 <(echo "$before") <(spool_entries))
[ "$(echo "$new" | grep -c .)" = 1 ] || fail "expected one new spool entry, got: $new"
note "spooled as $new; $node is $state"

note "Kafka back: run the drain unit's ExecStart"
cluster kafka-start >/dev/null
cmd=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$cmd" ] || fail "no ExecStart in $unit"
read -ra argv <<<"$cmd"
for i in "${!argv[@]}"; do
    case ${argv[$i]} in
        */kafka-stream-push) argv[$i]=$PUSH;;
        /etc/kafka-stream.conf) argv[$i]=$KS_STREAM_CONF;;
        /var/spool/kafka-stream) argv[$i]=$KS_STATE/spool;;
        /*) fail "unmapped path in ExecStart: ${argv[$i]}";;
    esac
done
note "running: ${argv[*]}"
"${argv[@]}" || fail "the drain unit's command failed (exit $?)"
[ ! -e "$new" ] || fail "spool entry $new still there after the drain"

"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5 \
    2>"$T/sink.log" || { tail "$T/sink.log"; fail "sink failed"; }
d=$out/$KS_TEST_USER/$job/$node
(cd "$d" && sha256sum -c --quiet "$jobdir/digests") || fail "the spooled outputs did not arrive intact"
sent=$(wc -l < "$jobdir/digests")
received=$(find "$d" -type f | wc -l)
[ "$received" = "$sent" ] || fail "received $received of $sent files"
echo "counts: sent=$sent spooled=$sent received=$received duplicated=$((received - sent)) lost=0"
