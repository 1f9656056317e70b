"""The peers, measured in the same run: Apache Kafka's perf tools, kcat, the Python pipeline, cp -r."""
from dataclasses import dataclass
import os
import re
import subprocess
import time

from .measure import Background, CommandFailed, children_cpu_s, files_in, run_timed, warm_page_cache

MIB = 1 << 20
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Rate:
    mib_per_s: float
    msgs_per_s: float
    cpu_s: float = None  # user + system CPU seconds of the client's processes, where measured
    broker_cpu_s: float = None  # the broker's CPU seconds during the measurement, where measured


def producer_performance(ctx, workload, topic):
    """ProducerPerformance with our record size and acks=all: its own final figures (JVM start-up excluded)."""
    records = -(-workload.bytes // workload.record_bytes)
    argv = ctx.java("org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", str(records),
                    "--record-size", str(workload.record_bytes), "--throughput", "-1",
                    "--producer-props", "acks=all", f"bootstrap.servers={ctx.bootstrap}")
    out = subprocess.run(argv, capture_output=True, text=True)
    final = [l for l in out.stdout.splitlines() if l.startswith(f"{records} records sent")]
    m = final and re.search(r"([\d.]+) records/sec \(([\d.]+) MB/sec\)", final[-1])
    if out.returncode != 0 or not m:
        raise CommandFailed(f"ProducerPerformance: {out.stderr.strip()[-1000:] or out.stdout.strip()[-1000:]}")
    return Rate(float(m.group(2)), float(m.group(1)))


def consumer_performance(ctx, topic, messages):
    """ConsumerPerformance reading `messages` records with a fresh group: MB.sec (group join included, like ours)."""
    argv = ctx.java("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", ctx.bootstrap,
                    "--topic", topic, "--messages", str(messages), "--group", f"g-cp-{topic}-{time.time_ns()}",
                    "--timeout", "120000")
    cpu = children_cpu_s()
    out = subprocess.run(argv, capture_output=True, text=True)
    cpu = children_cpu_s() - cpu  # the whole JVM's, start-up and JIT included
    lines = [l for l in out.stdout.splitlines() if l and l[0].isdigit()]
    if out.returncode != 0 or not lines:
        raise CommandFailed(f"ConsumerPerformance: {out.stderr.strip()[-1000:] or out.stdout.strip()[-1000:]}")
    cols = [c.strip() for c in lines[-1].split(",")]
    # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, ...
    if int(cols[4]) < messages:
        raise CommandFailed(f"ConsumerPerformance read {cols[4]} of {messages} messages")
    return Rate(float(cols[3]), float(cols[5]), cpu)


def kcat(ctx, workload, topic, queue_kib=None, checksum=False):
    """kcat sending the workload's bytes as messages of the push's chunk size (one file argument per message).

    queue_kib: librdkafka's queue.buffering.max.kbytes; kcat's default is librdkafka's, 1 GiB (the push's is 32 MiB),
    so at its default kcat may read up to 1 GiB ahead of the broker. checksum: `openssl dgst -sha256` (the push's SHA-256,
    OpenSSL's, with the CPU's SHA instructions; coreutils' sha256sum is 4x slower here) hashes the workload's files
    while kcat runs, and the time is until both are done: the least work of a producer that checksums what it sends,
    as the push does (kcat alone sends unchecked bytes)."""
    base, rel = _pieces(workload)
    queue = ["-X", f"queue.buffering.max.kbytes={queue_kib}"] if queue_kib else []
    argv = ["kcat", "-P", "-b", ctx.bootstrap, "-t", topic, "-X", "acks=all", "-X", "enable.idempotence=true", *queue,
            *rel]
    warm_page_cache(*workload.pieces)
    if checksum:
        warm_page_cache(workload.tree)
    cpu, start = children_cpu_s(), time.monotonic()
    hasher = Background(["openssl", "dgst", "-sha256", *files_in(workload.tree)]) if checksum else None
    _, _, err = run_timed(argv, cwd=base)
    if hasher and hasher.wait(timeout=600) != 0:
        raise CommandFailed(f"openssl dgst exited with {hasher.returncode}")
    wall = time.monotonic() - start
    if "ERROR" in err:
        raise CommandFailed(f"kcat: {err.strip()[-1000:]}")
    delivered = ctx.topics.end_offset(topic)
    if delivered != len(rel):
        raise CommandFailed(f"kcat delivered {delivered} of {len(rel)} messages")
    return Rate(workload.bytes / MIB / wall, len(rel) / wall, children_cpu_s() - cpu)


def kcat_pipeline(ctx, workload, topic):
    """The simplest pipeline through Kafka: kcat -C (assigned the partition, reading from the start, values appended
    to one file) running before kcat -P sends the workload's pieces, then sync -f of that file. Seconds from kcat -P's
    start to the file durable: no pipeline through this broker that also persists the bytes can be faster here."""
    base, rel = _pieces(workload)
    out_dir = ctx.fresh_dir("kcat-pipe-out")
    out = os.path.join(out_dir, "values")
    try:
        warm_page_cache(*workload.pieces)
        with open(out, "wb") as sink_file:
            consumer = Background(["kcat", "-C", "-b", ctx.bootstrap, "-t", topic, "-p", "0", "-o", "beginning",
                                   "-c", str(len(rel)), "-q", "-f", "%s"], stdout=sink_file,
                                  stderr_path=os.path.join(ctx.scratch, "kcat-consumer.log"))
        time.sleep(1)  # kcat -C has fetched the empty partition once: the consumer is running, as our sink is
        start = time.monotonic()
        _, _, err = run_timed(["kcat", "-P", "-b", ctx.bootstrap, "-t", topic, "-X", "acks=all",
                               "-X", "enable.idempotence=true", *rel], cwd=base)
        if "ERROR" in err:
            raise CommandFailed(f"kcat -P: {err.strip()[-1000:]}")
        if consumer.wait(timeout=600) != 0:
            raise CommandFailed(f"kcat -C exited with {consumer.returncode}")
        run_timed(["sync", "-f", out])
        seconds = time.monotonic() - start
        if os.path.getsize(out) != workload.bytes:
            raise CommandFailed(f"kcat -C wrote {os.path.getsize(out)} of {workload.bytes} bytes")
        return seconds
    finally:
        ctx.remove_output(out_dir)


# kcat -C tuned for throughput: librdkafka 2.0.2 pauses a partition's fetch while its prefetch queue is full and
# looks again only once a second (what the sink's fetch kick works around), so the queue holds a whole workload, and
# fetches are large: 1.0x-1.7x the MiB/s of librdkafka's defaults on (a) here (3 runs).
KCAT_FAST_FETCH = ("-X", "queued.max.messages.kbytes=2097151", "-X", "fetch.max.bytes=104857600",
                   "-X", "fetch.message.max.bytes=16777216")


def kcat_consume_to_file(ctx, workload, topic, messages):
    """kcat -C reading a pre-filled topic's partition from the start (assigned, no group), every value appended to one
    file, then sync -f of it: seconds from kcat's start to the file durable, as MiB/s of the workload. The least a
    consumer that persists what it reads must do (ConsumerPerformance writes nothing); the sink also joins a group,
    verifies checksums, writes many files and commits offsets."""
    out_dir = ctx.fresh_dir("kcat-c-out")
    out = os.path.join(out_dir, "values")
    try:
        cpu, start = children_cpu_s(), time.monotonic()
        with open(out, "wb") as sink_file:
            run_timed(_kcat_values(ctx, topic, messages), stdout=sink_file)
        run_timed(["sync", "-f", out])
        seconds = time.monotonic() - start
        if os.path.getsize(out) < workload.bytes:  # the values are the chunks' bytes, plus the manifest
            raise CommandFailed(f"kcat -C wrote {os.path.getsize(out)} of {workload.bytes} bytes")
        return Rate(workload.bytes / MIB / seconds, messages / seconds, children_cpu_s() - cpu)
    finally:
        ctx.remove_output(out_dir)


def read_topic(ctx, topic, messages):
    """kcat -C reading the partition from the start, values thrown away: brings a topic's log back into memory."""
    subprocess.run(_kcat_values(ctx, topic, messages), stdout=subprocess.DEVNULL, check=True, timeout=600)


def _kcat_values(ctx, topic, messages):
    """kcat -C printing the values of the first `messages` messages of partition 0, tuned for throughput."""
    return ["kcat", "-C", "-b", ctx.bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-c", str(messages), "-q",
            "-f", "%s", *KCAT_FAST_FETCH]


def _pieces(workload):
    """(directory, paths relative to it) of the pieces kcat sends, one message each."""
    base = os.path.commonpath(workload.pieces) if len(workload.pieces) > 1 else os.path.dirname(workload.pieces[0])
    return base, [os.path.relpath(p, base) for p in workload.pieces]


def copy_tree(ctx, workload):
    """cp -r of the tree to the output root, then syncfs of that file system (sync -f): the floor for persisting."""
    dest = ctx.fresh_dir("cp-out")
    try:
        warm_page_cache(workload.tree)
        start = time.monotonic()
        run_timed(["cp", "-r", workload.tree, os.path.join(dest, "tree")])
        run_timed(["sync", "-f", dest])
        return time.monotonic() - start
    finally:
        ctx.remove_output(dest)


def csv_slice(path, max_bytes):
    """(lines, bytes) of the longest prefix of whole lines within max_bytes."""
    lines = size = 0
    with open(path, "rb") as f:
        for line in f:
            if size + len(line) > max_bytes:
                break
            lines += 1
            size += len(line)
    return lines, size


def python_pipeline(ctx, workload, lines, topic):
    """kafka-python producer and consumer started together; done when the consumer has written every line."""
    out_dir = ctx.fresh_dir("py-out")
    py = "/usr/bin/python3"
    csv = os.path.join(workload.tree, "data.csv")
    try:
        start = time.monotonic()
        consumer = Background([py, os.path.join(HERE, "python_pipeline", "consumer.py"), ctx.bootstrap, topic,
                               f"g-py-{topic}", os.path.join(out_dir, "data.csv"), str(lines)],
                              stderr_path=os.path.join(ctx.scratch, "py-consumer.log"))
        run_timed([py, os.path.join(HERE, "python_pipeline", "producer.py"), ctx.bootstrap, topic, csv, str(lines)])
        if consumer.wait(timeout=3600) != 0:
            raise CommandFailed(f"python consumer exited with {consumer.returncode}")
        seconds = time.monotonic() - start
        with open(os.path.join(out_dir, "data.csv"), "rb") as f:
            written = sum(1 for _ in f)
        if written != lines:
            raise CommandFailed(f"python consumer wrote {written} of {lines} lines")
        return seconds
    finally:
        ctx.remove_output(out_dir)


def count_lines(path):
    """Lines of a text file (its "\\n" count, plus one for a last line without one)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _kcat_line_messages(ctx, options, path, topic, lines, csv_bytes, what):
    """kcat -P -l (one message per line of `path`), acks=all, idempotent; checks every line arrived. Rate in MiB/s of
    the CSV the lines stand for."""
    argv = ["kcat", "-P", "-l", *options, "-b", ctx.bootstrap, "-t", topic, "-X", "acks=all",
            "-X", "enable.idempotence=true", path]
    warm_page_cache(path)
    wall, _, err = run_timed(argv)
    if "ERROR" in err:
        raise CommandFailed(f"{what}: {err.strip()[-1000:]}")
    delivered = ctx.topics.end_offset(topic)
    if delivered != lines:
        raise CommandFailed(f"{what} delivered {delivered} of {lines} lines")
    return Rate(csv_bytes / MIB / wall, lines / wall)


def kcat_lines(ctx, workload, topic, lines):
    """kcat -l: the CSV sent one line per message (no JSON, no metadata), acks=all, idempotent, into the same
    one-partition topic: the issue's peer for records mode."""
    return _kcat_line_messages(ctx, [], os.path.join(workload.tree, "data.csv"), topic, lines, workload.bytes,
                               "kcat -l")


def csv_head_copy(ctx, workload, max_bytes):
    """A directory holding data.csv cut to the whole lines within max_bytes (a smaller records workload)."""
    lines, size = csv_slice(os.path.join(workload.tree, "data.csv"), max_bytes)
    out = ctx.fresh_dir(f"{workload.key}-head")
    with open(os.path.join(workload.tree, "data.csv"), "rb") as src, open(os.path.join(out, "data.csv"), "wb") as dst:
        dst.write(src.read(size))
    return out, lines, size


def dump_messages(ctx, topic, count, path):
    """Key TAB value of the first `count` messages of a one-partition topic, one per line (records are one-line JSON
    and their key has no tab), for kcat -P -l -K to send them again."""
    with open(path, "wb") as out:
        subprocess.run(["kcat", "-C", "-b", ctx.bootstrap, "-t", topic, "-o", "beginning", "-c", str(count), "-e", "-q",
                        "-f", "%k\t%s\n"], stdout=out, check=True, timeout=3600)
    with open(path, "rb") as f:
        got = sum(1 for _ in f)
    if got != count:
        raise CommandFailed(f"dumped {got} of {count} records of {topic}")


def kcat_keyed_lines(ctx, path, topic, lines, csv_bytes):
    """kcat -l -K sending pre-encoded messages (key TAB value per line) with the push's records settings (lz4,
    acks=all, idempotent): what any producer of exactly these messages can reach. Rate in MiB/s of the CSV."""
    return _kcat_line_messages(ctx, ["-K", "\t", "-z", "lz4"], path, topic, lines, csv_bytes, "kcat -l -K")
