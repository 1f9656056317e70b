#include "producer.hpp"

#include <cstring>

#include "kafka_problem.hpp"

namespace ks::push {

struct Producer::Callbacks {
    const Log* log = nullptr;
    std::vector<DeliveryReport> reports;
    kafka::SecurityMonitor monitor;
};

namespace {

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* cb = static_cast<Producer::Callbacks*>(opaque);
    cb->reports.push_back({reinterpret_cast<std::uintptr_t>(msg->_private), msg->err});
    if (!msg->err) cb->monitor.progress();
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* cb = static_cast<Producer::Callbacks*>(opaque);
    // Transient broker errors are retried by librdkafka; they are worth a line, not an abort.
    std::string text =
        std::string("kafka: ") + rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)) + ": " + reason;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, buf, sizeof buf);
        cb->monitor.error_event(cause, buf);
        // A fatal error that the configuration explains (e.g. no ACL for an idempotent producer) is reported once,
        // by the sender, as the reason it stopped.
        if (cb->monitor.verdict().empty()) cb->log->warning(text + " (" + buf + ")");
    } else {
        cb->monitor.error_event(static_cast<rd_kafka_resp_err_t>(err), reason);
        cb->log->debug(text);
    }
}

void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    auto* cb = static_cast<Producer::Callbacks*>(rd_kafka_opaque(rk));
    // A fatal error is reported by on_error (or, when the configuration explains it, as the reason the push stopped).
    if (!cb || std::string_view(fac) == "FATAL") return;
    std::string text = std::string("kafka ") + fac + ": " + buf;
    cb->log->write(level <= 2 ? LogLevel::warning : LogLevel::debug, text);
}

}  // namespace

