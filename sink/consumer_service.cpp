#include "consumer_service.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>

#include "consumer_member.hpp"
#include "kafka_access_check.hpp"
#include "kafka.hpp"
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

}  // namespace
Result<void> ConsumerService::start(const std::vector<ConfigEntry>& props) {
    auto defaults = prefetch_defaults(rd_kafka_version());
    // range: a topic and its companion (records mode) with equal partition counts are split alike, so the member that
    // reads a transfer's records also reads its open message.
    // A 5 s metadata refresh: the subscription is a pattern (the topic and its companion), and a companion topic that
    // the first records-mode push creates after the sink subscribed (auto-create) joins it only at a refresh; at
    // librdkafka's 5 minutes, that push's records would wait past their deferral bound and be dropped.
    defaults.insert(defaults.begin(), {{"auto.offset.reset", "earliest"},
                                       {"client.id", "kafka-stream-sink"},
                                       {"enable.partition.eof", "false"},
                                       {"partition.assignment.strategy", "range"},
                                       {"topic.metadata.refresh.interval.ms", "5000"}});
    TRY_ASSIGN(auto conf, kafka::make_conf(defaults, props,
                                           {{"group.id", settings_.group},
                                            {"enable.auto.commit", "false"},
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
            rd_kafka_topic_partition_list_add(subs.get(), topic_and_companion_pattern(t).c_str(),
                                              RD_KAFKA_PARTITION_UA);
    else rd_kafka_topic_partition_list_add(subs.get(), settings_.topic_regex.c_str(), RD_KAFKA_PARTITION_UA);
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

Result<void> ConsumerService::handle(kafka::MessagePtr& message) {
    const rd_kafka_message_t* m = message.get();
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
            if (!warned_unknown_topic_) log_.warning(std::string("consumer: ") + rd_kafka_message_errstr(m));
            warned_unknown_topic_ = true;
            return {};
        }
        if (rd_kafka_fatal_error(rk_.get(), nullptr, 0))
            return fail(std::string("fatal consumer error: ") + rd_kafka_message_errstr(m));
        if (auto why = configuration_error(rk_.get(), m, settings_.group)) return fail(*why);  // password, TLS, ACL
        log_.warning(std::string("consumer: ") + rd_kafka_message_errstr(m));
        return {};
    }
    last_activity_ = now_;
    std::string topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_headers_t* hdrs = nullptr;
    wire::Headers headers;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) headers = kafka::to_wire_headers(hdrs);
    IncomingMessage in{
        topic, m->partition, m->offset, &headers,
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
        if (settings_.exit_when_idle && !joined_ &&
            now - started > std::max(*settings_.exit_when_idle, kMaxJoinSeconds)) {
            result =
                fail("one-shot mode: no partition assignment from the group coordinator within " +
                     std::to_string(static_cast<long>(std::max(*settings_.exit_when_idle, kMaxJoinSeconds))) + " s");
            break;
        }
        if (settings_.exit_when_idle && joined_ && now - last_activity_ >= *settings_.exit_when_idle) {
            bool pending = commits_in_flight_ > 0 || !deferrals_->empty();
            for (const auto& [k, p] : partitions_)
                pending = pending || p.offsets.needs_commit() || p.offsets.has_pending();
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
