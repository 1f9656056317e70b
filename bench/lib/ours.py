"""Our tools: kafka-stream-push alone, kafka-stream-sink alone on a pre-filled topic, and both together."""
from dataclasses import dataclass
import itertools
import os
import time

from .context import success_marker
from .measure import Background, CommandFailed, children_cpu_s, run_timed, wait_for, warm_page_cache

_jobs = itertools.count(1)


@dataclass
class Sample:
    seconds: float
    max_rss_kib: int = 0
    cpu_s: float = None  # user + system CPU seconds of the process (all its threads), where measured
    broker_cpu_s: float = None  # the broker's CPU seconds during the measurement, where measured


def _job_id():
    return f"bench{os.getpid()}-{next(_jobs)}"


def topic_for(ctx, what):
    return ctx.topics.fresh(what)


def push_argv(ctx, workload, topic, job_id, spool, extra=(), conf=None):
    """conf: a site config of the harness (ks-node's, SASL_SSL) instead of the open listener; it signs with the
    bench's key all the same, so that the same sink can verify what either push sent."""
    if conf:
        where = ["--config", conf, "-X", f"stream.auth.key.file={ctx.secure.auth_key}"]
    else:
        where = ["--config", ctx.site_config, "-X", f"bootstrap.servers={ctx.bootstrap}"]
    argv = [ctx.push, *where, *extra]
    # The real path: the push never follows a symlink, and BENCH_CACHE may be one or lie below one.
    return argv + ["--topic", topic, "--job-id", job_id, "--cluster", "bench", "--node", "n1", "--nodes", "1",
                   "--spool", spool, "--timeout", "3600", os.path.realpath(workload.tree)]


def sink_argv(ctx, topic, output, verbose=False, extra=(), conf=None):
    """conf: a site config of the harness (ks-sink's, SASL_SSL; its ACL allows the groups of ctx.secure's prefix),
    verifying with the bench's key like the push (push_argv)."""
    if conf:
        where = ["--config", conf, "-X", f"stream.auth.key.file={ctx.secure.auth_key}"]
        group = f"{ctx.secure.group_prefix}-{topic}-{next(_jobs)}"
    else:
        where = ["--config", ctx.site_config, "-X", f"bootstrap.servers={ctx.bootstrap}"]
        group = f"g-{topic}-{next(_jobs)}"
    return [ctx.sink, *where, *extra, "--topic", topic, "--group", group, "--output", output, "--exit-when-idle", "2",
            *(["-v"] if verbose else [])]


def push(ctx, workload, topic, job_id=None, extra=(), preload=None, conf=None):
    """Wall time of the whole push process (start-up, walk, SHA-256, every message confirmed) and its peak RSS.

    preload: a shared object for LD_PRELOAD (the checksum-off shim of one comparison row); conf: see push_argv."""
    spool = ctx.fresh_dir("spool")
    warm_page_cache(workload.tree)
    env = dict(os.environ, LD_PRELOAD=preload) if preload else None
    cpu = children_cpu_s()
    wall, rss, _ = run_timed(push_argv(ctx, workload, topic, job_id or _job_id(), spool, extra, conf), env=env)
    return Sample(wall, rss, children_cpu_s() - cpu)


def prefill(ctx, workload):
    """A topic holding one pushed transfer of the workload; returns (topic, job id)."""
    topic, job = topic_for(ctx, f"sink-{workload.key}"), _job_id()
    push(ctx, workload, topic, job)
    return topic, job


def _patience(workload):
    """How long to wait for a transfer before calling it stuck: a minute plus 1 s per 10 MiB."""
    return 60 + workload.bytes / (10 << 20)


def sink(ctx, workload, topic, job_id, extra=(), conf=None):
    """Sink start to the job's _SUCCESS (every file verified, fsynced, renamed); peak RSS of the whole run.

    A fresh consumer group each time, so every run reads the pre-filled topic from the start. conf: see sink_argv."""
    out = ctx.fresh_dir("sink-out")
    proc = Background(sink_argv(ctx, topic, out, extra=extra, conf=conf),
                      stderr_path=os.path.join(ctx.scratch, "sink.log"))
    try:
        done = wait_for(lambda: success_marker(out, job_id) or not proc.running(), timeout=_patience(workload),
                        what="the sink's _SUCCESS")
        if not success_marker(out, job_id):
            raise CommandFailed(f"sink exited without finishing: see {ctx.scratch}/sink.log")
        seconds = done - proc.start
        if proc.wait(timeout=_patience(workload)) != 0:
            raise CommandFailed(f"sink exited with {proc.returncode}: see {ctx.scratch}/sink.log")
        # CPU until it exits (2 s idle after _SUCCESS, polling: next to nothing).
        return Sample(seconds, proc.max_rss_kib, proc.cpu_s)
    finally:
        proc.stop()
        ctx.remove_output(out)


def end_to_end(ctx, workload, *, sink_already_running=True, push_extra=()):
    """Push start (the job's end) to every file durable at the sink.

    With sink_already_running the sink is a service that has joined its group before the job ends (the deployment);
    otherwise sink and push start together (how the Python pipeline is timed)."""
    topic, job, out = topic_for(ctx, f"e2e-{workload.key}"), _job_id(), ctx.fresh_dir("e2e-out")
    log_path = os.path.join(ctx.scratch, "e2e-sink.log")
    spool = ctx.fresh_dir("spool")
    sink_proc = push_proc = None
    try:
        warm_page_cache(workload.tree)
        start = time.monotonic()
        sink_proc = Background(sink_argv(ctx, topic, out, verbose=True), stderr_path=log_path)
        if sink_already_running:
            wait_for(lambda: "assigned" in open(log_path, errors="replace").read() or not sink_proc.running(),
                     timeout=120, interval=0.02, what="the sink's partition assignment")
            start = time.monotonic()
        push_proc = Background(push_argv(ctx, workload, topic, job, spool, push_extra))
        done = wait_for(lambda: success_marker(out, job) or not sink_proc.running(), timeout=_patience(workload),
                        what="the sink's _SUCCESS")
        if not success_marker(out, job):
            raise CommandFailed(f"sink exited without finishing: see {log_path}")
        if push_proc.wait(timeout=_patience(workload)) != 0:
            raise CommandFailed(f"push exited with {push_proc.returncode}")
        return Sample(done - start, sink_proc.max_rss_kib)
    finally:
        for p in (push_proc, sink_proc):
            if p:
                p.stop()
        ctx.remove_output(out)
        ctx.topics.delete(topic)
