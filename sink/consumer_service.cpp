#include "consumer_service.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <map>

#include "fetch_kick.hpp"
#include "kafka_access_check.hpp"
#include "kafka.hpp"
#include "offset_watermark.hpp"
#include "progress.hpp"
#include "record_deferrals.hpp"
#include "safe_path.hpp"

namespace ks::sink {

std::vector<kafka::Property> prefetch_defaults(int librdkafka_version) {
    // The prefetch queue bounds what librdkafka holds per partition: 16 MiB. Before 2.2.0 a full queue stalls the
    // fetcher until a 1 s timer (librdkafka #2879); the sink restarts it as soon as the queue runs dry (fetch_kick.hpp),
    // so the small queue is as fast as a 64 MiB one and keeps the sink's memory (RSS) at a fraction of it, for files
    // and records alike. 2.2.0 and later get a short backoff instead.
    if (librdkafka_version < 0x020200ff) return {{"queued.max.messages.kbytes", "16384"}};
    return {{"queued.max.messages.kbytes", "16384"}, {"fetch.queue.backoff.ms", "10"}};
}

namespace {

// One-shot mode gives up when joining the group takes longer than this (broker unreachable, ...).
constexpr double kMaxJoinSeconds = 60.0;

// "^(<topic>|<topic>.ks-meta)$" with the topic's regex metacharacters escaped.
std::string topic_and_companion_pattern(const std::string& topic) {
    std::string escaped;
    for (char c : topic) {
        if (c == '.') escaped += "\\";
        escaped.push_back(c);
    }
    std::string suffix;
    for (char c : wire::kCompanionSuffix) {
        if (c == '.') suffix += "\\";
        suffix.push_back(c);
    }
    return "^" + escaped + "(" + suffix + ")?$";
}
// Of the stop bound: the share the final commit may wait for the coordinator; leaving the group gets the rest.
constexpr double kStopCommitShare = 0.7;

double monotonic_seconds() {
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

Result<void> ConsumerService::start(const std::vector<ConfigEntry>& props) {
    auto defaults = prefetch_defaults(rd_kafka_version());
    // range: a topic and its companion (records mode) with equal partition counts are split alike, so the member that
    // reads a transfer's records also reads its open message.
    // A 5 s metadata refresh: the subscription is a pattern (the topic and its companion), and a companion topic that
    // the first records-mode push creates after the sink subscribed (auto-create) joins it only at a refresh; at
    // librdkafka's 5 minutes, that push's records would wait past their deferral bound and be dropped.
    defaults.insert(defaults.begin(), {{"auto.offset.reset", "earliest"}, {"client.id", "kafka-stream-sink"},
                                       {"enable.partition.eof", "false"}, {"partition.assignment.strategy", "range"},
                                       {"topic.metadata.refresh.interval.ms", "5000"}});
    TRY_ASSIGN(auto conf, kafka::make_conf(defaults, props,
                                           {{"group.id", settings_.group}, {"enable.auto.commit", "false"},
                                            {"enable.auto.offset.store", "false"}}));
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &ConsumerService::rebalance_cb);
    char err[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
    if (!rk_) return fail(std::string("creating the Kafka consumer: ") + err);
    deferrals_.emplace(rk_.get(), log_);
    conf.release();  // owned by the handle now
    rd_kafka_poll_set_consumer(rk_.get());
    consumer_queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));
    commit_queue_.reset(rd_kafka_queue_new(rk_.get()));
    if (rd_kafka_version() < 0x020200ff) {
        auto setting = [this](const char* name) {
            return std::strtoull(kafka::conf_value(rd_kafka_conf(rk_.get()), name).c_str(), nullptr, 10);
        };
        fetch_kick_.emplace(setting("queued.min.messages"), setting("queued.max.messages.kbytes") * 1024);
    }
    if (auto id = kafka::conf_value(rd_kafka_conf(rk_.get()), "group.instance.id"); !id.empty())
        log_.info("static member \"" + id + "\" of group \"" + settings_.group + "\"");
    kafka::PartitionListPtr subs(rd_kafka_topic_partition_list_new(1));
    if (settings_.topic_regex.empty())
        // Each topic with its companion (records mode), as a pattern: a companion that does not exist (a topic only
        // ever used in files mode) is simply not matched, and one created later is picked up.
        for (const auto& t : settings_.topics)
            rd_kafka_topic_partition_list_add(subs.get(), topic_and_companion_pattern(t).c_str(), RD_KAFKA_PARTITION_UA);
    else
        rd_kafka_topic_partition_list_add(subs.get(), settings_.topic_regex.c_str(), RD_KAFKA_PARTITION_UA);
    if (auto e = rd_kafka_subscribe(rk_.get(), subs.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return fail(std::string("subscribe: ") + rd_kafka_err2str(e));
    return {};
}

void ConsumerService::rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                                   void* opaque) {
    static_cast<ConsumerService*>(opaque)->on_rebalance(err, parts);
}

void ConsumerService::on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    last_activity_ = monotonic_seconds();
    const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk_.get())) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        joined_ = true;
        for (int i = 0; i < parts->cnt; ++i) {
            Partition p;
            p.assigned_at = wall_seconds();
            partitions_[{parts->elems[i].topic, parts->elems[i].partition}] = p;
        }
        // Where the group stands on them, for the lag (one request; the coordinator is answering a rebalance).
        kafka::PartitionListPtr committed(rd_kafka_topic_partition_list_copy(parts));
        if (rd_kafka_committed(rk_.get(), committed.get(), 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
            for (int i = 0; i < committed->cnt; ++i)
                if (const auto& c = committed->elems[i]; c.err == RD_KAFKA_RESP_ERR_NO_ERROR && c.offset >= 0)
                    partitions_[{c.topic, c.partition}].committed_at_assign = c.offset;
        // Another instance may have finished transfers while it owned these partitions.
        sink_.forget_cached_states();
        log_.debug("assigned " + std::to_string(parts->cnt) + " partition(s)");
        if (cooperative) {
            if (auto* e = rd_kafka_incremental_assign(rk_.get(), parts)) {
                log_.warning(std::string("incremental assign: ") + rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_assign(rk_.get(), parts);
        }
        return;
    }
    // Revoked (or lost): make what we processed durable and commit it before another member takes over. Bounded:
    // a coordinator that stops answering must not hold the sink (the next owner then re-reads a little: harmless).
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk_.get())) {
        const double until = stop_deadline_ ? *stop_deadline_ - settings_.stop_timeout_s * (1 - kStopCommitShare)
                                            : monotonic_seconds() + settings_.stop_timeout_s;
        if (auto ok = flush_and_commit(until); !ok && !callback_error_) callback_error_ = ok.error();
    }
    for (int i = 0; i < parts->cnt; ++i) {
        const PartitionKey key{parts->elems[i].topic, parts->elems[i].partition};
        partitions_.erase(key);
        // Its deferred record is read again by the next owner (a companion topic created after the sink subscribed
        // brings such a rebalance right after the first records).
        deferrals_->revoked(key);
    }
    log_.debug("revoked " + std::to_string(parts->cnt) + " partition(s)");
    if (cooperative) {
        if (auto* e = rd_kafka_incremental_unassign(rk_.get(), parts)) rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk_.get(), nullptr);
    }
}

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
            rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset = *p.offsets.commit_point();
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
            if (auto e = rd_kafka_event_error(ev); e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
                // Not fatal: the data is durable, and re-delivered messages are harmless.
                ++commit_failures_;
                log_.warning(std::string("offset commit failed (messages will be re-delivered): ") + rd_kafka_err2str(e));
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
    for (const auto& [key, p] : partitions_) rd_kafka_topic_partition_list_add(positions.get(), key.first.c_str(), key.second);
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
                lag.seconds = std::max(0.0, wall - (p.last_timestamp_ms >= 0 ? p.last_timestamp_ms / 1000.0 : p.assigned_at));
        }
        s.partitions.push_back(std::move(lag));
    }
    return s;
}

