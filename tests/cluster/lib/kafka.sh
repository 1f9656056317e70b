# The harness's Kafka brokers (sourced by tests/cluster/cluster, after lib/daemons.sh): KRaft, combined
# broker+controller, on loopback, from the jars `make deps` cached (KAFKA_LIBS). KAFKA_BROKERS=1 (default) or 3.
# Broker i listens on KS_PORT_BASE+10+i-1 (clients) and KS_PORT_BASE+20+i-1 (controller quorum).

kafka_port() { echo $((KS_PORT_BASE + 10 + $1 - 1)); }
kafka_controller_port() { echo $((KS_PORT_BASE + 20 + $1 - 1)); }
kafka_dir() { echo "$KS_STATE/kafka/$1"; }

kafka_bootstrap() {
    local i list=""
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do list+="${list:+,}127.0.0.1:$(kafka_port "$i")"; done
    echo "$list"
}

kafka_java() {
    local heap=$1
    shift
    java "-Xmx$heap" -Xms64m -XX:+UseG1GC -Djava.awt.headless=true -cp "$KAFKA_LIBS/*" "$@"
}

kafka_check_jars() {
    [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] ||
        { echo "cluster: no Kafka jars in $KAFKA_LIBS: run make deps" >&2; return 1; }
}

# A Kafka cluster id: 16 random bytes in URL-safe base64 without padding (what StorageTool random-uuid prints;
# computed here to save a JVM start). Kafka rejects ids that start with '-'.
kafka_new_cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
        [ "${id:0:1}" != - ] && { echo "$id"; return; }
    done
}

kafka_write_conf() {
    local i=$1 dir voters="" j rf=1 min_isr=1
    dir=$(kafka_dir "$i")
    mkdir -p "$dir/data"
    if [ "$KAFKA_BROKERS" -gt 1 ]; then
        rf=3 min_isr=2
        for ((j = 1; j <= KAFKA_BROKERS; j++)); do voters+="${voters:+,}$j@127.0.0.1:$(kafka_controller_port "$j")"; done
    fi
    {
        echo "# Written by tests/cluster/cluster: broker $i of $KAFKA_BROKERS, for tests only."
        echo "process.roles=broker,controller"
        echo "node.id=$i"
        if [ "$KAFKA_BROKERS" -gt 1 ]; then echo "controller.quorum.voters=$voters"
        else echo "controller.quorum.bootstrap.servers=127.0.0.1:$(kafka_controller_port "$i")"; fi
        # Listeners: PLAINTEXT (open), SASL_SSL and SSL (secured), CONTROLLER; TLS, SASL and ACLs: lib/secure.sh.
        secure_broker_properties "$i"
        echo "controller.listener.names=CONTROLLER"
        echo "inter.broker.listener.name=PLAINTEXT"
        echo "log.dirs=$dir/data"
        echo "num.partitions=4"
        echo "default.replication.factor=$rf"
        echo "min.insync.replicas=$min_isr"
        echo "offsets.topic.replication.factor=$rf"
        # Fewer partitions for the group-offsets topic than the default 50: it is created on the first consumer
        # group, and creating it quickly on a 2-core test machine matters more here than spreading group load.
        echo "offsets.topic.num.partitions=10"
        echo "transaction.state.log.replication.factor=$rf"
        echo "transaction.state.log.min.isr=$min_isr"
        echo "share.coordinator.state.topic.replication.factor=$rf"
        echo "share.coordinator.state.topic.min.isr=$min_isr"
        echo "group.initial.rebalance.delay.ms=0"
        echo "auto.create.topics.enable=true"
        # Extra properties, key=value words (the benchmark's instance deletes topics at once: bench/lib/harness.py).
        local prop
        for prop in ${KS_KAFKA_PROPERTIES:-}; do
            [[ $prop == [a-z]*=* ]] || die "KS_KAFKA_PROPERTIES: '$prop' is not key=value"
            echo "$prop"
        done
    } >"$dir/server.properties.new"
    # It holds the key store's password: root only.
    chmod 0600 "$dir/server.properties.new"
    mv "$dir/server.properties.new" "$dir/server.properties"
}

# Formats broker i's log dir once (a later start reuses the data, as a real restart would).
kafka_format() {
    local i=$1 dir
    dir=$(kafka_dir "$i")
    [ -f "$dir/data/meta.properties" ] && return 0
    local mode=(--standalone)
    [ "$KAFKA_BROKERS" -gt 1 ] && mode=()
    # The arguments (with the SCRAM passwords) in a root-only file that java reads (@argfile), not on the command line.
    local args scram
    args=$(secure_dir)/format-$i.args
    mapfile -t scram < <(secure_format_args)
    (umask 077 && printf '%s\n' kafka.tools.StorageTool format "${mode[@]}" -t "$(cat "$KS_STATE/kafka/cluster-id")" \
        -c "\"$dir/server.properties\"" "${scram[@]}" >"$args")
    kafka_java 256m "@$args" >"$dir/format.log" 2>&1 ||
        { echo "cluster: formatting broker $i's storage failed" >&2; show_log "$dir/format.log" >&2; return 1; }
}

kafka_heap() { if [ "$KAFKA_BROKERS" -gt 1 ]; then echo 256m; else echo 384m; fi; }

kafka_start() {
    local i=$1 dir
    daemon_running "kafka-$i" && return 0
    dir=$(kafka_dir "$i")
    kafka_format "$i" || return 1
    start_daemon "kafka-$i" "$dir/stdout.log" java "-Xmx$(kafka_heap)" -Xms64m -XX:+UseG1GC -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$KS_ROOT/tests/cluster/log4j2.properties" "-Dkafka.logs.dir=$dir" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties"
}

# Number of brokers the cluster's metadata lists, asked through broker i.
kafka_brokers_seen() {
    kcat -b "127.0.0.1:$(kafka_port "$1")" -L -t __ks_probe -m 3 2>/dev/null | sed -n 's/^ *\([0-9]*\) brokers:.*/\1/p'
}

kafka_wait() {
    local i=$1
    wait_for "Kafka broker $i (127.0.0.1:$(kafka_port "$i")) to answer a metadata request with $KAFKA_BROKERS broker(s)" \
        120 "[ \"\$(kafka_brokers_seen $i)\" = $KAFKA_BROKERS ]" \
        "show_log '$(kafka_dir "$i")/server.log'; show_log '$(kafka_dir "$i")/stdout.log'" "daemon_running kafka-$i"
}

# After a restart of broker i alone: it answers and the metadata lists it again (other brokers may be down).
kafka_wait_registered() {
    local i=$1
    wait_for "Kafka broker $i (127.0.0.1:$(kafka_port "$i")) to rejoin the cluster" 120 \
        "kcat -b 127.0.0.1:$(kafka_port "$i") -L -t __ks_probe -m 3 2>/dev/null | grep -q '^ *broker $i at '" \
        "show_log '$(kafka_dir "$i")/server.log'" "daemon_running kafka-$i"
}

kafka_stop() { stop_daemons 30 "kafka-$1"; }
