#!/bin/bash
# Reliability case 7: hostile messages produced with kafka-python (tests/reliability/lib/hostile_messages.py), beyond
# what tests/integration/sink_hostile.sh covers: identity headers steering the layout out of ROOT, forged sizes,
# offsets and indexes, missing chunks, wrong digests, duplicate and conflicting manifests, garbage bytes, unknown
# versions. Asserts per case: quarantined with a reason (or logged, or moved to .stale with a reason when it cannot
# be judged),
# nothing written outside ROOT, and the sink keeps running and persists a good transfer sent after all of them.
. "$(dirname "$0")/../lib/common.sh"
needs_built sink

base=$T/a/b/c
out=$base/root
w=$T/work
mkdir -p "$out" "$T/good" "$w"
for i in 1 2 3; do echo "good $i" > "$T/good/g$i.txt"; done
before=$(find "$T" -path "$out" -prune -o -path "$w" -prune -o -print | sort)
tmp_before=$(ls -A /tmp | sort)

topic=$(unique_topic)
create_topic "$topic" 4
"$PY" "$KS_ROOT/tests/reliability/lib/hostile_messages.py" "$KAFKA_BOOTSTRAP" "$topic" > "$w/cases"
"$PY" "$KS_ROOT/tests/tools/sink_produce.py" "$KAFKA_BOOTSTRAP" "$topic" "$T/good" --cluster c --job good --node n1 --user alice
note "$(wc -l < "$w/cases") hostile cases sent"

"$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X stream.stale.seconds=3 --topic "$topic" --group "g-$topic" \
    --output "$out" --exit-when-idle 8 2>"$w/sink.log" || { tail -30 "$w/sink.log"; fail "the sink did not keep running (exit $?)"; }

ok=0 bad=0
check() {  # check CASE CONDITION-DESCRIPTION: counts a case as handled or not
    if [ "$2" = 1 ]; then ok=$((ok + 1)); echo "ok   $1: $3"; else bad=$((bad + 1)); echo "FAIL $1: $3"; fi
}
while read -r name expect where; do
    case $expect in
        transfer)
            if [ -s "$out/.quarantine/$where/reason" ]; then check "$name" 1 "quarantined: $(head -1 "$out/.quarantine/$where/reason")"
            else check "$name" 0 "not quarantined (expected .quarantine/$where/reason)"; fi;;
        message)
            if grep -qF "$where: " "$out/.quarantine/messages.log"; then check "$name" 1 "$(grep -F "$where: " "$out/.quarantine/messages.log")"
            else check "$name" 0 "$where not in messages.log"; fi;;
        stale)
            reason=$(cat "$out/.stale/$where"-*/reason 2>/dev/null || true)
            if [ -n "$reason" ] && [ ! -e "$out/.done/$where" ]; then check "$name" 1 "moved to .stale: $reason"
            else check "$name" 0 "not in .stale (staging: $(ls "$out/.staging"), quarantine: $(ls "$out/.quarantine" | grep "$where" || true))"; fi;;
        once)
            if [ -e "$out/.done/$where" ] && [ ! -e "$out/.quarantine/$where" ] && [ "$(cat "$out/mallory/h-${name%-first}/n1/f")" = payload ]; then
                check "$name" 1 "persisted once"
            else check "$name" 0 "not persisted exactly once"; fi;;
        conflict)
            if grep -F "$where: " "$out/.quarantine/messages.log" | grep -q 'already finalized with different content' &&
                [ ! -e "$out/mallory/h-conflict/n1/g" ]; then check "$name" 1 "logged, first version kept"
            else check "$name" 0 "second manifest not refused"; fi;;
        *) fail "unknown expectation $expect";;
    esac
done < "$w/cases"

# Nothing outside ROOT: the tree around it and /tmp are unchanged.
after=$(find "$T" -path "$out" -prune -o -path "$w" -prune -o -print | sort)
[ "$after" = "$before" ] || { diff <(echo "$before") <(echo "$after"); fail "entries appeared outside ROOT"; }
new_tmp=$(comm -13 <(echo "$tmp_before") <(ls -A /tmp | sort) | grep -e hostile -e '^f$' -e '^x$' -e '^y$' || true)
[ -z "$new_tmp" ] || fail "new entries in /tmp: $new_tmp"
# Inside ROOT: only the sink's directories and the two legitimate users.
[ "$(LC_ALL=C ls -A "$out" | tr '\n' ' ')" = ".done .quarantine .staging .stale alice mallory " ] || fail "unexpected entries in ROOT: $(ls -A "$out")"
[ "$(LC_ALL=C ls -A "$out/mallory" | tr '\n' ' ')" = "h-conflict h-duplicate " ] || fail "unexpected job dirs: $(ls -A "$out/mallory")"
diff <(tree_digests "$T/good") <(tree_digests "$out/alice/good/n1") || fail "the good transfer after the hostile ones is wrong"
[ "$bad" = 0 ] || fail "$bad of $((ok + bad)) hostile cases not handled as expected"
good=$(ls "$T/good" | wc -l)
got=$(find "$out/alice/good/n1" -type f | wc -l)
echo "counts: hostile_cases=$((ok + bad)) handled=$ok sent=$good received=$got duplicated=0 lost=$((good - got))"
