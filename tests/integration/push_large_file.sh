#!/bin/bash
# A 100 MB file arrives complete and in order (105 chunks), verified against the source by an independent consumer.
. "$(dirname "$0")/../lib/common.sh"
mkdir -p "$T/src"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$T/src/big.dat"
topic=$(unique_topic big); create_topic "$topic"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --job-id big --node n1 --timeout 300 "$T/src" \
    2>"$T/err" || fail "push: exit $?: $(cat "$T/err")"
cat "$T/err"
grep -q 'sent 1 files, 104857600 bytes, 0 skipped' "$T/err" || fail "summary"
"$PY" "$KS_ROOT/tests/tools/push_verify.py" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --source "$T/src" \
    --timeout 300 | tee "$T/verify.out"
grep -q 'OK files=1 chunks=107 bytes=104857600' "$T/verify.out" || fail "expected 107 chunks of 960 KiB"
