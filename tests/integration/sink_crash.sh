#!/bin/bash
# kill -9 of the sink at several points of a large transfer, then restart: the final tree is identical and complete,
# and after every crash no partial or corrupt file is visible (each visible file matches its source exactly).
#   1. kill -9 while chunks are being staged (offsets committed every 200 ms, so some are committed, some not);
#   2. the test hook KS_SINK_CRASH_AT=<point> (_exit at a named point of finalization), one point after the other,
#      each restart resuming what the previous run left.
. "$(dirname "$0")/../lib/common.sh"
needs_built push sink

src=$T/src
mkdir -p "$src/sub"
head -c $((60 * 1024 * 1024)) /dev/urandom > "$src/big.bin"
for i in $(seq 1 200); do echo "small $i" > "$src/sub/s$i.txt"; done
: > "$src/zero"

topic=$(unique_topic)
create_topic "$topic" 4
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster c1 --job-id 500 --node n1 --user alice \
    --spool "$T/spool" --timeout 300 "$src" || fail "push failed"

sink() {  # sink OUT GROUP [extra args...]; with SINK_EXEC=exec the sink replaces the calling subshell ($! is its pid)
    local out=$1 group=$2; shift 2
    # A short session: after a kill -9 the restarted sink gets the partition without waiting 45 s for the dead one.
    ${SINK_EXEC:-} "$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X stream.commit.interval.ms=200 \
        -X session.timeout.ms=6000 -X heartbeat.interval.ms=1000 --topic "$topic" --group "$group" \
        --output "$out" --exit-when-idle 4 "$@"
}

# Every visible file must be complete and correct: compare each with its source.
check_visible() {
    local node=$1/alice/500/n1
    [ -d "$node" ] || return 0
    (cd "$node" && find . -type f -print0 | xargs -0r sha256sum) > "$T/visible.sha"
    (cd "$src" && sha256sum -c --quiet "$T/visible.sha") || fail "a visible file is partial or corrupt after a crash"
    if [ -f "$1/alice/500/_SUCCESS" ]; then diff <(tree_digests "$src") <(tree_digests "$node") >/dev/null || fail "_SUCCESS before the tree is complete"; fi
}

check_final() {
    local out=$1
    diff <(tree_digests "$src") <(tree_digests "$out/alice/500/n1") || fail "final tree differs from the source"
    [ -f "$out/alice/500/_SUCCESS" ] || fail "_SUCCESS missing"
    [ -z "$(ls -A "$out/.staging")" ] || fail "staging not cleaned up: $(ls -A "$out/.staging")"
    [ ! -s "$out/.quarantine/messages.log" ] && [ "$(ls "$out/.quarantine")" = messages.log ] || fail "unexpected quarantine"
}

note "1. kill -9 while staging, three times, then a clean run"
out=$T/out1
mkdir -p "$out"
for round in 1 2 3; do
    # The sink itself must be what is killed (a subshell around it would leave it running as a second sink).
    (SINK_EXEC=exec sink "$out" "g1-$topic" 2>"$T/sink1.log") &
    pid=$!
    on_exit "kill -9 $pid 2>/dev/null"
    # Wait until some data is staged (or the run ends on its own), then kill it hard.
    kill_when_staged "$pid" "$out" $(( (round * round * 3 - 2) * 1024 * 1024 ))  # 1, 10, 25 MB
    note "round $round: killed with $killed_staged bytes staged"
    check_visible "$out"
done
sink "$out" "g1-$topic"
check_final "$out"

note "2. crash at each finalization point in turn"
out=$T/out2
mkdir -p "$out"
for point in before-place after-first-rename after-place after-node-manifest after-success after-done; do
    rc=0
    KS_SINK_CRASH_AT=$point sink "$out" "g2-$topic" 2>"$T/sink2.log" || rc=$?
    [ $rc -eq 137 ] || { cat "$T/sink2.log"; fail "expected the crash hook at $point (exit 137), got exit $rc"; }
    note "crashed at $point"
    check_visible "$out"
done
sink "$out" "g2-$topic"
check_final "$out"
[ "$(ls "$out/.done")" = "$(ls "$T/out1/.done")" ] || fail "done markers differ"
echo "PASS"
