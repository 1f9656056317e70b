#!/usr/bin/python3
"""Hostile wire-format v2 messages for kafka-stream-sink, produced with kafka-python (not with this project's code).

  hostile_messages.py BOOTSTRAP TOPIC

Each attack is its own transfer (cluster "c", job "h-<name>", node "n1") so it is judged on its own, opened by a
message signed with the harness's key ($KS_AUTH_KEY): the content a node signs (a user's names and bytes) is judged
too. Single messages without a usable identity are judged by their position. One line per case on stdout:
  <case> transfer <transfer id>     the whole transfer must be in ROOT/.quarantine/<id>/ with a reason
  <case> message <topic/part@off>   the message must be logged in ROOT/.quarantine/messages.log
  <case> stale <transfer id>        cannot be judged yet (a resend may still complete or correct it, as when a file changed
                                    while being sent): moved to ROOT/.stale after stream.stale.seconds
  <case> once <transfer id>         legitimate duplicates: persisted exactly once, nothing quarantined
  <case> conflict <topic/part@off>  a second, different manifest after finalization: logged, the first version kept
Cases already covered by tests/integration/sink_hostile.sh (absolute and ../ paths in chunk headers, NUL and control
characters, past-the-end and 2^62 offsets, non-JSON manifest, escaping manifest path, no headers, ks.v=9, forged id)
are not repeated here.
"""
import base64, hashlib, json, os, sys
from kafka import KafkaProducer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import kswire  # noqa: E402

CLUSTER, NODE, USER = "c", "n1", "mallory"
KEY = kswire.load_key()
TOPIC = None  # set in main(): the signatures bind it


def tid(cluster, job, node):
    return kswire.transfer_id(cluster, job, node)


def ident(kind, job, cluster=CLUSTER, node=NODE, user=USER, transfer=None):
    return kswire.identity(kind, cluster, job, node, user, tid=transfer)


def signed_manifest_hdrs(job, value, cluster=CLUSTER, node=NODE, user=USER):
    return kswire.manifest_headers(TOPIC, cluster, job, node, user, value, key=KEY)


def chunk_hdrs(job, path, index, size, offset, mode=b"644", mtime=b"0", **kw):
    return ident("chunk", job, **kw) + [("ks.path", path), ("ks.file", str(index).encode() if isinstance(index, int) else index),
                                        ("ks.size", str(size).encode() if isinstance(size, int) else size),
                                        ("ks.mode", mode), ("ks.mtime", mtime),
                                        ("ks.offset", str(offset).encode() if isinstance(offset, int) else offset)]


def manifest(job, files, cluster=CLUSTER, node=NODE, user=USER, version=kswire.VERSION, extra=None):
    m = {"version": version, "transfer_id": tid(cluster, job, node), "chunk_bytes": 1024,
         "total_bytes": sum(f.get("size", 0) for f in files if isinstance(f.get("size"), int)),
         "job": {"id": job, "user": user, "uid": 1000, "gid": 1000, "node": node, "cluster": cluster, "nodes": 1},
         "files": files, "skipped": []}
    if extra:
        m.update(extra)
    return json.dumps(m).encode()


def fentry(path, data, index=0, chunks=1, size=None, sha=None, b64=False):
    e = {"path_b64": base64.b64encode(path).decode()} if b64 else {"path": path}
    e.update({"index": index, "size": len(data) if size is None else size, "mode": 0o644, "mtime_ns": 0,
              "sha256": sha or hashlib.sha256(data).hexdigest(), "chunks": chunks})
    return e