Result<std::unique_ptr<Producer>> Producer::create(const rd_kafka_conf_t* conf, const std::string& topic,
                                                   int message_timeout_ms, const Log& log,
                                                   const std::string& companion) {
    std::unique_ptr<Producer> p(new Producer());
    p->callbacks_.reset(
        new Callbacks{&log, {}, kafka::SecurityMonitor(kafka::client_security(conf, kafka::Role::producer))});
    // Records mode: what is denied may be the companion topic as well.
    p->topic_name_ = companion.empty() ? topic : topic + " (or its companion " + companion + ")";
    kafka::ConfPtr c(rd_kafka_conf_dup(conf));
    char err[512];
    std::string timeout = std::to_string(message_timeout_ms > 0 ? message_timeout_ms : 1);
    if (rd_kafka_conf_set(c.get(), "message.timeout.ms", timeout.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
        return fail(std::string("message.timeout.ms: ") + err);
    rd_kafka_conf_set_opaque(c.get(), p->callbacks_.get());
    rd_kafka_conf_set_dr_msg_cb(c.get(), on_delivery);
    rd_kafka_conf_set_error_cb(c.get(), on_error);
    rd_kafka_conf_set_log_cb(c.get(), on_log);
    kafka::install_certificate_callback<Callbacks, &Callbacks::monitor>(c.get(), p->callbacks_->monitor.security());
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c.get(), err, sizeof err);
    if (!rk) return fail(std::string("cannot create the Kafka producer: ") + err);
    c.release();  // owned by rk now
    p->rk_.reset(rk);
    kafka::TopicConfPtr tc(rd_kafka_default_topic_conf_dup(rk));
    char name[64];
    std::size_t name_size = sizeof name;
    if (rd_kafka_topic_conf_get(tc.get(), "partitioner", name, &name_size) == RD_KAFKA_CONF_OK) {
        if (PartitionerFn fn = deterministic_partitioner(name)) {
            p->partitioner_ = std::make_unique<KeyPartitioner>(fn);
            p->partitioner_->install(tc.get());
        }
    }
    kafka::TopicConfPtr companion_conf(companion.empty() ? nullptr : rd_kafka_topic_conf_dup(tc.get()));
    p->topic_.reset(rd_kafka_topic_new(rk, topic.c_str(), tc.release()));  // takes the topic conf
    if (!p->topic_) return fail("topic " + topic + ": " + rd_kafka_err2str(rd_kafka_last_error()));
    if (companion_conf) {
        // The same partitioner: a transfer's records and its other messages land in partitions of the same number.
        p->companion_.reset(rd_kafka_topic_new(rk, companion.c_str(), companion_conf.release()));
        if (!p->companion_) return fail("topic " + companion + ": " + rd_kafka_err2str(rd_kafka_last_error()));
    }
    return p;
}

Producer::~Producer() {
    // The topic handles must go before the producer handle; the callbacks after it (destroy may still call them).
    companion_.reset();
    topic_.reset();
    rk_.reset();
}

OwnedPayload allocate_payload(std::size_t bytes) {
    return OwnedPayload(static_cast<char*>(std::malloc(bytes ? bytes : 1)));
}

rd_kafka_resp_err_t Producer::produce(std::uint64_t id, std::string_view key, std::string_view payload,
                                      const wire::Headers& headers) {
    kafka::HeadersPtr h = kafka::to_kafka_headers(headers);
    return produce_with_flags(headed_topic(), id, key, const_cast<char*>(payload.data()), payload.size(),
                              RD_KAFKA_MSG_F_COPY, h);
}

rd_kafka_resp_err_t Producer::produce_record(std::uint64_t id, std::string_view key, std::string_view payload,
                                             std::int64_t timestamp_ms) {
    kafka::HeadersPtr none;
    return produce_with_flags(topic_.get(), id, key, const_cast<char*>(payload.data()), payload.size(),
                              RD_KAFKA_MSG_F_COPY, none, timestamp_ms);
}

rd_kafka_resp_err_t Producer::produce(std::uint64_t id, std::string_view key, OwnedPayload& payload, std::size_t len,
                                      const wire::Headers& headers) {
    kafka::HeadersPtr h = kafka::to_kafka_headers(headers);
    rd_kafka_resp_err_t err = produce_with_flags(headed_topic(), id, key, payload.get(), len, RD_KAFKA_MSG_F_FREE, h);
    if (!err) payload.release();  // librdkafka frees it once the message is done
    return err;
}

rd_kafka_resp_err_t Producer::produce_with_flags(rd_kafka_topic_t* topic, std::uint64_t id, std::string_view key,
                                                 char* payload, std::size_t len, int msgflags, kafka::HeadersPtr& h,
                                                 std::int64_t timestamp_ms) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA), RD_KAFKA_V_MSGFLAGS(msgflags),
        RD_KAFKA_V_VALUE(payload, len), RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_HEADERS(h.get()),
        RD_KAFKA_V_TIMESTAMP(timestamp_ms),  // 0: librdkafka reads the clock
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(id))), RD_KAFKA_V_END);
    if (!err) h.release();  // librdkafka owns the headers once the message is accepted
    return err;
}

std::vector<DeliveryReport> Producer::poll(int timeout_ms) {
    rd_kafka_poll(rk_.get(), timeout_ms);
    return std::exchange(callbacks_->reports, {});
}

std::string Producer::fatal_error() const {
    char buf[512];
    rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_.get(), buf, sizeof buf);
    if (!err) return {};
    return std::string(rd_kafka_err2name(err)) + ": " + buf;
}

std::string Producer::misconfiguration() const {
    // The sender may see the fatal error (rd_kafka_fatal_error) before the error callback that reports it has run.
    char buf[512];
    if (rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk_.get(), buf, sizeof buf))
        if (kafka::is_authorization_error(cause)) callbacks_->monitor.error_event(cause, buf);
    return callbacks_->monitor.verdict();
}

std::string Producer::explain(rd_kafka_resp_err_t err) const {
    return kafka::explain_error(err, topic_name_, callbacks_->monitor.security());
}

void Producer::purge() { rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT); }

}  // namespace ks::push
