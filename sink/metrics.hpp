// The sink's metrics in Prometheus' text exposition format (version 0.0.4): written to a node_exporter textfile
// (--metrics-file, replaced atomically) and/or served over HTTP (--metrics-listen, metrics_http.hpp). Names follow
// Prometheus' conventions: prefix kafka_stream_sink_, base units (seconds, bytes), counters end in _total.
// kafka-stream-sink(1) lists every metric; docs/metrics.md says what to alert on.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prometheus_text.hpp"
#include "result.hpp"
#include "sink.hpp"

namespace ks::sink {

// What the consumer loop knows about one assigned partition.
struct PartitionLag {
    std::string topic;
    std::int32_t partition = 0;
    std::optional<std::int64_t> messages;  // end offset - committed offset; unknown until the broker reported its end
    double seconds = 0;  // 0 when caught up, else the age of the last message read from it
};

struct ServiceSnapshot {
    std::vector<PartitionLag> partitions;
    std::optional<double> last_commit_time;  // wall clock, seconds since the epoch
    std::uint64_t commits = 0;
    std::uint64_t commit_failures = 0;
    double start_time = 0;  // wall clock
};

// Transfers in progress (directories in ROOT/.staging) and the disk space their staged files use.
struct StagingUsage {
    std::uint64_t transfers = 0;
    std::uint64_t bytes = 0;
};
StagingUsage measure_staging(int staging_dirfd);

std::string render_metrics(const SinkStats& stats, const StagingUsage& staging, const ServiceSnapshot& service);

// systemd's STATUS= line, e.g. "4 partitions, lag 0 messages; 12 transfers finalized, 0 quarantined, 1 in
// progress (3.1 MB staged); last commit 2 s ago".
std::string format_status(const SinkStats& stats, const StagingUsage& staging, const ServiceSnapshot& service,
                          double now_wall);

}  // namespace ks::sink
