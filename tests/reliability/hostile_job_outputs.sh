#!/bin/bash
# Reliability case 6: a job's TMPDIR full of traps, pushed the way the epilog does (root starts the helper, which
# drops to the job's uid/gid with --run-as before opening anything under the directory):
#   symlinks to a root-only file, to another user's file, to a directory outside TMPDIR, a symlink loop; a hardlink
#   to a root-only file; a FIFO nobody writes, a socket, a device node; an unreadable file; names with a newline and
#   with invalid UTF-8; a path above 4,096 bytes; a 1,000-deep tree; a sparse 100 GiB file (above the site's
#   stream.max.file.bytes); a file deleted and one growing while the push runs.
# Asserts: the push returns (bounded), no byte of the root-only or the other user's file is in any message on the
# topic, every trap is listed under "skipped" with its reason, and the sink rebuilds exactly the readable files.
. "$(dirname "$0")/../lib/common.sh"
: "${KS_TEST_USER:?no KS_TEST_USER: run make cluster-up}"
[ "$(id -u)" = 0 ] || skip "needs root (--run-as, device nodes, other users' files)"
needs_built push sink
uid=$(id -u "$KS_TEST_USER") gid=$(id -g "$KS_TEST_USER")
as_user() { runuser -u "$KS_TEST_USER" -- "$@"; }
marker=KS-SECRET-$$-$RANDOM$RANDOM

# Secrets outside TMPDIR: root's and another user's.
mkdir -p "$T/secrets"
echo "root-only $marker" > "$T/secrets/root-only"; chmod 600 "$T/secrets/root-only"
echo "nobody's $marker" > "$T/secrets/nobodys"; chown nobody "$T/secrets/nobodys"; chmod 600 "$T/secrets/nobodys"

tmp=$T/tmpdir
mkdir -p "$tmp"; chown "$uid:$gid" "$tmp"
# The job's own, legitimate files.
as_user bash -c "cd '$tmp' && mkdir -p ok/sub && echo hello > ok/a.txt && head -c 300000 /dev/urandom > ok/sub/b.bin && : > ok/empty"
as_user bash -c "cd '$tmp' && printf 'nl\n' > \$'name\nwith newline' && printf 'latin1\n' > \$'caf\xe9.txt'"
# Traps.
as_user ln -s "$T/secrets/root-only" "$tmp/link-root-only"
as_user ln -s "$T/secrets/nobodys" "$tmp/link-nobodys"
as_user ln -s /etc "$tmp/link-etc"
as_user ln -s loop-b "$tmp/loop-a"; as_user ln -s loop-a "$tmp/loop-b"
ln "$T/secrets/root-only" "$tmp/hardlink-root-only"   # only root can make it (protected_hardlinks): a planted file
as_user mkfifo "$tmp/fifo"
as_user "$PY" -c "import socket; s = socket.socket(socket.AF_UNIX); s.bind('$tmp/socket')"
mknod "$tmp/device" c 1 3
as_user bash -c "echo private > '$tmp/unreadable' && chmod 000 '$tmp/unreadable'"
as_user truncate -s 100G "$tmp/sparse-100G"
# A path above 4,096 bytes: 20 directories of 250 bytes (built with relative paths, each step below PATH_MAX).
as_user bash -c "cd '$tmp' && mkdir longpath && cd longpath && for i in \$(seq 20); do d=\$(printf 'd%.0s' \$(seq 250)); mkdir \$d && cd \$d; done && echo deep > f"
# 1,000 nested directories with a file at the bottom and files around the push's 128-component limit.
as_user "$PY" -c "
import os
os.chdir('$tmp'); os.mkdir('deep'); os.chdir('deep')
for i in range(1000):
    os.mkdir('d'); os.chdir('d')
    if 120 <= i <= 130: open('f', 'w').write(str(i))  # around the push's 128-component limit
open('bottom', 'w').write('bottom\n')"
# Deleted and growing while the push runs (large enough to be in flight).
as_user bash -c "head -c 30000000 /dev/urandom > '$tmp/deleted-midway' && head -c 30000000 /dev/urandom > '$tmp/growing'"

