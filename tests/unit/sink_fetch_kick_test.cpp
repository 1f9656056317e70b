#include "../../sink/fetch_kick.hpp"

#include <gtest/gtest.h>

namespace ks::sink {
namespace {

TEST(FetchKick, KicksWhenTheQueueRanDryAfterHalfAQueueOfMessages) {
    FetchKick kick(200000, 64ull << 20);
    for (int i = 0; i < 99999; ++i) kick.consumed(200);
    EXPECT_FALSE(kick.ran_dry(0));  // the queue may never have been full: librdkafka is still fetching
    for (int i = 0; i < 100000; ++i) kick.consumed(200);
    EXPECT_FALSE(kick.ran_dry(5));  // not dry yet
    EXPECT_TRUE(kick.ran_dry(0));
    EXPECT_FALSE(kick.ran_dry(0));  // counting started over
}

TEST(FetchKick, KicksWhenTheQueueRanDryAfterHalfAQueueOfBytes) {
    FetchKick kick(200000, 64ull << 20);
    for (int i = 0; i < 33; ++i) kick.consumed(960 << 10);  // 31 MiB of chunks
    EXPECT_FALSE(kick.ran_dry(0));
    for (int i = 0; i < 35; ++i) kick.consumed(960 << 10);
    EXPECT_TRUE(kick.ran_dry(0));
}

}  // namespace
}  // namespace ks::sink
