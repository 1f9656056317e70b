#!/bin/bash
# What admins get wrong on a secured Kafka, and what they see (the table in kafka_stream(8)): a wrong password, an
# unknown principal, a missing ACL, an untrusted (wrong CA) or expired broker certificate, a hostname mismatch, a
# client certificate the broker does not trust or that has expired, a plain client on the SASL_SSL port, SCRAM from
# a librdkafka that Kafka 4 refuses. For each, on the harness's real broker:
#   - kafka-stream-push exits 3 (spooled) with one line that says what is wrong, long before its --timeout (240 s);
#   - kafka-stream-sink refuses to start (exit 2) with one line.
# Then the password is fixed and --drain-spool delivers the spooled transfer: nothing was lost.
. "$(dirname "$0")/../lib/common.sh"
[ -n "${KS_NODE_CONF:-}" ] && [ -f "${KS_NODE_CONF:-}" ] || skip "the harness has no secured listeners (make cluster-up)"
topic=$(unique_topic)
noacl=zz-$(basename "$0" .sh)-$$-$RANDOM  # outside every ACL of the harness
create_topic "$topic"
create_topic "$noacl"
mkdir -p "$T/src/d" "$T/out"
echo "result" >"$T/src/r.txt"
head -c 1200000 /dev/urandom >"$T/src/d/b.bin"
password_of() { sed -n 's/^sasl.password=//p' "$1"; }
node_pw=$(password_of "$KS_NODE_CONF")
sink_pw=$(password_of "$KS_SINK_CONF")
sasl_port=${KAFKA_SASL_BOOTSTRAP##*:}
sasl=(security.protocol=SASL_SSL sasl.mechanism=PLAIN)
# conf NAME PROPERTY...: a root-only site config in $T, with the harness's signing key as the nodes' and the sink's
conf() {
    local f=$T/$1.conf
    shift
    (umask 077 && printf '%s\n' "$@" "stream.auth.key.file=$KS_AUTH_KEY" >"$f")
    echo "$f"
}

note "certificates the harness's brokers will not like, made with openssl"
pki=$T/pki
mkdir -p "$pki"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$1.key" 2>/dev/null; chmod 600 "$pki/$1.key"; }
key other-ca
openssl req -new -x509 -key "$pki/other-ca.key" -subj /CN=not-the-harness-ca -days 2 -out "$pki/other-ca.pem" 2>/dev/null
key untrusted
openssl req -new -key "$pki/untrusted.key" -subj /CN=ks-node 2>/dev/null |
    openssl x509 -req -CA "$pki/other-ca.pem" -CAkey "$pki/other-ca.key" -CAcreateserial -CAserial "$pki/other.srl" \
        -days 2 -out "$pki/untrusted.pem" 2>/dev/null
# Certificates that expired in 2020, signed by the harness's CA (openssl ca takes explicit dates): one for a client
# (CN=ks-node), one for a fake broker (127.0.0.1).
: >"$pki/index.txt"
echo 1000 >"$pki/serial"
cat >"$pki/ca.cnf" <<CNF
[ca]
default_ca = expired
[expired]
database = $pki/index.txt
new_certs_dir = $pki
serial = $pki/serial
default_md = sha256
policy = any
copy_extensions = copy
[any]
commonName = supplied
CNF
expired_cert() {
    key "$1"
    openssl req -new -key "$pki/$1.key" -subj "/CN=$2" -addext "subjectAltName=IP:127.0.0.1" -out "$pki/$1.csr" 2>/dev/null
    openssl ca -batch -config "$pki/ca.cnf" -cert "$KS_CA_FILE" -keyfile "$KS_STATE/secrets/ca.key" -in "$pki/$1.csr" \
        -out "$pki/$1.pem" -startdate 20200101000000Z -enddate 20200102000000Z -notext >/dev/null 2>&1 ||
        fail "openssl ca could not sign $1"
}
expired_cert expired-client ks-node
expired_cert expired-broker 127.0.0.1
# The fake broker: openssl s_server with the expired certificate, on a port nobody uses (we started it: we stop it).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
fake=$((KS_PORT_BASE + 50))
until port_free $fake; do fake=$((fake + 1)); done
openssl s_server -quiet -accept "$fake" -cert "$pki/expired-broker.pem" -key "$pki/expired-broker.key" \
    </dev/null >/dev/null 2>&1 &
fake_pid=$!
on_exit "kill $fake_pid 2>/dev/null"
for _ in $(seq 100); do port_free $fake || break; sleep 0.1; done

# name | push config | push topic | what the push's line says | sink config | what the sink's line says
cases=(
    "wrong password|$(conf wrong-pw bootstrap.servers="$KAFKA_SASL_BOOTSTRAP" "${sasl[@]}" ssl.ca.location="$KS_CA_FILE" \
        sasl.username=ks-node sasl.password=not-"$node_pw")|$topic|login of \"ks-node\" (SASL PLAIN): wrong sasl.username or sasl.password|$(conf wrong-pw-sink \
        bootstrap.servers="$KAFKA_SASL_BOOTSTRAP" "${sasl[@]}" ssl.ca.location="$KS_CA_FILE" sasl.username=ks-sink \
        sasl.password=not-"$sink_pw")|login of \"ks-sink\" (SASL PLAIN): wrong sasl.username or sasl.password"
    "unknown principal|$(conf unknown bootstrap.servers="$KAFKA_SASL_BOOTSTRAP" "${sasl[@]}" ssl.ca.location="$KS_CA_FILE" \
        sasl.username=nobody sasl.password="$node_pw")|$topic|login of \"nobody\" (SASL PLAIN): wrong sasl.username|$T/unknown.conf|login of \"nobody\""
    "missing ACL (topic)|$KS_NODE_CONF|$noacl|Kafka denies User:ks-node writing to topic $noacl|$KS_SINK_CONF|Kafka denies User:ks-sink reading topic $noacl"
    "missing ACL (group)|$KS_SINK_CONF|$topic|Kafka denies User:ks-sink |$KS_NODE_CONF|Kafka denies User:ks-node the consumer group"
    "wrong CA|$(conf wrong-ca bootstrap.servers="$KAFKA_SASL_BOOTSTRAP" "${sasl[@]}" ssl.ca.location="$pki/other-ca.pem" \
        sasl.username=ks-node sasl.password="$node_pw")|$topic|the broker's certificate is not signed by a CA that this client trusts|$T/wrong-ca.conf|not signed by a CA that this client trusts"
    "expired broker certificate|$(conf expired-broker bootstrap.servers=127.0.0.1:$fake "${sasl[@]}" \
        ssl.ca.location="$KS_CA_FILE" sasl.username=ks-node sasl.password="$node_pw")|$topic|the broker's certificate has expired|$T/expired-broker.conf|the broker's certificate has expired"
    "hostname mismatch|$(conf hostname bootstrap.servers=localhost:"$sasl_port" "${sasl[@]}" ssl.ca.location="$KS_CA_FILE" \
        sasl.username=ks-node sasl.password="$node_pw")|$topic|not valid for the host name used in bootstrap.servers=localhost:$sasl_port|$T/hostname.conf|hostname mismatch"
    "untrusted client certificate|$(conf untrusted bootstrap.servers="$KAFKA_MTLS_BOOTSTRAP" security.protocol=SSL \
        ssl.ca.location="$KS_CA_FILE" ssl.certificate.location="$pki/untrusted.pem" ssl.key.location="$pki/untrusted.key")|$topic|the broker rejected this client's certificate|$T/untrusted.conf|the broker rejected this client's certificate $pki/untrusted.pem"
    "expired client certificate|$(conf expired-client bootstrap.servers="$KAFKA_MTLS_BOOTSTRAP" security.protocol=SSL \
        ssl.ca.location="$KS_CA_FILE" ssl.certificate.location="$pki/expired-client.pem" ssl.key.location="$pki/expired-client.key")|$topic|this client's certificate expired on Jan  2 00:00:00 2020 GMT|$T/expired-client.conf|expired on Jan  2 00:00:00 2020 GMT"
    "plain client on the SASL_SSL port|$(conf plain-on-tls bootstrap.servers="$KAFKA_SASL_BOOTSTRAP")|$topic|the broker's port speaks TLS, but security.protocol=plaintext|$T/plain-on-tls.conf|the broker's port speaks TLS"
)
if /usr/bin/python3 -c 'import ctypes,sys; v=ctypes.CDLL("librdkafka.so.1").rd_kafka_version(); sys.exit(v >= 0x020601ff)'; then
    cases+=("SCRAM from librdkafka < 2.6.1|$(conf scram bootstrap.servers="$KAFKA_SASL_BOOTSTRAP" security.protocol=SASL_SSL \
        sasl.mechanism=SCRAM-SHA-512 ssl.ca.location="$KS_CA_FILE" sasl.username=ks-node sasl.password="$node_pw")|$topic|refuses every SCRAM login of librdkafka < 2.6.1|$T/scram.conf|refuses every SCRAM login of librdkafka < 2.6.1")
fi

summary=$T/messages.txt
for c in "${cases[@]}"; do
    IFS='|' read -r name push_conf push_topic push_says sink_conf sink_says <<<"$c"
    note "$name"
    start=$SECONDS
    rc=0
    "$PUSH" --config "$push_conf" --topic "$push_topic" --job-id "${name//[^A-Za-z0-9]/-}" --node n1 --spool "$T/spool" \
        --timeout 240 "$T/src" 2>"$T/push.err" || rc=$?
    took=$((SECONDS - start))
    cat "$T/push.err"
    [ $rc = 3 ] || fail "$name: push exit $rc, expected 3 (spooled)"
    # Well before --timeout: the push gave up on the error, it did not wait for librdkafka's timeouts.
    [ $took -lt 60 ] || fail "$name: the push took ${took}s to give up"
    [ "$(wc -l <"$T/push.err")" = 2 ] || fail "$name: expected the reason and the summary, got $(wc -l <"$T/push.err") lines"
    grep -F "warning: not delivered: " "$T/push.err" | grep -qF "$push_says" || fail "$name: no line saying \"$push_says\""
    grep -q "NOT delivered, spooled 2 files to $T/spool/" "$T/push.err" || fail "$name: not spooled"
    echo "$name | push: $(grep -F 'warning: not delivered: ' "$T/push.err")" >>"$summary"

    start=$SECONDS
    rc=0
    "$SINK" --config "$sink_conf" --topic "$push_topic" --group "$KS_SINK_GROUP_PREFIX-$topic" --output "$T/out" \
        --exit-when-idle 5 2>"$T/sink.err" || rc=$?
    took=$((SECONDS - start))
    cat "$T/sink.err"
    [ $rc = 2 ] || fail "$name: sink exit $rc, expected 2 (refused)"
    [ $took -lt 60 ] || fail "$name: the sink took ${took}s to refuse"
    [ "$(wc -l <"$T/sink.err")" = 1 ] && grep -qF "kafka-stream-sink: error: " "$T/sink.err" ||
        fail "$name: the sink did not refuse in one line"
    grep -qF "$sink_says" "$T/sink.err" || fail "$name: the sink's line does not say \"$sink_says\""
    echo "$name | sink: $(cat "$T/sink.err")" >>"$summary"
done
note "what the admin saw"
cat "$summary"

note "the password fixed: the drain delivers the spooled transfer"
entry=$(grep -l '"key": *"[^"]*/wrong-password/n1"' "$T"/spool/*/*/transfer.json | head -1)
[ -n "$entry" ] || fail "no spool entry of the wrong-password case"
entry=$(dirname "$entry")
"$PUSH" --config "$KS_NODE_CONF" --timeout 120 --drain-spool "$entry" 2>"$T/drain.err" ||
    fail "drain with the right password: $(cat "$T/drain.err")"
[ ! -e "$entry" ] || fail "the drained entry is still there"
"$PY" "$KS_ROOT/tests/tools/push_verify.py" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --source "$T/src" --timeout 60
