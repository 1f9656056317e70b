#!/bin/bash
# Trust on a multi-user site (docs/security.md, "Attacks tried"): a second, unprivileged user ($KS_TEST_USER2) with
# only what every user has (the project's kafka-stream-push, kafka-python, her own key-less config, her own spool
# directory, her own SLURM_CONF) tries to write into the job owner's ($KS_TEST_USER) tree through a sink that runs as
# root with --chown, like a site's. After each attack: the victim's files intact, nothing of hers in his tree, the
# sink still running; at the end a genuine job of his is persisted.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/slurm_jobs.sh"
needs_built push sink
: "${KS_TEST_USER2:?no second test user: run make cluster-up}"
victim=$KS_TEST_USER mallory=$KS_TEST_USER2
vuid=$(id -u "$victim") vgid=$(id -g "$victim") muid=$(id -u "$mallory") mgid=$(id -g "$mallory")
# Her tools are copies she can read: the checkout may be readable by root only.
her_push=$(reachable "$PUSH")
reachable "$KS_ROOT/tests/tools/kswire.py" >/dev/null
PRODUCE=$(reachable "$KS_ROOT/tests/tools/sink_produce.py")

out=$T/out her=$T/her
mkdir -p "$out" "$her"
chown "$victim" "$jobdir"
chown "$mallory" "$her"
topic_v=$(unique_topic victim) topic_m=$(unique_topic other)
create_topic "$topic_v"
create_topic "$topic_m"
as_mallory() { (cd "$her" && runuser -u "$mallory" -- env SLURM_CONF="$SLURM_CONF" "$@"); }

"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic_v,$topic_m" --group "g-$topic_v" \
    --output "$out" --chown 2>"$T/sink.log" &
