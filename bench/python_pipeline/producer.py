#!/usr/bin/python3
"""The pipeline kafka-stream replaces, producer side: each CSV line becomes a JSON record
{"timestamp": <unix time float>, "data": "<line without its line ending>"} (kafka-python, acks=all like our push)."""
import json
import sys
import time

from kafka import KafkaProducer


def main():
    bootstrap, topic, csv_path, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                             value_serializer=lambda v: json.dumps(v).encode())
    with open(csv_path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            if n == limit:
                break
            producer.send(topic, {"timestamp": time.time(), "data": line.rstrip("\r\n")})
    producer.flush()
    producer.close()


if __name__ == "__main__":
    main()
