# The harness's secured Kafka, as a site runs it (sourced by tests/cluster/cluster, after lib/kafka.sh).
#
# Besides its open PLAINTEXT listener (a site where users can produce: the hostile tests use it), every broker has
#   SASL_SSL on KS_PORT_BASE+30+i-1   SASL over TLS (the default path of the plugin's tests and the demo):
#                                     mechanisms PLAIN and SCRAM-SHA-512, the same principals and passwords
#   SSL      on KS_PORT_BASE+40+i-1   mutual TLS: the client certificate's CN is the principal
# Our clients (librdkafka 2.0.2) use PLAIN: Kafka 4.x brokers check SCRAM's nonce strictly and reject every SCRAM
# login of librdkafka < 2.6.1 ("invalid credentials", librdkafka #4895). Clients that can (kafka-python, Java) use
# SCRAM-SHA-512; tests/integration/secure_misconfig.sh shows what our tools say about it.
# with KRaft's StandardAuthorizer (allow.everyone.if.no.acl.found=false). The open listener's principal,
# User:ANONYMOUS, is a super user, so PLAINTEXT stays open; on the secured listeners only the ACLs below count:
#   ks-node   Write, Describe on the stream topics        (compute nodes: the epilog's helper and the drain)
#   ks-sink   Read, Describe on the stream topics; Read on the consumer groups ks-sink*
#   the test user's own principal ($KS_TEST_USER): Read on its own topics ("$KS_TEST_USER." and "-" prefixes) and
#             groups, no Write anywhere
# Stream topics: the prefixes of the harness's topic policy (tests/cluster/plugstack.args) and "demo", with their
# records-mode companion topics (<topic>.ks-meta).
# Everything is made at `up` on a fresh state dir (openssl: an EC CA and certificates, in milliseconds); the SCRAM
# credentials are written at format time (KIP-900), PLAIN's into the root-only server.properties, the ACLs once the
# brokers answer.
#
# Files (all under $KS_STATE):
#   tls/ca.pem                    the CA (public; what clients trust)
#   secrets/ (root, 0700)         CA and broker keys, passwords, the broker keystore, the format arguments
#   conf/ks-node.conf, ks-sink.conf, ks-node-mtls.conf  the site configs of the nodes' helper and of the sink (root,
#                                 0600): librdkafka properties and the signing key's stream.auth.key.file (kcat -F
#                                 wants them without that line: grep -v '^stream\.')
#   conf/$KS_TEST_USER.conf       the test user's client config (the user's, 0600; librdkafka properties only)

SECURE_TOPIC_PREFIXES=(t- t. ks- ks.)
SECURE_SINK_GROUP_PREFIX=ks-sink

kafka_sasl_port() { echo $((KS_PORT_BASE + 30 + $1 - 1)); }
kafka_mtls_port() { echo $((KS_PORT_BASE + 40 + $1 - 1)); }
secure_dir() { echo "$KS_STATE/secrets"; }

kafka_bootstrap_of() {
    local port_fn=$1 i list=""
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do list+="${list:+,}127.0.0.1:$($port_fn "$i")"; done
    echo "$list"
}
kafka_sasl_bootstrap() { kafka_bootstrap_of kafka_sasl_port; }
kafka_mtls_bootstrap() { kafka_bootstrap_of kafka_mtls_port; }

# secure_sign NAME SUBJECT EXT: a key (PKCS#8, EC P-256) and a certificate signed by the harness CA, in secrets/.
secure_sign() {
    local name=$1 subject=$2 ext=$3 s
    s=$(secure_dir)
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$s/$name.key" 2>/dev/null
    openssl req -new -key "$s/$name.key" -subj "$subject" -out "$s/$name.csr" 2>/dev/null
    openssl x509 -req -in "$s/$name.csr" -CA "$KS_STATE/tls/ca.pem" -CAkey "$s/ca.key" -CAserial "$s/ca.srl" -CAcreateserial \
        -days 30 -sha256 -extfile <(printf '%s\n' "$ext") -out "$s/$name.pem" 2>/dev/null
    rm -f "$s/$name.csr"
}

