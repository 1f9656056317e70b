#!/bin/bash
# The harness's ACLs, as a site sets them, enforced by the broker on its secured listener (tests/cluster/lib/secure.sh),
# shown with two clients that we did not write: kcat (librdkafka, SASL PLAIN) and kafka-python (SCRAM-SHA-512).
#   - the test user's own principal reads the topics of its own prefix, cannot produce to a stream topic (not even
#     one of its own prefix), and cannot read another user's prefix;
#   - ks-node writes the stream topics but cannot read them; ks-sink reads them but cannot write them;
#   - kafka-stream-push delivers over mutual TLS too (ks-node's certificate), and its drain does so from its per-user
#     child, which runs as the spool's owner and cannot read the root-only key file.
. "$(dirname "$0")/../lib/common.sh"
[ -n "${KS_USER_CONF:-}" ] && [ -f "${KS_USER_CONF:-}" ] || skip "the harness has no secured listeners (make cluster-up)"
user=$KS_TEST_USER
own=$user.$(basename "$0" .sh)-$$-$RANDOM
other=${KS_TEST_USER2:-ksother}.$(basename "$0" .sh)-$$-$RANDOM  # another user's prefix
stream=$(unique_topic)
for t in "$own" "$other" "$stream"; do create_topic "$t"; done
# The open listener stands for a site where users can produce: the data is put there by root.
echo "own line" | kcat -b "$KAFKA_BOOTSTRAP" -P -t "$own"
echo "other user's line" | kcat -b "$KAFKA_BOOTSTRAP" -P -t "$other"
as_user() { runuser -u "$user" -- "$@"; }
# kcat -F takes librdkafka properties only: the nodes' and the sink's configs without their stream.* keys.
kcat_conf() { local f=$T/$(basename "$1").kcat; (umask 077 && grep -v '^stream\.' "$1" >"$f"); echo "$f"; }
node_kcat=$(kcat_conf "$KS_NODE_CONF")
sink_kcat=$(kcat_conf "$KS_SINK_CONF")
[ "$(stat -c '%U %a' "$KS_USER_CONF")" = "$user 600" ] || fail "KS_USER_CONF is not the user's, mode 0600"

note "kcat as $user: reads its own prefix"
as_user kcat -F "$KS_USER_CONF" -C -t "$own" -e -o beginning -q >"$T/own.out" 2>"$T/own.err" ||
    fail "reading $own: $(cat "$T/own.err")"
grep -qx "own line" "$T/own.out" || fail "own topic not read: $(cat "$T/own.out")"

note "kcat as $user: denied another user's prefix, and producing anywhere"
rc=0
as_user timeout 60 kcat -F "$KS_USER_CONF" -C -t "$other" -e -o beginning -q >"$T/other.out" 2>"$T/other.err" || rc=$?
[ $rc != 0 ] && grep -q "Topic authorization failed" "$T/other.err" || fail "read $other: rc=$rc $(cat "$T/other.err")"
[ ! -s "$T/other.out" ] || fail "read another user's messages: $(cat "$T/other.out")"
for t in "$own" "$stream"; do
    rc=0
    echo "forged" | as_user timeout 60 kcat -F "$KS_USER_CONF" -P -t "$t" -X message.timeout.ms=20000 2>"$T/p.err" || rc=$?
    [ $rc != 0 ] && grep -q "Topic authorization failed" "$T/p.err" || fail "produce to $t: rc=$rc $(cat "$T/p.err")"
    ! kcat -b "$KAFKA_BOOTSTRAP" -C -t "$t" -e -q 2>/dev/null | grep -q forged || fail "the user's message reached $t"
done

note "kafka-python (SCRAM-SHA-512) as $user: the broker's answers"
as_user "$PY" - "$KS_USER_CONF" "$KAFKA_SASL_BOOTSTRAP" "$KS_CA_FILE" "$own" "$other" "$stream" <<'PYEOF'
import sys
from kafka import KafkaConsumer, KafkaProducer
from kafka.client_async import KafkaClient
from kafka.errors import TopicAuthorizationFailedError
from kafka.protocol.metadata import MetadataRequest
conf_file, bootstrap, ca, own, other, stream = sys.argv[1:]
conf = dict(l.strip().split("=", 1) for l in open(conf_file) if "=" in l and not l.startswith("#"))
kw = dict(bootstrap_servers=bootstrap, security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
          sasl_plain_username=conf["sasl.username"], sasl_plain_password=conf["sasl.password"], ssl_cafile=ca)
