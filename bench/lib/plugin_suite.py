"""The SPANK plugin's cost for jobs that do not use it: submission and job end, with and without the plugin and
against a plugin whose job epilog does nothing (bench/lib/plugin.py measures)."""
import math

from . import plugin
from .context import log
from .measure import median, paired_ratio
from .table import Row


def run(bench, harness, env):
    runs = max(10, bench.runs)  # seconds each: more runs make the plugin's small difference visible
    user, conf = env["KS_TEST_USER"], env["SLURM_CONF"]
    # A submission takes ~10 ms, so 1.05x is half a millisecond: many more pairs than for anything else, and the
    # ratio is the median of the pairs' ratios (40 pairs and a ratio of medians gave 0.99x-1.10x for the same code).
    log(f"plugin: {runs * 10} submissions with and without the plugin in sbatch")
    got = bench.attempt("plugin: sbatch submission", plugin.submit_times, user, conf, bench.ctx.scratch, runs * 10)
    if got:
        bench.rows.append(Row("sbatch --wrap true (submit)", median(got[0]), median(got[1]), "s",
                              "without plugin", "<= 1.05x", ratio_max=1.05, paired=paired_ratio(*got)))
    log(f"plugin: {runs} jobs without --kafka-stream, slurmd with and without the plugin")
    scratch = bench.ctx.scratch
    with_plugin = bench.attempt("plugin: job end with plugin", plugin.job_end_times, user, conf, scratch, runs)
    without = empty = None
    try:
        harness.restart_slurmd(with_plugin=False)
        without = bench.attempt("plugin: job end without plugin", plugin.job_end_times, user, conf, scratch, runs)
        # The floor: a plugin whose job epilog does nothing. slurmd starts a SPANK epilog process for every job
        # as soon as any plugin has a job epilog; what that costs is Slurm's, not the plugin's.
        empty_so = plugin.build_empty_epilog_plugin(scratch)
        harness.restart_slurmd(with_plugin=True, plugin_path=empty_so)
        empty = bench.attempt("plugin: job end with an empty epilog plugin", plugin.job_end_times, user, conf,
                              scratch, runs)
    finally:
        harness.restart_slurmd(with_plugin=True)
    if with_plugin and without:
        diff = median(with_plugin) - median(without)
        noise = max(_spread(with_plugin), _spread(without))
        verdict = "yes" if diff <= noise else "NO"
        if verdict == "NO" and empty and median(with_plugin) - median(empty) <= max(noise, _spread(empty)):
            verdict = "no: Slurm's cost of any epilog plugin (row below)"
        bench.rows.append(Row("job w/o flag: script end -> COMPLETED", median(with_plugin), median(without), "s",
                              "slurmd without plugin", "no measurable overhead", verdict=verdict))
        bench.notes.append(f"epilog overhead: difference of medians {diff * 1000:+.0f} ms, run-to-run spread "
                           f"(half the range) {noise * 1000:.0f} ms; met when the difference is within the spread.")
    if with_plugin and empty:
        diff = median(with_plugin) - median(empty)
        noise = max(_spread(with_plugin), _spread(empty))
        bench.rows.append(Row("same, against an empty job-epilog plugin", median(with_plugin), median(empty), "s",
                              "slurmd with a do-nothing epilog plugin", "no measurable overhead",
                              verdict="yes" if diff <= noise else "NO"))
        if without:
            bench.notes.append(f"empty job-epilog plugin (bench/empty_epilog_plugin.c): "
                               f"{(median(empty) - median(without)) * 1000:+.0f} ms against no plugin; ours "
                               f"{diff * 1000:+.0f} ms against it (spread {noise * 1000:.0f} ms).")


def _spread(values):
    return (max(values) - min(values)) / 2 if values else math.inf
