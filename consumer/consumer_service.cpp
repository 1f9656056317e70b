#include "consumer_service.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>

#include "fetch_kick.hpp"
#include "kafka.hpp"
#include "offset_watermark.hpp"
#include "progress.hpp"
#include "safe_path.hpp"

namespace ks::sink {

std::vector<kafka::Property> prefetch_defaults(int librdkafka_version) {
    // The prefetch queue bounds what librdkafka holds per partition: 16 MiB. Before 2.2.0 a full queue stalls the
    // fetcher until a 1 s timer (librdkafka #2879); the sink restarts it as soon as the queue runs dry (fetch_kick.hpp),
    // so the small queue is as fast as a 64 MiB one was not (512 MiB file: 0.9 s, RSS 29 MB instead of 52-72 MB;
    // 64 MB of records: 1.1 s, RSS 53 MB instead of 133 MB). 2.2.0 and later get a short backoff instead.
    if (librdkafka_version < 0x020200ff) return {{"queued.max.messages.kbytes", "16384"}};
    return {{"queued.max.messages.kbytes", "16384"}, {"fetch.queue.backoff.ms", "10"}};
}

namespace {

// One-shot mode gives up when joining the group takes longer than this (broker unreachable, ...).
constexpr double kMaxJoinSeconds = 60.0;

double monotonic_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class ConsumerService {
public:
    ConsumerService(const ServiceSettings& settings, Sink& sink, const Log& log)
        : settings_(settings), sink_(sink), log_(log), progress_(settings.progress) {}

    Result<void> start(const std::vector<ConfigEntry>& props);
    Result<void> run(const volatile std::sig_atomic_t& stop);

private:
    using PartitionKey = std::pair<std::string, std::int32_t>;

    static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                             void* opaque);
    void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
    Result<void> handle(const rd_kafka_message_t* m);
    // The prefetch queue ran dry after librdkafka < 2.2 had probably stopped fetching (fetch_kick.hpp): seek every
    // partition read so far to its next offset, so the fetch starts now rather than on librdkafka's 1 s timer.
    void kick_stalled_fetch();
    // Sink::flush(), then commit every partition whose commit point moved.
    Result<void> flush_and_commit();
    Result<void> close();

    const ServiceSettings& settings_;
    Sink& sink_;
    const Log& log_;
    ProgressDisplay progress_;
    kafka::HandlePtr rk_;
    kafka::QueuePtr consumer_queue_;  // to see how many messages librdkafka has prefetched
    std::optional<FetchKick> fetch_kick_;  // librdkafka < 2.2 only
    std::map<PartitionKey, OffsetWatermark> watermarks_;
    std::optional<Error> callback_error_;  // an error inside the rebalance callback, reported by run()
    double last_activity_ = 0;
    double now_ = 0;  // monotonic seconds, read by run() every few messages
    bool warned_unknown_topic_ = false;
    bool joined_ = false;  // a first assignment (possibly empty) arrived: idle time counts from then
    std::uint64_t fetch_kicks_ = 0;
};

Result<void> ConsumerService::start(const std::vector<ConfigEntry>& props) {
    auto defaults = prefetch_defaults(rd_kafka_version());
    defaults.insert(defaults.begin(), {{"auto.offset.reset", "earliest"}, {"client.id", "kafka-stream-sink"},
                                       {"enable.partition.eof", "false"}});
    auto conf = kafka::make_conf(defaults, props,
                                 {{"group.id", settings_.group}, {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"}});
    if (!conf) return std::unexpected(conf.error());
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_rebalance_cb(conf->get(), &ConsumerService::rebalance_cb);
    char err[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err));
    if (!rk_) return fail(std::string("creating the Kafka consumer: ") + err);
    conf->release();  // owned by the handle now
    rd_kafka_poll_set_consumer(rk_.get());
    consumer_queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));
    if (rd_kafka_version() < 0x020200ff) {
        auto setting = [this](const char* name) {
            return std::strtoull(kafka::conf_value(rd_kafka_conf(rk_.get()), name).c_str(), nullptr, 10);
        };
        fetch_kick_.emplace(setting("queued.min.messages"), setting("queued.max.messages.kbytes") * 1024);
    }
    kafka::PartitionListPtr subs(rd_kafka_topic_partition_list_new(1));
    if (settings_.topic_regex.empty())
        for (const auto& t : settings_.topics) rd_kafka_topic_partition_list_add(subs.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
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
        for (int i = 0; i < parts->cnt; ++i)
            watermarks_[{parts->elems[i].topic, parts->elems[i].partition}] = OffsetWatermark();
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
    // Revoked (or lost): make what we processed durable and commit it before another member takes over.
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk_.get())) {
        if (auto ok = flush_and_commit(); !ok && !callback_error_) callback_error_ = ok.error();
    }
    for (int i = 0; i < parts->cnt; ++i) watermarks_.erase({parts->elems[i].topic, parts->elems[i].partition});
    log_.debug("revoked " + std::to_string(parts->cnt) + " partition(s)");
    if (cooperative) {
        if (auto* e = rd_kafka_incremental_unassign(rk_.get(), parts)) rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk_.get(), nullptr);
    }
}

