"""The benchmark's own instance of the test harness (tests/cluster/cluster).

It runs on its own ports (BENCH_PORT_BASE, default 28600) and writes build/bench-cluster-PORT.env, so it neither
disturbs nor is disturbed by test runs on the default instance, which stop brokers and restart slurmds on purpose.
(Not 29500: tests/e2e/smoke_cluster_lifecycle.sh uses KS_PORT_BASE + 200, and tests run on 29100 and 29300.)"""
import os
import subprocess


class Harness:
    def __init__(self, root, port_base):
        self.root = root
        self.env_file = os.path.join(root, "build", f"bench-cluster-{port_base}.env")
        self._env = dict(os.environ, KS_PORT_BASE=str(port_base), KS_CLUSTER_ENV=self.env_file)
        self._env.pop("KAFKA_BROKERS", None)
        # A deleted topic's files go at once (not a minute later, in the middle of another measurement).
        self._env["KS_KAFKA_PROPERTIES"] = "log.segment.delete.delay.ms=0"
        self.started = False
        self.vars = {}

    def _cluster(self, *args, check=True, **extra_env):
        return subprocess.run([os.path.join(self.root, "tests", "cluster", "cluster"), *args],
                              env=dict(self._env, **extra_env), check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def up(self, log):
        if self._cluster("status", check=False).returncode != 0:
            log(f"starting the harness (KS_PORT_BASE={self._env['KS_PORT_BASE']})")
            out = self._cluster("up", check=False)
            if out.returncode != 0:
                raise RuntimeError(f"cluster up failed:\n{out.stdout[-3000:]}")
            self.started = True
        else:
            self._cluster("up")  # idempotent: rewrites the env file, restarts slurmd if the plugin changed
        with open(self.env_file) as f:
            for line in f:
                if line.startswith("export ") and "=" in line:
                    k, v = line[len("export "):].strip().split("=", 1)
                    self.vars[k] = v
        return self.vars

    def kafka_data_dir_if_deletes_at_once(self):
        """The broker's data dir if it deletes topics' files at once (a harness already running when the benchmark
        started may not), else None."""
        broker = os.path.join(self.vars.get("KS_STATE", ""), "kafka", "1")
        try:
            with open(os.path.join(broker, "server.properties")) as f:
                at_once = "log.segment.delete.delay.ms=0\n" in f.read()
        except OSError:
            return None
        return os.path.join(broker, "data") if at_once else None

    def broker_pid(self):
        """PID of the (first) broker, from the harness's pid file; None if it cannot be read."""
        try:
            with open(os.path.join(self.vars.get("KS_STATE", ""), "pids", "kafka-1.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def restart_slurmd(self, with_plugin, plugin_path=None):
        """plugstack.conf loads the plugin (or the plugin at plugin_path), or (KS_PLUGIN naming no file) is empty;
        slurmd reads it at start only."""
        if not with_plugin:
            extra = {"KS_PLUGIN": "/nonexistent/kafka_stream.so"}
        else:
            extra = {"KS_PLUGIN": plugin_path} if plugin_path else {}
        self._cluster("restart-slurmd", **extra)

    def down_if_started(self, log):
        if self.started:
            log("stopping the harness it started")
            self._cluster("down", check=False)
