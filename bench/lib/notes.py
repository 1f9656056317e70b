"""The notes under every table: how each figure is measured (the suites add the notes of a run's own settings)."""

STANDING_NOTES = [
    "Every topic has one partition (a node's transfer goes to one partition), is created with its records-mode "
    "companion <topic>.ks-meta as a site creates them (README), and both are deleted after the measurement; "
    "its files and every output tree are removed and the file system synced before the next measurement starts "
    "(outside the timing), so no measurement pays for freeing an earlier one's gigabytes or thousands of files. "
    "Except (c)'s sink outputs, removed after its last run: on ext4 without a journal (this machine's root), "
    "creating a file within 1-6 minutes of deleting many checks each recently freed inode slot (the kernel's "
    "recently_deleted()); right after removing 20,000 files, that check took ~5 s of kernel CPU per 20,000 new "
    "files (perf), for the sink and cp -r alike.",
    "Push: wall time of the whole kafka-stream-push process (start-up, walk, SHA-256, every message confirmed); "
    "kcat likewise (acks=all, idempotent, one message per 960 KiB piece); ProducerPerformance: its own final "
    "figure (acks=all, same record size, JVM start-up excluded).",
    "Sink: process start to the job's _SUCCESS (every file verified, fsynced, renamed into place) on a topic "
    "pre-filled by one push; ConsumerPerformance: its MB.sec / nMsg.sec on the same topic (group join included "
    "for both, JVM start-up excluded); the three take turns like the push's peers. \"kcat -C -> file, synced\": "
    "kcat -C (assigned the partition, no group, a prefetch queue as large as the workload and 16 MiB fetches) "
    "appends every value of the same topic to one file, then sync -f, timed from its start: the least a consumer "
    "that persists what it reads does. ConsumerPerformance writes nothing, so where this floor is below 0.9x of it "
    "in the same run, the disk made the 0.9x target impossible in that run.",
    "End to end: the sink runs and has its partition before the push starts (a service); time from push start to "
    "_SUCCESS. The floor: cp -r of the tree to the same file system, then sync -f (syncfs) of it. "
    "\"floor: fastest producer alone\": the workload's bytes divided by the best median produce rate measured above "
    "(push, ProducerPerformance, kcat), i.e. only putting the bytes into Kafka (no consumer, no fsync): every "
    "pipeline through this broker needs at least that long, so above 3x cp the 3x target is impossible here.",
    "Inputs are read once just before each push, kcat, cp -r and end-to-end run, so every tool starts from a warm "
    "page cache, as after a job that just wrote its outputs (this machine's host pages out what was not touched "
    "for ~6 s, which otherwise favours whichever tool read its input last).",
    "The push and its peers take turns: each run starts with the next tool, so none always follows the same one; "
    "before them, one unmeasured kcat run of the workload warms the broker up.",
    "kcat runs four times per run of (a) and (b): at its default queue (librdkafka's 1 GiB: it may read up to 1 GiB "
    "ahead, RSS ~1 GiB) and with queue.buffering.max.kbytes=32768, the push's default (same memory bound), each "
    "alone and again while `openssl dgst -sha256` hashes the same files (timed until both are done): the push's "
    "work, which checksums every byte for the manifest (OpenSSL's SHA-256, ~1.3 s of CPU per 2 GiB here), done by "
    "two programs at once. \"floor: kcat ... + openssl sha256\" below 1x of the same kcat alone shows that, in "
    "that run, the checksum's CPU made >= 1x that kcat impossible on this machine's two cores (the broker shares "
    "them).",
    "\"push, SHA-256 stubbed out\": the same push binary with OpenSSL's EVP_DigestUpdate replaced by a no-op "
    "through LD_PRELOAD (bench/checksum_off_shim.c), in the same turns: everything the push does except its "
    "checksum, so its ratio to kcat against the push's own shows what the checksum costs here.",
    "\"push CPU per GiB sent\": user + system CPU seconds of the push process (all threads) per GiB, against "
    "kcat's (and openssl's beside it) in the same runs, from getrusage(RUSAGE_CHILDREN) around each run: on these "
    "two cores every CPU second a client spends is taken from the broker.",
    "\"sink CPU per GiB\": user + system CPU seconds of the sink process (all threads, from wait4() when it exits, 2 s "
    "after _SUCCESS), of ConsumerPerformance's whole JVM (start-up and JIT included: its MB.sec excludes them, its "
    "CPU cannot) and of kcat -C plus sync -f, per GiB of the workload. \"broker CPU per GiB\": the broker process's "
    "user + system CPU (/proc/PID/stat) during the same measurement, receiving (push rows) or serving (sink rows). "
    "\"two cores busy\": (client CPU + broker CPU) / (2 x wall time) of the same run: near 100% the two cores were "
    "the limit, so a gap to a peer is CPU; well below, the client waited (fsync, fetch and produce round trips). "
    "The push and the sink hash on a thread of their own (common/hash_worker.hpp), so their CPU can exceed their "
    "wall time on the two cores.",
    "Ratios of (a) and (b) throughput and end-to-end rows are the median of the per-run ratios (ours against the "
    "peer measured in the same run, minutes apart); the ours and peer columns are medians over the runs.",
    "Our variants (this build, unsigned / not verifying, BENCH_BEFORE's) run back to back as one block whose order "
    "rotates by one each run, and so do this build and BENCH_BEFORE's in (d) and end to end. Whichever ran first in "
    "a block was slower, in either order; so the ratio between two of them is the median, over every window of as "
    "many consecutive runs as the block has variants (each variant held each place once in it), of the geometric "
    "mean of that window's per-run ratios (bench/lib/measure.py balanced_ratio).",
    "\"floor: kcat -P + kcat -C -> file, synced\": kcat -C (assigned the partition, reading from the start) appends "
    "every value to one file while kcat -P sends the workload's pieces, then sync -f; timed from kcat -P's start, "
    "like ours from the push's. The plainest pipeline through this broker that persists the bytes (no checksum, "
    "no files, no exactly-once): above 3x cp -r, the 3x target is impossible for any pipeline on this machine.",
    "Peak RSS: ru_maxrss of the process from wait4(), the maximum over the runs.",
    "The machine has 2 cores shared with other work: figures are medians, ratios are from the same run.",
]
