#!/bin/bash
# make deps: installs everything the build, the tests, the benchmarks and the demo need. Idempotent and fast when
# everything is present (dpkg-query and a marker file only; apt and mvn run only for what is missing).
#   Debian packages   via apt-get (as root, or through sudo)
#   Kafka jars        org.apache.kafka:kafka_2.13 + kafka-tools (pinned in scripts/kafka-pom.xml), resolved by mvn
#                     into a cache outside the tree (scripts/kafka-jars.sh says where)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kafka-jars.sh
. "$here/kafka-jars.sh"

packages=(
    # build
    g++ make pkg-config libslurm-dev libmunge-dev librdkafka-dev nlohmann-json3-dev libssl-dev
    libgtest-dev libgmock-dev
    # local cluster: Slurm, munge, the Kafka broker (Java) and the tools that resolve its jars
    slurmctld slurmd slurm-client munge openjdk-17-jre-headless maven ca-certificates openssl
    # tests, benchmarks, demo: Kafka clients written by others, process tools
    kcat python3 python3-kafka python3-lz4 python3-zstandard procps psmisc util-linux coreutils
    # Debian packages (make deb) and their check
    debhelper dpkg-dev lintian
    # fuzzing (make fuzz): clang 16 with libFuzzer
    clang-16 libclang-rt-16-dev
)

missing_packages() {
    # dpkg-query prints one status line per known package; anything not "install ok installed" is missing.
    local status
    status=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true)
    local p
    for p in "${packages[@]}"; do
        awk -v p="$p" '$1 == p && $2 == "ii" { found = 1 } END { exit !found }' <<<"$status" || echo "$p"
    done
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "deps: need root (or sudo) to run: $*" >&2; exit 1; fi
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    if [ ${#missing[@]} -eq 0 ]; then echo "deps: Debian packages present"; return; fi
    echo "deps: installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    mapfile -t missing < <(missing_packages)
    if [ ${#missing[@]} -ne 0 ]; then echo "deps: still missing after apt-get: ${missing[*]}" >&2; exit 1; fi
}

install_kafka_jars() {
    if kafka_jars_complete; then echo "deps: Kafka $KAFKA_VERSION jars present in $KAFKA_LIBS"; return; fi
    echo "deps: resolving Kafka $KAFKA_VERSION jars into $KAFKA_LIBS"
    mkdir -p "$KAFKA_HOME_CACHE"
    # Resolve into a fresh directory and swap it in, so an interrupted run never leaves a half-filled libs/.
    local tmp=$KAFKA_HOME_CACHE/libs.partial
    rm -rf "$tmp"
    # mvn's progress goes to a log, shown only on failure (its -q mode still prints colour codes).
    local log=$KAFKA_HOME_CACHE/mvn.log
    mvn -B -f "$KS_KAFKA_POM" dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime >"$log" 2>&1 ||
        { tail -n 40 "$log" >&2; echo "deps: mvn could not resolve the Kafka jars (full log: $log)" >&2; exit 1; }
    [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$tmp/kafka-tools-$KAFKA_VERSION.jar" ] ||
        { echo "deps: mvn finished but the Kafka jars are not in $tmp" >&2; exit 1; }
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    sha256sum <"$KS_KAFKA_POM" | cut -d' ' -f1 >"$KAFKA_MARKER"
}

install_packages
install_kafka_jars
echo "deps: done"
