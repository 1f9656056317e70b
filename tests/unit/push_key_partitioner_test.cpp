#include "../../helper/key_partitioner.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ks::push {
namespace {

// Counts its calls through msg_opaque (an int the test owns) and answers like a key hash would.
std::int32_t counting(const rd_kafka_topic_t*, const void* key, std::size_t keylen, std::int32_t cnt, void*,
                      void* calls) {
    ++*static_cast<int*>(calls);
    std::uint32_t h = 7;
    for (std::size_t i = 0; i < keylen; ++i) h = h * 31 + static_cast<const unsigned char*>(key)[i];
    return static_cast<std::int32_t>(h % static_cast<std::uint32_t>(cnt));
}

TEST(KeyPartitioner, RepeatedKeyIsHashedOnce) {
    KeyPartitioner memo(counting);
    int calls = 0;
    const std::int32_t first = memo.partition(nullptr, "c/42/n1", 12, &calls);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(memo.partition(nullptr, "c/42/n1", 12, &calls), first);
    EXPECT_EQ(calls, 1);
}

TEST(KeyPartitioner, AnotherKeyOrPartitionCountIsHashedAgain) {
    KeyPartitioner memo(counting);
    int calls = 0;
    memo.partition(nullptr, "c/42/n1", 12, &calls);
    memo.partition(nullptr, "c/42/n2", 12, &calls);
    memo.partition(nullptr, "c/42/n2", 5, &calls);  // partitions were added: the answer may change
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(memo.partition(nullptr, "c/42/n2", 5, &calls), counting(nullptr, "c/42/n2", 7, 5, nullptr, &calls));
}

TEST(KeyPartitioner, MessagesWithoutKeyAlwaysGoToTheInnerPartitioner) {
    KeyPartitioner memo(counting);
    int calls = 0;
    memo.partition(nullptr, "", 3, &calls);
    memo.partition(nullptr, "", 3, &calls);
    EXPECT_EQ(calls, 2);
}

TEST(KeyPartitioner, SameAnswersAsLibrdkafkasOwnPartitioners) {
    for (const char* name : {"consistent", "consistent_random", "murmur2", "murmur2_random", "fnv1a", "fnv1a_random"}) {
        PartitionerFn fn = deterministic_partitioner(name);
        ASSERT_NE(fn, nullptr) << name;
        KeyPartitioner memo(fn);
        for (int round = 0; round < 3; ++round)
            for (int job = 0; job < 50; ++job) {
                const std::string key = "cluster/" + std::to_string(job) + "/n" + std::to_string(job % 3);
                const std::int32_t want = fn(nullptr, key.data(), key.size(), 16, nullptr, nullptr);
                EXPECT_EQ(memo.partition(nullptr, key, 16, nullptr), want) << name << " " << key;
                EXPECT_EQ(memo.partition(nullptr, key, 16, nullptr), want) << name << " " << key;
            }
    }
}

TEST(KeyPartitioner, OnlyKeyHashingPartitionersAreWrapped) {
    EXPECT_EQ(deterministic_partitioner("random"), nullptr);  // would not pick one partition per key
    EXPECT_EQ(deterministic_partitioner("no-such"), nullptr);
    EXPECT_EQ(deterministic_partitioner("murmur2_random"), &rd_kafka_msg_partitioner_murmur2_random);
}

}  // namespace
}  // namespace ks::push
