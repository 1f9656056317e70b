"""The push against its peers on (a), (b) and (c): ProducerPerformance, kcat (also within the push's memory bound,
and beside openssl's SHA-256 of the same bytes), the push with its checksum stubbed out, unsigned, and
BENCH_BEFORE's push, taking turns in every run."""
import math

from . import ours, peers
from .context import log
from .measure import balanced_ratio, build_shared_object, median, paired_ratio, present
from .suite import BEFORE, MIB, UNSIGNED, cores_busy, in_turns, per_gib
from .table import Row

PUSH_QUEUE_MIB = 32  # kafka-stream-push's default queue.buffering.max.kbytes (32768)
KCAT_Q = f"kcat, {PUSH_QUEUE_MIB} MiB queue"  # kcat within the push's memory bound
PUSH_NO_SHA = "push, SHA-256 stubbed out"  # bench/checksum_off_shim.c: what the push costs besides its checksum
SHA = " + openssl sha256"  # appended to a kcat variant: it also does the push's checksum (the push's work)
PUSH_UNSIGNED = "push, unsigned"  # stream.auth=none: what the signature costs the push
OUR_PUSHES = {"push", PUSH_UNSIGNED, f"push, {BEFORE}"}  # our variants, which take turns as one block (in_turns)


def run(bench, w):
    ctx = bench.ctx
    tools = [("push", "push", lambda t: ours.push(ctx, w, t)),
             ("ProducerPerformance", "pp", lambda t: peers.producer_performance(ctx, w, t)),
             ("kcat", "kcat", lambda t: peers.kcat(ctx, w, t))]
    if w.key in "ab":  # kcat within the push's memory bound as well as at its default 1 GiB queue
        tools.append((KCAT_Q, "kcat-q", lambda t: peers.kcat(ctx, w, t, queue_kib=PUSH_QUEUE_MIB * 1024)))
        # Each kcat again, plus the SHA-256 of every byte that the push computes for the manifest and kcat does not.
        tools.append(("kcat" + SHA, "kcat-sha", lambda t: peers.kcat(ctx, w, t, checksum=True)))
        tools.append((KCAT_Q + SHA, "kcat-q-sha",
                      lambda t: peers.kcat(ctx, w, t, queue_kib=PUSH_QUEUE_MIB * 1024, checksum=True)))
        # The push with OpenSSL's EVP_DigestUpdate replaced by a no-op (LD_PRELOAD): everything but the checksum.
        shim = build_shared_object(ctx.scratch, "checksum_off_shim.c")
        tools.append((PUSH_NO_SHA, "push-nosha", lambda t: ours.push(ctx, w, t, preload=shim)))
    if w.key in "ac":  # the signature's cost: the same push sending unsigned transfers
        tools.append((PUSH_UNSIGNED, "push-unsigned", lambda t: ours.push(ctx, w, t, extra=UNSIGNED)))
    if bench.before:
        tools.append((f"push, {BEFORE}", "push-before", lambda t: ours.push(bench.before, w, t)))
    got = {name: [None] * bench.runs for name, _, _ in tools}  # per run, None where it failed
    block = sum(name in OUR_PUSHES for name, _, _ in tools)
    # Unmeasured: a broker just started (or idle) is slower for its first gigabytes (JIT, page cache), and that
    # used to be the push's share, as it ran first.
    log(f"({w.key}) broker warm-up (kcat, not measured)")
    bench.attempt(f"({w.key}) broker warm-up", bench.in_fresh_topic, w, "warm-up", lambda t: peers.kcat(ctx, w, t))
    for r in range(bench.runs):
        log(f"({w.key}) push run {r + 1}/{bench.runs}")
        # Each run starts with the next tool, so no tool always follows the same one: a figure depends on what
        # the broker did just before (the previous 2 GiB still being written back, deleted, collected).
        for name, topic_tag, measure in in_turns(tools, r, OUR_PUSHES):
            s = bench.attempt(f"({w.key}) {name}", bench.in_fresh_topic, w, topic_tag,
                              lambda t, measure=measure: bench.with_broker_cpu(measure, t))
            if s:
                log(f"({w.key}) {name}: {s}")  # every sample, so the spread behind a median can be seen
                got[name][r] = s
    mib = w.bytes / MIB
    mine = present(got["push"])
    if w.key in "ab":
        ours_mib = [mib / s.seconds if s else None for s in got["push"]]
        no_sha = [mib / s.seconds if s else None for s in got[PUSH_NO_SHA]]
        rates = {name: [x.mib_per_s if x else None for x in got[name]] for name, _, _ in tools[1:]
                 if name not in (PUSH_NO_SHA, PUSH_UNSIGNED, f"push, {BEFORE}")}
        bench.rows.append(Row(f"({w.key}) push throughput", median(present(ours_mib)),
                              median(present(rates["ProducerPerformance"])), "MiB/s", "ProducerPerformance",
                              ">= 0.9x", ratio_min=0.9, paired=paired_ratio(ours_mib, rates["ProducerPerformance"])))
        for kc in ("kcat", KCAT_Q):
            bench.rows.append(Row(f"({w.key}) push throughput", median(present(ours_mib)),
                                  median(present(rates[kc])), "MiB/s", kc, ">= 1x", ratio_min=1.0,
                                  paired=paired_ratio(ours_mib, rates[kc])))
            # Can anything that checksums every byte, as the push must, send as fast as this kcat here?
            floor_ratio = paired_ratio(rates[kc + SHA], rates[kc])
            bench.rows.append(Row(f"({w.key}) floor: {kc + SHA}", median(present(rates[kc + SHA])),
                                  median(present(rates[kc])), "MiB/s", kc, ">= 1x possible?", paired=floor_ratio,
                                  verdict="-" if math.isnan(floor_ratio) else "yes" if floor_ratio >= 1.0
                                  else "no, not kcat with a checksum"))
            # How close the push comes to that floor (the same work as two programs on the two cores).
            bench.rows.append(Row(f"({w.key}) push throughput", median(present(ours_mib)),
                                  median(present(rates[kc + SHA])), "MiB/s", kc + SHA, "(same work)",
                                  paired=paired_ratio(ours_mib, rates[kc + SHA]), verdict="(for comparison)"))
            # The push without its checksum against the same kcat: how much of the gap the checksum is.
            bench.rows.append(Row(f"({w.key}) {PUSH_NO_SHA}", median(present(no_sha)), median(present(rates[kc])),
                                  "MiB/s", kc, "(the checksum's cost)", paired=paired_ratio(no_sha, rates[kc]),
                                  verdict="(for comparison)"))
        # CPU is what the client takes from the broker on these two shared cores: the push's, against kcat's alone
        # and kcat's with openssl's SHA-256 of the same bytes (the push's work done by two programs).
        gib = w.bytes / (1 << 30)
        cpu = {name: [x.cpu_s / gib if x else None for x in got[name]]
               for name in ("push", PUSH_NO_SHA, "kcat", "kcat" + SHA)}
        for figure, name, kc in (("push CPU per GiB sent", "push", "kcat"),
                                 ("push CPU per GiB sent", "push", "kcat" + SHA),
                                 (f"{PUSH_NO_SHA}: CPU per GiB", PUSH_NO_SHA, "kcat")):
            bench.rows.append(Row(f"({w.key}) {figure}", median(present(cpu[name])), median(present(cpu[kc])), "s",
                                  kc, "(lower is less)", paired=paired_ratio(cpu[name], cpu[kc]),
                                  verdict="(for comparison)"))
        # The broker's share, and whether the two cores were the limit (CPU) or the client waited.
        broker = {name: per_gib(got[name], "broker_cpu_s", gib) for name in ("push", KCAT_Q)}
        bench.rows.append(Row(f"({w.key}) broker CPU per GiB, receiving", median(present(broker["push"])),
                              median(present(broker[KCAT_Q])), "s", KCAT_Q, "(lower is less)",
                              paired=paired_ratio(broker["push"], broker[KCAT_Q]), verdict="(for comparison)"))
        busy = {"push": cores_busy(got["push"], lambda x: x.seconds),
                KCAT_Q: cores_busy(got[KCAT_Q], lambda x: mib / x.mib_per_s)}
        bench.rows.append(Row(f"({w.key}) push: two cores busy", median(present(busy["push"])),
                              median(present(busy[KCAT_Q])), "%", KCAT_Q, "(100: CPU-bound)",
                              paired=paired_ratio(busy["push"], busy[KCAT_Q]), verdict="(for comparison)"))
        # The fastest anyone put these bytes into Kafka here: no end-to-end pipeline can finish sooner.
        best = [median(present(v)) for v in [ours_mib, *rates.values()]]
        best = [b for b in best if not math.isnan(b)]
        if best:
            bench.produce_floor_s[w.key] = mib / max(best)
    else:
        files_s = median([w.files / s.seconds for s in mine])
        bench.rows.append(Row(f"({w.key}) push files/s", files_s, median([p.msgs_per_s for p in present(
            got["ProducerPerformance"])]), "/s", "ProducerPerformance msgs", ">= 5,000 files/s", absolute_min=5000))
        bench.rows.append(Row(f"({w.key}) push files/s", files_s, median([k.msgs_per_s for k in present(
            got["kcat"])]), "/s", "kcat msgs", ">= 5,000 files/s", absolute_min=5000))
    if w.key in "ac":
        rate = (lambda s: mib / s.seconds) if w.key == "a" else (lambda s: w.files / s.seconds)
        signed = [rate(s) if s else None for s in got["push"]]
        unsigned = [rate(s) if s else None for s in got[PUSH_UNSIGNED]]
        bench.rows.append(Row(f"({w.key}) push, signed", median(present(signed)), median(present(unsigned)),
                              "MiB/s" if w.key == "a" else "/s", PUSH_UNSIGNED, ">= 0.98x (signature < 2%)",
                              ratio_min=0.98, paired=balanced_ratio(signed, unsigned, block)))
    if bench.before:
        rate = (lambda s: mib / s.seconds) if w.key in "ab" else (lambda s: w.files / s.seconds)
        bench.before_row(f"({w.key}) push {'throughput' if w.key in 'ab' else 'files/s'}",
                         [rate(s) if s else None for s in got["push"]],
                         [rate(s) if s else None for s in got[f"push, {BEFORE}"]], "MiB/s" if w.key in "ab" else "/s",
                         block)
    if w.key == "a":
        limit = 64 + PUSH_QUEUE_MIB
        bench.rows.append(Row("(a) push peak RSS", max((s.max_rss_kib for s in mine), default=math.nan) / 1024,
                              limit, "MiB", f"limit 64 + queue {PUSH_QUEUE_MIB}", f"<= {limit} MiB",
                              absolute_max=limit))
