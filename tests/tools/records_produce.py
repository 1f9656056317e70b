#!/usr/bin/python3
"""A records-mode transfer written from ARCHITECTURE.md with kafka-python and kswire.py (no project code), in an order
chosen by the test: each text file's lines as records on TOPIC, the open message, the chunks of the other files and the
manifest on the companion topic TOPIC.ks-meta, signed with the harness's key.

  records_produce.py BOOTSTRAP TOPIC DIR --job J [--node N] [--user U] [--cluster C] --part meta|records|all
                     [--backlog N]

--part meta: the open message, chunks and manifest only; --part records: the records only; all: meta's open message,
the records, then the rest (what kafka-stream-push does). --backlog N first puts N messages of another (unsigned)
transfer on the companion topic, so a sink reads the companion topic behind the records.
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import time

from kafka import KafkaProducer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kswire  # noqa: E402


def is_text(data):
    return len(data) > 0 and b"\0" not in data[:65536]


def lines_of(data):
    """(offset, line bytes without ending, ending) of each line, as the push cuts them."""
    out, off = [], 0
    while off < len(data):
        nl = data.find(b"\n", off)
        end = len(data) if nl < 0 else nl + 1
        raw = data[off:end]
        eol = b"\r\n" if raw.endswith(b"\r\n") else b"\n" if raw.endswith(b"\n") else b""
        out.append((off, raw[:len(raw) - len(eol)], eol))
        off = end
    return out


def record_value(tid, index, path, size, off, line, eol, stamp):
    try:
        data, b64 = line.decode("utf-8"), None
    except UnicodeDecodeError:
        data, b64 = line.decode("utf-8", "replace"), base64.b64encode(line).decode()
    v = {"timestamp": stamp, "data": data,
         "ks": {"transfer": tid, "file": index, "path": path, "size": size, "offset": off, "eol": eol.decode()}}
    if b64:
        v["data_b64"] = b64
    return json.dumps(v).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("dir")
    ap.add_argument("--job", required=True)
    ap.add_argument("--node", default="n1")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--cluster", default="c")
    ap.add_argument("--part", choices=("meta", "records", "all"), default="all")
    ap.add_argument("--backlog", type=int, default=0)
    a = ap.parse_args()
    key = kswire.load_key()
    meta_topic = a.topic + ".ks-meta"
    tid = kswire.transfer_id(a.cluster, a.job, a.node)
    mkey = kswire.message_key(a.cluster, a.job, a.node)
    p = KafkaProducer(bootstrap_servers=a.bootstrap, acks="all", linger_ms=20, max_request_size=4 << 20)
    if a.backlog:
        pad = kswire.identity("chunk", a.cluster, "backlog", a.node, a.user) + [
            ("ks.path", b"pad"), ("ks.file", b"0"), ("ks.size", b"1"), ("ks.mode", b"644"), ("ks.mtime", b"0"),
            ("ks.offset", b"0")]
        for _ in range(a.backlog):
            p.send(meta_topic, key=mkey, value=b"x", headers=pad)
    if a.part in ("meta", "all"):
        h, v = kswire.open_message(meta_topic, a.cluster, a.job, a.node, a.user, 1000, 1000, key=key)
        p.send(meta_topic, key=mkey, value=v, headers=h)
        p.flush()  # confirmed before any record, as the push does
    files, stamp = [], "%.6f" % time.time()
    names = sorted(os.listdir(a.dir))
    for index, name in enumerate(names):
        data = open(os.path.join(a.dir, name), "rb").read()
        entry = {"path": name, "index": index, "size": len(data), "mode": 0o644, "mtime_ns": 0,
                 "sha256": hashlib.sha256(data).hexdigest()}
        if is_text(data):
            lines = lines_of(data)
            entry.update(chunks=len(lines), format="records", timestamps=[[0, stamp]])
            if a.part in ("records", "all"):
                for off, line, eol in lines:
                    p.send(a.topic, key=mkey, value=record_value(tid, index, name, len(data), off, line, eol,
                                                                 float(stamp)))
        else:
            entry["chunks"] = 1
            if a.part in ("meta", "all"):
                ch = kswire.identity("chunk", a.cluster, a.job, a.node, a.user) + [
                    ("ks.path", name.encode()), ("ks.file", str(index).encode()), ("ks.size", str(len(data)).encode()),
                    ("ks.mode", b"644"), ("ks.mtime", b"0"), ("ks.offset", b"0")]
                p.send(meta_topic, key=mkey, value=data, headers=ch)
        files.append(entry)
    if a.part in ("meta", "all"):
        m = {"version": kswire.VERSION, "transfer_id": tid, "chunk_bytes": 983040,
             "total_bytes": sum(f["size"] for f in files),
             "job": kswire.job_json(a.cluster, a.job, a.node, a.user, 1000, 1000), "files": files, "skipped": []}
        value = json.dumps(m).encode()
        p.send(meta_topic, key=mkey, value=value,
               headers=kswire.manifest_headers(meta_topic, a.cluster, a.job, a.node, a.user, value, key=key))
    p.flush()
    p.close()


if __name__ == "__main__":
    sys.exit(main())
