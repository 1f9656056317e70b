"""The wire format (version 2) written from its description in ARCHITECTURE.md and docs/security.md, in Python and
without the project's code: transfer ids, identity headers, the open message and the HMAC-SHA256 signatures of open
and manifest messages. The test producers use it to play a node (with the harness's key) or an attacker (without).
tests/unit/signature_test.cpp checks the C++ side against the same known-answer vector as test_vector() below."""
import hashlib
import hmac
import json
import os

VERSION = 2


def load_key(path=None):
    """The signing key of a key file ("<key id> <hex secret>" lines; the first one signs): (id, secret bytes)."""
    path = path or os.environ.get("KS_AUTH_KEY")
    if not path:
        return None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key_id, secret = line.split(None, 1)
                return key_id, bytes.fromhex(secret.strip())
    raise ValueError("no key in " + path)


def transfer_id(cluster, job, node, instance=None):
    material = b"ks-transfer-v1\0" + cluster.encode() + b"\0" + job.encode() + b"\0" + node.encode()
    if instance:
        material += b"\0" + instance.encode()
    return hashlib.sha256(material).hexdigest()[:32]


def message_key(cluster, job, node):
    return f"{cluster}/{job}/{node}".encode()


def identity(kind, cluster, job, node, user, tid=None, instance=None):
    h = [("ks.v", str(VERSION).encode()), ("ks.type", kind.encode()),
         ("ks.transfer", (tid or transfer_id(cluster, job, node, instance)).encode()),
         ("ks.cluster", cluster.encode()), ("ks.job", job.encode()), ("ks.node", node.encode()),
         ("ks.user", user.encode())]
    if instance:
        h.append(("ks.instance", instance.encode()))
    return h


def material(kind, topic, key, transfer, part, parts, value):
    """What is MACed: a domain tag, then each field as <decimal length>:<bytes>."""
    out = b"ks-sig-v2"
    for field in (kind.encode(), topic.encode(), key, transfer.encode(), str(part).encode(), str(parts).encode(), value):
        out += str(len(field)).encode() + b":" + field
    return out


def signature(key, kind, topic, msg_key, transfer, value, part=0, parts=1):
    key_id, secret = key
    mac = hmac.new(secret, material(kind, topic, msg_key, transfer, part, parts, value), hashlib.sha256).hexdigest()
    return f"{key_id}:{mac}".encode()


def job_json(cluster, job, node, user, uid, gid, nodes=1, exit_code=0, instance=None):
    j = {"id": job, "user": user, "uid": uid, "gid": gid, "node": node, "cluster": cluster, "nodes": nodes,
         "exit_code": exit_code}
    if instance:
        j["instance"] = instance
    return j


def open_message(topic, cluster, job, node, user, uid, gid, nodes=1, key=None, tid=None, instance=None):
    """(headers, value) of a transfer's open message, signed with `key` ((id, secret)) if given."""
    tid = tid or transfer_id(cluster, job, node, instance)
    value = json.dumps({"version": VERSION, "transfer_id": tid,
                        "job": job_json(cluster, job, node, user, uid, gid, nodes, instance=instance)}).encode()
    headers = identity("open", cluster, job, node, user, tid=tid, instance=instance)
    if key:
        headers.append(("ks.sig", signature(key, "open", topic, message_key(cluster, job, node), tid, value)))
    return headers, value


def manifest_headers(topic, cluster, job, node, user, value, key=None, tid=None, part=0, parts=1, instance=None):
    tid = tid or transfer_id(cluster, job, node, instance)
    headers = identity("manifest", cluster, job, node, user, tid=tid, instance=instance)
    headers += [("ks.part", str(part).encode()), ("ks.parts", str(parts).encode())]
    if key:
        headers.append(("ks.sig", signature(key, "manifest", topic, message_key(cluster, job, node), tid, value,
                                            part, parts)))
    return headers


def sign_spool_entry(entry_dir, key=None):
    """Writes transfer.sig for a spool entry's transfer.json, as the node's push does (a test that edits an entry
    plays the node that wrote it)."""
    key = key or load_key()
    with open(os.path.join(entry_dir, "transfer.json"), "rb") as f:
        text = f.read()
    e = json.loads(text)
    ident = e["identity"]
    sig = signature(key, "spool", e["topic"], message_key(ident["cluster"], ident["job"], ident["node"]),
                    ident["transfer_id"], text)
    with open(os.path.join(entry_dir, "transfer.sig"), "wb") as f:
        f.write(sig + b"\n")


def test_vector():
    """The known-answer vector shared with tests/unit/signature_test.cpp."""
    key = ("k1", bytes(range(32)))
    return signature(key, "open", "t-topic", b"c/42/n1", "0123456789abcdef0123456789abcdef", b'{"x":1}')


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "sign-spool":
        sign_spool_entry(sys.argv[2])
    else:
        print(test_vector().decode())
