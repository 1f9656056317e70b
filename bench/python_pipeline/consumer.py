#!/usr/bin/python3
"""The pipeline kafka-stream replaces, consumer side: JSON records back to `timestamp,data` lines in a file.
Stops after COUNT records (the benchmark knows how many were produced)."""
import json
import sys

from kafka import KafkaConsumer


def main():
    bootstrap, topic, group, out_path, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             value_deserializer=json.loads)
    seen = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for message in consumer:
            out.write(f"{message.value['timestamp']},{message.value['data']}\n")
            seen += 1
            if seen == count:
                break
    consumer.commit()
    consumer.close()


if __name__ == "__main__":
    main()
