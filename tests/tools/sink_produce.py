#!/usr/bin/python3
"""Test producer for kafka-stream-sink: sends a directory as one wire-format v2 transfer (see ARCHITECTURE.md),
or hand-crafted hostile messages. Independent of kafka-stream-push (kswire.py), so the sink can be tested on its own.
It plays a node: its open and manifest messages are signed with the harness's key ($KS_AUTH_KEY or --key), unless
--unsigned (a user without the key).

  sink_produce.py BOOTSTRAP TOPIC DIR --job J --node N [--nodes K] [--user U] [--uid N --gid N] [--cluster C]
                  [--chunk BYTES] [--no-manifest] [--manifest-only] [--duplicate] [--unsigned] [--key FILE]
  sink_produce.py BOOTSTRAP TOPIC --hostile      (one transfer per attack; prints their transfer ids)
"""
import argparse, base64, hashlib, json, os, sys
from kafka import KafkaProducer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kswire  # noqa: E402
from kswire import transfer_id  # noqa: E402


def identity_headers(kind, cluster, job, node, user, tid=None):
    return kswire.identity(kind, cluster, job, node, user, tid=tid)


def chunk_headers(ident, path, index, size, mode, mtime_ns, offset):
    return ident + [("ks.path", path), ("ks.file", str(index).encode()), ("ks.size", str(size).encode()),
                    ("ks.mode", format(mode, "o").encode()), ("ks.mtime", str(mtime_ns).encode()),
                    ("ks.offset", str(offset).encode())]


def walk(root):
    """Regular files under root as (relative path bytes, absolute path), sorted."""
    out = []
    for d, dirs, files in os.walk(os.fsencode(root)):
        dirs.sort()
        for f in sorted(files):
            full = os.path.join(d, f)
            if os.path.isfile(full) and not os.path.islink(full):
                out.append((os.path.relpath(full, os.fsencode(root)), full))
    return out


def path_entry(raw):
    try:
        return {"path": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"path_b64": base64.b64encode(raw).decode()}


def send_dir(p, a):
    key = f"{a.cluster}/{a.job}/{a.node}".encode()
    sig_key = None if a.unsigned else kswire.load_key(a.key)
    h, v = kswire.open_message(a.topic, a.cluster, a.job, a.node, a.user, a.uid, a.gid, a.nodes, key=sig_key)
    p.send(a.topic, key=key, value=v, headers=h)
    ident_c = identity_headers("chunk", a.cluster, a.job, a.node, a.user)
    files = []
    for index, (rel, full) in enumerate(walk(a.dir)):
        st = os.stat(full)
        h = hashlib.sha256()
        chunks = 0
        with open(full, "rb") as f:
            offset = 0
            while True:
                data = f.read(a.chunk)
                if data or offset == 0:
                    if not a.manifest_only:
                        hdrs = chunk_headers(ident_c, rel, index, st.st_size, st.st_mode & 0o7777, st.st_mtime_ns, offset)
                        for _ in range(2 if a.duplicate else 1):
                            p.send(a.topic, key=key, value=data, headers=hdrs)
                    h.update(data)
                    chunks += 1
                offset += len(data)
                if not data or offset >= st.st_size:
                    break
        e = path_entry(rel)
        e.update({"index": index, "size": st.st_size, "mode": st.st_mode & 0o7777, "mtime_ns": st.st_mtime_ns,
                  "sha256": h.hexdigest(), "chunks": chunks})
        files.append(e)
    manifest = {"version": kswire.VERSION, "transfer_id": transfer_id(a.cluster, a.job, a.node),
                "chunk_bytes": a.chunk, "total_bytes": sum(f["size"] for f in files),
                "job": kswire.job_json(a.cluster, a.job, a.node, a.user, a.uid, a.gid, a.nodes),
                "files": files, "skipped": []}
    if not a.no_manifest:
        value = json.dumps(manifest).encode()
        p.send(a.topic, key=key, value=value,
               headers=kswire.manifest_headers(a.topic, a.cluster, a.job, a.node, a.user, value, key=sig_key))
    p.flush()


