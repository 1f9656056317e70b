// The Kafka side of the sink: a consumer-group member that feeds messages to the Sink, flushes and commits.
//
// Offsets are committed manually (enable.auto.commit=false, enable.auto.offset.store=false), per partition, at the
// OffsetWatermark's commit point, and only right after Sink::flush() has made the staged data durable: every commit
// interval, every stream.commit.bytes staged bytes, before a partition is revoked, and before leaving the group.
// Commits are asynchronous (the loop never waits for the group coordinator); only a revocation and the stop wait for
// them, for a bounded time.
//
// Stopping is bounded by stop_timeout_s whatever Kafka's state: flush, commit (waiting at most 70% of the bound), then
// leave the group (until the bound). If the coordinator does not answer in time (brokers down), the consumer handle is
// left open and the caller ends the process without destroying it (librdkafka would wait for the coordinator for up
// to session.timeout.ms): everything read is durable, and what was not committed is read again at the next start.
#pragma once
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "kafka.hpp"
#include "log.hpp"
#include "result.hpp"
#include "service_monitor.hpp"
#include "sink.hpp"

namespace ks::sink {

struct ServiceSettings {
    std::vector<std::string> topics;
    std::string topic_regex;
    std::string group;
    double commit_interval_s = 2.0;
    std::uint64_t commit_bytes = 64ull << 20;
    double sweep_interval_s = 60.0;
    std::optional<double> exit_when_idle;
    bool progress = false;
    double stop_timeout_s = 10.0;
};

struct ConsumerOutcome {
    // An error means data may not have been committed (it will be re-delivered: nothing is lost).
    Result<void> result;
    // Kafka did not answer within stop_timeout_s: the handle was left open; end the process with _exit().
    bool kafka_left_open = false;
};

// librdkafka prefetch settings the sink uses unless the site sets them, for a given rd_kafka_version().
std::vector<kafka::Property> prefetch_defaults(int librdkafka_version);

// Runs until `stop` becomes non-zero (a signal handler sets it) or, in one-shot mode, until idle.
// Returns after a final flush, commit and leaving the group (see above for the bound).
ConsumerOutcome run_consumer(const ServiceSettings& settings, const std::vector<ConfigEntry>& kafka_properties,
                             Sink& sink, ServiceMonitor& monitor, const Log& log,
                             const volatile std::sig_atomic_t& stop);

}  // namespace ks::sink
