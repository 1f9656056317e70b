// RAII over librdkafka's C handles, configuration building with errors that name their origin, and header conversion.
#pragma once
#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "result.hpp"
#include "wire_headers.hpp"

namespace ks::kafka {

struct HandleDeleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
    void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct TopicConfDeleter {
    void operator()(rd_kafka_topic_conf_t* c) const { rd_kafka_topic_conf_destroy(c); }
};
struct TopicDeleter {
    void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct HeadersDeleter {
    void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
struct MessageDeleter {
    void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct PartitionListDeleter {
    void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
struct QueueDeleter {
    void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};

using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using TopicConfPtr = std::unique_ptr<rd_kafka_topic_conf_t, TopicConfDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;

using Property = std::pair<std::string, std::string>;

// The value of `key` in `conf` as librdkafka prints it; empty if unknown.
std::string conf_value(const rd_kafka_conf_t* conf, const char* key);

// Applies `defaults` first, then the site's entries (which therefore override), then `forced` (which the tool's
// correctness depends on, e.g. enable.idempotence=true; a site entry that contradicts one is an error).
Result<ConfPtr> make_conf(const std::vector<Property>& defaults, const std::vector<ConfigEntry>& site,
                          const std::vector<Property>& forced);

// Kafka headers <-> the wire format's neutral list.
wire::Headers to_wire_headers(const rd_kafka_headers_t* headers);
HeadersPtr to_kafka_headers(const wire::Headers& headers);

// Topic names as Kafka accepts them: 1-249 characters of [A-Za-z0-9._-], not "." or "..".
bool valid_topic_name(std::string_view topic);

}  // namespace ks::kafka
