"""What every measurement needs: tool paths, the harness's Kafka, a scratch dir, the topic factory, the log."""
import contextlib
from dataclasses import dataclass, field
import glob
import itertools
import os
import shutil
import sys

from .measure import process_cpu_s, remove_output


@dataclass
class Secured:
    """The harness's secured listener (tests/cluster/lib/secure.sh): the client configs of ks-node and ks-sink."""
    node_conf: str
    sink_conf: str
    group_prefix: str  # ks-sink may use the consumer groups of this prefix
    auth_key: str      # the bench's signing key (bench/run's write_site_config), used over SASL_SSL too


@dataclass
class Context:
    root: str            # the repository
    bin: str             # build/bin
    bootstrap: str
    kafka_libs: str
    scratch: str         # outputs, spools; under the cache dir (same file system as the workloads)
    topics: object       # kafka_admin.Topics
    site_config: str     # the bench's own site config (its signing key only), so no site config on this machine
                         # changes what is measured
    secure: Secured = None  # None: the harness has no secured listener
    broker_pid: int = None  # the harness's broker (one broker), whose CPU each measurement also reports
    kept: list = field(default=None)  # output trees kept until keeping_outputs() ends, else None
    _serial: object = field(default_factory=itertools.count)

    @property
    def push(self):
        return os.path.join(self.bin, "kafka-stream-push")

    @property
    def sink(self):
        return os.path.join(self.bin, "kafka-stream-sink")

    def java(self, main_class, *args):
        return ["java", "-Xmx512m", "-cp", os.path.join(self.kafka_libs, "*"), main_class, *args]

    def broker_cpu_s(self):
        """CPU seconds the broker has used so far (None if unknown): its share of a measurement is the difference."""
        return process_cpu_s(self.broker_pid) if self.broker_pid else None

    def fresh_dir(self, what):
        if self.kept is not None:  # a new directory each time, removed when keeping_outputs() ends
            what = f"{what}-kept{next(self._serial)}"
        path = os.path.join(self.scratch, what)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        if self.kept is not None:
            self.kept.append(path)
        return path

    def remove_output(self, path):
        """Removes a measurement's output tree now, or when keeping_outputs() ends."""
        if self.kept is None:
            remove_output(path)

    @contextlib.contextmanager
    def keeping_outputs(self):
        """Output trees are removed only when this block ends. Why: this machine's root is ext4 without a journal,
        where creating an inode checks every free inode slot it passes for a deletion within the last 1-6 minutes
        (the kernel's recently_deleted()): right after removing 20,000 files, creating 20,000 new ones cost the sink
        and cp -r 5 s of kernel CPU in that check (perf), 1,400-2,500 files/s instead of 6,000-25,000."""
        self.kept = []
        try:
            yield
        finally:
            kept, self.kept = self.kept, None
            for path in kept:
                remove_output(path)


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def success_marker(output_root, job_id):
    hits = glob.glob(os.path.join(output_root, "*", job_id, "_SUCCESS"))
    return hits[0] if hits else None
