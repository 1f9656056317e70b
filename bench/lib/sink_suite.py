"""The sink against its peers on (a), (b) and (c), on a topic pre-filled by one push: ConsumerPerformance, kcat -C
persisting what it reads (or cp -r for (c)'s many files), the sink not verifying, and BENCH_BEFORE's sink, taking
turns in every run."""
import contextlib
import math

from . import ours, peers
from .context import log
from .measure import balanced_ratio, median, paired_ratio, present
from .suite import BEFORE, MIB, UNSIGNED, cores_busy, in_turns, per_gib
from .table import Row

PERSIST = "kcat -C -> file, synced"  # a consumer that persists what it reads, and nothing more
SINK_UNVERIFIED = "sink, not verifying"  # stream.auth=none: what checking signatures costs the sink
OUR_SINKS = {"sink", SINK_UNVERIFIED, f"sink, {BEFORE}"}


def run(bench, w):
    ctx = bench.ctx
    prefilled = bench.attempt(f"({w.key}) pre-filling a topic for the sink", ours.prefill, ctx, w)
    if not prefilled:
        return
    topic, job = prefilled
    # The older build's sink reads what the older push wrote (the wire format may have changed in between).
    before_topic = None
    if bench.before:
        got_before = bench.attempt(f"({w.key}) pre-filling a topic for the sink, {BEFORE}", ours.prefill,
                                   bench.before, w)
        before_topic, before_job = got_before if got_before else (None, None)
    try:
        messages = ctx.topics.end_offset(topic)
        # Unmeasured, so that no measured tool is the first reader of the freshly written log. Even so, the
        # first sink run on a topic took 1.3x-2.5x its later runs, for a reason not found yet (not the broker's
        # write-back: a sync after the pre-fill did not change it), which in a short run (BENCH_RUNS=3) decided
        # the per-run ratios of whichever tool came first: so each sink also runs once, unmeasured, on its topic.
        bench.attempt(f"({w.key}) reading the pre-filled topic once", peers.read_topic, ctx, topic, messages)
        # (c)'s 20,000 output files of each run, the warm-ups' and BENCH_BEFORE's included (its context shares
        # ctx's outputs), are removed only after the last run (Context.keeping_outputs): removing them at once made
        # the next file creations slow (ext4's recently_deleted(), see the notes), which cost (c)'s first measured
        # sink 3x when its warm-up's outputs went right before it.
        keep = ctx.keeping_outputs() if w.key == "c" else contextlib.nullcontext()
        tools = [("sink", lambda: ours.sink(ctx, w, topic, job)),
                 ("ConsumerPerformance", lambda: peers.consumer_performance(ctx, topic, messages))]
        if w.key in "ac":  # the signature's cost: the same sink not verifying
            tools.append((SINK_UNVERIFIED, lambda: ours.sink(ctx, w, topic, job, extra=UNSIGNED)))
        if w.key in "ab":  # the least a consumer that persists what it reads does: the disk's share
            tools.append((PERSIST, lambda: peers.kcat_consume_to_file(ctx, w, topic, messages)))
        else:  # the floor for persisting many small files: no Kafka at all
            tools.append(("cp -r + sync -f", lambda: peers.copy_tree(ctx, w)))
        if before_topic:
            tools.append((f"sink, {BEFORE}", lambda: ours.sink(bench.before, w, before_topic, before_job)))
        got = {name: [None] * bench.runs for name, _ in tools}
        block = sum(name in OUR_SINKS for name, _ in tools)
        with keep:
            bench.attempt(f"({w.key}) sink warm-up (not measured)", ours.sink, ctx, w, topic, job)
            if before_topic:
                bench.attempt(f"({w.key}) sink warm-up, {BEFORE} (not measured)", ours.sink, bench.before, w,
                              before_topic, before_job)
            for r in range(bench.runs):
                log(f"({w.key}) sink run {r + 1}/{bench.runs} ({messages} messages)")
                for name, measure in in_turns(tools, r, OUR_SINKS):
                    got[name][r] = bench.attempt(f"({w.key}) {name}", bench.with_broker_cpu, measure)
                    log(f"({w.key}) {name}: {got[name][r]}")
    finally:
        ctx.topics.delete(topic)
        if before_topic:
            ctx.topics.delete(before_topic)
    mine, cp = got["sink"], got["ConsumerPerformance"]
    if bench.before:
        size, unit = (w.bytes / MIB, "MiB/s") if w.key in "ab" else (w.files, "/s")
        bench.before_row(f"({w.key}) sink {'throughput, durable' if w.key in 'ab' else 'files/s, durable'}",
                         [size / s.seconds if s else None for s in mine],
                         [size / s.seconds if s else None for s in got.get(f"sink, {BEFORE}", [None] * bench.runs)],
                         unit, block)
    if w.key in "ab":
        mib_s = [w.bytes / MIB / s.seconds if s else None for s in mine]
        cp_mib_s = [c.mib_per_s if c else None for c in cp]
        kc_mib_s = [k.mib_per_s if k else None for k in got[PERSIST]]
        bench.rows.append(Row(f"({w.key}) sink throughput, durable", median(present(mib_s)),
                              median(present(cp_mib_s)), "MiB/s", "ConsumerPerformance", ">= 0.9x",
                              ratio_min=0.9, paired=paired_ratio(mib_s, cp_mib_s)))
        # Below 0.9x ConsumerPerformance, this floor shows that no consumer persisting the bytes meets the
        # target in this run: what the disk took, not the sink.
        floor = paired_ratio(kc_mib_s, cp_mib_s)
        bench.rows.append(Row(f"({w.key}) floor: {PERSIST}", median(present(kc_mib_s)), median(present(cp_mib_s)),
                              "MiB/s", "ConsumerPerformance", ">= 0.9x possible?", paired=floor,
                              verdict="-" if math.isnan(floor) else "yes" if floor >= 0.9
                              else "no, target impossible"))
        bench.rows.append(Row(f"({w.key}) sink throughput, durable", median(present(mib_s)),
                              median(present(kc_mib_s)), "MiB/s", PERSIST, "(close to the floor)",
                              paired=paired_ratio(mib_s, kc_mib_s), verdict="(for comparison)"))
        # CPU per GiB of the sink and its peers, the broker's share, and whether the two cores were the limit.
        gib = w.bytes / (1 << 30)
        cpu = {name: per_gib(got[name], "cpu_s", gib) for name in ("sink", "ConsumerPerformance", PERSIST)}
        for peer in ("ConsumerPerformance", PERSIST):
            bench.rows.append(Row(f"({w.key}) sink CPU per GiB", median(present(cpu["sink"])),
                                  median(present(cpu[peer])), "s", peer, "(lower is less)",
                                  paired=paired_ratio(cpu["sink"], cpu[peer]), verdict="(for comparison)"))
        broker = {name: per_gib(got[name], "broker_cpu_s", gib) for name in ("sink", PERSIST)}
        bench.rows.append(Row(f"({w.key}) broker CPU per GiB, serving", median(present(broker["sink"])),
                              median(present(broker[PERSIST])), "s", PERSIST, "(lower is less)",
                              paired=paired_ratio(broker["sink"], broker[PERSIST]), verdict="(for comparison)"))
        busy = {"sink": cores_busy(mine, lambda x: x.seconds),
                PERSIST: cores_busy(got[PERSIST], lambda x: w.bytes / MIB / x.mib_per_s)}
        bench.rows.append(Row(f"({w.key}) sink: two cores busy", median(present(busy["sink"])),
                              median(present(busy[PERSIST])), "%", PERSIST, "(100: CPU-bound)",
                              paired=paired_ratio(busy["sink"], busy[PERSIST]), verdict="(for comparison)"))
    else:
        files_s = [w.files / s.seconds if s else None for s in mine]
        copy_s = [w.files / c if c else None for c in got["cp -r + sync -f"]]
        bench.rows.append(Row(f"({w.key}) sink files/s, durable", median(present(files_s)),
                              median([c.msgs_per_s for c in present(cp)]), "/s", "ConsumerPerformance msgs",
                              ">= 3,000 files/s", absolute_min=3000))
        # What persisting these files costs here without Kafka: cp -r of the tree, then one syncfs.
        cp_rate = median(present(copy_s))
        bench.rows.append(Row(f"({w.key}) floor: cp -r + sync -f files/s", cp_rate, 3000, "/s", "target",
                              "(for comparison)", verdict="cp -r reaches the target" if cp_rate >= 3000
                              else "cp -r is below the target"))
        bench.rows.append(Row(f"({w.key}) sink files/s, durable", median(present(files_s)), cp_rate, "/s",
                              "cp -r + sync -f", "(for comparison)", paired=paired_ratio(files_s, copy_s),
                              verdict="(for comparison)"))
    if w.key in "ac":
        size = w.bytes / MIB if w.key == "a" else w.files
        verified = [size / s.seconds if s else None for s in mine]
        unverified = [size / s.seconds if s else None for s in got[SINK_UNVERIFIED]]
        bench.rows.append(Row(f"({w.key}) sink, verifying signatures", median(present(verified)),
                              median(present(unverified)), "MiB/s" if w.key == "a" else "/s", SINK_UNVERIFIED,
                              ">= 0.98x (signature < 2%)", ratio_min=0.98,
                              paired=balanced_ratio(verified, unverified, block)))
    bench.rows.append(Row(f"({w.key}) sink peak RSS",
                          max((s.max_rss_kib for s in present(mine)), default=math.nan) / 1024,
                          128, "MiB", "limit", "<= 128 MiB", absolute_max=128))
