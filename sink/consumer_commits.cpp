#include <algorithm>

#include "consumer_member.hpp"

namespace ks::sink {

Result<void> ConsumerService::flush_and_commit(std::optional<double> wait_until) {
    TRY(sink_.flush());
    for (auto& [key, p] : partitions_) p.offsets.all_durable();
    send_commit(wait_until.has_value());
    if (wait_until) wait_for_commits(*wait_until);
    return {};
}

void ConsumerService::send_commit(bool even_if_in_flight) {
    if (commits_in_flight_ > 0 && !even_if_in_flight) return;  // its answer comes first; the next flush sends more
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
    for (auto& [key, p] : partitions_)
        if (p.offsets.needs_commit())
            rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset =
                *p.offsets.commit_point();
    if (list->cnt == 0) return;
    if (auto e = rd_kafka_commit_queue(rk_.get(), list.get(), commit_queue_.get(), nullptr, nullptr);
        e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++commit_failures_;
        log_.warning(std::string("offset commit failed (messages will be re-delivered): ") + rd_kafka_err2str(e));
        return;
    }
    ++commits_in_flight_;
}

void ConsumerService::reap_commits(int timeout_ms) {
    while (rd_kafka_event_t* ev = rd_kafka_queue_poll(commit_queue_.get(), timeout_ms)) {
        timeout_ms = 0;
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
            --commits_in_flight_;
            const rd_kafka_topic_partition_list_t* list = rd_kafka_event_topic_partition_list(ev);
            if (auto e = rd_kafka_event_error(ev);
                e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
                // Not fatal: the data is durable, and re-delivered messages are harmless.
                ++commit_failures_;
                log_.warning(std::string("offset commit failed (messages will be re-delivered): ") +
                             rd_kafka_err2str(e));
            } else if (list) {
                bool any = false;
                for (int i = 0; i < list->cnt; ++i) {
                    const auto& p = list->elems[i];
                    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
                    any = true;
                    if (auto it = partitions_.find({p.topic, p.partition}); it != partitions_.end())
                        it->second.offsets.committed(p.offset);
                }
                if (any) {
                    ++commits_;
                    last_commit_wall_ = wall_seconds();
                }
            }
        }
        rd_kafka_event_destroy(ev);
    }
}

void ConsumerService::wait_for_commits(double until) {
    reap_commits(0);
    for (double now = monotonic_seconds(); commits_in_flight_ > 0 && now < until; now = monotonic_seconds()) {
        reap_commits(static_cast<int>(std::clamp((until - now) * 1000, 1.0, 100.0)));
        tick(monotonic_seconds());  // the watchdog and scrapes go on while the coordinator is slow
    }
}

ServiceSnapshot ConsumerService::snapshot() const {
    ServiceSnapshot s;
    s.commits = commits_;
    s.commit_failures = commit_failures_;
    s.last_commit_time = last_commit_wall_;
    if (partitions_.empty()) return s;
    kafka::PartitionListPtr positions(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
    for (const auto& [key, p] : partitions_)
        rd_kafka_topic_partition_list_add(positions.get(), key.first.c_str(), key.second);
    rd_kafka_position(rk_.get(), positions.get());  // local: where reading goes on
    const double wall = wall_seconds();
    for (const auto& [key, p] : partitions_) {
        PartitionLag lag{key.first, key.second, std::nullopt, 0};
        std::int64_t low = 0, high = RD_KAFKA_OFFSET_INVALID;
        rd_kafka_get_watermark_offsets(rk_.get(), key.first.c_str(), key.second, &low, &high);  // cached, no request
        // From the last commit, else where the group stood at the assignment, else where reading goes on; a new
        // group's partition that nothing was read from is known only when empty.
        std::optional<std::int64_t> base = p.offsets.last_committed();
        if (!base) base = p.committed_at_assign;
        if (!base)
            if (auto* pos = rd_kafka_topic_partition_list_find(positions.get(), key.first.c_str(), key.second);
                pos && pos->offset >= 0)
                base = pos->offset;
        if (!base && high == 0) base = 0;
        if (high >= 0 && base) {
            lag.messages = std::max<std::int64_t>(0, high - *base);
            if (*lag.messages > 0)
                lag.seconds =
                    std::max(0.0, wall - (p.last_timestamp_ms >= 0 ? p.last_timestamp_ms / 1000.0 : p.assigned_at));
        }
        s.partitions.push_back(std::move(lag));
    }
    return s;
}

bool ConsumerService::close(bool commit, Result<void>& ok) {
    const double begun = monotonic_seconds();
    stop_deadline_ = begun + settings_.stop_timeout_s;
    monitor_.stopping(begun);
    // What was read is made durable and committed, waiting for the coordinator for part of the bound only.
    if (commit)
        if (auto flushed = flush_and_commit(begun + settings_.stop_timeout_s * kStopCommitShare); !flushed)
            ok = flushed;
    sink_.settle();  // no message of this handle may outlive it
    bool closed = false;
    if (commits_in_flight_ == 0) {
        // Leaves the group; the revoke callback runs once more (flush + commit of anything left). Through a queue,
        // so that the wait is ours to bound.
        kafka::QueuePtr queue(rd_kafka_queue_new(rk_.get()));
        if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk_.get(), queue.get())) {
            log_.warning(std::string("leaving the consumer group: ") + rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            closed = rd_kafka_consumer_closed(rk_.get()) != 0;
        }
        for (double now = monotonic_seconds(); !closed && now < *stop_deadline_; now = monotonic_seconds()) {
            if (rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), 100)) {
                if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                    on_rebalance(rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev));
                rd_kafka_event_destroy(ev);
            }
            reap_commits(0);
            tick(monotonic_seconds());
            closed = rd_kafka_consumer_closed(rk_.get()) != 0;
        }
    }
    if (callback_error_ && ok) ok = std::unexpected(*callback_error_);
    monitor_.finish(monotonic_seconds(), sink_.stats(), [this] { return snapshot(); });
    const SinkStats& s = sink_.stats();
    if (!closed) {
        char secs[32];
        std::snprintf(secs, sizeof secs, "%g", settings_.stop_timeout_s);
        log_.warning(std::string("Kafka did not answer within the stop timeout (") + secs +
                     " s): stopping without leaving the consumer group; everything read is durable, and the "
                     "messages whose offsets were not committed are read again at the next start");
        // rd_kafka_destroy() would wait for the coordinator (up to session.timeout.ms): the process ends instead.
        (void)commit_queue_.release();
        (void)consumer_queue_.release();
        (void)rk_.release();
    }
    log_.info("stopped: " + std::to_string(s.messages) + " messages, " + std::to_string(s.finalized_transfers) +
              " transfers finalized, " + std::to_string(s.quarantined) + " quarantined" +
              (s.deferred ? ", " + std::to_string(s.deferred) + " records deferred until their open message was read"
                          : std::string()));
    if (fetch_kick_)
        log_.debug("fetch restarted " + std::to_string(fetch_kicks_) + " time(s) after the prefetch queue ran dry");
    return closed;
}

}  // namespace ks::sink