Result<void> ConsumerService::handle(kafka::MessagePtr& message) {
    const rd_kafka_message_t* m = message.get();
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
            if (!warned_unknown_topic_) log_.warning(std::string("consumer: ") + rd_kafka_message_errstr(m));
            warned_unknown_topic_ = true;
            return {};
        }
        if (rd_kafka_fatal_error(rk_.get(), nullptr, 0)) return fail(std::string("fatal consumer error: ") + rd_kafka_message_errstr(m));
        if (auto why = configuration_error(rk_.get(), m, settings_.group)) return fail(*why);  // password, TLS, ACL
        log_.warning(std::string("consumer: ") + rd_kafka_message_errstr(m));
        return {};
    }
    last_activity_ = now_;
    std::string topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_headers_t* hdrs = nullptr;
    wire::Headers headers;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) headers = kafka::to_wire_headers(hdrs);
    IncomingMessage in{topic, m->partition, m->offset, &headers,
                       std::string_view(static_cast<const char*>(m->payload ? m->payload : ""), m->payload ? m->len : 0)};
    // A chunk's bytes are hashed on the sink's hashing thread after handle() returns: the message goes with them and
    // is destroyed on this thread once they are hashed (librdkafka's message owns the bytes; no copy).
    in.take_payload = [&message] {
        return Keep(message.release(), [](void* p) { rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(p)); });
    };
    if (fetch_kick_) fetch_kick_->consumed(m->len);
    const PartitionKey key{topic, m->partition};
    // Read before the sink may take the message over (`m` is not used after sink_.handle()).
    const std::int64_t offset = m->offset;
    const std::int64_t timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
    const auto last_chance = deferrals_->admit(key, offset);
    if (!last_chance) return {};  // fetched before its partition was sought back to a deferred record: comes again
    in.last_chance = *last_chance;
    // Only a message the sink took may count as processed: after a host failure the shutdown still flushes and
    // commits (the revoke callback), and that commit must stop before this message, which is read again at restart.
    TRY_ASSIGN(auto handled, sink_.handle(in));
    if (handled == Handled::deferred) {
        deferrals_->deferred(key, offset, now_);
        return {};
    }
    if (!deferrals_->empty()) {
        auto type = wire::message_type(headers);
        deferrals_->taken(key, type && *type == wire::MessageType::open, now_);
    }
    auto it = partitions_.find(key);
    if (it != partitions_.end()) {
        it->second.offsets.processed(offset);
        it->second.last_timestamp_ms = timestamp_ms;
    }
    return {};
}

