#!/bin/sh
# The ACLs of a secured Kafka for slurm-kafka-stream (example; README, "Secured Kafka"). Run once by a Kafka admin
# with Kafka's own tools, against brokers that have
#   authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
#   allow.everyone.if.no.acl.found=false
# and an admin principal in super.users. ADMIN_CONF is that admin's client config (security.protocol,
# sasl.mechanism, sasl.jaas.config, ssl.truststore.*).
#
#   ks-node   the compute nodes (the job epilog's kafka-stream-push, and --drain-spool): Write, Describe on the
#             stream topics; no Read, so a node cannot read other jobs' outputs
#   ks-sink   kafka-stream-sink: Read, Describe on the stream topics, Read on its consumer group
#   a user    Read on the topics (and consumer groups) of the user's own prefix, no Write anywhere: the users'
#             results reach Kafka only through the nodes' principal
set -eu
BOOTSTRAP=${BOOTSTRAP:-kafka1.example.org:9093}
ADMIN_CONF=${ADMIN_CONF:-/etc/kafka/admin.conf}
# The stream topics: a prefix (plugstack.conf's topics= should allow only these); it also covers their records-mode
# companion topics, <topic>.ks-meta.
TOPICS=${TOPICS:-hpc-}
SINK_GROUP=${SINK_GROUP:-kafka-stream-sink}
acls() { kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONF" --add --force "$@"; }

acls --allow-principal User:ks-node --operation Write --operation Describe \
     --topic "$TOPICS" --resource-pattern-type prefixed
acls --allow-principal User:ks-sink --operation Read --operation Describe \
     --topic "$TOPICS" --resource-pattern-type prefixed
acls --allow-principal User:ks-sink --operation Read --group "$SINK_GROUP"

# One per user who reads their results from Kafka (topics named <user>.<anything>, as topics=(%u)[.].+ allows):
for user in ${READERS:-}; do
    acls --allow-principal "User:$user" --operation Read --topic "$user." --resource-pattern-type prefixed
    acls --allow-principal "User:$user" --operation Read --group "$user." --resource-pattern-type prefixed
done

# SASL credentials. SCRAM (Kafka 4 clients need librdkafka >= 2.6.1; see README):
#   kafka-configs.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONF" --alter \
#       --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users --entity-name ks-node
# PLAIN: the brokers' listener.name.sasl_ssl.plain.sasl.jaas.config (user_ks-node="...") or a callback handler.
