// The sink's consumer-group member (consumer_service.hpp says what it guarantees): its class, shared by
// consumer_service.cpp (start, rebalances, messages, the loop) and consumer_commits.cpp (flush and commit, the lag
// snapshot, leaving the group within the stop bound).
#pragma once
#include <chrono>
#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "consumer_service.hpp"
#include "fetch_kick.hpp"
#include "offset_watermark.hpp"
#include "progress.hpp"
#include "record_deferrals.hpp"

namespace ks::sink {

// Of the stop bound: the share the final commit may wait for the coordinator; leaving the group gets the rest.
constexpr double kStopCommitShare = 0.7;

inline double monotonic_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class ConsumerService {
public:
    ConsumerService(const ServiceSettings& settings, Sink& sink, ServiceMonitor& monitor, const Log& log)
        : settings_(settings), sink_(sink), monitor_(monitor), log_(log), progress_(settings.progress) {}

    Result<void> start(const std::vector<ConfigEntry>& props);
    ConsumerOutcome run(const volatile std::sig_atomic_t& stop);

private:
    struct Partition {
        OffsetWatermark offsets;
        std::int64_t last_timestamp_ms = -1;  // Kafka timestamp of the last message read (for the lag in seconds)
        double assigned_at = 0;               // wall clock
        std::optional<std::int64_t> committed_at_assign;  // the group's committed offset when it was assigned
    };

    static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                             void* opaque);
    void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
    // May take `m` over (its payload is then released once hashed, Sink::settle()).
    Result<void> handle(kafka::MessagePtr& m);
    // The prefetch queue ran dry after librdkafka < 2.2 had probably stopped fetching (fetch_kick.hpp): seek every
    // partition read so far to its next offset, so the fetch starts now rather than on librdkafka's 1 s timer.
    void kick_stalled_fetch();
    // Sink::flush(), then commit every partition whose commit point moved. Without `wait_until` the commit is only
    // sent (and not at all while another is in flight); with it, waits until every commit in flight is answered or
    // the monotonic time `wait_until` has come.
    Result<void> flush_and_commit(std::optional<double> wait_until);
    void send_commit(bool even_if_in_flight);
    // Takes the answers to commits from commit_queue_, waiting up to timeout_ms for the first one.
    void reap_commits(int timeout_ms);
    void wait_for_commits(double until);
    ServiceSnapshot snapshot() const;
    void tick(double now) {
        monitor_.tick(now, sink_.stats(), [this] { return snapshot(); });
    }
    // Leaves the group within the stop bound; false if Kafka did not let it (the handle is then left open).
    bool close(bool commit, Result<void>& ok);

    const ServiceSettings& settings_;
    Sink& sink_;
    ServiceMonitor& monitor_;
    const Log& log_;
    ProgressDisplay progress_;
    kafka::HandlePtr rk_;
    kafka::QueuePtr consumer_queue_;  // to see how many messages librdkafka has prefetched
    kafka::QueuePtr commit_queue_;    // answers to our asynchronous commits
    std::optional<FetchKick> fetch_kick_;  // librdkafka < 2.2 only
    std::map<PartitionKey, Partition> partitions_;
    std::optional<RecordDeferrals> deferrals_;  // records mode (record_deferrals.hpp); set with rk_
    std::optional<Error> callback_error_;  // an error inside the rebalance callback, reported by run()
    double last_activity_ = 0;
    double now_ = 0;  // monotonic seconds, read by run() every few messages
    bool warned_unknown_topic_ = false;
    bool joined_ = false;  // a first assignment (possibly empty) arrived: idle time counts from then
    std::uint64_t fetch_kicks_ = 0;
    int commits_in_flight_ = 0;
    std::uint64_t commits_ = 0, commit_failures_ = 0;
    std::optional<double> last_commit_wall_;
    std::optional<double> stop_deadline_;  // monotonic; set once stopping
};

}  // namespace ks::sink
