#!/bin/bash
# 10,000 small files (in 100 directories) arrive complete, in index order, with the right digests, with the broker's
# and librdkafka's default 1 MB message limits. Their manifest (~1.8 MB) does not fit one message, so it travels in
# several parts (ks.part / ks.parts), each a complete JSON object, all after the last chunk.
. "$(dirname "$0")/../lib/common.sh"
"$PY" - "$T/src" <<'PYEOF'
import os, sys
root = sys.argv[1]
for d in range(100):
    os.makedirs(os.path.join(root, "d%03d" % d))
    for f in range(100):
        with open(os.path.join(root, "d%03d" % d, "f%03d.txt" % f), "wb") as fh:
            fh.write(os.urandom((d * 100 + f) % 700))
PYEOF
topic=$(unique_topic many); create_topic "$topic"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --job-id many --node n1 --timeout 300 \
    --spool "$T/spool" "$T/src" 2>"$T/err" || fail "push: exit $?: $(cat "$T/err")"
cat "$T/err"
grep -q 'sent 10000 files, .* bytes, 0 skipped' "$T/err" || fail "summary"
"$PY" "$KS_ROOT/tests/tools/push_verify.py" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --source "$T/src" \
    --timeout 300 | tee "$T/verify.out"
grep -q 'OK files=10000 chunks=10000 ' "$T/verify.out" || fail "expected 10000 files in 10000 chunks"
parts=$(sed -n 's/.*manifest_parts=\([0-9]*\).*/\1/p' "$T/verify.out")
[ "${parts:-0}" -ge 2 ] || fail "expected a manifest in several parts, got ${parts:-?}"
# Every part fits the default limit (kcat prints each manifest message's size).
kcat -b "$KAFKA_BOOTSTRAP" -C -t "$topic" -e -q -f '%h %S\n' 2>/dev/null | grep 'ks.type=manifest' \
    | awk '{print $NF}' | while read -r size; do [ "$size" -lt 1000000 ] || fail "manifest part of $size bytes"; done