sink_pid=$!
on_exit "kill $sink_pid 2>/dev/null"
sink_alive() { kill -0 "$sink_pid" 2>/dev/null || { tail -20 "$T/sink.log"; fail "the sink stopped ($1)"; }; }
wait_for() {  # wait_for PATH WHAT: at most 120 s
    local i
    for ((i = 0; i < 600; i++)); do [ -e "$1" ] && return 0; sink_alive "$2"; sleep 0.2; done
    fail "$2: $1 did not appear"
}
# The sink has read everything produced so far: a marker transfer of the victim's, sent last, is persisted.
markers=0
settle() {
    markers=$((markers + 1))
    local m=$T/marker$markers
    mkdir -p "$m" && echo "$markers" >"$m/m.txt" && chmod 755 "$m"
    "$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$1" --cluster c --job-id "marker$markers" \
        --node n1 --user "$victim" --run-as "$vuid:$vgid" --timeout 60 "$m" 2>/dev/null || fail "marker push failed"
    wait_for "$out/$victim/marker$markers/_SUCCESS" "$2"
}
# Everything in the victim's tree is his: his genuine job, the markers, and nothing else; all owned by him.
victim_tree_intact() {
    local job=$1 what=$2
    diff "$jobdir/v.digests" <(tree_digests "$out/$victim/$job/n1") >/dev/null 2>&1 ||
        fail "$what: the victim's files changed"
    local extra
    extra=$(ls "$out/$victim" | grep -v -x -e "$job" -e 'marker[0-9]*' || true)
    [ -z "$extra" ] || fail "$what: foreign job directories in the victim's tree: $extra"
    # (the node manifests stay root's: they are the sink's record of what it placed)
    [ -z "$(find "$out/$victim" ! -user "$victim" ! -path "*/_manifests/*.json")" ] || fail "$what: files in his tree not owned by him"
    [ "$(LC_ALL=C ls "$out/$victim/$job" | tr '\n' ' ')" = "_SUCCESS _manifests n1 " ] ||
        fail "$what: $job/ has $(ls "$out/$victim/$job")"
    sink_alive "$what"
    note "$what: the victim's tree is intact, the sink runs"
}

note "the victim's genuine job, through the plugin"
cat >"$jobdir/v.sh" <<JOB
#!/bin/bash
echo "genuine victim data" >"\$TMPDIR/result.csv"
(cd "\$TMPDIR" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$jobdir/v.digests"
JOB
chmod 755 "$jobdir/v.sh"
v=$(as_user sbatch --parsable -w n1 --output="$jobdir/v.out" --kafka-stream="$topic_v" "$jobdir/v.sh"); jobs_started+=("$v")
wait_gone "$v"
wait_for "$out/$victim/$v/_SUCCESS" "the victim's job"
[ "$(stat -c %U "$out/$victim/$v/n1/result.csv")" = "$victim" ] || fail "the victim's file is not his"
mkdir -p "$her/evil" && echo "mallory's bytes" >"$her/evil/result.csv" && chown -R "$mallory" "$her/evil"

note "F1: she runs kafka-stream-push herself, as him: it cannot read the site's key"
rc=0
as_mallory "$her_push" --config "$KS_STREAM_CONF" --topic "$topic_v" --cluster c --user "$victim" --job-id "$v" --node n2 \
    --timeout 20 "$her/evil" 2>"$T/f1.err" || rc=$?
cat "$T/f1.err"
[ $rc = 2 ] && grep -q 'cannot read the signing key.*Permission denied' "$T/f1.err" || fail "F1: rc=$rc"

note "F2: the same, unsigned (stream.auth=none): Kafka takes it, the sink drops it"
for target in "$v n3" "$((v + 1000)) n1"; do
    set -- $target
    as_mallory "$her_push" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X stream.auth=none --topic "$topic_v" --cluster c \
        --user "$victim" --job-id "$1" --node "$2" --timeout 30 "$her/evil" 2>"$T/f2.err" ||
        fail "F2: the unsigned push was not even delivered to Kafka: $(cat "$T/f2.err")"
done
settle "$topic_v" "F2"
victim_tree_intact "$v" "F2"

note "F3, F4: kafka-python as him, unsigned and signed with a key of her own"
(umask 077 && printf 'harness %s\n' "$(openssl rand -hex 32)" >"$her/my.key") && chown "$mallory" "$her/my.key"
as_mallory "$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic_v" "$her/evil" --cluster c --job "$v" --node n4 --user "$victim" \
    --uid "$vuid" --gid "$vgid" --unsigned || fail "F3: produce"
as_mallory "$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic_v" "$her/evil" --cluster c --job "$((v + 2000))" --node n1 \
    --user "$victim" --uid "$vuid" --gid "$vgid" --key "$her/my.key" || fail "F4: produce"
# Layout values aimed at the sink's own state.
as_mallory "$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic_v" "$her/evil" --cluster c --job "$v" --node n1 --user .staging \
    --unsigned || fail "F3: produce"
settle "$topic_v" "F3, F4"
victim_tree_intact "$v" "F3, F4"
[ "$(ls -A "$out/.staging")" = "" ] || fail "F3: something was staged for a forged transfer: $(ls -A "$out/.staging")"

note "F5: his genuine open message and manifest replayed, into her topic and into his, with her bytes"
as_mallory "$PY" - "$KAFKA_BOOTSTRAP" "$topic_v" "$topic_m" "$her/evil/result.csv" <<'PYEOF' || fail "F5: replay"
import sys
from kafka import KafkaConsumer, KafkaProducer
bootstrap, victim_topic, her_topic, evil = sys.argv[1:5]
c = KafkaConsumer(victim_topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000)
msgs = [m for m in c]
c.close()
p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
data = open(evil, "rb").read()
replayed = 0
for m in msgs:
    h = dict(m.headers or [])
    if h.get("ks.type") not in (b"open", b"manifest") or b"marker" in (m.key or b""):
        continue
    for topic in (her_topic, victim_topic):
        if h["ks.type"] == b"manifest":
            # her bytes under his transfer, just before the replayed manifest
            ch = [(k, v) for k, v in m.headers if k not in ("ks.part", "ks.parts", "ks.sig")]
            ch = [(k, b"chunk" if k == "ks.type" else v) for k, v in ch] + [
                ("ks.path", b"result.csv"), ("ks.file", b"0"), ("ks.size", str(len(data)).encode()),
                ("ks.mode", b"644"), ("ks.mtime", b"0"), ("ks.offset", b"0")]
            p.send(topic, key=m.key, value=data, headers=ch)
        p.send(topic, key=m.key, value=m.value, headers=m.headers)
        replayed += 1
p.flush()
print("replayed", replayed, "messages")
assert replayed >= 4, replayed
PYEOF
settle "$topic_v" "F5"
victim_tree_intact "$v" "F5"
[ ! -e "$out/$victim/$v/n1/result.csv.evil" ] && ! grep -rq "mallory's bytes" "$out/$victim" || fail "F5: her bytes in his tree"
grep -q 'bad signature' "$out/.quarantine/messages.log" || fail "F5: the replay into her topic was not refused"

note "F6: her spool entry, edited to speak for him, and his entry planted in her directory"
spool=$T/spool
# Her genuine entry, as her job's epilog would leave it with Kafka unreachable (the push as root, --run-as her).
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=127.0.0.1:9 --topic "$topic_m" --cluster c --job-id 3001 --node n1 \
    --user "$mallory" --run-as "$muid:$mgid" --spool "$spool" --timeout 3 "$her/evil" 2>"$T/f6a.err" || rc=$?
[ $rc = 3 ] || fail "F6: her push with Kafka unreachable: exit $rc (expected 3, spooled): $(cat "$T/f6a.err")"
mine=$(ls -d "$spool/$muid"/*)
[ -f "$mine/transfer.json" ] && [ -f "$mine/transfer.sig" ] || fail "F6: no signed spool entry: $(cat "$T/f6a.err")"
# Copies she edits to speak for him: one with his uid, one keeping hers (only his name, his topic, another job).
as_mallory "$PY" - "$mine" "$victim" "$vuid" "$vgid" "$topic_v" <<'PYEOF' || fail "F6: edit"
import hashlib, json, os, shutil, sys
src, user, uid, gid, topic = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
for job, with_his_uid in (("3002", True), ("3004", False)):
    e = json.load(open(os.path.join(src, "transfer.json")))
    tid = hashlib.sha256(b"ks-transfer-v1\0c\0" + job.encode() + b"\0n1").hexdigest()[:32]
    e["topic"] = topic
    e["identity"].update(user=user, job=job, transfer_id=tid)
    e["key"] = "c/%s/n1" % job
    e["manifest"]["transfer_id"] = tid
    e["manifest"]["job"].update(user=user, id=job)
    if with_his_uid:
        e["manifest"]["job"].update(uid=uid, gid=gid)
    dst = os.path.join(os.path.dirname(src), tid)
    shutil.copytree(src, dst)
    json.dump(e, open(os.path.join(dst, "transfer.json"), "w"))
PYEOF
# His genuine entry (signed by a node for him), planted in her directory (e.g. copied from a backup she can read).
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=127.0.0.1:9 --topic "$topic_v" --cluster c --job-id 3003 --node n1 \
    --user "$victim" --run-as "$vuid:$vgid" --spool "$T/vspool" --timeout 3 "$her/evil" 2>/dev/null || true
his=$(ls -d "$T/vspool/$vuid"/*)
cp -a "$his" "$spool/$muid/" && chown -R "$mallory" "$spool/$muid"
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --timeout 60 --drain-spool "$spool" 2>"$T/f6.err" || rc=$?
cat "$T/f6.err"
[ $rc = 3 ] || fail "F6: drain exit $rc, expected 3 (entries kept)"
grep -q 'transfer.json: bad signature' "$T/f6.err" || fail "F6: the entry edited to his name was not refused"
[ "$(grep -c "is a transfer of uid $vuid but lies in the spool directory of uid $muid" "$T/f6.err")" = 2 ] ||
    fail "F6: the entry edited to his uid and his planted entry were not both refused for their place"
grep -q "delivered 1 spooled files and the manifest of transfer $(basename "$mine")" "$T/f6.err" ||
    fail "F6: her own untouched entry was not drained"
wait_for "$out/$mallory/3001/_SUCCESS" "F6: her own entry"
[ "$(stat -c %U "$out/$mallory/3001/n1/result.csv")" = "$mallory" ] || fail "F6: her drained file is not hers"
settle "$topic_v" "F6"
victim_tree_intact "$v" "F6"
for j in 3002 3003 3004; do [ ! -e "$out/$victim/$j" ] || fail "F6: laundered transfer $j reached his tree"; done

note "F7: a topic the site forbids her, set around sbatch's check (her own SLURM_CONF and plugstack)"
sed -e "s|^PlugStackConfig=.*|PlugStackConfig=$her/plugstack.conf|" "$SLURM_CONF" >"$her/slurm.conf"
grep -q "^PlugStackConfig=$her/plugstack.conf" "$her/slurm.conf" || echo "PlugStackConfig=$her/plugstack.conf" >>"$her/slurm.conf"
sed -e 's/ topics=[^ ]*//' "$KS_STATE/plugstack.conf" >"$her/plugstack.conf"
chown "$mallory" "$her/slurm.conf" "$her/plugstack.conf"
forbidden=$victim.private
cat >"$her/f7.sh" <<'JOB'
#!/bin/bash
echo "to his private topic" >"$TMPDIR/x.txt"
JOB
chmod 755 "$her/f7.sh" && chown "$mallory" "$her/f7.sh"
j=$( (cd "$her" && runuser -u "$mallory" -- env SLURM_CONF="$her/slurm.conf" sbatch --parsable -w n1 \
    --output=/dev/null --kafka-stream="$forbidden" "$her/f7.sh") ) || fail "F7: her sbatch refused the topic (no bypass?)"
jobs_started+=("$j")
wait_gone "$j"
grep -h "kafka_stream: job $j:" "$KS_SLURMD_LOG_N1" || true
grep -q "kafka_stream: job $j: topic .$forbidden. is not allowed on this cluster.*nothing streamed" "$KS_SLURMD_LOG_N1" ||
    fail "F7: the epilog did not refuse the topic"
n=$(kcat -b "$KAFKA_BOOTSTRAP" -C -t "$forbidden" -e -q -o beginning 2>/dev/null | wc -l || true)
[ "${n:-0}" = 0 ] || fail "F7: $n messages reached $forbidden"

note "a genuine job of his afterwards is persisted"
w=$(as_user sbatch --parsable -w n1 --output="$jobdir/w.out" --kafka-stream="$topic_v" --wrap 'echo later >"$TMPDIR/later.txt"')
jobs_started+=("$w")
wait_gone "$w"
wait_for "$out/$victim/$w/_SUCCESS" "the genuine job after the attacks"
[ "$(cat "$out/$victim/$w/n1/later.txt")" = later ] || fail "the later job's file"
sink_alive "the end"
echo "unadmitted messages dropped by the sink: $(grep -c 'was not opened by a verified open message' "$out/.quarantine/messages.log")"
echo "PASS"
