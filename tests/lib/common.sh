# Sourced by every integration / end-to-end / reliability test script.
# Provides: KS_ROOT, KS_BIN (tools of the build under test), KAFKA_BOOTSTRAP and the harness's variables
# (from build/cluster.env), a per-test scratch dir $T removed on exit, and small helpers.
set -euo pipefail
KS_ROOT=${KS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-build}
KS_BIN=${KS_BIN:-$KS_ROOT/$BUILD/bin}
PUSH=$KS_BIN/kafka-stream-push
SINK=$KS_BIN/kafka-stream-sink
# Debian's python3 has kafka-python; a python3 earlier on PATH (pyenv) may not.
PY=/usr/bin/python3
if [ -z "${KAFKA_BOOTSTRAP:-}" ] && [ -f "$KS_ROOT/build/cluster.env" ]; then
    # shellcheck disable=SC1091
    . "$KS_ROOT/build/cluster.env"
fi
: "${KAFKA_BOOTSTRAP:?no Kafka: run make cluster-up (or set KAFKA_BOOTSTRAP)}"
# The harness's signing key (root-only): what a node's push and the sinks are configured with.
: "${KS_AUTH_KEY:?no signing key: run make cluster-up}"
KS_AUTH=(-X "stream.auth.key.file=$KS_AUTH_KEY")
T=$(mktemp -d "${TMPDIR:-/tmp}/ks-test.XXXXXX")
chmod 755 "$T"
ks_cleanup_hooks=()
ks_cleanup() {
    local h
    for h in "${ks_cleanup_hooks[@]}"; do eval "$h" || true; done
    [ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$T"
}
trap ks_cleanup EXIT
on_exit() { ks_cleanup_hooks+=("$1"); }

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
# Skips the test unless what it runs is built: needs_built push sink plugin
needs_built() {
    local what
    for what; do
        case $what in
            push) [ -x "$PUSH" ] || skip "kafka-stream-push not built" ;;
            sink) [ -x "$SINK" ] || skip "kafka-stream-sink not built" ;;
            plugin) [ -f "$KS_ROOT/build/lib/kafka_stream.so" ] || skip "kafka_stream.so not built" ;;
            *) fail "needs_built: unknown part $what" ;;
        esac
    done
}
note() { echo "--- $*"; }
# A topic name unique to this test run (the broker auto-creates topics).
unique_topic() { echo "t-$(basename "$0" .sh)-${1:-x}-$$-$RANDOM"; }
# Creates a topic with N partitions (default 4) and waits for its metadata.
create_topic() {
    local topic=$1 parts=${2:-4}
    "$PY" - "$KAFKA_BOOTSTRAP" "$topic" "$parts" <<'PYEOF'
import sys, time
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
bootstrap, topic, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
try:
    admin.create_topics([NewTopic(topic, parts, 1)])
except TopicAlreadyExistsError:
    pass
admin.close()
PYEOF
}
# reachable FILE: prints the path of a copy of FILE in $T that every user can read and run: what a test runs as
# another user must not come from the checkout, which may be readable by root only.
reachable() {
    install -d -m 0755 "$T/reachable"
    install -m 0755 "$1" "$T/reachable/"
    echo "$T/reachable/$(basename "$1")"
}
# free_port_base OFFSET: a port base for a second harness instance, OFFSET (then steps of 100) above this one's, whose
# single-broker ports (PLAINTEXT, controller, SASL_SSL, mutual TLS) nobody uses (other instances may run on this
# machine); fails if there is none below 40000.
free_port_base() {
    local base p busy
    for ((base = ${KS_PORT_BASE:-29100} + $1; base < 40000; base += 100)); do
        busy=0
        for p in 0 1 2 10 20 30 40; do (exec 3<>"/dev/tcp/127.0.0.1/$((base + p))") 2>/dev/null && busy=1; done
        [ $busy = 1 ] || { echo "$base"; return 0; }
    done
    return 1
}
# sha256 of every regular file under DIR, as "digest  relative/path" sorted by path.
tree_digests() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0r sha256sum); }
# staged_bytes OUT: bytes the sink has staged under OUT/.staging (0 before it exists).
staged_bytes() { local b; b=$(du -sb "$1/.staging" 2>/dev/null | cut -f1 || true); echo "${b:-0}"; }
# wait_staged OUT BYTES [PID]: waits until at least BYTES are staged under OUT (status 0), or PID has ended or 120 s
# have passed (status 1).
wait_staged() {
    local out=$1 bytes=$2 pid=${3:-} i
    for ((i = 0; i < 12000; i++)); do
        [ "$(staged_bytes "$out")" -ge "$bytes" ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.01
    done
    return 1
}
# kill_when_staged PID OUT BYTES: kill -9 of the sink PID (a child of this shell) once at least BYTES are staged
# under OUT, or when it ended on its own; waits for it, and leaves the bytes staged at that moment in $killed_staged.
kill_when_staged() {
    local pid=$1 out=$2 bytes=$3
    wait_staged "$out" "$bytes" "$pid" || true
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    killed_staged=$(staged_bytes "$out")
}
