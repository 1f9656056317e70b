# Sourced by scripts/deps.sh and tests/cluster/cluster: where the pinned Kafka jars are cached.
# The version comes from scripts/kafka-pom.xml (its one source of truth). The cache lives outside the work tree:
# /var/cache for root, the user's cache directory otherwise; KS_CACHE overrides both.
KS_KAFKA_POM=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka-pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KS_KAFKA_POM")
if [ -z "${KS_CACHE:-}" ]; then
    if [ "$(id -u)" = 0 ]; then KS_CACHE=/var/cache/slurm-kafka-stream
    else KS_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/slurm-kafka-stream; fi
fi
KAFKA_HOME_CACHE=$KS_CACHE/kafka-$KAFKA_VERSION
KAFKA_LIBS=$KAFKA_HOME_CACHE/libs
# Written last by deps.sh: holds the pom's sha256, so a changed pom resolves again.
KAFKA_MARKER=$KAFKA_HOME_CACHE/.complete
kafka_jars_complete() {
    [ -f "$KAFKA_MARKER" ] && [ "$(cat "$KAFKA_MARKER")" = "$(sha256sum <"$KS_KAFKA_POM" | cut -d' ' -f1)" ]
}
