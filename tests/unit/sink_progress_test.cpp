#include <gtest/gtest.h>

#include "../../sink/progress.hpp"

using namespace ks::sink;

TEST(SinkProgress, FormatsCountsAndRate) {
    SinkStats s;
    s.messages = 1234;
    s.bytes = 56'700'000;
    s.finalized_transfers = 3;
    s.quarantined = 1;
    EXPECT_EQ(format_progress(s, 12.3e6), "1234 msgs, 56.7 MB (12.3 MB/s), 3 finalized, 1 quarantined");
}
