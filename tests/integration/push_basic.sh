#!/bin/bash
# kafka-stream-push on the real broker: an empty tree, 0-byte files, a multi-chunk file, special files skipped,
# --exclude; checked by an independent kafka-python consumer and by kcat; usage/config errors give exit 2.
. "$(dirname "$0")/../lib/common.sh"
VERIFY=$KS_ROOT/tests/tools/push_verify.py

note "empty tree"
mkdir -p "$T/empty"
topic=$(unique_topic empty); create_topic "$topic"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --job-id 1 --node n1 --timeout 60 "$T/empty" \
    2>"$T/empty.err" || fail "push of an empty tree: exit $?: $(cat "$T/empty.err")"
grep -q '^kafka-stream-push: sent 0 files, 0 bytes, 0 skipped in .* s (.* MB/s), transfer [0-9a-f]\{32\} to ' "$T/empty.err" \
    || fail "summary line: $(cat "$T/empty.err")"
"$PY" "$VERIFY" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --source "$T/empty" --timeout 60

note "small tree with special files"
src=$T/src
mkdir -p "$src/sub/deep" "$src/logs"
: > "$src/empty.txt"
: > "$src/sub/zero"
echo hello > "$src/sub/a.txt"
head -c 2500000 /dev/urandom > "$src/sub/deep/b.bin"
chmod 640 "$src/sub/deep/b.bin"
echo skipme > "$src/logs/debug.log"
mkfifo "$src/pipe"
ln -s /etc/passwd "$src/link"
"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$src/sock"
topic=$(unique_topic small); create_topic "$topic"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster itest --job-id 42 --node n1 \
    --nodes 2 --exit-code 3 --exclude '*.log' --timeout 60 "$src" 2>"$T/small.err" \
    || fail "push: exit $?: $(cat "$T/small.err")"
cat "$T/small.err"
grep -q 'sent 4 files, 2500006 bytes, 3 skipped' "$T/small.err" || fail "summary counts"
"$PY" "$VERIFY" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --source "$src" --timeout 60 \
    --skip pipe=fifo --skip link=symlink --skip sock=socket --unlisted logs/debug.log --manifest-out "$T/manifest.json"
"$PY" - "$T/manifest.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
j = m["job"]
assert (j["id"], j["node"], j["cluster"], j["nodes"], j["exit_code"]) == ("42", "n1", "itest", 2, 3), j
assert j["uid"] == 0 or j["uid"] > 0 and j["user"], j
assert m["chunk_bytes"] == 983040 and m["version"] == 2, m
sizes = {f["path"]: (f["size"], f["chunks"]) for f in m["files"]}
assert sizes == {"empty.txt": (0, 1), "sub/a.txt": (6, 1), "sub/deep/b.bin": (2500000, 3), "sub/zero": (0, 1)}, sizes
print("manifest job metadata OK")
PYEOF

note "kcat, someone else's client, shows the headers"
kcat -b "$KAFKA_BOOTSTRAP" -C -t "$topic" -e -q -f '%k|%h\n' >"$T/kcat.out" 2>"$T/kcat.err" || fail "kcat: $(cat "$T/kcat.err")"
[ "$(wc -l <"$T/kcat.out")" -eq 8 ] || fail "kcat saw $(wc -l <"$T/kcat.out") messages, expected 8"
head -1 "$T/kcat.out" | grep -q '^itest/42/n1|ks.v=2,ks.type=open,ks.transfer=[0-9a-f]\{32\},ks.cluster=itest,.*,ks.sig=harness:[0-9a-f]\{64\}$' \
    || fail "the first message is not the signed open message: $(head -1 "$T/kcat.out")"
grep -q '^itest/42/n1|ks.v=2,ks.type=chunk,.*ks.path=sub/deep/b.bin,ks.file=[0-9]*,ks.size=2500000,ks.mode=640,.*ks.offset=1966080$' "$T/kcat.out" \
    || fail "chunk headers in kcat: $(head -3 "$T/kcat.out")"
grep -q '^itest/42/n1|ks.v=2,ks.type=manifest,ks.transfer=[0-9a-f]\{32\},ks.cluster=itest,ks.job=42,ks.node=n1,.*ks.sig=harness:[0-9a-f]\{64\}$' "$T/kcat.out" \
    || fail "manifest headers in kcat"
[ "$(tail -1 "$T/kcat.out" | grep -c ks.type=manifest)" = 1 ] || fail "the manifest is not the last message"

note "usage and configuration errors exit 2 and name the problem"
rc=0; "$PUSH" "${KS_AUTH[@]}" --topic t "$src" -X bootstrap.servers=x:1 --bogus 2>"$T/e1" || rc=$?
[ $rc = 2 ] && grep -q -- '--bogus' "$T/e1" || fail "unknown option: rc=$rc $(cat "$T/e1")"
printf 'bootstrap.servers=%s\n# comment\nstream.chunk.byte=5\n' "$KAFKA_BOOTSTRAP" >"$T/bad.conf"
rc=0; "$PUSH" "${KS_AUTH[@]}" --config "$T/bad.conf" --topic t "$src" 2>"$T/e2" || rc=$?
[ $rc = 2 ] && grep -q "$T/bad.conf:3: unknown key \"stream.chunk.byte\"" "$T/e2" || fail "config error: rc=$rc $(cat "$T/e2")"
rc=0; "$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=x:1 --topic t "$T/missing" 2>"$T/e3" || rc=$?
[ $rc = 2 ] || fail "missing DIR: rc=$rc $(cat "$T/e3")"
rc=0; "$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=x:1 -X enable.idempotence=false --topic t "$src" 2>"$T/e4" || rc=$?
[ $rc = 2 ] && grep -q 'enable.idempotence must be true' "$T/e4" || fail "forced property: rc=$rc $(cat "$T/e4")"
# (to a file: grep -q may stop reading before the help is written, and the push would then die of SIGPIPE)
"$PUSH" --help >"$T/help" && grep -q -- '--drain-spool' "$T/help" || fail "--help"
echo "push_basic: all checks passed"
