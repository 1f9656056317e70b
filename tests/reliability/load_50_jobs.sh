#!/bin/bash
# Reliability case 5 (load): 50 jobs of the test user, each writing 20 files to its TMPDIR, submitted at once on the
# 2-node harness, with the sink consuming while their epilogs push. All 1,000 files arrive, each exactly once,
# bit for bit; every job gets its _SUCCESS; no node is drained; nothing is spooled or quarantined.
# The harness has 2 CPUs per node, so at most 4 jobs run at a time: the 50 epilogs come as one long burst with up to
# 4 (and, while a node is completing, more) overlapping. TEST_LONG: 200 jobs.
. "$(dirname "$0")/../lib/common.sh"
: "${SLURM_CONF:?no SLURM_CONF: run make cluster-up}" "${KS_TEST_USER:?no KS_TEST_USER: run make cluster-up}"
needs_built push sink
njobs=${TEST_LONG:+200}; njobs=${njobs:-50}
nfiles=20
slurm() { env SLURM_CONF="$SLURM_CONF" "$@"; }
as_user() { (cd "$jobdir" && runuser -u "$KS_TEST_USER" -- env SLURM_CONF="$SLURM_CONF" "$@"); }
jobs=()
on_exit 'for j in "${jobs[@]}"; do slurm scancel "$j" 2>/dev/null; done'

jobdir=$T/jobs out=$T/out
mkdir "$jobdir" "$out" && chown "$KS_TEST_USER" "$jobdir"
uid=$(id -u "$KS_TEST_USER")
topic=$(unique_topic)
create_topic "$topic" 4
spool_entries() { { find "$KS_STATE/spool/$uid" -mindepth 1 -maxdepth 1 2>/dev/null || true; } | wc -l; }
spooled_before=$(spool_entries)
# Each job writes nfiles files of varied sizes (up to ~1.2 MB, some spanning two chunks) and their digests.
cat >"$jobdir/job.sh" <<JOB
#!/bin/bash
set -e
cd "\$TMPDIR"
mkdir -p sub
for i in \$(seq 1 $nfiles); do
    if [ \$((i % 5)) = 0 ]; then head -c \$((i * 61000)) /dev/urandom >"sub/f\$i.bin"; else echo "job \$SLURM_JOB_ID file \$i" >"f\$i.txt"; fi
done
find . -type f -print0 | sort -z | xargs -0 sha256sum >"$jobdir/\$SLURM_JOB_ID.sha"
JOB
chmod 755 "$jobdir/job.sh"

"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" 2>"$T/sink.log" &
sink=$!
on_exit "kill $sink 2>/dev/null"
for ((j = 0; j < njobs; j++)); do
    jobs+=("$(as_user sbatch --parsable --output=/dev/null --kafka-stream="$topic" "$jobdir/job.sh")")
done
note "${#jobs[@]} jobs submitted"
for ((i = 0; i < 1200; i++)); do
    slurm squeue -h -u "$KS_TEST_USER" -o %i | grep -qxF -f <(printf '%s\n' "${jobs[@]}") || break
    sleep 0.5
done
slurm squeue -h -u "$KS_TEST_USER" -o %i | grep -qxF -f <(printf '%s\n' "${jobs[@]}") && fail "jobs still queued after 600 s"
note "all jobs gone; waiting for the sink"
for ((i = 0; i < 240; i++)); do
    [ "$({ find "$out/$KS_TEST_USER" -maxdepth 2 -name _SUCCESS 2>/dev/null || true; } | wc -l)" -ge "$njobs" ] && break
    sleep 0.5
done
kill "$sink"; wait "$sink" || true

sent=0 received=0 dup=0 lost=0
for job in "${jobs[@]}"; do
    [ -s "$jobdir/$job.sha" ] || fail "job $job did not write its digests"
    sent=$((sent + $(wc -l <"$jobdir/$job.sha")))
    d=$(find "$out/$KS_TEST_USER/$job" -mindepth 1 -maxdepth 1 -type d ! -name _manifests 2>/dev/null || true)
    if [ -z "$d" ] || [ "$(echo "$d" | wc -l)" != 1 ]; then lost=$((lost + nfiles)); echo "job $job: no node dir"; continue; fi
    n=$(find "$d" -type f | wc -l)
    received=$((received + n))
    (cd "$d" && sha256sum -c --quiet "$jobdir/$job.sha") || { echo "job $job: missing or corrupt files"; lost=$((lost + 1)); }
    extra=$(comm -13 <(sed 's/^[0-9a-f]*  //' "$jobdir/$job.sha" | sort) <(cd "$d" && find . -type f | sort) | wc -l)
    dup=$((dup + extra))
    [ -f "$out/$KS_TEST_USER/$job/_SUCCESS" ] || { echo "job $job: no _SUCCESS"; lost=$((lost + 1)); }
done
[ "$(ls "$out/.done" | wc -l)" = "$njobs" ] || { echo "done markers: $(ls "$out/.done" | wc -l) for $njobs jobs"; dup=$((dup + 1)); }
[ "$(ls "$out/.quarantine")" = messages.log ] && [ ! -s "$out/.quarantine/messages.log" ] || fail "unexpected quarantine"
spooled=$(( $(spool_entries) - spooled_before ))
# Each epilog logged its delivery (the plugin's line in the slurmd log).
delivered=0
for job in "${jobs[@]}"; do
    grep -qh "kafka_stream: job $job: delivered" "$KS_STATE"/log/slurmd-n*.log && delivered=$((delivered + 1))
done
[ "$delivered" = "$njobs" ] || fail "only $delivered of $njobs epilogs logged a delivery"
for node in n1 n2; do
    state=$(slurm sinfo -h -n "$node" -o %T)
    case $state in *drain*|*down*|*fail*) fail "$node is $state after the burst";; esac
done
echo "counts: jobs=$njobs sent=$sent received=$received duplicated=$dup lost=$((lost + sent - received)) spooled=$spooled"
[ "$sent" = $((njobs * nfiles)) ] && [ "$received" = "$sent" ] && [ "$dup" = 0 ] && [ "$lost" = 0 ] && [ "$spooled" = 0 ] ||
    fail "not every file arrived exactly once"
