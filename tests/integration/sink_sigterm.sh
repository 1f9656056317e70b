#!/bin/bash
# SIGTERM (and SIGINT) stop the long-running service cleanly: it exits 0 after committing what it persisted, so a
# restart in the same group reads only the 3 new messages (open, 1 chunk, manifest); a message produced while it was down is picked up by the restart.
. "$(dirname "$0")/../lib/common.sh"
needs_built sink
PRODUCE=$KS_ROOT/tests/tools/sink_produce.py

topic=$(unique_topic)
create_topic "$topic" 4
out=$T/out
mkdir -p "$out" "$T/a" "$T/b"
echo "first" > "$T/a/f.txt"
echo "second" > "$T/b/g.txt"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$T/a" --job 1 --node n1

run_service_until() {  # run_service_until SIGNAL FILE: start the service, wait for FILE, send SIGNAL, expect exit 0
    "$SINK" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" 2>"$T/sink.log" &
    local pid=$!
    on_exit "kill -9 $pid 2>/dev/null"
    for _ in $(seq 1 600); do [ -e "$2" ] && break; sleep 0.1; done
    [ -e "$2" ] || { cat "$T/sink.log"; fail "$2 did not appear"; }
    kill -"$1" "$pid"
    local rc=0
    wait "$pid" || rc=$?
    cat "$T/sink.log"
    [ $rc -eq 0 ] || fail "exit status $rc after SIG$1"
    grep -q 'stopped:' "$T/sink.log" || fail "no final summary after SIG$1"
}

run_service_until TERM "$out/alice/1/_SUCCESS"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$T/b" --job 2 --node n1
run_service_until INT "$out/alice/2/_SUCCESS"
grep -q 'stopped: 3 messages' "$T/sink.log" || fail "the restart re-read messages it had committed before"
[ "$(cat "$out/alice/1/n1/f.txt")" = first ] && [ "$(cat "$out/alice/2/n1/g.txt")" = second ] || fail "content"
echo "PASS"
