"""The SPANK plugin's cost for jobs that do not use it: submission (sbatch loads the plugin) and job end (the epilog).

Submission: `sbatch --wrap true` as the test user with the harness's slurm.conf (plugstack.conf loads kafka_stream.so)
against a copy of it whose PlugStackConfig is an empty file (client commands read the stack from SLURM_CONF).
Epilog: submission to the end of COMPLETING (scontrol shows COMPLETED) of a job without --kafka-stream, with slurmd
started with the plugin and with an empty plugstack.conf (slurmd decides at start whether a SPANK epilog exists)."""
import os
import re
import subprocess
import time

from .measure import CommandFailed, wait_for


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


def _sbatch(user, slurm_conf):
    start = time.monotonic()
    out = subprocess.run(["runuser", "-u", user, "--", "env", f"SLURM_CONF={slurm_conf}", "sbatch", "--parsable",
                          "-N1", "-o", "/dev/null", "-J", "ks-bench", "--wrap", "true"],
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
    """Interleaved with/without runs, so a load change on the machine hits both alike; returns (with, without)."""
    without_conf = _no_plugin_conf(slurm_conf, os.path.join(scratch, "plugin"))
    with_plugin, without = [], []
    for _ in range(runs):
        with_plugin.append(_sbatch(user, slurm_conf)[0])
        without.append(_sbatch(user, without_conf)[0])
    _wait_queue_empty(slurm_conf)
    return with_plugin, without


def job_end_times(user, slurm_conf, runs):
    """Seconds from submission to COMPLETED (epilog finished) of trivial jobs, one at a time."""
    times = []
    for _ in range(runs):
        start = time.monotonic()
        _, job = _sbatch(user, slurm_conf)
        done = wait_for(lambda: _job_state(slurm_conf, job) in ("COMPLETED", "GONE", "FAILED"), 120, interval=0.02,
                        what=f"job {job} to complete")
        if _job_state(slurm_conf, job) == "FAILED":
            raise CommandFailed(f"job {job} failed")
        times.append(done - start)
    return times
