#include <gtest/gtest.h>

#include "../../sink/offset_watermark.hpp"

using ks::sink::OffsetWatermark;

TEST(SinkWatermark, NothingProcessedNothingToCommit) {
    OffsetWatermark w;
    EXPECT_FALSE(w.commit_point());
    EXPECT_FALSE(w.needs_commit());
}

TEST(SinkWatermark, CommitsOnlyWhatIsDurable) {
    OffsetWatermark w;
    w.processed(10);
    w.processed(11);
    w.processed(12);
    EXPECT_EQ(*w.commit_point(), 10);  // nothing durable yet: re-read from 10
    w.all_durable();
    EXPECT_EQ(*w.commit_point(), 13);
    EXPECT_TRUE(w.needs_commit());
    w.committed(13);
    EXPECT_FALSE(w.needs_commit());
}

TEST(SinkWatermark, LowestNotDurablePinsTheCommit) {
    // Offsets re-delivered after a rebalance come lower than what was already processed: the commit waits for them.
    OffsetWatermark w;
    for (int o = 5; o < 9; ++o) w.processed(o);
    w.processed(3);
    w.processed(4);
    EXPECT_EQ(*w.commit_point(), 3);
    w.all_durable();
    EXPECT_EQ(*w.commit_point(), 9);
    w.processed(9);
    EXPECT_EQ(*w.commit_point(), 9);
    EXPECT_TRUE(w.has_pending());
}

TEST(SinkWatermark, DurableOnArrivalAdvancesPastIt) {
    OffsetWatermark w;
    w.processed_durable(7);
    EXPECT_EQ(*w.commit_point(), 8);
    w.processed(8);
    w.processed_durable(9);
    EXPECT_EQ(*w.commit_point(), 8);
    EXPECT_TRUE(w.has_pending());
}

TEST(SinkWatermark, NeverCommitsBackwards) {
    OffsetWatermark w;
    w.processed(5);
    w.all_durable();
    w.committed(6);
    w.processed(3);  // re-delivered after a seek
    EXPECT_EQ(*w.commit_point(), 3);
    EXPECT_FALSE(w.needs_commit());
}