void ConsumerService::kick_stalled_fetch() {
    if (!fetch_kick_ || !fetch_kick_->ran_dry(rd_kafka_queue_length(consumer_queue_.get()))) return;
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
    for (const auto& [key, p] : partitions_)
        if (auto next = p.offsets.next_offset())
            rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset = *next;
    if (list->cnt == 0) return;
    ++fetch_kicks_;
    // Asynchronous (timeout 0): a partition revoked meanwhile just fails to seek.
    if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_.get(), list.get(), 0)) {
        log_.debug(std::string("restarting the fetch: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

ConsumerOutcome ConsumerService::run(const volatile std::sig_atomic_t& stop) {
    double now = monotonic_seconds();
    const double started = now;
    double last_flush = now, last_sweep = now;
    last_activity_ = now_ = now;
    std::uint32_t since_clock = 0;
    monitor_.ready(now, sink_.stats(), [this] { return snapshot(); });
    Result<void> result;
    while (!stop) {
        kafka::MessagePtr m(rd_kafka_consumer_poll(rk_.get(), 0));
        if (!m) {
            kick_stalled_fetch();
            m.reset(rd_kafka_consumer_poll(rk_.get(), 200));
        }
        if (callback_error_) {
            result = std::unexpected(*callback_error_);
            break;
        }
        const bool busy = m != nullptr;
        if (m) {
            if (auto ok = handle(m); !ok) {
                result = ok;
                break;
            }
        }
        m.reset();  // free the message before anything slow (unless the sink kept it for hashing)
        // Reading the clock for each of millions of small messages was a visible share of the sink's time: while
        // messages flow, every 64th is enough for the commit interval and the idle check.
        if (busy && ++since_clock < 64) continue;
        since_clock = 0;
        now = now_ = monotonic_seconds();
        reap_commits(0);
        if (!deferrals_->empty())
            deferrals_->review(now, [this](const PartitionKey& k) { return partitions_.count(k) > 0; });
        if (now - last_flush >= settings_.commit_interval_s || sink_.unflushed_bytes() >= settings_.commit_bytes) {
            if (auto ok = flush_and_commit(std::nullopt); !ok) {
                result = ok;
                break;
            }
            last_flush = now;
        }
        if (now - last_sweep >= settings_.sweep_interval_s) {
            if (auto ok = sink_.sweep_stale(); !ok) {
                result = ok;
                break;
            }
            last_sweep = now;
        }
        progress_.update(sink_.stats(), now);
        tick(now);
        if (settings_.exit_when_idle && !joined_ && now - started > std::max(*settings_.exit_when_idle, kMaxJoinSeconds)) {
            result = fail("one-shot mode: no partition assignment from the group coordinator within " +
                          std::to_string(static_cast<long>(std::max(*settings_.exit_when_idle, kMaxJoinSeconds))) + " s");
            break;
        }
        if (settings_.exit_when_idle && joined_ && now - last_activity_ >= *settings_.exit_when_idle) {
            bool pending = commits_in_flight_ > 0 || !deferrals_->empty();
            for (const auto& [k, p] : partitions_) pending = pending || p.offsets.needs_commit() || p.offsets.has_pending();
            if (!pending) {
                log_.info("idle for " + std::to_string(static_cast<long>(*settings_.exit_when_idle)) + " s: exiting");
                break;
            }
            if (auto ok = flush_and_commit(std::nullopt); !ok) {
                result = ok;
                break;
            }
        }
    }
    progress_.finish();
    ConsumerOutcome outcome;
    outcome.kafka_left_open = !close(result.has_value(), result);
    outcome.result = result;
    return outcome;
}

bool ConsumerService::close(bool commit, Result<void>& ok) {
    const double begun = monotonic_seconds();
    stop_deadline_ = begun + settings_.stop_timeout_s;
    monitor_.stopping(begun);
    // What was read is made durable and committed, waiting for the coordinator for part of the bound only.
    if (commit)
        if (auto flushed = flush_and_commit(begun + settings_.stop_timeout_s * kStopCommitShare); !flushed) ok = flushed;
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

}  // namespace

ConsumerOutcome run_consumer(const ServiceSettings& settings, const std::vector<ConfigEntry>& kafka_properties,
                             Sink& sink, ServiceMonitor& monitor, const Log& log,
                             const volatile std::sig_atomic_t& stop) {
    ConsumerService service(settings, sink, monitor, log);
    // Whatever the outcome, the messages the sink still keeps for hashing are released before the handle is
    // destroyed (declared after `service`, so this runs first).
    struct Settle {
        Sink& sink;
        ~Settle() { sink.settle(); }
    } settle{sink};
    if (auto ok = service.start(kafka_properties); !ok) return {ok, false};
    return service.run(stop);
}

}  // namespace ks::sink