# Once per fresh state dir: the CA, the brokers' certificate and keystore, the mTLS client certificate, passwords.
secure_prepare() {
    local s
    s=$(secure_dir)
    [ -s "$s/passwords" ] && return 0
    (umask 077 && mkdir -p "$s")
    mkdir -p "$KS_STATE/tls" "$KS_STATE/conf"
    chmod 0755 "$KS_STATE/tls" "$KS_STATE/conf"
    (
        umask 077
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$s/ca.key" 2>/dev/null
        openssl req -new -x509 -key "$s/ca.key" -subj "/CN=ks-harness-ca-$KS_PORT_BASE" -days 30 -sha256 \
            -out "$KS_STATE/tls/ca.pem" 2>/dev/null
        # One certificate for every broker: they all listen on 127.0.0.1 (a client asking for "localhost" gets a
        # hostname mismatch, which the tests use).
        secure_sign broker "/CN=ks-broker" "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
        secure_sign ks-node "/CN=ks-node" "extendedKeyUsage=clientAuth"
        # Kafka reads a PEM key store from a file only with an encrypted key (its password in server.properties), and
        # Java 17 decrypts PKCS#8 with PBE-SHA1-3DES, not with PBES2.
        openssl rand -hex 16 >"$s/keystore.password"
        { openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in "$s/broker.key" -passout "file:$s/keystore.password"
          cat "$s/broker.pem" "$KS_STATE/tls/ca.pem"; } >"$s/broker-keystore.pem"
        local p
        {
            for p in ks-node ks-sink "$KS_TEST_USER"; do echo "$p $(openssl rand -hex 16)"; done
        } >"$s/passwords.new"
        mv "$s/passwords.new" "$s/passwords"
    )
    chmod 0644 "$KS_STATE/tls/ca.pem"
}

secure_password() { awk -v p="$1" '$1 == p { print $2 }' "$(secure_dir)/passwords"; }

# The SCRAM credentials go in with `format` (KIP-900). The arguments are in a root-only file (java @argfile), never
# on a command line that `ps` shows to every user.
secure_format_args() {
    local s p
    s=$(secure_dir)
    for p in ks-node ks-sink "$KS_TEST_USER"; do
        echo "--add-scram"
        echo "SCRAM-SHA-512=[name=$p,password=$(secure_password "$p")]"
    done
}

# server.properties lines of broker i for the secured listeners (appended by kafka_write_conf).
secure_broker_properties() {
    local i=$1 s
    s=$(secure_dir)
    echo "listeners=PLAINTEXT://127.0.0.1:$(kafka_port "$i"),SASL_SSL://127.0.0.1:$(kafka_sasl_port "$i"),SSL://127.0.0.1:$(kafka_mtls_port "$i"),CONTROLLER://127.0.0.1:$(kafka_controller_port "$i")"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$(kafka_port "$i"),SASL_SSL://127.0.0.1:$(kafka_sasl_port "$i"),SSL://127.0.0.1:$(kafka_mtls_port "$i")"
    echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL"
    echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512"
    echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    local p users=""
    for p in ks-node ks-sink "$KS_TEST_USER"; do users+=" user_$p=\"$(secure_password "$p")\""; done
    echo "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$users;"
    echo "ssl.keystore.type=PEM"
    echo "ssl.keystore.location=$s/broker-keystore.pem"
    echo "ssl.key.password=$(cat "$s/keystore.password")"
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$KS_STATE/tls/ca.pem"
    echo "listener.name.ssl.ssl.client.auth=required"
    # CN=ks-node,... -> User:ks-node: the same principal (and ACLs) as over SCRAM.
    echo 'ssl.principal.mapping.rules=RULE:^CN=([^,]+).*$/$1/,DEFAULT'
    echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    echo "allow.everyone.if.no.acl.found=false"
    # The open listener (and the brokers' and controllers' own connections) run as User:ANONYMOUS.
    echo "super.users=User:ANONYMOUS"
}

