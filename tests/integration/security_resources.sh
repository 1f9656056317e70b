#!/bin/bash
# Bounded sink (docs/security.md): whatever arrives, the sink stays up, its staging and memory stay bounded, and a
# genuine transfer sent afterwards is persisted. On the real broker, with a sink running as a service would:
#   R1  a flood of unsigned messages (random transfer ids, no headers, bad versions): no staging, no quarantine
#       directory, a bounded log
#   R2  many transfers opened by a node for one user, past stream.sink.max.user.transfers: set aside, others go on
#   R3  a signed manifest promising a 1 TiB file that is a sparse hole: hashed a slice at a time, the sink keeps
#       serving other transfers
#   R4  a staging file system that is full (a 16 MiB tmpfs as the output root): the transfer that does not fit is
#       set aside without its data, the next one is persisted
. "$(dirname "$0")/../lib/common.sh"
needs_built sink
PRODUCE=$KS_ROOT/tests/tools/sink_produce.py

topic=$(unique_topic)
create_topic "$topic" 4
out=$T/out
mkdir -p "$out"

start_sink() {  # start_sink ROOT [-X ...]: a long-running sink on $topic
    local root=$1
    shift
    "$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X stream.sink.max.user.transfers=10 "$@" \
        --topic "$topic" --group "g-$topic-$(basename "$root")" --output "$root" 2>>"$T/sink.log" &
    sink_pid=$!
    on_exit "kill $sink_pid 2>/dev/null"
}
alive() { kill -0 "$sink_pid" 2>/dev/null || { tail -30 "$T/sink.log"; fail "the sink stopped ($1)"; }; }
persisted() {  # persisted ROOT USER JOB WHAT: a genuine transfer sent now arrives (at most 120 s)
    local i d=$T/good-$3
    mkdir -p "$d" && echo "good $3" >"$d/g.txt"
    "$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$d" --cluster c --job "$3" --node n1 --user "$2"
    for ((i = 0; i < 600; i++)); do
        [ -e "$1/$2/$3/_SUCCESS" ] && { note "$4: a genuine transfer afterwards was persisted"; return 0; }
        alive "$4"
        sleep 0.2
    done
    fail "$4: the genuine transfer $3 was not persisted within 120 s"
}

start_sink "$out"

note "R1: a flood of unsigned messages"
"$PY" - "$KAFKA_BOOTSTRAP" "$topic" <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["KS_ROOT"], "tests/tools"))
import kswire
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], acks="all", linger_ms=20)
t = sys.argv[2]
for i in range(3000):
    job = "flood%d" % i
    kind = ("open", "chunk", "manifest")[i % 3]
    h = kswire.identity(kind, "c", job, "n1", "victim")
    if kind == "chunk":
        h += [("ks.path", b"f"), ("ks.file", b"0"), ("ks.size", b"1"), ("ks.mode", b"644"), ("ks.mtime", b"0"),
              ("ks.offset", b"0")]
    p.send(t, key=b"c/%s/n1" % job.encode(), value=b"{}" if kind != "chunk" else b"x", headers=h)
for i in range(500):
    p.send(t, value=os.urandom(64))
    p.send(t, value=b"v9", headers=[("ks.v", b"9"), ("ks.type", b"chunk")])
p.flush()
PYEOF
persisted "$out" alice r1 "R1"
# A .tmp-* file may be there for a moment: the sink's own atomic writes (the genuine transfer's .done marker) start
# in the staging directory, after its _SUCCESS. A forged transfer would be a directory named by its id.
staged=$(ls -A "$out/.staging" | grep -v '^\.tmp-' || true)
[ -z "$staged" ] || fail "R1: forged messages were staged: $(echo "$staged" | head)"
[ "$(ls "$out/.quarantine" | grep -cv '^messages.log')" = 0 ] || fail "R1: quarantine directories for forged transfers"
lines=$(wc -l <"$out/.quarantine/messages.log")
[ "$lines" -ge 4000 ] || fail "R1: only $lines lines in messages.log"
warnings=$(grep -c 'quarantined message' "$T/sink.log" || true)
[ "$warnings" -le 60 ] || fail "R1: $warnings quarantine warnings in the sink's log (at most 20 a minute)"
note "R1: $lines messages logged in messages.log, $warnings warnings in the log"

