// One librdkafka idempotent producer session, reduced to what the transfer needs: produce a message tagged with our
// own id, collect delivery reports, notice a fatal error. Rebuilding after a fatal error is ProducerSession's
// decision (producer_session.hpp); this class only makes a fresh session from the same configuration.
#pragma once
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kafka.hpp"
#include "key_partitioner.hpp"
#include "log.hpp"
#include "result.hpp"
#include "wire_format.hpp"

namespace ks::push {

// A message payload in malloc'd memory that librdkafka can take over (RD_KAFKA_MSG_F_FREE releases it with free()),
// so file data goes from pread to the socket without another copy.
struct FreeWithLibc {
    void operator()(char* p) const { std::free(p); }
};
using OwnedPayload = std::unique_ptr<char, FreeWithLibc>;

// `bytes` of uninitialised payload memory; empty when the allocation failed.
OwnedPayload allocate_payload(std::size_t bytes);

struct DeliveryReport {
    std::uint64_t id = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

class Producer {
public:
    // `conf` is duplicated, so the caller can keep it to build the next session (after dropping privileges the
    // site's config file may no longer be readable). message.timeout.ms is set to `message_timeout_ms`.
    // With a `companion` topic (records mode), messages with headers (open, chunks, manifest) go there and records
    // to `topic`.
    static Result<std::unique_ptr<Producer>> create(const rd_kafka_conf_t* conf, const std::string& topic,
                                                    int message_timeout_ms, const Log& log,
                                                    const std::string& companion = {});
    ~Producer();
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;

    // Queues one message (payload copied). Returns librdkafka's error, e.g. RD_KAFKA_RESP_ERR__QUEUE_FULL.
    rd_kafka_resp_err_t produce(std::uint64_t id, std::string_view key, std::string_view payload,
                                const wire::Headers& headers);
    // Queues one message whose first `len` bytes of `payload` librdkafka takes over without copying: `payload` is
    // released to it when the message is accepted, and left to the caller otherwise (e.g. QUEUE_FULL, to retry).
    rd_kafka_resp_err_t produce(std::uint64_t id, std::string_view key, OwnedPayload& payload, std::size_t len,
                                const wire::Headers& headers);
    // A message without headers (payload copied) whose Kafka timestamp is `timestamp_ms` (ms since the epoch):
    // records mode, where the line's read time is known already and librdkafka need not read the clock again.
    rd_kafka_resp_err_t produce_record(std::uint64_t id, std::string_view key, std::string_view payload,
                                       std::int64_t timestamp_ms);
    // Serves callbacks for up to timeout_ms and hands over the reports collected so far.
    std::vector<DeliveryReport> poll(int timeout_ms);
    // Non-empty once librdkafka raised a fatal error (the session can no longer deliver anything).
    std::string fatal_error() const;
    // Non-empty once an error showed that the configuration cannot work (wrong password, missing ACL, untrusted
    // certificate, ...; kafka_problem.hpp): one line saying what to fix. Stop at once; a rebuild would not help.
    std::string misconfiguration() const;
    // A delivery report's error in words (an authorization error names the principal and the ACL it needs).
    std::string explain(rd_kafka_resp_err_t err) const;
    // Fails everything queued or in flight (reports arrive with __PURGE_* errors on the next poll).
    void purge();
    int outstanding() const { return rd_kafka_outq_len(rk_.get()); }
    rd_kafka_t* handle() const { return rk_.get(); }

    struct Callbacks;  // receives librdkafka's callbacks; must outlive the handle

private:
    Producer() = default;
    rd_kafka_resp_err_t produce_with_flags(rd_kafka_topic_t* topic, std::uint64_t id, std::string_view key,
                                           char* payload, std::size_t len, int msgflags, kafka::HeadersPtr& headers,
                                           std::int64_t timestamp_ms = 0);
    // Where a message with headers goes: the companion topic in records mode.
    rd_kafka_topic_t* headed_topic() const { return companion_ ? companion_.get() : topic_.get(); }
    std::unique_ptr<Callbacks> callbacks_;
    std::string topic_name_;
    std::unique_ptr<KeyPartitioner> partitioner_;  // outlives rk_ and topic_ (destroyed after them)
    kafka::HandlePtr rk_;
    kafka::TopicPtr topic_;
    kafka::TopicPtr companion_;  // records mode: where everything but the records goes
};

}  // namespace ks::push
