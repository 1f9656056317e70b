#include "../../helper/size_limit.hpp"

#include <gtest/gtest.h>

#include "../../helper/push_options.hpp"

using namespace ks::push;

namespace {

WalkResult three_files() {
    WalkResult w;
    w.files = {{"a", 10}, {"big/sparse", 100ULL << 30}, {"c", 11}};
    w.skipped = {{"fifo", "fifo"}};
    return w;
}

TEST(PushSizeLimit, NoLimitKeepsEverything) {
    WalkResult w = three_files();
    apply_size_limit(w, std::nullopt);
    ASSERT_EQ(w.files.size(), 3u);
    EXPECT_EQ(w.skipped.size(), 1u);
}

TEST(PushSizeLimit, LargerFilesBecomeSkipsWithTheReason) {
    WalkResult w = three_files();
    apply_size_limit(w, 10);  // "a" is exactly at the limit: kept
    ASSERT_EQ(w.files.size(), 1u);
    EXPECT_EQ(w.files[0].path, "a");
    ASSERT_EQ(w.skipped.size(), 3u);
    EXPECT_EQ(w.skipped[1].path, "big/sparse");
    EXPECT_EQ(w.skipped[1].reason, "too large: 107374182400 bytes, above stream.max.file.bytes=10");
    EXPECT_EQ(w.skipped[2].path, "c");
    EXPECT_EQ(w.skipped[2].reason, too_large_reason(11, 10));
}

TEST(PushSizeLimit, ConfigKeyIsParsedAndChecked) {
    CommandLine cl;
    auto s = resolve_settings({{"stream.max.file.bytes", "1048576", "test:1"}}, cl);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    EXPECT_EQ(s->max_file_bytes, 1048576u);
    auto none = resolve_settings({}, cl);
    ASSERT_TRUE(none.has_value());
    EXPECT_FALSE(none->max_file_bytes.has_value());
    EXPECT_FALSE(resolve_settings({{"stream.max.file.bytes", "0", "test:1"}}, cl).has_value());
    EXPECT_FALSE(resolve_settings({{"stream.max.file.bytes", "10G", "test:1"}}, cl).has_value());
}

}  // namespace
