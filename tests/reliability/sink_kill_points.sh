#!/bin/bash
# Reliability case 3: the sink is killed (kill -9, or _exit at a named point through KS_SINK_CRASH_AT) at seven points
# of a multi-file, multi-transfer load: while chunks are staged, before placing, between the first rename and the
# rest, after placing (before the node manifest), after the node manifest, after _SUCCESS, after the .done marker
# (i.e. between rename and offset commit). Four transfers (job 1 on n1 and n2, jobs 2 and 3) are pushed concurrently
# into a 2-partition topic so they interleave. After each crash: every visible file is complete and correct; after a
# restart the tree is identical to the sources, each transfer finalized once, nothing quarantined.
. "$(dirname "$0")/../lib/common.sh"
needs_built push sink
mb=${TEST_LONG:+40}; mb=${mb:-8}   # MB of random data per transfer

transfers=("1 n1" "1 n2" "2 n1" "3 n1")
for t in "${transfers[@]}"; do
    read -r job node <<<"$t"
    src=$T/src/$job/$node
    mkdir -p "$src/deep/er"
    head -c $((mb * 1024 * 1024)) /dev/urandom > "$src/big.bin"
    for i in $(seq 1 25); do head -c $((i * 997)) /dev/urandom > "$src/deep/f$i"; done
    for i in $(seq 1 10); do echo "line $job $node $i" > "$src/deep/er/t$i.txt"; done
    : > "$src/empty"
done
sent=$(find "$T/src" -type f | wc -l)

topic=$(unique_topic)
create_topic "$topic" 2
pids=()
for t in "${transfers[@]}"; do
    read -r job node <<<"$t"
    "$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --cluster c3 --job-id "$job" --node "$node" \
        --nodes "$([ "$job" = 1 ] && echo 2 || echo 1)" --user alice --spool "$T/spool" --timeout 300 "$T/src/$job/$node" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a push failed"; done

sink() {  # sink OUT GROUP; with SINK_EXEC=exec the sink replaces the calling subshell, so $! is the sink's pid
    ${SINK_EXEC:-} "$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" -X stream.commit.interval.ms=200 \
        -X session.timeout.ms=6000 -X heartbeat.interval.ms=1000 --topic "$topic" --group "$2" \
        --output "$1" --exit-when-idle 4
}
check_visible() {  # every file the sink has placed matches its source byte for byte
    local out=$1 t job node
    for t in "${transfers[@]}"; do
        read -r job node <<<"$t"
        [ -d "$out/alice/$job/$node" ] || continue
        (cd "$out/alice/$job/$node" && find . -type f -print0 | xargs -0r sha256sum) > "$T/visible.sha"
        # Killed while finalizing, the node's directory may exist before any file was renamed into it.
        if [ -s "$T/visible.sha" ]; then
            (cd "$T/src/$job/$node" && sha256sum -c --quiet "$T/visible.sha") || fail "a visible file of $job/$node is partial or corrupt"
        fi
        if [ -f "$out/alice/$job/_SUCCESS" ] && [ "$job" != 1 -o -d "$out/alice/1/n1" -a -d "$out/alice/1/n2" ]; then
            diff <(tree_digests "$T/src/$job/$node") <(tree_digests "$out/alice/$job/$node") >/dev/null || fail "_SUCCESS of job $job before its tree is complete"
        fi
    done
}
total_received=0 total_dup=0 total_lost=0
check_final() {  # check_final OUT: identical trees, one .done per transfer, nothing left in staging or quarantine
    local out=$1 t job node got lost
    for t in "${transfers[@]}"; do
        read -r job node <<<"$t"
        diff <(tree_digests "$T/src/$job/$node") <(tree_digests "$out/alice/$job/$node") || fail "tree $job/$node differs from its source"
    done
    for job in 1 2 3; do [ -f "$out/alice/$job/_SUCCESS" ] || fail "_SUCCESS of job $job missing"; done
    [ "$(ls "$out/.done" | wc -l)" = ${#transfers[@]} ] || fail "expected ${#transfers[@]} done markers: $(ls "$out/.done")"
    [ -z "$(ls -A "$out/.staging")" ] || fail "staging not cleaned up: $(ls -A "$out/.staging")"
    [ "$(ls "$out/.quarantine")" = messages.log ] && [ ! -s "$out/.quarantine/messages.log" ] || fail "unexpected quarantine"
    got=$(find "$out/alice" -type f ! -name _SUCCESS ! -path '*/_manifests/*' | wc -l)
    # Duplicated: a file in the tree that no source has, or a transfer finalized more than once (one .done each).
    dup=$(( $(comm -13 <(cd "$T/src" && find . -type f | sed 's|^\./||; s|^|alice/|' | sort) \
                       <(cd "$out" && find alice -type f ! -name _SUCCESS ! -path '*/_manifests/*' | sort) | wc -l) +
            $(ls "$out/.done" | wc -l) - ${#transfers[@]} ))
    lost=$(comm -23 <(cd "$T/src" && find . -type f | sed 's|^\./||; s|^|alice/|' | sort) \
                    <(cd "$out" && find alice -type f ! -name _SUCCESS ! -path '*/_manifests/*' | sort) | wc -l)
    [ "$got" = "$sent" ] && [ "$lost" = 0 ] && [ "$dup" = 0 ] || fail "received $got of $sent files, $lost lost, $dup duplicated"
    total_received=$((total_received + got)) total_lost=$((total_lost + lost)) total_dup=$((total_dup + dup))
}

points=0
note "kill -9 while chunks are staged, twice, then a clean run"
out=$T/out-staging
mkdir -p "$out"
for threshold in 2 $((mb * 2)); do
    # The sink itself must be what is killed (a subshell around it would leave it running as a second sink).
    (SINK_EXEC=exec sink "$out" "g-staging-$topic" 2>>"$T/sink.log") &
    pid=$!
    on_exit "kill -9 $pid 2>/dev/null"
    kill_when_staged "$pid" "$out" $((threshold * 1024 * 1024))
    note "killed with $killed_staged bytes staged"
    check_visible "$out"
done
sink "$out" "g-staging-$topic" 2>>"$T/sink.log" || fail "restart after kill -9 failed"
check_final "$out"
points=$((points + 1))

for point in before-place after-first-rename after-place after-node-manifest after-success after-done; do
    out=$T/out-$point
    mkdir -p "$out"
    rc=0
    KS_SINK_CRASH_AT=$point sink "$out" "g-$point-$topic" 2>"$T/sink-$point.log" || rc=$?
    [ $rc -eq 137 ] || { tail "$T/sink-$point.log"; fail "expected the crash hook at $point (exit 137), got exit $rc"; }
    check_visible "$out"
    sink "$out" "g-$point-$topic" 2>>"$T/sink-$point.log" || fail "restart after $point failed"
    check_final "$out"
    note "$point: crashed, restarted, tree identical"
    points=$((points + 1))
done
echo "counts: kill_points=$points sent=$((sent * points)) received=$total_received duplicated=$total_dup lost=$total_lost"
