#!/bin/bash
# Hostile messages (kafka-python, hand-crafted headers and manifests) land in quarantine with a reason; nothing is
# written outside ROOT, nothing through a symlink inside ROOT, and the sink goes on to persist a good transfer.
. "$(dirname "$0")/../lib/common.sh"
needs_built sink
PRODUCE=$KS_ROOT/tests/tools/sink_produce.py

out=$T/root/out
mkdir -p "$out" "$T/good"
echo "good data" > "$T/good/result.csv"
# A symlink inside ROOT where a job directory would go must never be followed.
mkdir -p "$T/outside" "$out/mallory"
ln -s "$T/outside" "$out/mallory/hostile-viasymlink"
rm -f /tmp/ks-hostile-abs /tmp/ks-hostile-dotdot
before_tmp=$(find "$T/root" "$T/outside" | sort)

topic=$(unique_topic)
create_topic "$topic" 4
ids=$("$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" --hostile)
mkdir -p "$T/sym"
echo x > "$T/sym/f"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$T/sym" --cluster c --job hostile-viasymlink --node n1 --user mallory
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$T/good" --job 77 --node n1 --user alice

"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" --exit-when-idle 5 \
    2>"$T/sink.log" || { cat "$T/sink.log"; fail "sink failed"; }
cat "$T/sink.log"

for id in $ids; do
    [ -f "$out/.quarantine/$id/reason" ] || fail "transfer $id not quarantined"
    echo "quarantined $id: $(head -1 "$out/.quarantine/$id/reason")"
done
sym_id=$(ls "$out/.quarantine" | grep -v -e messages.log $(printf -- '-e %s ' $ids) || true)
[ -n "$sym_id" ] || fail "the transfer aimed through a symlink was not quarantined"
[ "$(grep -c . "$out/.quarantine/messages.log")" -eq 3 ] || fail "expected 3 single bad messages in messages.log"
grep -q 'version' "$out/.quarantine/messages.log" || fail "unknown version not logged"
grep -q 'transfer id does not match' "$out/.quarantine/messages.log" || fail "forged transfer id not logged"
[ -z "$(ls -A "$T/outside")" ] || fail "something was written through the symlink"
[ ! -e /tmp/ks-hostile-abs ] && [ ! -e /tmp/ks-hostile-dotdot ] || fail "a file escaped ROOT"
# Nothing new next to ROOT, and inside ROOT only the sink's directories, the symlink's parent and the good job.
after=$(find "$T/root" -path "$out" -prune -o -print | sort)
[ "$after" = "$(echo "$before_tmp" | grep -v "^$out" | grep -v "^$T/outside")" ] || fail "unexpected entries next to ROOT"
[ "$(LC_ALL=C ls -A "$out" | tr '\n' ' ')" = ".done .quarantine .staging .stale alice mallory " ] || fail "unexpected entries in ROOT: $(ls -A "$out")"
[ "$(cat "$out/alice/77/n1/result.csv")" = "good data" ] || fail "the good transfer was not persisted"
[ -f "$out/alice/77/_SUCCESS" ] || fail "_SUCCESS of the good job missing"
echo "PASS"
