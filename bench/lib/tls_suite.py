"""What TLS costs the push and the sink: (a) over the harness's SASL_SSL listener against its PLAINTEXT one."""
from . import ours
from .context import log
from .measure import median, paired_ratio, present
from .suite import MIB
from .table import Row


def run(bench, w):
    """What TLS costs: the push as ks-node and the sink as ks-sink over the harness's SASL_SSL listener, against
    the same tools over its PLAINTEXT listener, taking turns (no target: the ratio shows the cost)."""
    ctx = bench.ctx
    if not ctx.secure:
        bench.failures.append("tls: the harness's cluster.env names no secured client configs")
        return
    push_tools = [("PLAINTEXT", "tls-plain", lambda t: ours.push(ctx, w, t)),
                  ("SASL_SSL", "tls-sasl", lambda t: ours.push(ctx, w, t, conf=ctx.secure.node_conf))]
    pushed = {name: [None] * bench.runs for name, _, _ in push_tools}
    for r in range(bench.runs):
        log(f"({w.key}) TLS push run {r + 1}/{bench.runs}")
        for name, tag, measure in push_tools[r % 2:] + push_tools[:r % 2]:
            pushed[name][r] = bench.attempt(f"({w.key}) push over {name}", bench.in_fresh_topic, w, tag, measure)
            log(f"({w.key}) push over {name}: {pushed[name][r]}")
    mib, gib = w.bytes / MIB, w.bytes / (1 << 30)
    rate = {n: [mib / s.seconds if s else None for s in v] for n, v in pushed.items()}
    cpu = {n: [s.cpu_s / gib if s else None for s in v] for n, v in pushed.items()}
    bench.rows.append(Row(f"({w.key}) push throughput over SASL_SSL", median(present(rate["SASL_SSL"])),
                          median(present(rate["PLAINTEXT"])), "MiB/s", "push over PLAINTEXT", "(the cost of TLS)",
                          paired=paired_ratio(rate["SASL_SSL"], rate["PLAINTEXT"]), verdict="(for comparison)"))
    bench.rows.append(Row(f"({w.key}) push CPU per GiB over SASL_SSL", median(present(cpu["SASL_SSL"])),
                          median(present(cpu["PLAINTEXT"])), "s", "push over PLAINTEXT", "(the cost of TLS)",
                          paired=paired_ratio(cpu["SASL_SSL"], cpu["PLAINTEXT"]), verdict="(for comparison)"))
    prefilled = bench.attempt(f"({w.key}) pre-filling a topic for the TLS sink runs", ours.prefill, ctx, w)
    if not prefilled:
        return
    topic, job = prefilled
    sink_tools = [("PLAINTEXT", lambda: ours.sink(ctx, w, topic, job)),
                  ("SASL_SSL", lambda: ours.sink(ctx, w, topic, job, conf=ctx.secure.sink_conf))]
    sunk = {name: [None] * bench.runs for name, _ in sink_tools}
    try:
        for r in range(bench.runs):
            log(f"({w.key}) TLS sink run {r + 1}/{bench.runs}")
            for name, measure in sink_tools[r % 2:] + sink_tools[:r % 2]:
                sunk[name][r] = bench.attempt(f"({w.key}) sink over {name}", measure)
                log(f"({w.key}) sink over {name}: {sunk[name][r]}")
    finally:
        ctx.topics.delete(topic)
    rate = {n: [mib / s.seconds if s else None for s in v] for n, v in sunk.items()}
    bench.rows.append(Row(f"({w.key}) sink throughput over SASL_SSL", median(present(rate["SASL_SSL"])),
                          median(present(rate["PLAINTEXT"])), "MiB/s", "sink over PLAINTEXT", "(the cost of TLS)",
                          paired=paired_ratio(rate["SASL_SSL"], rate["PLAINTEXT"]), verdict="(for comparison)"))
    bench.notes.append(f"({w.key}) TLS: the push as ks-node and the sink as ks-sink through the harness's SASL_SSL "
                       "listener (TLS 1.3, an EC P-256 broker certificate, SASL PLAIN; the clients' configs are "
                       "the harness's KS_NODE_CONF and KS_SINK_CONF), against the same tools through its "
                       "PLAINTEXT listener, taking turns; the ratios are medians of per-run ratios.")
