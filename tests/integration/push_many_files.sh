#!/bin/bash
# 10,000 small files (in 100 directories) arrive complete, in index order, with the right digests.
# Their manifest (~1.6 MB) does not fit the broker's default 1 MB message limit: with default limits the helper
# must say so and spool everything before sending anything (exit 3); after the topic's limit is raised,
# --drain-spool delivers it. A topic created with the larger limit gets it directly.
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
BIG=8388608
topic_config() {  # topic max.message.bytes: create with it, or alter an existing topic
    "$PY" - "$KAFKA_BOOTSTRAP" "$1" "$2" "$3" <<'PYEOF'
import sys
from kafka.admin import KafkaAdminClient, NewTopic, ConfigResource, ConfigResourceType
bootstrap, topic, action, size = sys.argv[1:5]
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
if action == "create":
    admin.create_topics([NewTopic(topic, 4, 1, topic_configs={"max.message.bytes": size})])
else:
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": size})])
admin.close()
PYEOF
}
verify() {
    "$PY" "$KS_ROOT/tests/tools/push_verify.py" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$1" --source "$T/src" \
        --timeout 300 | tee "$T/verify.out"
    grep -q 'OK files=10000 chunks=10000 ' "$T/verify.out" || fail "expected 10000 files in 10000 chunks"
}

note "default 1 MB limits: refused up front, everything spooled"
topic=$(unique_topic limit); create_topic "$topic"
rc=0
"$PUSH" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --job-id many --node n1 --timeout 300 \
    --spool "$T/spool" "$T/src" 2>"$T/err1" || rc=$?
cat "$T/err1"
[ $rc = 3 ] || fail "exit $rc, expected 3 (spooled)"
grep -q 'manifest of 10000 files needs about .* max.message.bytes' "$T/err1" || fail "no explanation"
[ "$(find "$T/spool" -path '*/data/*' -type f | wc -l)" = 10000 ] || fail "not every file spooled"
n=$(kcat -b "$KAFKA_BOOTSTRAP" -C -t "$topic" -e -q -f '.\n' 2>/dev/null | wc -l)
[ "$n" = 0 ] || fail "$n messages were sent although the manifest could never follow"

note "limit raised: the spool drains"
topic_config "$topic" alter $BIG
"$PUSH" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X message.max.bytes=$BIG --timeout 300 --drain-spool "$T/spool" \
    2>"$T/err2" || fail "drain: exit $?: $(cat "$T/err2")"
[ -z "$(find "$T/spool" -mindepth 2 -maxdepth 2)" ] || fail "spool entry left after a successful drain"
verify "$topic"

note "topic created with the larger limit: sent directly"
topic=$(unique_topic big); topic_config "$topic" create $BIG
"$PUSH" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X message.max.bytes=$BIG --topic "$topic" --job-id many --node n1 \
    --timeout 300 "$T/src" 2>"$T/err3" || fail "push: exit $?: $(cat "$T/err3")"
cat "$T/err3"
grep -q 'sent 10000 files, .* bytes, 0 skipped' "$T/err3" || fail "summary"
verify "$topic"