Result<void> ConsumerService::flush_and_commit() {
    if (auto ok = sink_.flush(); !ok) return ok;
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(watermarks_.size())));
    for (auto& [key, w] : watermarks_) {
        w.all_durable();
        if (!w.needs_commit()) continue;
        rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset = *w.commit_point();
    }
    if (list->cnt == 0) return {};
    auto e = rd_kafka_commit(rk_.get(), list.get(), 0);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // Not fatal: the data is durable, and re-delivered messages are harmless.
        log_.warning(std::string("offset commit failed (messages will be re-delivered): ") + rd_kafka_err2str(e));
        return {};
    }
    for (int i = 0; i < list->cnt; ++i) {
        const auto& p = list->elems[i];
        auto it = watermarks_.find({p.topic, p.partition});
        if (p.err == RD_KAFKA_RESP_ERR_NO_ERROR && it != watermarks_.end()) it->second.committed(p.offset);
    }
    return {};
}

Result<void> ConsumerService::handle(const rd_kafka_message_t* m) {
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
            if (!warned_unknown_topic_) log_.warning(std::string("consumer: ") + rd_kafka_message_errstr(m));
            warned_unknown_topic_ = true;
            return {};
        }
        if (rd_kafka_fatal_error(rk_.get(), nullptr, 0)) return fail(std::string("fatal consumer error: ") + rd_kafka_message_errstr(m));
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
    auto it = watermarks_.find({topic, m->partition});
    if (it != watermarks_.end()) it->second.processed(m->offset);
    if (fetch_kick_) fetch_kick_->consumed(m->len);
    return sink_.handle(in);
}

void ConsumerService::kick_stalled_fetch() {
    if (!fetch_kick_ || !fetch_kick_->ran_dry(rd_kafka_queue_length(consumer_queue_.get()))) return;
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(watermarks_.size())));
    for (const auto& [key, w] : watermarks_)
        if (auto next = w.next_offset())
            rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset = *next;
    if (list->cnt == 0) return;
    ++fetch_kicks_;
    // Asynchronous (timeout 0): a partition revoked meanwhile just fails to seek.
    if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_.get(), list.get(), 0)) {
        log_.debug(std::string("restarting the fetch: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

Result<void> ConsumerService::run(const volatile std::sig_atomic_t& stop) {
    double now = monotonic_seconds();
    const double started = now;
    double last_flush = now, last_sweep = now;
    last_activity_ = now_ = now;
    std::uint32_t since_clock = 0;
    while (!stop) {
        kafka::MessagePtr m(rd_kafka_consumer_poll(rk_.get(), 0));
        if (!m) {
            kick_stalled_fetch();
            m.reset(rd_kafka_consumer_poll(rk_.get(), 200));
        }
        if (callback_error_) return std::unexpected(*callback_error_);
        if (m) {
            if (auto ok = handle(m.get()); !ok) return ok;
        }
        const bool busy = m != nullptr;
        m.reset();  // free the message before anything slow
        // Reading the clock for each of millions of small messages was 8% of the sink's time: while messages
        // flow, every 64th is enough for the commit interval and the idle check.
        if (busy && ++since_clock < 64) continue;
        since_clock = 0;
        now = now_ = monotonic_seconds();
        if (now - last_flush >= settings_.commit_interval_s || sink_.unflushed_bytes() >= settings_.commit_bytes) {
            if (auto ok = flush_and_commit(); !ok) return ok;
            last_flush = now;
        }
        if (now - last_sweep >= settings_.sweep_interval_s) {
            if (auto ok = sink_.sweep_stale(); !ok) return ok;
            last_sweep = now;
        }
        progress_.update(sink_.stats(), now);
        if (settings_.exit_when_idle && !joined_ && now - started > std::max(*settings_.exit_when_idle, kMaxJoinSeconds))
            return fail("one-shot mode: no partition assignment from the group coordinator within " +
                        std::to_string(static_cast<long>(std::max(*settings_.exit_when_idle, kMaxJoinSeconds))) + " s");
        if (settings_.exit_when_idle && joined_ && now - last_activity_ >= *settings_.exit_when_idle) {
            bool pending = false;
            for (const auto& [k, w] : watermarks_) pending = pending || w.needs_commit() || w.has_pending();
            if (!pending) {
                log_.info("idle for " + std::to_string(static_cast<long>(*settings_.exit_when_idle)) + " s: exiting");
                break;
            }
            if (auto ok = flush_and_commit(); !ok) return ok;
        }
    }
    progress_.finish();
    return close();
}

Result<void> ConsumerService::close() {
    auto ok = flush_and_commit();
    // Leaves the group; the revoke callback runs once more (flush + commit of anything left).
    if (auto e = rd_kafka_consumer_close(rk_.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_.warning(std::string("leaving the consumer group: ") + rd_kafka_err2str(e));
    if (callback_error_ && ok) ok = std::unexpected(*callback_error_);
    const SinkStats& s = sink_.stats();
    log_.info("stopped: " + std::to_string(s.messages) + " messages, " + std::to_string(s.finalized_transfers) +
              " transfers finalized, " + std::to_string(s.quarantined) + " quarantined");
    if (fetch_kick_)
        log_.debug("fetch restarted " + std::to_string(fetch_kicks_) + " time(s) after the prefetch queue ran dry");
    return ok;
}

}  // namespace

Result<void> run_consumer(const ServiceSettings& settings, const std::vector<ConfigEntry>& kafka_properties, Sink& sink,
                          const Log& log, const volatile std::sig_atomic_t& stop) {
    ConsumerService service(settings, sink, log);
    if (auto ok = service.start(kafka_properties); !ok) return ok;
    return service.run(stop);
}

}  // namespace ks::sink
