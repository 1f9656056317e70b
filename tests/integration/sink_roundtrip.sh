#!/bin/bash
# kafka-stream-push -> Kafka -> kafka-stream-sink: a mixed tree (0-byte files, nested and empty directories, a 100 MB
# file, 10,000 small files, non-ASCII and non-UTF-8 names) is rebuilt bit for bit, with modes and mtimes.
. "$(dirname "$0")/../lib/common.sh"
needs_built push sink

src=$T/src out=$T/out
mkdir -p "$src/nested/deeper/deepest" "$src/empty-dir" "$src/many" "$src/ünïcödé/日本語" "$out"
: > "$src/zero"
: > "$src/nested/deeper/deepest/zero-too"
echo "hello" > "$src/nested/a.txt"
echo "Grüße" > "$src/ünïcödé/日本語/データ.csv"
printf 'latin1 name' > "$src/$(printf 'caf\xe9')"
chmod 600 "$src/nested/a.txt"
chmod 755 "$src/zero"
touch -d '2001-02-03 04:05:06.789' "$src/nested/a.txt"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$src/big.bin"
"$PY" - "$src/many" <<'PYEOF'
import os, sys
d = sys.argv[1]
for i in range(10000):
    sub = os.path.join(d, "d%02d" % (i % 50))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%05d.txt" % i), "w") as f:
        f.write("file %d\n" % i * (i % 7))
PYEOF

topic=$(unique_topic)
# Default topic limits (1 MB messages): the manifest of 10,000 files (~1.8 MB) travels in several parts.
create_topic "$topic"
note "push $(find "$src" -type f | wc -l) files to $topic"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster c1 --job-id 1001 --node n1 --user alice \
    --nodes 1 --spool "$T/spool" --timeout 300 "$src"

note "sink (one-shot)"
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5

job=$out/alice/1001
[ -f "$job/_SUCCESS" ] || fail "_SUCCESS missing"
[ -f "$job/_manifests/n1.json" ] || fail "node manifest missing"
diff <(tree_digests "$src") <(tree_digests "$job/n1") || fail "output differs from the source"
[ "$(stat -c %a "$job/n1/nested/a.txt")" = 600 ] || fail "mode not preserved"
[ "$(stat -c %a "$job/n1/zero")" = 755 ] || fail "mode not preserved"
[ "$(stat -c %y "$src/nested/a.txt")" = "$(stat -c %y "$job/n1/nested/a.txt")" ] || fail "mtime not preserved"
[ "$(stat -c %y "$src/big.bin")" = "$(stat -c %y "$job/n1/big.bin")" ] || fail "mtime not preserved"
[ -z "$(ls -A "$out/.staging")" ] || fail "staging not cleaned up"
[ ! -s "$out/.quarantine/messages.log" ] || fail "unexpected quarantine: $(cat "$out/.quarantine/messages.log")"

note "a second run of the same group finds nothing new; a new group re-reads everything and changes nothing"
before=$(tree_digests "$out")
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 3
"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g2-$topic" --output "$out" --exit-when-idle 5
[ "$before" = "$(tree_digests "$out")" ] || fail "a replay changed the output"
echo "PASS"
