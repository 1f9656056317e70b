#!/usr/bin/python3
"""Independent check of what kafka-stream-push sent (kafka-python, no project code).

Reads a topic from the beginning until the manifest of the transfer arrives (bounded wait) and verifies:
  - every message carries ks.v=2 and the same transfer identity; all messages of the transfer are in one partition;
  - the first message is the transfer's open message; it and the manifest are signed with the harness's key
    ($KS_AUTH_KEY, checked with kswire.py) when that key is readable;
  - chunk headers are well formed: per file, offsets are contiguous from 0 (a resend restarts at 0), payloads fit the
    declared size, path/size/mode/mtime agree with the source file;
  - files appear in index order; the manifest comes after every chunk;
  - the SHA-256 of the reassembled bytes equals the source's and the manifest's; manifest sizes and modes match;
  - the set of files equals the regular files of the source tree minus the expected skips.
A chunk out of order is looked up by a second read of the partition: if the log has it in place, the first read
skipped it (seen once in CI with kafka-python 2.0.2) and the transfer is read again; if not, the check fails.
Prints one line "OK files=N chunks=M bytes=B skipped=S" and writes the manifest to --manifest-out if given.
"""
import argparse, hashlib, json, os, sys, time
from kafka import KafkaConsumer, TopicPartition

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kswire  # noqa: E402


def fail(msg):
    print("VERIFY FAILED: " + msg, file=sys.stderr)
    sys.exit(1)