def main():
    global TOPIC
    bootstrap, topic = sys.argv[1], sys.argv[2]
    TOPIC = topic
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    out = []

    def send(key, value, headers):
        md = p.send(topic, key=key, value=value, headers=headers).get(timeout=30)
        return f"{md.topic}/{md.partition}@{md.offset}"

    def case(name, expect, msgs, job=None, cluster=CLUSTER, node=NODE, user=USER, opened=True):
        """msgs: list of (headers, value), after a signed open message for the job (unless opened=False); the result
        line names the transfer or the last message's position. A manifest (ks.type=manifest) is signed here."""
        pos = None
        if opened:
            h, v = kswire.open_message(topic, cluster, job, node, user, 1000, 1000, key=KEY)
            send(f"{cluster}/{job}/{node}".encode(), v, h)
        signed = []
        for h, v in msgs:
            if (("ks.type", b"manifest") in h and not any(k == "ks.sig" for k, _ in h)
                    and all(k != "ks.transfer" or val == tid(cluster, job, node).encode() for k, val in h)):
                h = h + [("ks.part", b"0"), ("ks.parts", b"1"),
                         ("ks.sig", kswire.signature(KEY, "manifest", topic, f"{cluster}/{job}/{node}".encode(),
                                                     tid(cluster, job, node), v))]
            signed.append((h, v))
        for h, v in signed:
            pos = send(f"{cluster}/{job}/{node}".encode(), v, h)
        out.append(f"{name} {expect} {pos if expect in ('message', 'conflict') else tid(cluster, job, node)}")

    data = b"payload\n"
    # Identity values that would steer the layout ({user}/{job}/{node}) out of ROOT or into the sink's own state
    # (.staging, .done): refused as names, so such a transfer is never even opened: each message is logged.
    for name, kw in (("user-dotdot", {"user": ".."}), ("user-slash", {"user": "../../tmp"}),
                     ("user-staging", {"user": ".staging"}), ("node-dotdot", {"node": ".."}),
                     ("node-slash", {"node": "x/../../y"}), ("node-done", {"node": ".done"})):
        job = "h-" + name
        node = kw.get("node", NODE)
        h = chunk_hdrs(job, b"f", 0, len(data), 0, **kw)
        mkw = {k: v for k, v in kw.items()}
        case(name, "message", [(h, data), (ident("manifest", job, **kw), manifest(job, [fentry("f", data)], **mkw))],
             job=job, node=node, user=kw.get("user", USER))
    job = "../../../tmp/ks-rel-hostile-job"  # the job id itself as a path: the layout must refuse it
    h = chunk_hdrs(job, b"f", 0, len(data), 0)
    case("job-dotdot", "message", [(h, data), (ident("manifest", job), manifest(job, [fentry("f", data)]))], job=job)

    # Forged sizes and offsets.
    j = "h-size-mismatch"  # chunks say 8 bytes, the manifest 9
    case("size-mismatch", "stale", [(chunk_hdrs(j, b"f", 0, len(data), 0), data),
                                       (ident("manifest", j), manifest(j, [fentry("f", data, size=len(data) + 1)]))], job=j)
    j = "h-size-flip"  # two chunks of one file declaring different sizes
    case("size-flip", "transfer", [(chunk_hdrs(j, b"f", 0, 16, 0), data), (chunk_hdrs(j, b"f", 0, 8, 8), data)], job=j)
    j = "h-sha-mismatch"  # the bytes are not what the manifest's digest says
    case("sha-mismatch", "stale", [(chunk_hdrs(j, b"f", 0, len(data), 0), data),
                                      (ident("manifest", j), manifest(j, [fentry("f", data, sha="0" * 64)]))], job=j)
    j = "h-neg-offset"
    case("neg-offset", "transfer", [(chunk_hdrs(j, b"f", 0, 8, b"-8"), data)], job=j)
    j = "h-offset-garbage"
    case("offset-garbage", "transfer", [(chunk_hdrs(j, b"f", 0, 8, b"0x10"), data)], job=j)
    j = "h-index-huge"
    case("index-huge", "transfer", [(chunk_hdrs(j, b"f", 1 << 40, 8, 0), data)], job=j)
    j = "h-size-overflow"
    case("size-overflow", "transfer", [(chunk_hdrs(j, b"f", 0, b"99999999999999999999999", 0), data)], job=j)
    j = "h-index-outside"  # the manifest names a file index no chunk used, and skips the one that was sent
    case("index-outside", "stale", [(chunk_hdrs(j, b"f", 0, len(data), 0), data),
                                    (ident("manifest", j), manifest(j, [fentry("f", data, index=7)]))], job=j)

    # Missing chunks: the manifest promises two chunks, only the first is ever sent.
    j = "h-missing-chunk"
    two = data * 2
    case("missing-chunk", "stale", [(chunk_hdrs(j, b"f", 0, len(two), 0), data),
                                    (ident("manifest", j), manifest(j, [fentry("f", two, chunks=2)]))], job=j)

    # Manifests: wrong version inside, escaping base64 path, duplicate paths, a file that is also a directory,
    # identity in the body differing from the headers, a JSON array, garbage bytes.
    j = "h-json-v1"
    case("json-v1", "transfer", [(chunk_hdrs(j, b"f", 0, len(data), 0), data),
                                 (ident("manifest", j), manifest(j, [fentry("f", data)], version=1))], job=j)
    j = "h-b64-escape"
    case("b64-escape", "transfer", [(chunk_hdrs(j, b"../x", 0, len(data), 0), data),
                                    (ident("manifest", j), manifest(j, [fentry(b"../../x", data, b64=True)]))], job=j)
    j = "h-dup-path"
    case("dup-path", "transfer", [(chunk_hdrs(j, b"f", 0, len(data), 0), data), (chunk_hdrs(j, b"f", 1, len(data), 0), data),
                                  (ident("manifest", j), manifest(j, [fentry("f", data), fentry("f", data, index=1)]))], job=j)
    j = "h-file-is-dir"
    case("file-is-dir", "transfer", [(chunk_hdrs(j, b"a", 0, len(data), 0), data), (chunk_hdrs(j, b"a/b", 1, len(data), 0), data),
                                     (ident("manifest", j), manifest(j, [fentry("a", data), fentry("a/b", data, index=1)]))], job=j)
    j = "h-body-identity"
    body = json.loads(manifest(j, [fentry("f", data)]))
    body["job"]["user"] = "root"
    case("body-identity", "transfer", [(chunk_hdrs(j, b"f", 0, len(data), 0), data),
                                       (ident("manifest", j), json.dumps(body).encode())], job=j)
    j = "h-json-array"
    case("json-array", "transfer", [(ident("manifest", j), b"[1,2,3]")], job=j)
    j = "h-garbage-manifest"
    case("garbage-manifest", "transfer", [(ident("manifest", j), os.urandom(4096))], job=j)
    j = "h-size-string"
    case("size-string", "transfer", [(chunk_hdrs(j, b"f", 0, len(data), 0), data),
                                     (ident("manifest", j), manifest(j, [dict(fentry("f", data), size="8")]))], job=j)

    # Single messages without a usable identity.
    case("type-garbage", "message", [(ident("garbage", "h-type-garbage"), data)], job="h-type-garbage", opened=False)
    case("no-version", "message", [([h for h in chunk_hdrs("h-no-version", b"f", 0, 8, 0) if h[0] != "ks.v"], data)],
         job="h-no-version", opened=False)
    case("binary-headers", "message", [([(k, os.urandom(12)) for k, _ in ident("chunk", "x")], os.urandom(64))], job="h-bin",
         opened=False)
    case("missing-transfer", "message", [([h for h in ident("chunk", "h-mt") if h[0] != "ks.transfer"], data)], job="h-mt",
         opened=False)
    # Unsigned or badly signed: never opened, every message logged, nothing staged.
    j = "h-unsigned-open"
    h, v = kswire.open_message(topic, CLUSTER, j, NODE, USER, 1000, 1000)
    case("unsigned-open", "message", [(h, v), (chunk_hdrs(j, b"f", 0, len(data), 0), data)], job=j, opened=False)
    j = "h-forged-key"
    h, v = kswire.open_message(topic, CLUSTER, j, NODE, USER, 1000, 1000, key=(KEY[0], b"\x01" * 32))
    case("forged-key", "message", [(h, v), (chunk_hdrs(j, b"f", 0, len(data), 0), data)], job=j, opened=False)
    j = "h-other-topic"  # a genuine open message for another topic, replayed into this one
    h, v = kswire.open_message(topic + "-elsewhere", CLUSTER, j, NODE, USER, 1000, 1000, key=KEY)
    case("other-topic", "message", [(h, v), (chunk_hdrs(j, b"f", 0, len(data), 0), data)], job=j, opened=False)
    j = "h-unsigned-manifest"  # opened by a node, then a manifest nobody signed
    body = manifest(j, [fentry("f", data)])
    case("unsigned-manifest", "transfer", [(chunk_hdrs(j, b"f", 0, len(data), 0), data),
                                           (ident("manifest", j) + [("ks.sig", b"")], body)], job=j)

    # Duplicates that are legitimate (a retried send): persisted once, nothing quarantined.
    j = "h-duplicate"
    msgs = [(chunk_hdrs(j, b"f", 0, len(data), 0), data)] * 3 + [(ident("manifest", j), manifest(j, [fentry("f", data)]))] * 2
    case("duplicate", "once", msgs, job=j)
    # A conflicting manifest after the first one was finalized: the first version is kept, the second is logged.
    j = "h-conflict"
    case("conflict-first", "once", [(chunk_hdrs(j, b"f", 0, len(data), 0), data),
                                    (ident("manifest", j), manifest(j, [fentry("f", data)]))], job=j)
    other = b"other\n"
    case("conflict", "conflict", [(chunk_hdrs(j, b"g", 0, len(other), 0), other),
                                  (ident("manifest", j), manifest(j, [fentry("g", other)]))], job=j)
    p.flush()
    p.close()
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
