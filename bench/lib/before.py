"""BENCH_BEFORE=REV: the push and the sink of an earlier revision, built once into the cache, so that a change is
measured against the code before it in the same run ("no worse than 0.97x of before")."""
import os
import shutil
import subprocess

from .context import Context

TOOLS = ("kafka-stream-push", "kafka-stream-sink")


class BeforeError(Exception):
    pass


def _run(argv, **kwargs):
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BeforeError(f"{' '.join(argv)} failed ({done.returncode}):\n{tail}")
    return done.stdout


def build(root, revision, cache, log):
    """Directory holding the two tools of `revision` (a commit of the repository at `root`), built from a clean
    export of that commit (not the work tree) and kept in `cache` under its full hash."""
    commit = _run(["git", "-C", root, "rev-parse", "--verify", "--quiet", revision + "^{commit}"]).strip()
    dest = os.path.join(cache, f"before-{commit}")
    bin_dir = os.path.join(dest, "build", "bin")
    if all(os.access(os.path.join(bin_dir, t), os.X_OK) for t in TOOLS):
        return commit, bin_dir
    log(f"building the tools of {commit[:12]} (BENCH_BEFORE={revision}) in {dest}")
    work = dest + ".tmp"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    archive = subprocess.Popen(["git", "-C", root, "archive", commit], stdout=subprocess.PIPE)
    _run(["tar", "-x", "-C", work], stdin=archive.stdout)
    if archive.wait() != 0:
        raise BeforeError(f"git archive {commit} failed")
    _run(["make", "-C", work, f"-j{os.cpu_count() or 2}"] + [f"build/bin/{t}" for t in TOOLS])
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(work, dest)
    return commit, bin_dir


class ToolsOf:
    """The bench's Context with the tools of another directory: everything else (scratch, topics, outputs kept)
    is the same context's, so both builds are measured alike."""

    def __init__(self, ctx, bin_dir):
        self._ctx, self.bin = ctx, bin_dir

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    # The Context's own properties, which name the tools of self.bin.
    push = Context.push
    sink = Context.sink
