"""The SPANK plugin's cost for jobs that do not use it: submission (sbatch loads the plugin) and job end (the epilog).

Submission: `sbatch --wrap true` as the test user with the harness's slurm.conf (plugstack.conf loads kafka_stream.so)
against a copy of it whose PlugStackConfig is an empty file (client commands read the stack from SLURM_CONF).
Job end: from the last command of a job without --kafka-stream (it writes the time) to the end of COMPLETING
(scontrol shows COMPLETED, polled every 20 ms), with slurmd started with the plugin and with an empty plugstack.conf
(slurmd decides at start whether a SPANK epilog exists). This excludes scheduling, which is seconds and noisy."""
import os
import re
import subprocess
import time

from .measure import CommandFailed, build_shared_object, wait_for


def build_empty_epilog_plugin(scratch):
    """bench/empty_epilog_plugin.c: a SPANK plugin whose job epilog does nothing."""
    return build_shared_object(scratch, "empty_epilog_plugin.c")


def _no_plugin_conf(slurm_conf, dest_dir):
    os.makedirs(dest_dir, exist_ok=True)
    os.chmod(dest_dir, 0o755)
    empty = os.path.join(dest_dir, "plugstack-empty.conf")
    open(empty, "w").close()
    conf = os.path.join(dest_dir, "slurm-without-plugin.conf")
    with open(slurm_conf) as src, open(conf, "w") as out:
        for line in src:
            out.write(f"PlugStackConfig={empty}\n" if line.startswith("PlugStackConfig=") else line)
    for p in (empty, conf):
        os.chmod(p, 0o644)
    return conf


def _sbatch(user, slurm_conf, script="true"):
    start = time.monotonic()
    out = subprocess.run(["runuser", "-u", user, "--", "env", f"SLURM_CONF={slurm_conf}", "sbatch", "--parsable",
                          "-N1", "-o", "/dev/null", "-J", "ks-bench", "--wrap", script],
                         capture_output=True, text=True, cwd="/")
    seconds = time.monotonic() - start
    if out.returncode != 0:
        raise CommandFailed(f"sbatch: {out.stderr.strip()}")
    return seconds, out.stdout.strip().split(";")[0]


def _job_state(slurm_conf, job):
    out = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True,
                         env=dict(os.environ, SLURM_CONF=slurm_conf))
    m = re.search(r"JobState=(\S+)", out.stdout)
    return m.group(1) if m else "GONE"


def _wait_queue_empty(slurm_conf, timeout=300):
    env = dict(os.environ, SLURM_CONF=slurm_conf)
    wait_for(lambda: subprocess.run(["squeue", "-h", "-n", "ks-bench"], capture_output=True, text=True,
                                    env=env).stdout.strip() == "", timeout, interval=0.2, what="an empty queue")


def submit_times(user, slurm_conf, scratch, runs):
    """Interleaved with/without runs, so a load change on the machine hits both alike, each pair in the other order
    than the one before, so neither always goes first; returns (with, without)."""
    without_conf = _no_plugin_conf(slurm_conf, os.path.join(scratch, "plugin"))
    with_plugin, without = [], []
    for n in range(runs):
        for conf, into in ((slurm_conf, with_plugin), (without_conf, without))[::1 if n % 2 == 0 else -1]:
            into.append(_sbatch(user, conf)[0])
    _wait_queue_empty(slurm_conf)
    return with_plugin, without


def job_end_times(user, slurm_conf, scratch, runs):
    """Seconds from the end of a trivial job's script to COMPLETED (epilog finished), one job at a time."""
    stamps = os.path.join(scratch, "plugin", "stamps")
    os.makedirs(stamps, exist_ok=True)
    os.chmod(stamps, 0o1777)
    times = []
    for n in range(runs):
        stamp = os.path.join(stamps, f"job-end-{os.getpid()}-{n}")
        _, job = _sbatch(user, slurm_conf, f"date +%s.%N > {stamp}")
        done = wait_for(lambda: _job_state(slurm_conf, job) in ("COMPLETED", "GONE", "FAILED"), 120, interval=0.02,
                        what=f"job {job} to complete")
        completed_at = time.time() - (time.monotonic() - done)
        if _job_state(slurm_conf, job) == "FAILED" or not os.path.exists(stamp):
            raise CommandFailed(f"job {job} failed")
        with open(stamp) as f:
            times.append(completed_at - float(f.read()))
        os.unlink(stamp)
    return times
