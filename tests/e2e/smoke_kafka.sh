#!/bin/bash
# Smoke test of the harness's Kafka: kcat produces to a new topic through the bootstrap list, consumes it back, and
# gets exactly the bytes it sent (one binary message, and a run of line messages in order).
. "$(dirname "$0")/../lib/common.sh"
topic=$(unique_topic roundtrip)

# One 64 KiB binary message: kcat sends each named file as one message.
head -c 65536 /dev/urandom >"$T/blob"
# 200 line messages, produced in order to one partition.
for i in $(seq 1 200); do echo "$i $(head -c 48 /dev/urandom | base64 -w0)"; done >"$T/lines"

note "producing to $topic via $KAFKA_BOOTSTRAP"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$topic" -p 0 -X message.timeout.ms=60000 "$T/blob"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$topic" -p 0 -X message.timeout.ms=60000 <"$T/lines"

note "consuming it back"
# -f '%s' prints the payload only, with no delimiter; -c/-e bound the read.
timeout 60 kcat -C -b "$KAFKA_BOOTSTRAP" -t "$topic" -p 0 -o beginning -c 1 -e -q -f '%s' >"$T/blob.back"
timeout 60 kcat -C -b "$KAFKA_BOOTSTRAP" -t "$topic" -p 0 -o 1 -c 200 -e -q >"$T/lines.back"

cmp "$T/blob" "$T/blob.back" || fail "the binary message came back different ($(stat -c %s "$T/blob.back") bytes)"
cmp "$T/lines" "$T/lines.back" || fail "the line messages came back different or out of order"
note "65536-byte message and 200 line messages returned byte for byte"
