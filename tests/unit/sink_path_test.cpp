#include <gtest/gtest.h>

#include "../../sink/safe_path.hpp"

using namespace ks::sink;

TEST(SinkPath, AcceptsNestedAndNonAsciiNames) {
    auto r = split_relative_path("out/résultats/日本語.csv");
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[1], "résultats");
    // POSIX names are bytes: invalid UTF-8 passes the rules.
    EXPECT_TRUE(split_relative_path(std::string("a/\xff\xfe.bin")));
    EXPECT_TRUE(split_relative_path(".hidden/..dots/a..b"));
}

TEST(SinkPath, RejectsEscapesAndOddComponents) {
    for (std::string bad : {"", "/etc/passwd", "../x", "a/../../x", "a/./b", ".", "..", "a//b", "a/", "a/b/.."})
        EXPECT_FALSE(split_relative_path(bad)) << "accepted \"" << bad << "\"";
}

TEST(SinkPath, RejectsNulAndControlCharacters) {
    EXPECT_FALSE(split_relative_path(std::string("a\0b", 3)));
    EXPECT_FALSE(split_relative_path("a\nb"));
    EXPECT_FALSE(
        split_relative_path("a\x01"
                            "b"));
    EXPECT_FALSE(split_relative_path("a\x7f"));
    EXPECT_FALSE(check_component("a/b"));
}

TEST(SinkPath, EnforcesLengthLimits) {
    EXPECT_TRUE(split_relative_path(std::string(255, 'a')));
    EXPECT_FALSE(split_relative_path(std::string(256, 'a')));
    std::string deep;
    for (int i = 0; i < 257; ++i) deep += (i ? "/" : "") + std::string("d");
    EXPECT_FALSE(split_relative_path(deep));
    std::string long_path;
    while (long_path.size() <= 4096) long_path += std::string(200, 'x') + "/";
    long_path += "f";
    EXPECT_FALSE(split_relative_path(long_path));
}

TEST(SinkPath, PrintableEscapesUntrustedBytes) {
    EXPECT_EQ(printable("a\nb"), "a\\x0ab");
    EXPECT_EQ(printable(std::string(300, 'x'), 10), "xxxxxxxxxx...");
}
