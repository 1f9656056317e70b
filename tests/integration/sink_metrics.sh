#!/bin/bash
# The sink's health and metrics, read from outside as Prometheus and systemd would:
#   - systemd's notify protocol on a socket the test listens on (NOTIFY_SOCKET): READY=1, STATUS= lines, WATCHDOG=1
#     at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM;
#   - the metrics file (node_exporter textfile format, replaced atomically) and the HTTP endpoint, while a transfer
#     is in progress (chunks staged, no manifest yet) and after it (finalized, persisted bytes and files, nothing
#     staged, lag 0 on every partition, a commit time); the exposition is well formed;
#   - the endpoint answers only GET /metrics, refuses oversized requests, and a client that never finishes its
#     request does not stop it (or the sink) from answering the next one.
. "$(dirname "$0")/../lib/common.sh"
needs_built sink
PRODUCE=$KS_ROOT/tests/tools/sink_produce.py

topic=$(unique_topic)
create_topic "$topic" 2
out=$T/out
mkdir -p "$out" "$T/src" "$T/metrics"
head -c 3000000 /dev/urandom > "$T/src/data.bin"
echo "hello" > "$T/src/small.txt"

# systemd's side of the notify protocol: one line per datagram field, with the monotonic time it arrived.
"$PY" - "$T/notify.sock" "$T/notify.log" <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        for field in s.recv(65536).decode().split("\n"):
            log.write("%.3f %s\n" % (time.monotonic(), field))
PYEOF
listener=$!
on_exit "kill $listener 2>/dev/null"
for _ in $(seq 1 100); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done

NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=2000000 "$SINK" -v "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" \
    --topic "$topic" --group "g-$topic" --output "$out" --metrics-file "$T/metrics/sink.prom" \
    --metrics-listen 127.0.0.1:0 -X stream.metrics.interval.ms=300 -X stream.commit.interval.ms=300 2>"$T/sink.log" &
pid=$!
on_exit "kill -9 $pid 2>/dev/null"

for _ in $(seq 1 300); do grep -q ' READY=1$' "$T/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q ' READY=1$' "$T/notify.log" || { cat "$T/sink.log"; fail "no READY=1 on NOTIFY_SOCKET"; }
port=$(sed -n 's|.*metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$T/sink.log")
[ -n "$port" ] || fail "the sink did not say where its metrics endpoint listens"

scrape() { "$PY" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
    "http://127.0.0.1:$port/metrics"; }
value() {  # value SOURCE NAME[{labels}]: the sample's value in the file ("file") or from the endpoint ("http")
    if [ "$1" = file ]; then cat "$T/metrics/sink.prom"; else scrape; fi | awk -v n="kafka_stream_sink_$2" '$1 == n { print $2 }'
}
lag_sum() { scrape | awk '$1 ~ /^kafka_stream_sink_consumer_lag_messages\{/ { n++; s += $2 } END { print n "+" s }'; }
wait_for() {  # wait_for DESCRIPTION COMMAND...: until COMMAND succeeds, at most 30 s
    local what=$1; shift
    for _ in $(seq 1 150); do "$@" && return 0; sleep 0.2; done
    scrape > "$T/last-scrape.txt" || true
    cat "$T/last-scrape.txt"
    fail "timed out waiting for: $what"
}
is() { [ "$(value "$1" "$2")" = "$3" ]; }
above() { local v; v=$(value "$1" "$2"); [ -n "$v" ] && awk -v v="$v" -v m="$3" 'BEGIN { exit !(v > m) }'; }

wait_for "2 assigned partitions (endpoint)" is http assigned_partitions 2
wait_for "2 assigned partitions (file)" is file assigned_partitions 2
is http transfers_finalized_total 0 || fail "a transfer finalized before any was sent"
is http messages_total 0 || fail "messages before any was sent"

note "a transfer in progress: its chunks, no manifest yet"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$T/src" --job 1 --node n1 --no-manifest
wait_for "the open message and 5 chunks read (data.bin: 4, small.txt: 1)" is http messages_total 6
wait_for "1 active transfer (file)" is file active_transfers 1
# The file is rewritten every 300 ms and the staging walked at most once a second: wait for the figures to catch up.
wait_for "at least 3000000 bytes staged (file)" above file staged_bytes 2999999
is http transfers_finalized_total 0 || fail "finalized without its manifest"
is http persisted_bytes_total 0 || fail "bytes persisted without a manifest"
wait_for "lag 0 on both partitions once the chunks are committed" [ "$(lag_sum)" = "2+0" ]

note "the manifest: the transfer is finalized"
"$PY" "$PRODUCE" "$KAFKA_BOOTSTRAP" "$topic" "$T/src" --job 1 --node n1 --manifest-only
wait_for "1 finalized transfer" is http transfers_finalized_total 1
is http persisted_files_total 2 || fail "persisted files: $(value http persisted_files_total)"
is http persisted_bytes_total 3000006 || fail "persisted bytes: $(value http persisted_bytes_total)"
is http messages_total 8 || fail "messages: $(value http messages_total)"
is http finalize_duration_seconds_count 1 || fail "finalize histogram count: $(value http finalize_duration_seconds_count)"
above http fsync_duration_seconds_count 0 || fail "no fsync observed"
wait_for "nothing staged (file)" is file staged_bytes 0
wait_for "no active transfer (file)" is file active_transfers 0
wait_for "lag 0 on both partitions after the transfer" [ "$(lag_sum)" = "2+0" ]
scrape | awk '$1 ~ /^kafka_stream_sink_consumer_lag_seconds\{/ && $2 != 0 { bad = 1 } END { exit bad }' \
    || fail "lag in seconds is not 0 once caught up"
above http last_commit_timestamp_seconds "$(value http start_time_seconds)" || fail "no commit time after the start"
is http transfers_quarantined_total 0 && is http messages_quarantined_total 0 || fail "unexpected quarantine"

note "the exposition is well formed"
scrape > "$T/scrape.txt"
"$PY" - "$T/scrape.txt" "$T/metrics/sink.prom" <<'PYEOF' || fail "malformed exposition"
import re, sys
sample = re.compile(r'^(kafka_stream_sink_[a-z_]+)(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$')
for path in sys.argv[1:]:
    families, typed = set(), {}
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("# HELP "):
            families.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("counter", "gauge", "histogram"), line
            typed[name] = kind
        else:
            m = sample.match(line)
            assert m, "%s: bad line %r" % (path, line)
            base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
            assert m.group(1) in typed or base in typed, "%s: no TYPE for %r" % (path, line)
    for name, kind in typed.items():
        assert name in families, name
        assert (kind == "counter") == name.endswith("_total"), "counter names end in _total: " + name
PYEOF

note "every metric is documented, and the example dashboard uses only real ones"
families=$(awk '/^# TYPE / { print $3 }' "$T/scrape.txt")
[ "$(echo "$families" | wc -l)" -ge 20 ] || fail "expected at least 20 metric families: $families"
for name in $families; do
    grep -q "$name" "$KS_ROOT/man/kafka-stream-sink.1" || fail "$name is not in kafka-stream-sink(1)"
    grep -q "\`$name" "$KS_ROOT/docs/metrics.md" || fail "$name is not in docs/metrics.md"
done
for name in $(grep -o 'kafka_stream_sink_[a-z_]*' "$KS_ROOT/etc/grafana-kafka-stream-sink.json" | sed 's/_bucket$//' | sort -u); do
    echo "$families" | grep -qx "$name" || fail "the dashboard uses $name, which the sink does not expose"
done

note "the endpoint is strict and cannot be stalled"
"$PY" - "$port" <<'PYEOF' || fail "the HTTP endpoint misbehaved"
import socket, sys, urllib.error, urllib.request
port = int(sys.argv[1])
def status(method, path):
    try:
        return urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method), timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code