# The ACLs a site would set (idempotent: an ACL that exists is left as it is). Through the open listener, as
# User:ANONYMOUS (a super user), with kafka-python: one request instead of a JVM per kafka-acls command.
secure_create_acls() {
    /usr/bin/python3 - "$(kafka_bootstrap)" "$KS_TEST_USER" "$SECURE_SINK_GROUP_PREFIX" "${SECURE_TOPIC_PREFIXES[@]}" <<'PY'
import sys
from kafka.admin import (ACL, ACLOperation as Op, ACLPermissionType, ACLResourcePatternType as Pattern,
                         KafkaAdminClient, ResourcePattern, ResourceType)
bootstrap, user, sink_group, prefixes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
# "demo" and its records-mode companion topic (the prefixes cover their topics' companions, <topic>.ks-meta).
stream = [(p, Pattern.PREFIXED) for p in prefixes + [user + ".", user + "-"]] + [
    ("demo", Pattern.LITERAL), ("demo.ks-meta", Pattern.LITERAL)]
acls = []
def allow(principal, op, rtype, name, pattern):
    acls.append(ACL("User:" + principal, "*", op, ACLPermissionType.ALLOW, ResourcePattern(rtype, name, pattern)))
for name, pattern in stream:
    for op in (Op.WRITE, Op.DESCRIBE):
        allow("ks-node", op, ResourceType.TOPIC, name, pattern)
    for op in (Op.READ, Op.DESCRIBE):
        allow("ks-sink", op, ResourceType.TOPIC, name, pattern)
allow("ks-sink", Op.READ, ResourceType.GROUP, sink_group, Pattern.PREFIXED)
for own in (user + ".", user + "-"):
    allow(user, Op.READ, ResourceType.TOPIC, own, Pattern.PREFIXED)
    allow(user, Op.READ, ResourceType.GROUP, own, Pattern.PREFIXED)
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
result = admin.create_acls(acls)
admin.close()
if result["failed"]:
    sys.exit("cluster: creating ACLs failed: %s" % result["failed"])
PY
}

# conf/<name>.conf: a config that kafka-stream-push and kafka-stream-sink read (kcat -F too, without its stream.*
# lines). secure_write_client_conf NAME OWNER PROPERTIES...
secure_write_client_conf() {
    local name=$1 owner=$2 f
    shift 2
    f=$KS_STATE/conf/$name.conf
    (umask 077 && printf '%s\n' "# Written by tests/cluster/cluster: $name's client config, for tests only." "$@" >"$f.new")
    chown "$owner" "$f.new"
    mv "$f.new" "$f"
}

secure_write_client_confs() {
    local p sasl=(security.protocol=SASL_SSL sasl.mechanism=PLAIN "ssl.ca.location=$KS_STATE/tls/ca.pem")
    # The nodes sign their transfers and the sink verifies them with the site's key (write_auth_key).
    local key=stream.auth.key.file=$KS_STATE/auth.key
    for p in ks-node ks-sink; do
        secure_write_client_conf "$p" root "bootstrap.servers=$(kafka_sasl_bootstrap)" "${sasl[@]}" \
            "sasl.username=$p" "sasl.password=$(secure_password "$p")" "$key"
    done
    secure_write_client_conf "$KS_TEST_USER" "$KS_TEST_USER" "bootstrap.servers=$(kafka_sasl_bootstrap)" "${sasl[@]}" \
        "sasl.username=$KS_TEST_USER" "sasl.password=$(secure_password "$KS_TEST_USER")"
    secure_write_client_conf ks-node-mtls root "bootstrap.servers=$(kafka_mtls_bootstrap)" security.protocol=SSL \
        "ssl.ca.location=$KS_STATE/tls/ca.pem" "ssl.certificate.location=$(secure_dir)/ks-node.pem" \
        "ssl.key.location=$(secure_dir)/ks-node.key" "$key"
}

secure_env() {
    cat <<ENV
export KAFKA_SASL_BOOTSTRAP=$(kafka_sasl_bootstrap)
export KAFKA_MTLS_BOOTSTRAP=$(kafka_mtls_bootstrap)
export KS_CA_FILE=$KS_STATE/tls/ca.pem
export KS_NODE_CONF=$KS_STATE/conf/ks-node.conf
export KS_SINK_CONF=$KS_STATE/conf/ks-sink.conf
export KS_USER_CONF=$KS_STATE/conf/$KS_TEST_USER.conf
export KS_NODE_MTLS_CONF=$KS_STATE/conf/ks-node-mtls.conf
export KS_SINK_GROUP_PREFIX=$SECURE_SINK_GROUP_PREFIX
ENV
}

# After the brokers answer: the ACLs (once), the client configs, and a metadata request as ks-node over SASL_SSL.
secure_ready() {
    if [ ! -e "$KS_STATE/kafka/acls-created" ]; then
        secure_create_acls
        touch "$KS_STATE/kafka/acls-created"
    fi
    secure_write_client_confs
    local kcat="kcat -F <(grep -v '^stream\.' '$KS_STATE/conf/ks-node.conf') -L -m 5"
    wait_for "Kafka's SASL_SSL listener ($(kafka_sasl_bootstrap)) to accept ks-node" 60 \
        "$kcat | grep -q '^ *$KAFKA_BROKERS brokers:'" "$kcat; show_log '$(kafka_dir 1)/server.log'"
}