# Metadata: its own topic, and error 29 (TOPIC_AUTHORIZATION_FAILED) for another user's and for a stream topic.
client = KafkaClient(**kw)
node = client.least_loaded_node()
while not client.ready(node):
    client.poll(timeout_ms=100)
f = client.send(node, MetadataRequest[1](topics=[own, other, stream]))
client.poll(future=f, timeout_ms=30000)
errors = {t[1]: t[0] for t in f.value.topics}
assert errors == {own: 0, other: 29, stream: 29}, errors
client.close()
consumer = KafkaConsumer(own, group_id=own + ".g", auto_offset_reset="earliest", consumer_timeout_ms=15000, **kw)
values = [m.value for m in consumer]
consumer.close()
assert values == [b"own line"], values
producer = KafkaProducer(max_block_ms=20000, **kw)
try:
    producer.send(own, b"forged").get(timeout=20)
    sys.exit("kafka-python produced to " + own)
except TopicAuthorizationFailedError:
    pass
producer.close()
print("kafka-python: own topic read, another user's and a stream topic denied, producing denied")
PYEOF

note "ks-node writes a stream topic but cannot read it; ks-sink reads it but cannot write it"
echo "from a node" | kcat -F "$node_kcat" -P -t "$stream" 2>"$T/n.err" || fail "ks-node produce: $(cat "$T/n.err")"
rc=0; timeout 60 kcat -F "$node_kcat" -C -t "$stream" -e -q >/dev/null 2>"$T/n.err" || rc=$?
[ $rc != 0 ] && grep -q "authorization failed" "$T/n.err" || fail "ks-node read $stream: rc=$rc $(cat "$T/n.err")"
timeout 60 kcat -F "$sink_kcat" -C -t "$stream" -e -q >"$T/s.out" 2>"$T/s.err" || fail "ks-sink read: $(cat "$T/s.err")"
grep -qx "from a node" "$T/s.out" || fail "ks-sink did not read the node's message"
rc=0
echo "from the sink" | kcat -F "$sink_kcat" -P -t "$stream" -X message.timeout.ms=20000 2>"$T/s.err" || rc=$?
[ $rc != 0 ] && grep -q "Topic authorization failed" "$T/s.err" || fail "ks-sink produced: rc=$rc $(cat "$T/s.err")"

note "mutual TLS: push as ks-node's certificate; a spooled transfer drained by the per-user child"
[ -n "${KS_NODE_MTLS_CONF:-}" ] || fail "no KS_NODE_MTLS_CONF in cluster.env"
mkdir -p "$T/src/sub"
head -c 1500000 /dev/urandom >"$T/src/sub/data.bin"
echo "a,b" >"$T/src/r.csv"
uid=$(id -u "$user") gid=$(id -g "$user")
"$PUSH" --config "$KS_NODE_MTLS_CONF" --topic "$stream" --job-id 1 --node n1 --run-as "$uid:$gid" --timeout 60 \
    --spool "$T/spool" "$T/src" || fail "push over mutual TLS failed"
# Spooled as the user, to a topic ks-node may not write yet; then drained by root, whose child runs as the user.
late=$(unique_topic late)
rc=0
"$PUSH" --config "$KS_NODE_MTLS_CONF" --topic "$late" --job-id 2 --node n1 --run-as "$uid:$gid" --timeout 60 \
    --spool "$T/spool" "$T/src" 2>"$T/late.err" || rc=$?
[ $rc = 3 ] || fail "push to a topic that does not exist: exit $rc, expected 3: $(cat "$T/late.err")"
create_topic "$late"
"$PUSH" --config "$KS_NODE_MTLS_CONF" --timeout 60 --drain-spool "$T/spool" 2>"$T/drain.err" ||
    fail "drain over mutual TLS: $(cat "$T/drain.err")"
grep -q "delivered 2 spooled files" "$T/drain.err" || fail "drain: $(cat "$T/drain.err")"
"$PY" "$KS_ROOT/tests/tools/push_verify.py" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$late" --source "$T/src" --timeout 60
