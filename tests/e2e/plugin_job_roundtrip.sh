#!/bin/bash
# Cases 1-3 through the real path: sbatch/srun -> kafka_stream.so -> epilog -> kafka-stream-push -> Kafka ->
# kafka-stream-sink, over SASL_SSL with the ACLs of a site (the nodes as ks-node, the sink as ks-sink). Four jobs run side by side, submitted by the non-root test user:
#   A  #SBATCH --kafka-stream: a tree (nested dirs, a multi-chunk binary, an empty file, odd names) arrives bit for bit
#   B  sbatch -N2 --kafka-stream, srun on both nodes: each node's TMPDIR arrives, the job gets one _SUCCESS
#   C  srun --kafka-stream (its own allocation)
#   D  --kafka-stream-include='*.csv': only the matching files are sent
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/slurm_jobs.sh"
needs_built push sink

out=$T/out
mkdir "$out"
topic=$(unique_topic)
create_topic "$topic"

# A: the tree's digests are written next to the job script, by the job itself, for comparison.
cat >"$jobdir/a.sh" <<JOB
#!/bin/bash
#SBATCH --kafka-stream=$topic
set -e
cd "\$TMPDIR"
mkdir -p deep/er/est "with space" "ünï"
head -c 3000000 /dev/urandom >deep/er/est/random.bin
: >empty
echo "a,b" >"with space/x y.csv"
echo "Grüße" >"ünï/data.txt"
chmod 600 deep/er/est/random.bin
find . -type f -print0 | sort -z | xargs -0 sha256sum >"$jobdir/a.digests"
JOB
# B: one srun task per node writes its node's part.
cat >"$jobdir/b.sh" <<'JOB'
#!/bin/bash
srun -N2 --ntasks-per-node=1 bash -c 'echo "$SLURMD_NODENAME" >"$TMPDIR/node.txt"'
JOB
cat >"$jobdir/d.sh" <<'JOB'
#!/bin/bash
echo "1,2" >"$TMPDIR/keep.csv"; mkdir "$TMPDIR/sub"; echo "3,4" >"$TMPDIR/sub/keep-too.csv"
echo "no" >"$TMPDIR/drop.txt"
JOB
chmod 755 "$jobdir"/*.sh

a=$(as_user sbatch --parsable --output="$jobdir/a.out" "$jobdir/a.sh"); jobs_started+=("$a")
b=$(as_user sbatch --parsable -N2 --output="$jobdir/b.out" --kafka-stream="$topic" "$jobdir/b.sh"); jobs_started+=("$b")
d=$(as_user sbatch --parsable --output="$jobdir/d.out" --kafka-stream="$topic" --kafka-stream-include='*.csv' \
    "$jobdir/d.sh"); jobs_started+=("$d")
as_user srun --kafka-stream="$topic" --output="$jobdir/c.out" bash -c \
    'echo "from srun" >"$TMPDIR/srun.txt"; echo "$SLURM_JOB_ID" >'"$jobdir/c.id" || fail "srun failed"
c=$(cat "$jobdir/c.id")
note "jobs: A=$a B=$b C=$c D=$d -> $topic"
for j in "$a" "$b" "$c" "$d"; do wait_gone "$j"; done
grep -h -E "kafka_stream: job ($a|$b|$c|$d):" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" || true

# The site's secured path: the nodes' helper wrote as ks-node over SASL_SSL (the harness's plugstack.conf names its
# root-only config, with the signing key), the sink reads as ks-sink over SASL_SSL and verifies with the same key.
grep -q "config=$KS_NODE_CONF " "$KS_STATE/plugstack.conf" || fail "the plugin does not use ks-node's client config"
grep -qx "security.protocol=SASL_SSL" "$KS_NODE_CONF" || fail "ks-node's client config is not SASL_SSL"
"$SINK" --config "$KS_SINK_CONF" --topic "$topic" --group "$KS_SINK_GROUP_PREFIX-$topic" --output "$out" --exit-when-idle 5
root=$out/$KS_TEST_USER

note "A: the tree arrived bit for bit, with its mode"
a_node=$(cd "$root/$a" && ls -d n[12] | head -1)
[ -n "$a_node" ] || fail "nothing persisted for job $a"
[ -f "$root/$a/_SUCCESS" ] || fail "job $a has no _SUCCESS"
diff "$jobdir/a.digests" <(tree_digests "$root/$a/$a_node") || fail "job $a's tree differs"
[ "$(stat -c %a "$root/$a/$a_node/deep/er/est/random.bin")" = 600 ] || fail "mode not preserved"
[ -f "$root/$a/$a_node/empty" ] || fail "the empty file is missing"

note "B: both nodes arrived, one _SUCCESS"
for n in n1 n2; do
    [ "$(cat "$root/$b/$n/node.txt" 2>/dev/null)" = "$n" ] || fail "job $b: $n's file missing or wrong"
    [ -f "$root/$b/_manifests/$n.json" ] || fail "job $b: no manifest for $n"
done
[ "$(find "$root/$b" -name _SUCCESS | wc -l)" = 1 ] || fail "job $b: not exactly one _SUCCESS"
# Both nodes carry the job instance drawn once at submission (it tells this job from a later one with the same id).
inst=$("$PY" -c 'import json,sys; print(" ".join(sorted({json.load(open(p))["job"].get("instance","-") for p in sys.argv[1:]})))' \
    "$root/$b/_manifests/"*.json)
[[ $inst =~ ^[0-9a-f]{16}$ ]] || fail "job $b: expected one 16-hex-digit instance on all nodes, got '$inst'"

note "C: srun --kafka-stream"
[ "$(cat "$root/$c"/n[12]/srun.txt 2>/dev/null)" = "from srun" ] || fail "job $c's file did not arrive"

note "D: only *.csv"
d_node=$(cd "$root/$d" && ls -d n[12] | head -1)
[ "$(cat "$root/$d/$d_node/keep.csv")" = "1,2" ] || fail "job $d: keep.csv missing"
[ "$(cat "$root/$d/$d_node/sub/keep-too.csv")" = "3,4" ] || fail "job $d: sub/keep-too.csv missing"
[ ! -e "$root/$d/$d_node/drop.txt" ] || fail "job $d: drop.txt was sent despite --kafka-stream-include"