topic=$(unique_topic)
create_topic "$topic" 4
as_user bash -c "while [ ! -e '$T/stop' ]; do head -c 100000 /dev/urandom >> '$tmp/growing'; sleep 0.05; done" &
grower=$!
on_exit "touch $T/stop; kill $grower 2>/dev/null"
(sleep 0.3; rm -f "$tmp/deleted-midway") &
rc=0
timeout 300 "$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X stream.max.file.bytes=$((64 * 1024 * 1024)) \
    --topic "$topic" --cluster c6 --job-id 606 --node n1 --run-as "$uid:$gid" --spool "$T/spool" --timeout 240 "$tmp" \
    2>"$T/push.log" || rc=$?
touch "$T/stop"; wait "$grower" || true
cat "$T/push.log"
[ $rc -ne 124 ] || fail "the push did not return within 300 s"
[ $rc -eq 0 ] || fail "push exit $rc"

note "no secret in any message (values and headers)"
kcat -b "$KAFKA_BOOTSTRAP" -C -t "$topic" -e -q -f '%k %h %s\n' > "$T/all-messages" 2>/dev/null
[ -s "$T/all-messages" ] || fail "could not read the topic back"
! grep -aq "$marker" "$T/all-messages" || fail "a secret was sent"

out=$T/out
mkdir -p "$out"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5 \
    2>"$T/sink.log" || { tail "$T/sink.log"; fail "sink failed"; }
user=$(id -un "$KS_TEST_USER")
manifest=$out/$user/606/_manifests/n1.json
[ -f "$manifest" ] || { cat "$T/sink.log"; ls -R "$out/.quarantine" | head; fail "no manifest stored: the transfer was not finalized"; }

note "every trap is in the manifest's skipped list with its reason"
"$PY" - "$manifest" <<'PYEOF' > "$T/skipped"
import base64, json, sys
m = json.load(open(sys.argv[1]))
for s in m["skipped"]:
    p = s.get("path") if "path" in s else base64.b64decode(s["path_b64"]).decode("utf-8", "backslashreplace")
    print(repr(p)[1:-1].split("/")[0] + "\t" + s["reason"])
PYEOF
cat "$T/skipped"
expect_skip() {  # expect_skip TOP-LEVEL-NAME REASON-REGEX
    grep -qP "^\Q$1\E\t($2)" "$T/skipped" || { echo "MISSING skip: $1 ($2)"; missing=$((missing + 1)); }
    traps=$((traps + 1))
}
missing=0 traps=0
expect_skip link-root-only symlink
expect_skip link-nobodys symlink
expect_skip link-etc symlink
expect_skip loop-a symlink
expect_skip loop-b symlink
expect_skip hardlink-root-only 'unreadable: Permission denied'
expect_skip fifo fifo
expect_skip socket socket
expect_skip device device
expect_skip unreadable 'unreadable: Permission denied'
expect_skip sparse-100G 'too large: 107374182400 bytes'
expect_skip longpath 'path too long'
expect_skip deep 'too deep'
expect_skip 'name\nwith newline' 'control character in the name'
[ "$missing" = 0 ] || fail "$missing traps not recorded as skipped"

note "deleted and growing files: sent whole (as first read) or skipped, never half"
for f in deleted-midway growing; do
    if grep -qP "^$f\t" "$T/skipped"; then note "$f: skipped ($(grep -P "^$f\t" "$T/skipped" | cut -f2))"
    else
        [ -f "$out/$user/606/n1/$f" ] || fail "$f neither sent nor skipped"
        note "$f: sent, $(stat -c %s "$out/$user/606/n1/$f") bytes (verified against the manifest's SHA-256 by the sink)"
    fi
done

note "the readable files arrive bit for bit"
for f in ok/a.txt ok/sub/b.bin ok/empty $'caf\xe9.txt'; do
    cmp "$tmp/$f" "$out/$user/606/n1/$f" || fail "$(printf %q "$f") differs or is missing"
done
# The deep files up to 128 components arrive (the sink's layout adds its own), none deeper.
deepest=$(cd "$out/$user/606/n1" && find deep -type f | awk -F/ '{print NF}' | sort -n | tail -1)
[ "$deepest" = 128 ] || fail "deepest file received has $deepest components (expected 128)"
received=$(find "$out/$user/606/n1" -type f | wc -l)
sent=$("$PY" -c "import json,sys; print(len(json.load(open(sys.argv[1]))['files']))" "$manifest")
[ "$received" = "$sent" ] || fail "manifest lists $sent files, $received received"
echo "counts: traps=$traps skipped_as_expected=$((traps - missing)) secrets_sent=0 sent=$sent received=$received duplicated=0 lost=$((sent - received))"
