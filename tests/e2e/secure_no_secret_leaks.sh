#!/bin/bash
# Credentials stay with root. The nodes' helper reads ks-node's password from a root-only config; a job's user, from
# inside a job and afterwards, looks for it everywhere the user can look:
#   - the site config that plugstack.conf names (readable by everyone): refused;
#   - every kafka-stream-push process, from a watcher the job leaves behind (setsid): its command line, environment
#     and memory while it runs (first as root, then as the user): no password, environment and memory refused;
#   - the user's spool entries (a second job streams to a topic that ks-node may not create: spooled);
#   - the topic's messages, read on the open listener as anyone can on this site (chunks and manifest);
# and root finds it in none of the logs either (slurmd, and the helper at librdkafka's debug=all).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/slurm_jobs.sh"
needs_built push
[ -n "${KS_NODE_CONF:-}" ] && [ -f "${KS_NODE_CONF:-}" ] || skip "the harness has no secured listeners (make cluster-up)"
pw=$(sed -n 's/^sasl.password=//p' "$KS_NODE_CONF")
[ ${#pw} -ge 16 ] || fail "ks-node's config has no real password"
# grep for the password without putting it on a command line: the pattern comes on stdin.
leaks_in() { printf '%s\n' "$pw" | grep -rlF -f - "$@" 2>/dev/null; }
user_leaks_in() { printf '%s\n' "$pw" | runuser -u "$KS_TEST_USER" -- grep -rlF -f - "$@" 2>/dev/null; }
config=$(grep -o 'config=[^ ]*' "$KS_STATE/plugstack.conf" | cut -d= -f2)
[ "$config" = "$KS_NODE_CONF" ] || fail "plugstack.conf names $config, not ks-node's config"
on_exit 'touch "$jobdir/stop"; [ ! -s "$jobdir/watch.pid" ] || kill "$(cat "$jobdir/watch.pid")" 2>/dev/null'
topic=$(unique_topic)
create_topic "$topic"
missing=$(unique_topic missing)  # not created: ks-node has Write on it but not Create, so the epilog spools
uid=$(id -u "$KS_TEST_USER")

# The watcher: as the job's user, after the job, looks at every kafka-stream-push it can see.
cat >"$jobdir/watch.sh" <<'WATCH'
#!/bin/bash
dir=$1
echo $$ >"$dir/watch.pid"
end=$((SECONDS + 120))
while [ $SECONDS -lt $end ] && [ ! -e "$dir/stop" ]; do
    for p in $(pgrep -f '/kafka-stream-push --config '); do
        {
            echo "pid $p uid $(stat -c %u /proc/$p 2>/dev/null) cmdline: $(tr '\0' ' ' </proc/$p/cmdline)"
            if env=$(tr '\0' '\n' 2>&1 <"/proc/$p/environ"); then echo "pid $p environ read: $env"
            else echo "pid $p environ refused: $env"; fi
            if (exec 3<"/proc/$p/mem") 2>/dev/null; then echo "pid $p mem opened"; else echo "pid $p mem refused"; fi
        } >>"$dir/watch.log" 2>&1
    done
    sleep 0.01
done
WATCH
cat >"$jobdir/a.sh" <<JOB
#!/bin/bash
cat "$config" >"$jobdir/config.read" 2>&1
setsid bash "$jobdir/watch.sh" "$jobdir" </dev/null >/dev/null 2>&1 &
for i in \$(seq 50); do [ -s "$jobdir/watch.pid" ] && break; sleep 0.1; done
head -c 64000000 /dev/urandom >"\$TMPDIR/big.bin"
echo "small" >"\$TMPDIR/small.txt"
JOB
cat >"$jobdir/b.sh" <<'JOB'
#!/bin/bash
echo "spooled result" >"$TMPDIR/result.txt"
JOB
chmod 755 "$jobdir"/*.sh

a=$(as_user sbatch --parsable --output="$jobdir/a.out" --kafka-stream="$topic" "$jobdir/a.sh"); jobs_started+=("$a")
b=$(as_user sbatch --parsable --output="$jobdir/b.out" --kafka-stream="$missing" "$jobdir/b.sh"); jobs_started+=("$b")
wait_gone "$a"
wait_gone "$b"
touch "$jobdir/stop"
grep -h -E "kafka_stream: job ($a|$b):" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" || true

note "from inside the job: the site config is the nodes' secret"
cat "$jobdir/config.read"
grep -q "Permission denied" "$jobdir/config.read" || fail "the job could read $config"

note "the helper seen from the watcher (the job's user)"
[ -s "$jobdir/watch.log" ] || fail "the watcher never saw a kafka-stream-push of job $a"
grep -E 'cmdline|refused|opened|read' "$jobdir/watch.log" | cut -c1-200 | sort | uniq -c | sort -rn | head -8
grep -q "cmdline: .*--job-id $a " "$jobdir/watch.log" || fail "the watcher never saw job $a's helper"
grep -q " uid $uid cmdline:" "$jobdir/watch.log" || fail "the watcher never saw the helper after it dropped to uid $uid"
! grep -q "environ read:" "$jobdir/watch.log" || fail "the user read a helper's environment"
! grep -q "mem opened" "$jobdir/watch.log" || fail "the user opened a helper's memory"
[ -z "$(leaks_in "$jobdir")" ] || fail "the password is in the watcher's findings or the jobs' output"

note "the user's spool entries"
grep -q "kafka_stream: job $b: .*NOT delivered, spooled" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" ||
    fail "job $b was not spooled"
entries=$(runuser -u "$KS_TEST_USER" -- find "$KS_STATE/spool/$uid" -name transfer.json | wc -l)
[ "$entries" -ge 1 ] || fail "the user sees no spool entry of its own"
[ -z "$(user_leaks_in "$KS_STATE/spool/$uid")" ] || fail "the password is in the user's spool"

note "the topic's messages, as anyone reads them on the open listener"
kcat -b "$KAFKA_BOOTSTRAP" -C -t "$topic" -e -q -f '%k %h %s\n' >"$T/messages" 2>/dev/null
grep -q '"files"' "$T/messages" || fail "no manifest read from $topic"
[ -z "$(leaks_in "$T/messages")" ] || fail "the password is in the topic's messages"

note "the logs (root's view), and the helper at librdkafka's debug=all"
[ -z "$(leaks_in "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" "$KS_SLURMCTLD_LOG")" ] || fail "the password is in a Slurm log"
mkdir -p "$T/src" && echo x >"$T/src/x.txt"
"$PUSH" -v -X debug=all --config "$KS_NODE_CONF" --topic "$topic" --job-id debug --timeout 60 --spool "$T/spool" \
    "$T/src" >"$T/debug.log" 2>&1 || fail "push at debug=all failed: $(tail -3 "$T/debug.log")"
[ "$(wc -l <"$T/debug.log")" -gt 100 ] || fail "debug=all logged almost nothing"
grep -c "sasl" "$T/debug.log" | sed 's/^/lines about sasl at debug=all: /'
[ -z "$(leaks_in "$T/debug.log")" ] || fail "the password is in the helper's debug log"
