// Records mode, on the consumer's side: a record whose transfer is not open yet (Handled::deferred) pauses its
// partition at that record until the transfer's open message has been read from the companion topic.
//
// The open message went to the companion partition of the same number before the record was produced, so once this
// member has read that companion partition as far as it reached a moment after the record came, the record gets its
// last chance (dropped by the sink if still unknown). A deferred record is retried at once when an open message is
// read from that companion partition, and every second otherwise (another member may read the companion partition:
// it stages the open message in the shared ROOT), for at most kDeferralSeconds.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "kafka.hpp"
#include "log.hpp"

namespace ks::sink {

using PartitionKey = std::pair<std::string, std::int32_t>;

class RecordDeferrals {
public:
    // The longest a record waits for its transfer's open message when another member reads the companion partition.
    static constexpr double kDeferralSeconds = 60.0;

    RecordDeferrals(rd_kafka_t* rk, const Log& log) : rk_(rk), log_(log) {}

    bool empty() const { return deferred_.empty(); }
    // Before the sink sees the message at OFFSET of KEY: nullopt to skip it (fetched before its partition was paused
    // and sought back to the deferred record: it comes again), else whether it is the deferred record's last chance.
    std::optional<bool> admit(const PartitionKey& key, std::int64_t offset) const;
    // The sink deferred the record at OFFSET: pause its partition and seek back to it.
    void deferred(const PartitionKey& key, std::int64_t offset, double now);
    // The sink took a message of KEY (of `open_message` type or not).
    void taken(const PartitionKey& key, bool open_message, double now);
    // Periodic: decides last chances and retries. `reads(key)`: whether this member is assigned that partition.
    void review(double now, const std::function<bool(const PartitionKey&)>& reads);
    // KEY was revoked: its deferred record is the next owner's; the partition is resumed, since librdkafka keeps a
    // partition paused by the application across an unassign (it would never be fetched again here if reassigned).
    void revoked(const PartitionKey& key);

private:
    struct Deferral {
        std::int64_t offset = 0;
        double since = 0;  // monotonic
        double last_retry = 0;
        std::optional<std::int64_t> companion_target;  // high watermark of the companion partition to reach
        bool last_chance = false;
        bool retrying = false;  // resumed: the deferred record is on its way back
    };
    void resume(const PartitionKey& key);

    rd_kafka_t* rk_;
    const Log& log_;
    std::map<PartitionKey, Deferral> deferred_;
    bool warned_companion_ = false;
};

}  // namespace ks::sink
