"""What every measurement needs: tool paths, the harness's Kafka, a scratch dir, the topic factory, the log."""
from dataclasses import dataclass
import glob
import os
import shutil
import subprocess
import sys


@dataclass
class Context:
    root: str            # the repository
    bin: str             # build/bin
    bootstrap: str
    kafka_libs: str
    scratch: str         # outputs, spools; under the cache dir (same file system as the workloads)
    topics: object       # kafka_admin.Topics
    empty_config: str    # an empty config file, so no site config on this machine changes what is measured
    big_manifest: bool   # until the multi-part manifest lands, (c)'s manifest needs a 16 MiB message limit

    @property
    def push(self):
        return os.path.join(self.bin, "kafka-stream-push")

    @property
    def sink(self):
        return os.path.join(self.bin, "kafka-stream-sink")

    def java(self, main_class, *args):
        return ["java", "-Xmx512m", "-cp", os.path.join(self.kafka_libs, "*"), main_class, *args]

    def fresh_dir(self, what):
        path = os.path.join(self.scratch, what)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def multipart_manifest_landed(root):
    """The lead's fix lets a transfer's manifest span several messages; before it, >~5,500 files need a bigger limit."""
    out = subprocess.run(["git", "-C", root, "log", "--oneline", "-i", "--grep", "multi-part manifest"],
                         capture_output=True, text=True)
    return bool(out.stdout.strip())


def success_marker(output_root, job_id):
    hits = glob.glob(os.path.join(output_root, "*", job_id, "_SUCCESS"))
    return hits[0] if hits else None
