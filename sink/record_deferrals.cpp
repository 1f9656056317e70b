#include "record_deferrals.hpp"

#include "companion_topic.hpp"

namespace ks::sink {

std::optional<bool> RecordDeferrals::admit(const PartitionKey& key, std::int64_t offset) const {
    auto waiting = deferred_.find(key);
    if (waiting == deferred_.end()) return false;
    if (offset != waiting->second.offset) return std::nullopt;
    return waiting->second.last_chance;
}

void RecordDeferrals::deferred(const PartitionKey& key, std::int64_t offset, double now) {
    auto [it, fresh] = deferred_.try_emplace(key);
    if (fresh) {
        it->second.offset = offset;
        it->second.since = it->second.last_retry = now;
    }
    it->second.retrying = false;
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset = offset;
    rd_kafka_pause_partitions(rk_, list.get());
    if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_, list.get(), 0)) {
        log_.warning(std::string("seeking back to a deferred record: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

void RecordDeferrals::taken(const PartitionKey& key, bool open_message, double now) {
    if (deferred_.empty()) return;
    deferred_.erase(key);
    if (!open_message || !wire::is_companion_topic(key.first)) return;
    // Maybe the open message a record deferred on the user's partition of the same number waits for: retry that record
    // at once rather than at the next periodic retry (up to a second later, with the records prefetched meanwhile
    // thrown away by the seek). Once per deferral until the record comes back.
    auto d = deferred_.find({std::string(wire::user_topic_of(key.first)), key.second});
    if (d == deferred_.end() || d->second.retrying || d->second.last_chance) return;
    d->second.retrying = true;
    d->second.last_retry = now;
    resume(d->first);
}

void RecordDeferrals::review(double now, const std::function<bool(const PartitionKey&)>& reads) {
    for (auto& [key, d] : deferred_) {
        if (d.last_chance) continue;  // resumed for the last time: the record is on its way
        const std::string companion = wire::companion_topic(key.first);
        if (reads({companion, key.second})) {
            // The watermark librdkafka cached from a fetch at least a second after the record came covers its open
            // message (confirmed before the record was produced).
            if (!d.companion_target && now - d.since >= 1.0) {
                std::int64_t low = -1, high = -1;
                rd_kafka_get_watermark_offsets(rk_, companion.c_str(), key.second, &low, &high);
                if (high >= 0) d.companion_target = high;
            }
            if (d.companion_target) {
                kafka::PartitionListPtr pos(rd_kafka_topic_partition_list_new(1));
                rd_kafka_topic_partition_list_add(pos.get(), companion.c_str(), key.second);
                rd_kafka_position(rk_, pos.get());
                if (pos->elems[0].offset >= *d.companion_target) d.last_chance = true;
            }
        } else if (!warned_companion_) {
            warned_companion_ = true;
            log_.warning("records of " + key.first + " wait for their open message on " + companion + " partition " +
                         std::to_string(key.second) + ", which this member does not read: give " + companion +
                         " as many partitions as " + key.first + " and let the same group read both (range assignor)");
        }
        if (now - d.since >= kDeferralSeconds) d.last_chance = true;
        if (d.last_chance || now - d.last_retry >= 1.0) {
            d.last_retry = now;
            d.retrying = true;
            resume(key);
        }
    }
}

void RecordDeferrals::revoked(const PartitionKey& key) {
    if (deferred_.erase(key)) resume(key);
}

void RecordDeferrals::resume(const PartitionKey& key) {
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second);
    rd_kafka_resume_partitions(rk_, list.get());
}

}  // namespace ks::sink
