"""Whole pipelines, job end to files durable: push + sink on (a) and (b) against cp -r and kcat -P + kcat -C; and
(d), the CSV in files and records mode against the kafka-python pipeline and kcat sending lines or the push's
records."""
import dataclasses
import math
import os

from . import ours, peers
from .context import log
from .measure import median, paired_ratio, present
from .suite import BEFORE, MIB
from .table import Row

REC_HEAD_MIB = int(os.environ.get("BENCH_REC_HEAD_MIB", "128"))  # CSV head for the records-mode floor rows


def end_to_end(bench, w):
    mine, pipe, floor = [None] * bench.runs, [None] * bench.runs, [None] * bench.runs
    before = [None] * bench.runs
    for r in range(bench.runs):
        log(f"({w.key}) end-to-end run {r + 1}/{bench.runs}")
        # This build and BENCH_BEFORE's take the first place in turn (balanced_ratio).
        for which in ((0, 1) if r % 2 == 0 else (1, 0)) if bench.before else (0,):
            if which == 0:
                s = bench.attempt(f"({w.key}) push + sink", ours.end_to_end, bench.ctx, w)
                mine[r] = s.seconds if s else None
            else:
                s = bench.attempt(f"({w.key}) push + sink, {BEFORE}", ours.end_to_end, bench.before, w)
                before[r] = s.seconds if s else None
        pipe[r] = bench.attempt(f"({w.key}) kcat -P + kcat -C", bench.in_fresh_topic, w, "kcat-pipe",
                                lambda t: peers.kcat_pipeline(bench.ctx, w, t))
        floor[r] = bench.attempt(f"({w.key}) cp -r + sync -f", peers.copy_tree, bench.ctx, w)
        log(f"({w.key}) push + sink {mine[r]}, kcat pipeline {pipe[r]}, cp -r {floor[r]}")
    cp_s = median(present(floor))
    bench.rows.append(Row(f"({w.key}) job end -> files durable", median(present(mine)), cp_s, "s",
                          "cp -r + sync -f", "<= 3x", ratio_max=3.0, paired=paired_ratio(mine, floor)))
    # Floors through Kafka, against cp -r: above 3x, the 3x target cannot be met on this machine by any pipeline
    # through this broker. Producing alone (the fastest producer measured), and the plainest whole pipeline:
    # kcat -P into the topic while kcat -C appends the values to one file, then syncfs.
    produce_s = bench.produce_floor_s.get(w.key, math.nan)
    if not math.isnan(produce_s) and not math.isnan(cp_s):
        bench.rows.append(Row(f"({w.key}) floor: fastest producer alone", produce_s, cp_s, "s",
                              "cp -r + sync -f", "<= 3x possible?", ratio_max=3.0,
                              verdict="no, target impossible" if produce_s / cp_s > 3.0 else "yes"))
    pipe_ratio = paired_ratio(pipe, floor)
    bench.rows.append(Row(f"({w.key}) floor: kcat -P + kcat -C -> file, synced", median(present(pipe)), cp_s, "s",
                          "cp -r + sync -f", "<= 3x possible?", ratio_max=3.0, paired=pipe_ratio,
                          verdict="-" if math.isnan(pipe_ratio) else
                          "no, target impossible" if pipe_ratio > 3.0 else "yes"))
    bench.rows.append(Row(f"({w.key}) job end -> files durable", median(present(mine)), median(present(pipe)), "s",
                          "kcat -P + kcat -C -> file, synced", "(close to the floor)",
                          paired=paired_ratio(mine, pipe), verdict="(for comparison)"))
    if bench.before:
        bench.before_row(f"({w.key}) job end -> files durable", mine, before, "s", 2, lower_is_better=True)


