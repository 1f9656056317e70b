#include "../../helper/glob_filter.hpp"

#include <gtest/gtest.h>

using ks::push::glob_match;
using ks::push::GlobFilter;

TEST(PushGlob, PatternWithoutSlashMatchesTheFileNameAtAnyDepth) {
    EXPECT_TRUE(glob_match("*.csv", "a.csv"));
    EXPECT_TRUE(glob_match("*.csv", "out/deep/a.csv"));
    EXPECT_FALSE(glob_match("*.csv", "a.csv.gz"));
    EXPECT_TRUE(glob_match("*", ".hidden"));
    EXPECT_FALSE(glob_match("out", "out/a"));  // the name of the file is "a"
}

TEST(PushGlob, PatternWithSlashMatchesComponentWise) {
    EXPECT_TRUE(glob_match("out/*.csv", "out/a.csv"));
    EXPECT_FALSE(glob_match("out/*.csv", "out/x/a.csv"));  // '*' never crosses '/'
    EXPECT_FALSE(glob_match("out/*.csv", "x/out/a.csv"));  // anchored at DIR
    EXPECT_TRUE(glob_match("out/?.csv", "out/b.csv"));
    EXPECT_TRUE(glob_match("out/[ab].csv", "out/b.csv"));
    EXPECT_FALSE(glob_match("out/[ab].csv", "out/c.csv"));
}

TEST(PushGlob, DoubleStarSpansZeroOrMoreComponents) {
    EXPECT_TRUE(glob_match("out/**/*.csv", "out/a.csv"));
    EXPECT_TRUE(glob_match("out/**/*.csv", "out/x/y/a.csv"));
    EXPECT_FALSE(glob_match("out/**/*.csv", "other/x/a.csv"));
    EXPECT_TRUE(glob_match("**/tmp/**", "tmp/a"));
    EXPECT_TRUE(glob_match("**/tmp/**", "a/b/tmp/c/d"));
    EXPECT_FALSE(glob_match("**/tmp/**", "a/tmpx/c"));
    EXPECT_TRUE(glob_match("cache/**", "cache"));
    EXPECT_TRUE(glob_match("**/**/x", "x"));
}

TEST(PushGlob, ExclusionWinsAndIncludesRestrict) {
    auto f = GlobFilter::create({"*.csv", "logs/**"}, {"secret*", "logs/debug/**"});
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_TRUE(f->wants_file("r/a.csv"));
    EXPECT_FALSE(f->wants_file("r/a.txt"));
    EXPECT_FALSE(f->wants_file("secret.csv"));
    EXPECT_TRUE(f->wants_file("logs/x.txt"));
    EXPECT_FALSE(f->wants_file("logs/debug/x.txt"));
    EXPECT_TRUE(f->excludes_directory("logs/debug"));
    EXPECT_FALSE(f->excludes_directory("logs"));
}

TEST(PushGlob, NoPatternsSendsEverything) {
    auto f = GlobFilter::create({}, {});
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->wants_file("any/thing"));
    EXPECT_FALSE(f->excludes_directory("any"));
}

TEST(PushGlob, RejectsBadPatterns) {
    EXPECT_FALSE(GlobFilter::create({""}, {}));
    auto abs = GlobFilter::create({}, {"/etc/*"});
    ASSERT_FALSE(abs);
    EXPECT_NE(abs.error().message.find("/etc/*"), std::string::npos);
}
