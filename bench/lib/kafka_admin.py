"""Topics for the benchmarks: one fresh topic per measurement, deleted afterwards so the broker's disk stays small."""
import itertools
import os
import subprocess
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import UnknownTopicOrPartitionError

_serial = itertools.count()


class Topics:
    def __init__(self, bootstrap, log_dir=None):
        self.bootstrap = bootstrap
        self.log_dir = log_dir  # the broker's data dir: delete() waits until a topic's files are gone
        self._admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ks-bench")
        self._created = []

    def fresh(self, what, *, max_message_bytes=None):
        """A new single-partition topic: a node's transfer goes to one partition, so every peer gets one too. With its
        records-mode companion (<topic>.ks-meta), as a site creates the two (README): otherwise the push would wait
        for the broker to auto-create it and the sink for its next metadata refresh, which no deployment measures."""
        name = f"ks-bench-{what}-{os.getpid()}-{next(_serial)}-{int(time.time())}"
        configs = {"max.message.bytes": str(max_message_bytes)} if max_message_bytes else {}
        self._admin.create_topics([NewTopic(name, 1, 1, topic_configs=configs),
                                   NewTopic(name + ".ks-meta", 1, 1, topic_configs=configs)])
        self._created.append(name)
        return name

    def end_offset(self, topic):
        c = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            tp = TopicPartition(topic, 0)
            return c.end_offsets([tp])[tp]
        finally:
            c.close()

    def delete(self, topic):
        """Deletes the topic; with log_dir, returns once its files are removed and the file system synced, so the
        next measurement does not pay for freeing (and discarding) gigabytes, or for writing back a deleted topic."""
        if topic in self._created:
            self._created.remove(topic)
            self._admin.delete_topics([topic])
            # Records mode's companion topic (created with it).
            try:
                self._admin.delete_topics([topic + ".ks-meta"])
            except UnknownTopicOrPartitionError:
                pass
            if self.log_dir and os.path.isdir(self.log_dir):
                deadline = time.monotonic() + 120
                prefixes = (topic + "-", topic + ".ks-meta-")  # partition directories, also once marked -delete
                while time.monotonic() < deadline and any(n.startswith(prefixes) for n in os.listdir(self.log_dir)):
                    time.sleep(0.1)
                subprocess.run(["sync", "-f", self.log_dir], check=False)

    def close(self):
        for t in list(self._created):
            try:
                self.delete(t)
            except Exception:  # best effort at exit: the harness's state dir holds the rest
                pass
        self._admin.close()
