#include "config.hpp"

#include <gtest/gtest.h>

using namespace ks;

TEST(Config, ParsesKeysValuesAndComments) {
    auto r = parse_config("# site\n\nbootstrap.servers = a:1,b:2\n  stream.timeout=30  \r\n", "/etc/x.conf");
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].key, "bootstrap.servers");
    EXPECT_EQ((*r)[0].value, "a:1,b:2");
    EXPECT_EQ((*r)[1].origin, "/etc/x.conf:4");
    EXPECT_EQ((*r)[1].value, "30");
}

TEST(Config, ErrorsNamePathAndLine) {
    auto r = parse_config("a=1\nnonsense line\n", "/etc/x.conf");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("/etc/x.conf:2"), std::string::npos) << r.error().message;
    EXPECT_FALSE(parse_config("bad key=1\n", "f"));
}

TEST(Config, UnknownOwnKeyIsAnErrorKafkaKeysPassThrough) {
    auto entries = parse_config("stream.timeout=5\nstream.bogus=1\nlinger.ms=5\n", "c");
    ASSERT_TRUE(entries);
    auto split = split_config(*entries, {"stream.timeout"});
    ASSERT_FALSE(split);
    EXPECT_NE(split.error().message.find("c:2"), std::string::npos);
    EXPECT_NE(split.error().message.find("stream.bogus"), std::string::npos);
    auto ok = split_config(*entries, {"stream.timeout", "stream.bogus"});
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->kafka.size(), 1u);
    EXPECT_EQ(ok->kafka[0].key, "linger.ms");
}

TEST(Config, OverrideWinsAndTypedGetters) {
    auto entries = parse_config("stream.timeout=5\n", "c");
    ASSERT_TRUE(entries);
    auto x = parse_override("stream.timeout=7.5");
    ASSERT_TRUE(x);
    entries->push_back(*x);
    auto split = split_config(*entries, {"stream.timeout", "stream.n"});
    ASSERT_TRUE(split);
    auto t = get_seconds(*split, "stream.timeout");
    ASSERT_TRUE(t);
    EXPECT_DOUBLE_EQ(t->value(), 7.5);
    EXPECT_FALSE(parse_override("novalue"));
    auto bad = split_config(*parse_config("stream.n=abc\n", "f"), {"stream.n"});
    ASSERT_TRUE(bad);
    auto n = get_u64(*bad, "stream.n", 0, 10);
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("f:1"), std::string::npos);
}