def send_hostile(p, a):
    """Each attack is its own transfer (job hostile-<name>), opened by a node (signed), so each is judged on its own:
    what a node signs is a user's file names and bytes, which can be anything."""
    ids = []
    sig_key = kswire.load_key(a.key)
    def ident(name, kind):
        return identity_headers(kind, "c", "hostile-" + name, "n1", "mallory")
    def chunk(name, path, size, offset, value, index=0):
        h, v = kswire.open_message(a.topic, "c", "hostile-" + name, "n1", "mallory", 1000, 1000, key=sig_key)
        p.send(a.topic, key=name.encode(), value=v, headers=h)
        hdrs = chunk_headers(ident(name, "chunk"), path, index, size, 0o644, 0, offset)
        p.send(a.topic, key=name.encode(), value=value, headers=hdrs)
        ids.append(transfer_id("c", "hostile-" + name, "n1"))
    chunk("abs", b"/tmp/ks-hostile-abs", 3, 0, b"abc")
    chunk("dotdot", b"../../../tmp/ks-hostile-dotdot", 3, 0, b"abc")
    chunk("dotdot2", b"a/../../ks-hostile", 3, 0, b"abc")
    chunk("nul", b"a\0b", 3, 0, b"abc")
    chunk("ctrl", b"a\nb", 3, 0, b"abc")
    chunk("long", b"x" * 300, 3, 0, b"abc")
    chunk("past", b"f", 4, 2, b"toolong")
    chunk("huge", b"f", 1 << 62, (1 << 62) - 1, b"x")
    # A manifest that is not JSON, and one whose path escapes (after honest chunks).
    for name, body in (("badjson", b"{not json"),
                       ("escape", json.dumps({"version": 2, "transfer_id": transfer_id("c", "hostile-escape", "n1"),
                                              "chunk_bytes": 4, "total_bytes": 3,
                                              "job": {"id": "hostile-escape", "user": "mallory", "uid": 1000, "gid": 1000,
                                                      "node": "n1", "cluster": "c", "nodes": 1},
                                              "files": [{"path": "../../etc/ks-hostile", "index": 0, "size": 3, "mode": 0o4755,
                                                         "mtime_ns": 0, "sha256": hashlib.sha256(b"abc").hexdigest(),
                                                         "chunks": 1}]}).encode())):
        chunk(name, b"ok", 3, 0, b"abc")
        ids.pop()
        p.send(a.topic, key=name.encode(), value=body,
               headers=kswire.manifest_headers(a.topic, "c", "hostile-" + name, "n1", "mallory", body, key=sig_key))
        ids.append(transfer_id("c", "hostile-" + name, "n1"))
    # Single messages without a usable identity go to .quarantine/messages.log.
    p.send(a.topic, key=b"x", value=b"no headers at all")
    p.send(a.topic, key=b"x", value=b"v9", headers=[("ks.v", b"9"), ("ks.type", b"chunk")])
    forged = identity_headers("chunk", "c", "forged", "n1", "mallory", tid="a" * 32)
    p.send(a.topic, key=b"x", value=b"abc", headers=chunk_headers(forged, b"f", 0, 3, 0o644, 0, 0))
    p.flush()
    print("\n".join(ids))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--job", default="1")
    ap.add_argument("--node", default="n1")
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--uid", type=int, default=1000)
    ap.add_argument("--gid", type=int, default=1000)
    ap.add_argument("--unsigned", action="store_true", help="no signatures (a user without the site's key)")
    ap.add_argument("--key", help="signing key file (default $KS_AUTH_KEY)")
    ap.add_argument("--cluster", default="test")
    ap.add_argument("--chunk", type=int, default=960 * 1024)
    ap.add_argument("--no-manifest", action="store_true")
    ap.add_argument("--manifest-only", action="store_true")
    ap.add_argument("--duplicate", action="store_true", help="send every chunk twice")
    ap.add_argument("--hostile", action="store_true")
    a = ap.parse_args()
    p = KafkaProducer(bootstrap_servers=a.bootstrap, acks="all", max_request_size=2 * 1024 * 1024, linger_ms=20)
    if a.hostile:
        send_hostile(p, a)
    else:
        send_dir(p, a)
    p.close()


if __name__ == "__main__":
    sys.exit(main())