note "R2: 30 transfers of one user opened by a node, 10 allowed in staging"
"$PY" - "$KAFKA_BOOTSTRAP" "$topic" <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["KS_ROOT"], "tests/tools"))
import kswire
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], acks="all")
key = kswire.load_key()
for i in range(30):
    h, v = kswire.open_message(sys.argv[2], "c", "open%d" % i, "n1", "mallory", 1000, 1000, key=key)
    p.send(sys.argv[2], key=b"c/open%d/n1" % i, value=v, headers=h)
p.flush()
PYEOF
persisted "$out" alice r2 "R2"
staged=$(ls "$out/.staging" | wc -l)
set_aside=$(grep -l 'already has 10 transfers in staging' "$out"/.quarantine/*/reason 2>/dev/null | wc -l)
[ "$staged" = 10 ] && [ "$set_aside" = 20 ] || fail "R2: $staged staged, $set_aside set aside (expected 10 and 20)"

note "R3: a signed manifest promising a 1 TiB file that is one byte and a hole"
"$PY" - "$KAFKA_BOOTSTRAP" "$topic" <<'PYEOF'
import hashlib, json, os, sys
sys.path.insert(0, os.path.join(os.environ["KS_ROOT"], "tests/tools"))
import kswire
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], acks="all")
t, key = sys.argv[2], kswire.load_key()
size = 1 << 40
h, v = kswire.open_message(t, "c", "huge", "n1", "bob", 1001, 1001, key=key)
k = b"c/huge/n1"
p.send(t, key=k, value=v, headers=h)
ch = kswire.identity("chunk", "c", "huge", "n1", "bob") + [
    ("ks.path", b"sparse.bin"), ("ks.file", b"0"), ("ks.size", str(size).encode()), ("ks.mode", b"644"),
    ("ks.mtime", b"0"), ("ks.offset", str(size - 1).encode())]
p.send(t, key=k, value=b"x", headers=ch)
m = {"version": 2, "transfer_id": kswire.transfer_id("c", "huge", "n1"), "chunk_bytes": 983040, "total_bytes": size,
     "job": kswire.job_json("c", "huge", "n1", "bob", 1001, 1001),
     "files": [{"path": "sparse.bin", "index": 0, "size": size, "mode": 420, "mtime_ns": 0, "sha256": "0" * 64,
                "chunks": 1}], "skipped": []}
value = json.dumps(m).encode()
p.send(t, key=k, value=value, headers=kswire.manifest_headers(t, "c", "huge", "n1", "bob", value, key=key))
p.flush()
PYEOF
sleep 5  # the sink is now reading the hole back, a slice per flush
persisted "$out" alice r3 "R3"
used=$(du -sk "$out/.staging" | cut -f1)
[ "$used" -lt 102400 ] || fail "R3: staging uses $used KiB for a one-byte chunk"
kill "$sink_pid"
wait "$sink_pid" || true

note "R4: a full staging file system"
small=$T/small
mkdir -p "$small"
if ! mount -t tmpfs -o size=16m tmpfs "$small" 2>"$T/mount.err"; then
    note "R4 not run: cannot mount a tmpfs here ($(cat "$T/mount.err"))"
else
    on_exit "umount -l '$small' 2>/dev/null"
    # No per-user limit below the file system's size: the file system itself fills up.
    start_sink "$small" -X stream.sink.max.user.staged.bytes=1000000000
    mkdir -p "$T/big" && head -c $((40 << 20)) /dev/urandom >"$T/big/big.bin"
    "$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$T/big" --cluster c --job big --node n1 --user bob --uid 1001 --gid 1001
    persisted "$small" alice r4 "R4"
    big_id=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import kswire; print(kswire.transfer_id("c", "big", "n1"))' \
        "$KS_ROOT/tests/tools")
    grep -q 'did not fit in staging' "$small/.quarantine/$big_id/reason" || fail "R4: the big transfer was not set aside"
    [ ! -e "$small/.quarantine/$big_id/f0" ] || fail "R4: the big transfer's data was kept on a full file system"
    [ ! -e "$small/bob/big" ] || fail "R4: part of the big transfer was placed"
    kill "$sink_pid"
    wait "$sink_pid" || true
fi
echo "PASS"