def source_files(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            import stat as s
            if s.S_ISREG(st.st_mode):
                out[os.path.relpath(p, root)] = st
    return out


def sha_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


SKIPPED_BY_FIRST_READ = ": the first read skipped it"


class ConsumerSkipped(Exception):
    pass


def reread(a, partition, file_index, wanted, seen_at):
    """Reads the partition again with a fresh consumer, to tell a chunk missing from (or misplaced in) the log from
    one that this consumer skipped."""
    c = KafkaConsumer(bootstrap_servers=a.bootstrap, enable_auto_commit=False, group_id=None,
                      max_partition_fetch_bytes=1 << 20)
    tp = TopicPartition(a.topic, partition)
    c.assign([tp])
    c.seek_to_beginning(tp)
    end = c.end_offsets([tp])[tp]
    found, deadline = [], time.time() + 30
    while c.position(tp) < end and time.time() < deadline:
        for r in c.poll(timeout_ms=500).get(tp, []):
            h = {k: v for k, v in (r.headers or [])}
            if h.get("ks.type") == b"chunk" and int(h["ks.file"]) == file_index and int(h["ks.offset"]) == wanted:
                found.append(r.offset)
    c.close()
    if not found:
        return "a second read of the partition (%d messages) does not find it: not in the log" % end
    where = ", ".join(str(o) for o in found)
    return "a second read finds it at Kafka offset %s, %s" % (
        where, "before the chunk seen first" + SKIPPED_BY_FIRST_READ if min(found) < seen_at
        else "after the chunk seen first: reordered in the log")


def read_transfer(a):
    """One read of the topic from the beginning until the manifest: (identity, files, manifest, chunks). Raises
    ConsumerSkipped when a chunk is out of order but a second read finds it in place (a kafka-python skip)."""
    c = KafkaConsumer(bootstrap_servers=a.bootstrap, enable_auto_commit=False, group_id=None,
                      max_partition_fetch_bytes=4 << 20, fetch_max_bytes=64 << 20)
    deadline = time.time() + a.timeout
    parts = None
    while parts is None and time.time() < deadline:
        parts = c.partitions_for_topic(a.topic)
        if parts is None:
            time.sleep(0.2)
    if not parts:
        fail("topic %s not found" % a.topic)
    tps = [TopicPartition(a.topic, p) for p in sorted(parts)]
    c.assign(tps)
    c.seek_to_beginning(*tps)

    identity = None
    partition = None
    files = {}  # index -> state
    order = []
    manifest = None
    parts = {}  # manifest part index -> parsed JSON (a large manifest comes in several parts)
    chunks = 0
    opened = False
    key = None
    try:
        key = kswire.load_key(a.key)
    except OSError:
        pass  # not readable here: signatures are not checked
    while manifest is None and time.time() < deadline:
        batch = c.poll(timeout_ms=500, max_records=2000)
        for tp, records in sorted(batch.items(), key=lambda kv: kv[0].partition):
            for r in records:
                h = {k: v for k, v in (r.headers or [])}
                if h.get("ks.v") != b"2":
                    fail("message without ks.v=2 at %s/%d" % (tp.partition, r.offset))
                ident = tuple(h.get(k) for k in ("ks.transfer", "ks.cluster", "ks.job", "ks.node", "ks.user"))
                if None in ident:
                    fail("missing identity header at offset %d" % r.offset)
                if identity is None:
                    identity, partition = ident, tp.partition
                if ident != identity:
                    fail("two transfers in a fresh topic: %r vs %r" % (ident, identity))
                if tp.partition != partition:
                    fail("transfer spread over partitions %d and %d" % (partition, tp.partition))
                expected_key = b"/".join(ident[1:4])
                if r.key != expected_key:
                    fail("key %r, expected %r" % (r.key, expected_key))
                t = h.get("ks.type")
                if t == b"open":
                    if files or parts:
                        fail("open message after the transfer's data")
                    o = json.loads(r.value.decode())
                    j = o["job"]
                    if (o["version"], o["transfer_id"].encode(), j["cluster"].encode(), j["id"].encode(),
                            j["node"].encode(), j["user"].encode()) != (2,) + ident:
                        fail("open message: identity differs from its headers: %r" % o)
                    if key and h.get("ks.sig") != kswire.signature(key, "open", a.topic, r.key, o["transfer_id"],
                                                                   r.value):
                        fail("open message: bad or missing signature %r" % h.get("ks.sig"))
                    opened = True
                    continue
                if not opened:
                    fail("%s message before the transfer's open message" % t)
                if t == b"manifest":
                    part = json.loads(r.value.decode())
                    if key and h.get("ks.sig") != kswire.signature(key, "manifest", a.topic, r.key, ident[0].decode(),
                                                                   r.value, part["part"], part["parts"]):
                        fail("manifest part %d: bad or missing signature" % part["part"])
                    n = int(h["ks.parts"])
                    if int(h["ks.part"]) != part["part"] or n != part["parts"]:
                        fail("manifest part headers disagree with its JSON")
                    if part["part"] != len(parts):
                        fail("manifest part %d arrived after %d parts" % (part["part"], len(parts)))
                    parts[part["part"]] = part
                    if len(parts) == n:
                        manifest = dict(parts[0])
                        manifest["files"] = [f for i in range(n) for f in parts[i]["files"]]
                        manifest["skipped"] = [s for i in range(n) for s in parts[i].get("skipped", [])]
                        manifest["total_bytes"] = sum(parts[i]["total_bytes"] for i in range(n))
                        manifest["parts_seen"] = n
                    continue
                if t != b"chunk":
                    fail("unknown ks.type %r" % t)
                if manifest is not None or parts:
                    fail("chunk after the manifest")
                chunks += 1
                idx = int(h["ks.file"])
                off, size = int(h["ks.offset"]), int(h["ks.size"])
                path = h["ks.path"].decode("utf-8", "surrogateescape")
                st = files.get(idx)
                if st is None:
                    if order and idx < order[-1]:
                        fail("file %d after file %d: not in index order" % (idx, order[-1]))
                    order.append(idx)
                    st = files[idx] = {"path": path, "size": size, "mode": h["ks.mode"], "mtime": h["ks.mtime"],
                                       "next": 0, "sha": hashlib.sha256()}
                if off == 0 and st["next"] != 0:  # a resend of a file that changed restarts it
                    st.update(size=size, mode=h["ks.mode"], mtime=h["ks.mtime"], next=0, sha=hashlib.sha256())
                if path != st["path"] or size != st["size"]:
                    fail("file %d: headers changed mid-file" % idx)
                if off != st["next"]:
                    why = reread(a, tp.partition, idx, st["next"], r.offset)
                    msg = "file %s: chunk at offset %d (Kafka offset %d), expected %d; %s" % (
                        path, off, r.offset, st["next"], why)
                    if why.endswith(SKIPPED_BY_FIRST_READ):
                        c.close()
                        raise ConsumerSkipped(msg)
                    fail(msg)
                if off + len(r.value or b"") > size:
                    fail("file %s: chunk past the declared size" % path)
                if size > 0 and not r.value:
                    fail("file %s: empty chunk in a non-empty file" % path)
                st["sha"].update(r.value or b"")
                st["next"] = off + len(r.value or b"")
    c.close()
    return identity, files, manifest, chunks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--skip", action="append", default=[], help="PATH=REASON expected in the manifest's skipped list")
    ap.add_argument("--unlisted", action="append", default=[], help="regular file expected to be absent (skipped)")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--manifest-out")
    ap.add_argument("--key", help="signing key file (default $KS_AUTH_KEY)")
    a = ap.parse_args()

    try:
        identity, files, manifest, chunks = read_transfer(a)
    except ConsumerSkipped as e:
        # The log is in order (the second read says so): read the whole transfer once more.
        print("push_verify: reading again: %s" % e, file=sys.stderr)
        identity, files, manifest, chunks = read_transfer(a)
    if manifest is None:
        fail("no manifest within %.0f s" % a.timeout)
    if manifest["transfer_id"] != identity[0].decode():
        fail("manifest transfer id differs from the headers'")

    src = source_files(a.source)
    listed = {f.get("path"): f for f in manifest["files"]}
    skipped = {s.get("path"): s["reason"] for s in manifest.get("skipped", [])}
    for spec in a.skip:
        p, reason = spec.split("=", 1)
        if skipped.get(p) != reason:
            fail("expected %s skipped as %r, manifest says %r" % (p, reason, skipped.get(p)))
    expected = set(src) - set(a.unlisted) - set(skipped)
    if set(listed) != expected:
        fail("manifest files differ from the source: missing %s, extra %s" %
             (sorted(expected - set(listed))[:5], sorted(set(listed) - expected)[:5]))
    total = 0
    for idx, st in files.items():
        if st["path"] not in listed:
            continue  # e.g. a file that became unreadable or changed and was reported skipped
        m = listed[st["path"]]
        if m["index"] != idx:
            fail("%s: index %d in headers, %d in manifest" % (st["path"], idx, m["index"]))
        if st["next"] != st["size"]:
            fail("%s: got %d of %d bytes" % (st["path"], st["next"], st["size"]))
        digest = st["sha"].hexdigest()
        path = os.path.join(a.source, st["path"])
        sst = src[st["path"]]
        if digest != m["sha256"]:
            fail("%s: SHA-256 of the chunks differs from the manifest" % st["path"])
        if digest != sha_of(path):
            fail("%s: SHA-256 differs from the source file" % st["path"])
        if m["size"] != sst.st_size or st["size"] != sst.st_size:
            fail("%s: size differs from the source" % st["path"])
        if int(st["mode"], 8) != (sst.st_mode & 0o7777) or m["mode"] != (sst.st_mode & 0o7777):
            fail("%s: mode differs from the source" % st["path"])
        if int(st["mtime"]) != sst.st_mtime_ns or m["mtime_ns"] != sst.st_mtime_ns:
            fail("%s: mtime differs from the source" % st["path"])
        total += st["size"]
    missing = [p for p in listed if p not in {s["path"] for s in files.values()}]
    if missing:
        fail("listed in the manifest but no chunks seen: %s" % missing[:5])
    if total != manifest["total_bytes"]:
        fail("total_bytes %d, counted %d" % (manifest["total_bytes"], total))
    if a.manifest_out:
        with open(a.manifest_out, "w") as f:
            json.dump(manifest, f)
    print("OK files=%d chunks=%d bytes=%d skipped=%d manifest_parts=%d" % (len(listed), chunks, total, len(skipped), manifest.get("parts_seen", 1)))


if __name__ == "__main__":
    main()