def csv_records(bench, w, py_mib):
    lines, size = peers.csv_slice(os.path.join(w.tree, "data.csv"), py_mib * MIB)
    bench.notes.append(f"(d) the Python pipeline moves the first {lines:,} lines ({size / MIB:.1f} MiB) of the CSV "
                       f"(BENCH_PY_MIB); ours moves the whole {w.bytes / MIB:.0f} MiB, in files mode and in records "
                       "mode (the same JSON lines). All timed from starting producer and "
                       "consumer together to the last line written (Python: no fsync; ours: _SUCCESS, fsynced); "
                       "compared as MiB/s of CSV.")
    csv_lines = peers.count_lines(os.path.join(w.tree, "data.csv"))
    bench.notes.append(f"(d) records mode: push --format records of the whole CSV ({csv_lines:,} lines) against "
                       "kcat -l (each line as a raw message, no JSON) into a one-partition topic; end to end "
                       "(push + sink to _SUCCESS) also on the whole CSV.")
    mine, records, py, rec_push, kc = [], [], [], [], []
    # Per run (None where it failed), this build and BENCH_BEFORE's in the same turns.
    paired = {k: [None] * bench.runs for k in ("files", "records", "rec-push", "files-before", "records-before",
                                               "rec-push-before")}
    # The floor of records mode: the same records (key and JSON value) sent by kcat, on the first
    # BENCH_REC_HEAD_MIB of the CSV (the whole CSV's records would be ~5 GB to dump).
    head_tree, head_lines, head_bytes = peers.csv_head_copy(bench.ctx, w, REC_HEAD_MIB * MIB)
    head = dataclasses.replace(w, tree=head_tree, bytes=head_bytes, pieces=[])
    dump = os.path.join(bench.ctx.scratch, "d-head-records.kv")
    bench.notes.append(f"(d) floor of records mode: on the first {head_lines:,} lines ({head_bytes / MIB:.0f} MiB, "
                       "BENCH_REC_HEAD_MIB) of the CSV, the push --format records, kcat -P -l -K sending exactly the "
                       "records the push produced (key and JSON value, lz4, acks=all, idempotent), and kcat -l "
                       f"sending the raw lines, taking turns, median of {max(5, bench.runs)} runs; MiB/s of CSV.")
    head_push, head_kk, head_kl = [], [], []

    def push_head_and_dump(topic):
        s = ours.push(bench.ctx, head, topic, extra=("--format", "records"))
        if not os.path.exists(dump):
            peers.dump_messages(bench.ctx, topic, head_lines, dump)
        return s

    for r in range(bench.runs):
        log(f"({w.key}) pipeline run {r + 1}/{bench.runs}")
        # This build's three figures, then BENCH_BEFORE's, the two blocks taking the first place in turn.
        builds = [(bench.ctx, "")] + ([(bench.before, "-before")] if bench.before else [])
        for ctx, tag in builds[r % len(builds):] + builds[:r % len(builds)]:
            by = f", {BEFORE}" if tag else ""
            for key, what, fn in (
                    ("files", "push + sink", lambda c=ctx: ours.end_to_end(c, w, sink_already_running=False)),
                    ("records", "push --format records + sink",
                     lambda c=ctx: ours.end_to_end(c, w, sink_already_running=False,
                                                   push_extra=("--format", "records"))),
                    ("rec-push", "push --format records",
                     lambda c=ctx: bench.in_fresh_topic(w, "rec" + tag, lambda t: ours.push(
                         c, w, t, extra=("--format", "records"))))):
                s = bench.attempt(f"(d) {what}{by}", fn)
                paired[key + tag][r] = w.bytes / MIB / s.seconds if s else None
        mine += present([paired["files"][r]])
        records += present([paired["records"][r]])
        rec_push += present([paired["rec-push"][r]])
        s = bench.attempt("(d) kcat -l", bench.in_fresh_topic, w, "kcat-l",
                          lambda t: peers.kcat_lines(bench.ctx, w, t, csv_lines))
        if s:
            kc.append(s.mib_per_s)
        s = bench.attempt("(d) kafka-python pipeline", bench.in_fresh_topic, w, "py",
                          lambda t: peers.python_pipeline(bench.ctx, w, lines, t))
        if s:
            py.append(size / MIB / s)
    # The head figures take a few seconds each: more runs, the three tools taking turns.
    head_tools = [("push --format records", "rec-head", head_push,
                   lambda t: peers.Rate(head_bytes / MIB / push_head_and_dump(t).seconds, 0)),
                  ("kcat sending the push's records", "kcat-rec", head_kk,
                   lambda t: peers.kcat_keyed_lines(bench.ctx, dump, t, head_lines, head_bytes)),
                  ("kcat -l", "kcat-l-head", head_kl, lambda t: peers.kcat_lines(bench.ctx, head, t, head_lines))]
    for r in range(max(5, bench.runs)):
        log(f"({w.key}) head run {r + 1}")
        for name, what, into, fn in head_tools[r % 3:] + head_tools[:r % 3]:
            if what == "kcat-rec" and not os.path.exists(dump):
                continue  # the push has not dumped its records yet
            s = bench.attempt(f"(d) head: {name}", bench.in_fresh_topic, w, what, fn)
            if s:
                into.append(s.mib_per_s)
    bench.rows.append(Row("(d) CSV job end -> file at sink", median(mine), median(py), "MiB/s",
                          "kafka-python JSON lines", ">= 20x", ratio_min=20))
    bench.rows.append(Row("(d) same, push --format records", median(records), median(py), "MiB/s",
                          "kafka-python JSON lines", ">= 20x", ratio_min=20))
    bench.rows.append(Row("(d) push --format records", median(rec_push), median(kc), "MiB/s", "kcat -l",
                          ">= 1x", ratio_min=1.0))
    bench.rows.append(Row(f"(d) head {head_bytes / MIB:.0f} MiB: push --format records", median(head_push),
                          median(head_kk), "MiB/s", "kcat sending the push's records", "~1x (same messages)",
                          ratio_min=0.9))
    floor = Row(f"(d) head {head_bytes / MIB:.0f} MiB floor: kcat sending the push's records", median(head_kk),
                median(head_kl), "MiB/s", "kcat -l", ">= 1x possible?", ratio_min=1.0)
    floor.verdict = "no, target impossible" if floor.ratio < 1.0 else "yes"
    bench.rows.append(floor)
    if bench.before:
        bench.before_row("(d) CSV job end -> file at sink", paired["files"], paired["files-before"], "MiB/s", 2)
        bench.before_row("(d) same, push --format records", paired["records"], paired["records-before"], "MiB/s", 2)
        bench.before_row("(d) push --format records", paired["rec-push"], paired["rec-push-before"], "MiB/s", 2)
    if os.path.exists(dump):
        os.unlink(dump)
