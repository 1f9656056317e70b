"""What every suite shares: the Bench (its tools, runs, and the rows, notes and failures it collects), how tools
take turns in a run, and the figures several suites derive from their samples."""
import os
import traceback

from . import ours
from .context import log
from .measure import balanced_ratio, median, present
from .table import Row

MIB = 1 << 20
UNSIGNED = ("-X", "stream.auth=none")
BEFORE = "before"  # BENCH_BEFORE's build: the tool of an earlier revision, in the same turns
BEFORE_MIN = 0.97  # "no worse than 0.97x of before"


def per_gib(samples, attr, gib):
    """attr (CPU seconds: cpu_s or broker_cpu_s) per GiB of each run's sample, None where not measured."""
    return [getattr(x, attr) / gib if x is not None and getattr(x, attr) is not None else None for x in samples]


def cores_busy(samples, seconds_of):
    """Per run, the share (%) of the two cores that the client and the broker used together: (client CPU + broker
    CPU) / (2 x wall). Near 100 the cores were the limit; well below, the client waited (disk, round trips)."""
    return [100 * (x.cpu_s + x.broker_cpu_s) / (2 * seconds_of(x))
            if x is not None and x.cpu_s is not None and x.broker_cpu_s is not None else None for x in samples]


def in_turns(tools, r, ours):
    """Run r's order of (name, ...) tools: they rotate by r, so no tool always follows the same one. Our variants
    (named in `ours`: this build, unsigned, BENCH_BEFORE's) run back to back as one block, rotating among
    themselves, so each ratio between them compares runs minutes apart and each of them comes first in turn: spread
    over a run, the one that always came last (the broker busier by then) looked 10% slower than its twin."""
    block = [t for t in tools if t[0] in ours]
    slots = [block] + [[t] for t in tools if t[0] not in ours] if block else [[t] for t in tools]
    slots = slots[r % len(slots):] + slots[:r % len(slots)]
    if block:
        k = r % len(block)
        block[:] = block[k:] + block[:k]
    return [t for slot in slots for t in slot]


class Bench:
    def __init__(self, ctx, runs, before=None, before_name=None):
        self.ctx, self.runs = ctx, runs
        self.before, self.before_name = before, before_name  # BENCH_BEFORE: a Context with the older tools, or None
        self.rows, self.notes, self.failures = [], [], []
        self.produce_floor_s = {}  # workload -> seconds of the fastest producer measured (ours or a peer)

    def attempt(self, what, fn, *args, **kwargs):
        """One measurement; a failure is reported and becomes n/a in the table instead of ending the run."""
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - any failure of a measured tool is reported, the run goes on
            self.failures.append(f"{what}: {e}")
            log(f"FAILED {what}: {e}")
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()
            return None

    def with_broker_cpu(self, fn, *args):
        """fn(*args), a Sample or Rate, with the broker's CPU seconds during it."""
        before = self.ctx.broker_cpu_s()
        out = fn(*args)
        after = self.ctx.broker_cpu_s()
        # Not for a bare number of seconds (cp -r + sync -f): only Samples and Rates carry it.
        if hasattr(out, "broker_cpu_s") and before is not None and after is not None:
            out.broker_cpu_s = after - before
        return out

    def before_row(self, figure, mine, before, unit, block, lower_is_better=False):
        """This build against BENCH_BEFORE's, per-run lists of the same figure measured in the same turns, within a
        block of `block` of our variants rotating by one each run (balanced_ratio)."""
        if lower_is_better:  # seconds: no worse than 0.97x the speed is at most 1/0.97 the time
            self.rows.append(Row(f"{figure}, this build", median(present(mine)), median(present(before)), unit,
                                 f"{BEFORE} ({self.before_name})", f"<= {1 / BEFORE_MIN:.2f}x (>= {BEFORE_MIN}x speed)",
                                 ratio_max=1 / BEFORE_MIN, paired=balanced_ratio(mine, before, block)))
        else:
            self.rows.append(Row(f"{figure}, this build", median(present(mine)), median(present(before)), unit,
                                 f"{BEFORE} ({self.before_name})", f">= {BEFORE_MIN}x", ratio_min=BEFORE_MIN,
                                 paired=balanced_ratio(mine, before, block)))

    def in_fresh_topic(self, w, what, fn):
        topic = ours.topic_for(self.ctx, what)
        try:
            return fn(topic)
        finally:
            self.ctx.topics.delete(topic)
