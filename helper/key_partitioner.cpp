#include "key_partitioner.hpp"

#include <array>
#include <utility>

namespace ks::push {

PartitionerFn deterministic_partitioner(std::string_view name) {
    static constexpr std::array<std::pair<std::string_view, PartitionerFn>, 6> kBuiltIn{{
        {"consistent", rd_kafka_msg_partitioner_consistent},
        {"consistent_random", rd_kafka_msg_partitioner_consistent_random},
        {"murmur2", rd_kafka_msg_partitioner_murmur2},
        {"murmur2_random", rd_kafka_msg_partitioner_murmur2_random},
        {"fnv1a", rd_kafka_msg_partitioner_fnv1a},
        {"fnv1a_random", rd_kafka_msg_partitioner_fnv1a_random},
    }};
    for (const auto& [n, fn] : kBuiltIn)
        if (n == name) return fn;
    return nullptr;
}

void KeyPartitioner::install(rd_kafka_topic_conf_t* conf) {
    rd_kafka_topic_conf_set_opaque(conf, this);
    rd_kafka_topic_conf_set_partitioner_cb(conf, [](const rd_kafka_topic_t* rkt, const void* key, std::size_t keylen,
                                                    std::int32_t cnt, void* self, void* msg_opaque) {
        return static_cast<KeyPartitioner*>(self)->partition(
            rkt, std::string_view(static_cast<const char*>(key), key ? keylen : 0), cnt, msg_opaque);
    });
}

std::int32_t KeyPartitioner::partition(const rd_kafka_topic_t* rkt, std::string_view key, std::int32_t partition_cnt,
                                       void* msg_opaque) {
    if (key.empty()) return inner_(rkt, nullptr, 0, partition_cnt, nullptr, msg_opaque);
    std::lock_guard lock(mutex_);
    if (partition_cnt != count_ || key != key_) {
        chosen_ = inner_(rkt, key.data(), key.size(), partition_cnt, nullptr, msg_opaque);
        key_.assign(key);
        count_ = partition_cnt;
    }
    return chosen_;
}

}  // namespace ks::push