assert status("GET", "/") == 404, status("GET", "/")
assert status("GET", "/other") == 404
assert status("POST", "/metrics") == 405
# A client that opens a connection and never finishes its request...
idle = socket.create_connection(("127.0.0.1", port))
idle.sendall(b"GET /metr")
# ... one with a request head far beyond the limit ...
big = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    big.sendall(b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"x" * 65536 + b"\r\n\r\n")
except OSError:
    pass  # the sink may close before reading it all
reply = b""
try:
    while True:
        chunk = big.recv(4096)
        if not chunk:
            break
        reply += chunk
except OSError:
    pass
assert reply == b"" or reply.startswith(b"HTTP/1.1 431"), reply[:100]
# ... and a normal scrape still gets its answer.
assert status("GET", "/metrics") == 200
idle.close()
PYEOF

note "SIGTERM: STOPPING=1, exit 0, the file stays whole"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ $rc -eq 0 ] || fail "exit status $rc"
sleep 0.3
grep -q ' STOPPING=1$' "$T/notify.log" || fail "no STOPPING=1"
grep -q ' STATUS=.*partitions.*transfers finalized' "$T/notify.log" || fail "no STATUS= summary line"
[ "$(ls -A "$T/metrics")" = sink.prom ] || fail "temporary files left beside the metrics file: $(ls -A "$T/metrics")"
grep -q '^kafka_stream_sink_transfers_finalized_total 1$' "$T/metrics/sink.prom" || fail "final metrics file"

note "watchdog: WatchdogSec 2 s, so a ping about every second"
awk '$2 == "WATCHDOG=1" { print $1 }' "$T/notify.log" > "$T/pings"
pings=$(wc -l < "$T/pings")
[ "$pings" -ge 3 ] || fail "only $pings WATCHDOG=1 pings"
median=$(awk 'NR > 1 { print $1 - prev } { prev = $1 }' "$T/pings" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
note "$pings pings, median gap $median s"
# Half the interval is 1 s; a gap of a whole interval would get the service killed. Loose: below 0.75 of it.
awk -v m="$median" 'BEGIN { exit !(m < 1.5) }' || fail "watchdog pings every $median s, not at half of WatchdogSec (2 s)"
echo "PASS"
