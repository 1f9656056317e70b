// librdkafka hashes the key of every message to choose its partition. All messages of a transfer carry the same key,
// and in records mode that hash, repeated for each of millions of lines, was a visible share of the push's CPU. KeyPartitioner
// wraps the configured key-hashing partitioner and answers a key it just saw (for the same partition count) without
// hashing it again, so the choice is exactly the configured partitioner's.
#pragma once
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace ks::push {

using PartitionerFn = std::int32_t (*)(const rd_kafka_topic_t*, const void* key, std::size_t keylen,
                                       std::int32_t partition_cnt, void* rkt_opaque, void* msg_opaque);

// librdkafka's built-in partitioner for the `partitioner` property value `name`, if it maps a non-empty key to one
// partition (the *_random ones pick at random only for messages without a key). nullptr for "random" or unknown names:
// those are left to librdkafka.
PartitionerFn deterministic_partitioner(std::string_view name);

class KeyPartitioner {
public:
    explicit KeyPartitioner(PartitionerFn inner) : inner_(inner) {}
    KeyPartitioner(const KeyPartitioner&) = delete;
    KeyPartitioner& operator=(const KeyPartitioner&) = delete;

    // Installs this as `conf`'s partitioner; `this` must outlive the topic created from `conf`.
    void install(rd_kafka_topic_conf_t* conf);
    std::int32_t partition(const rd_kafka_topic_t* rkt, std::string_view key, std::int32_t partition_cnt,
                           void* msg_opaque);

private:
    PartitionerFn inner_;
    std::mutex mutex_;  // librdkafka may call the partitioner from any of its threads
    std::string key_;
    std::int32_t count_ = -1;
    std::int32_t chosen_ = -1;
};

}  // namespace ks::push
