"""Running one measured command: wall time and peak RSS of the child, medians over runs."""
import os
import resource
import shutil
import signal
import statistics
import subprocess
import time


class CommandFailed(RuntimeError):
    pass


def run_timed(argv, *, env=None, cwd=None, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True):
    """Runs argv to completion; returns (wall seconds, peak RSS in KiB, captured stderr text).

    The peak RSS comes from wait4() on that very child, so concurrent processes of other benchmarks do not mix in."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=stdout, stderr=stderr)
    err = proc.stderr.read().decode(errors="replace") if stderr == subprocess.PIPE else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if check and proc.returncode != 0:
        raise CommandFailed(f"{argv[0]} exited with {proc.returncode}: {err.strip()[-2000:]}")
    return wall, usage.ru_maxrss, err


class Background:
    """A child started now and reaped later with its peak RSS (for the sink running beside a push)."""

    def __init__(self, argv, *, env=None, stderr_path=None, stdout=subprocess.DEVNULL):
        self._err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
        self.start = time.monotonic()
        self.proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=self._err)
        self.returncode = None
        self.max_rss_kib = 0
        self.cpu_s = None  # user + system CPU seconds of the child (all its threads), once reaped

    def running(self):
        """True until the child exits; does not reap it (wait() must, to read its rusage)."""
        if self.returncode is not None:
            return False
        return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                self.proc.returncode = self.returncode
                self.max_rss_kib = usage.ru_maxrss
                self.cpu_s = usage.ru_utime + usage.ru_stime
                break
            if deadline is not None and time.monotonic() > deadline:
                raise CommandFailed(f"{self.proc.args[0]} did not exit within {timeout} s")
            time.sleep(0.02)
        if self._err is not subprocess.DEVNULL:
            self._err.close()
        return self.returncode

    def stop(self):
        # os.kill, not Popen.send_signal: that one reaps the child first, and wait4() would find nothing.
        if self.returncode is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.wait(timeout=30)
            except CommandFailed:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.wait()


def wait_for(predicate, timeout, interval=0.01, what="condition"):
    """Polls predicate until true; returns the monotonic time at which it was first seen true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(interval)
    raise CommandFailed(f"timed out after {timeout} s waiting for {what}")


def warm_page_cache(*paths):
    """Reads every file at `paths` (files or trees) once, so it is in the page cache when a measurement starts.

    A job's outputs were just written when the push starts, so they are cached; and this machine's host pages out
    what nobody touched for a few seconds (DAMON: age >= 6 s, up to 128 MiB/s), so without this each tool would find
    a different share of its input on disk depending on what ran before it."""
    files = [f for p in paths for f in ([p] if os.path.isfile(p) else files_in(p))]
    buf = bytearray(8 << 20)
    for p in files:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def files_in(tree):
    return [os.path.join(d, f) for d, _, names in os.walk(tree) for f in names]


def remove_output(path):
    """Removes a measurement's output tree and syncs its file system, so that freeing (and, with -o discard,
    discarding) thousands of files is not paid inside the next measurement's fsyncs."""
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["sync", "-f", os.path.dirname(path) or "."], check=False)


def median(values):
    return statistics.median(values) if values else float("nan")


def paired_ratio(ours, peer):
    """Median over runs of ours[r] / peer[r] (None where a run failed): each run's two figures were measured minutes
    apart, so this ratio follows the broker's and the host's drift between runs, which a ratio of medians does not."""
    ratios = [o / p for o, p in zip(ours, peer) if o is not None and p]
    return statistics.median(ratios) if ratios else float("nan")


def balanced_ratio(ours, peer, block):
    """Like paired_ratio, for two of our variants that take turns within a block of `block` tools rotating by one
    each run (in_turns): the median of the per-run ratios over the whole rotations (`block` consecutive runs from
    the first, in which each variant held each place once) in which no run failed. The first place of a block proved slower in either order, so with
    a run count that is not a multiple of the block a plain median favoured the variant that came first less often;
    a median (not a mean) keeps one wild run from deciding. With fewer runs than `block`, paired_ratio."""
    ratios = [o / p if o is not None and p else None for o, p in zip(ours, peer)]
    kept = []
    for start in range(0, len(ratios) - block + 1, block):
        rotation = ratios[start:start + block]
        if None not in rotation:  # a failed run takes its whole rotation out, or the places would not balance
            kept += rotation
    return statistics.median(kept) if kept else paired_ratio(ours, peer)


def present(values):
    return [v for v in values if v is not None]


def children_cpu_s():
    """CPU seconds (user + system) of every child this process has reaped so far: the difference around a
    measurement is the CPU its processes used (a tool's threads, and openssl beside kcat), whatever the wall time."""
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def process_cpu_s(pid):
    """CPU seconds (user + system, all threads) that a running process has used so far (/proc/PID/stat); None if it
    cannot be read. For the broker, which is not our child: the difference around a measurement is its share."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_shared_object(scratch, source):
    """bench/<source> built with cc as a shared object under the scratch directory (a do-nothing SPANK plugin, the
    checksum-off shim); returns its path."""
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), source)
    out = os.path.join(scratch, "plugin", os.path.splitext(source)[0] + ".so")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", out, src], check=True)
    os.chmod(out, 0o755)
    return out
