#include "kafka_access_check.hpp"

#include <algorithm>
#include <memory>

#include "kafka.hpp"
#include "kafka_problem.hpp"

namespace ks::sink {
namespace {

using Clock = std::chrono::steady_clock;

// The probe's librdkafka handle reports here (its conf's opaque).
struct Probe {
    kafka::SecurityMonitor monitor;
    const Log* log = nullptr;
};

void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* probe = static_cast<Probe*>(opaque);
    probe->monitor.error_event(static_cast<rd_kafka_resp_err_t>(err), reason);
    probe->log->debug(std::string("access check: ") + rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)) + ": " +
                      reason);
}

// librdkafka would print its connection errors on stderr: the verdict says it in one line instead.
void on_log(const rd_kafka_t* rk, int, const char* fac, const char* buf) {
    if (auto* probe = static_cast<Probe*>(rd_kafka_opaque(rk)))
        probe->log->debug(std::string("access check: kafka ") + fac + ": " + buf);
}

// Serves the handle's events (waiting up to `timeout_ms` for the first): the error callback, and the group's errors,
// which come as consumer messages.
void pump(rd_kafka_t* rk, Probe& probe, int timeout_ms = 0) {
    while (kafka::MessagePtr m{rd_kafka_consumer_poll(rk, timeout_ms)}) {
        if (m->err) probe.monitor.error_event(m->err, rd_kafka_message_errstr(m.get()));
        timeout_ms = 0;
    }
}

int ms_left(Clock::time_point deadline) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::max<long long>(ms, 0));
}

struct MetadataDeleter {
    void operator()(const rd_kafka_metadata_t* md) const { rd_kafka_metadata_destroy(md); }
};
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

// Metadata for `topic` (or for the brokers only), retried in short slices until the deadline or a verdict.
Result<MetadataPtr> metadata(rd_kafka_t* rk, rd_kafka_topic_t* topic, Probe& probe, Clock::time_point deadline) {
    while (true) {
        const rd_kafka_metadata_t* md = nullptr;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, topic, &md, std::clamp(ms_left(deadline), 1, 1000));
        pump(rk, probe);
        if (auto why = probe.monitor.verdict(); !why.empty()) {
            if (md) rd_kafka_metadata_destroy(md);
            return fail(why);
        }
        if (!err) return MetadataPtr(md);
        if (ms_left(deadline) == 0) return MetadataPtr();
        pump(rk, probe, 100);
    }
}

}  // namespace

Result<void> check_kafka_access(const std::vector<ConfigEntry>& kafka_properties, const AccessTarget& target,
                                const Log& log, std::chrono::milliseconds budget) {
    const auto deadline = Clock::now() + budget;
    TRY_ASSIGN(auto conf,
               kafka::make_conf({{"client.id", "kafka-stream-sink"}}, kafka_properties, {{"group.id", target.group}}));
    Probe probe{kafka::SecurityMonitor(kafka::client_security(conf.get(), kafka::Role::consumer)), &log};
    rd_kafka_conf_set_opaque(conf.get(), &probe);
    rd_kafka_conf_set_error_cb(conf.get(), on_error);
    rd_kafka_conf_set_log_cb(conf.get(), on_log);
    kafka::install_certificate_callback<Probe, &Probe::monitor>(conf.get(), probe.monitor.security());
    char err[512];
    kafka::HandlePtr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
    if (!rk) return fail(std::string("creating the Kafka consumer: ") + err);
    conf.release();  // owned by the handle now
    rd_kafka_poll_set_consumer(rk.get());
    struct NoClose {  // the probe never joined the group: nothing to leave
        rd_kafka_t* rk;
        ~NoClose() { rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); }
    } destroy{rk.release()};
    const kafka::ClientSecurity& security = probe.monitor.security();

    TRY_ASSIGN(auto brokers, metadata(destroy.rk, nullptr, probe, deadline));
    if (!brokers) {
        log.warning("Kafka (" + security.bootstrap + ") did not answer within " +
                    std::to_string(budget.count() / 1000) + " s: starting anyway, the consumer will wait for it");
        return {};
    }
    for (const auto& name : target.topics) {
        kafka::TopicPtr topic(rd_kafka_topic_new(destroy.rk, name.c_str(), nullptr));
        TRY_ASSIGN(auto md, metadata(destroy.rk, topic.get(), probe, deadline));
        if (!md || md->topic_cnt < 1) continue;
        const rd_kafka_metadata_topic_t& t = md->topics[0];
        if (kafka::is_authorization_error(t.err)) return fail(kafka::explain_error(t.err, name, security));
        if (t.err || t.partition_cnt < 1) continue;  // not created yet: the consumer waits for it
        // Reading the group's committed offset asks the group coordinator, which checks the group's ACL.
        kafka::PartitionListPtr parts(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(parts.get(), name.c_str(), t.partitions[0].id);
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
        while (e == RD_KAFKA_RESP_ERR__TIMED_OUT && ms_left(deadline) > 0) {
            e = rd_kafka_committed(destroy.rk, parts.get(), std::clamp(ms_left(deadline), 1, 1000));
            pump(destroy.rk, probe);
            if (auto why = probe.monitor.verdict(); !why.empty()) return fail(why);
        }
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) e = parts->elems[0].err;
        if (kafka::is_authorization_error(e))
            return fail(kafka::explain_error(e, e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ? target.group : name,
                                             security));
        if (e) log.debug("access check: committed offsets of group " + target.group + ": " + rd_kafka_err2str(e));
    }
    return {};
}

std::optional<std::string> configuration_error(rd_kafka_t* rk, const rd_kafka_message_t* m, const std::string& group) {
    auto security = kafka::client_security(rd_kafka_conf(rk), kafka::Role::consumer);
    if (kafka::is_authorization_error(m->err)) {
        const bool on_group = m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED || !m->rkt;
        return kafka::explain_error(m->err, on_group ? group : std::string(rd_kafka_topic_name(m->rkt)), security);
    }
    auto problem = kafka::classify_error(m->err, rd_kafka_message_errstr(m), security);
    if (problem && problem->definitive) return problem->message;
    return std::nullopt;
}

}  // namespace ks::sink
