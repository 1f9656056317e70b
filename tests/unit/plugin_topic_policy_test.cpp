#include "../../spank_plugin/topic_policy.hpp"

#include <gtest/gtest.h>

#include <regex.h>

using namespace ks::plugin;

TEST(PluginTopicPolicy, KafkaNameRules) {
    EXPECT_TRUE(check_kafka_topic_name("results"));
    EXPECT_TRUE(check_kafka_topic_name("a.b_c-D9"));
    EXPECT_TRUE(check_kafka_topic_name(std::string(249, 'x')));
    EXPECT_FALSE(check_kafka_topic_name(std::string(250, 'x')));
    EXPECT_FALSE(check_kafka_topic_name(""));
    EXPECT_FALSE(check_kafka_topic_name("."));
    EXPECT_FALSE(check_kafka_topic_name(".."));
    EXPECT_TRUE(check_kafka_topic_name("..."));
    for (std::string bad : {"a b", "a/b", "a:b", "ä", "a\nb", "a*", "a,b"})
        EXPECT_FALSE(check_kafka_topic_name(bad)) << bad;
    // Records mode's companion topics are not for users.
    auto companion = check_kafka_topic_name("alice.results.ks-meta");
    ASSERT_FALSE(companion);
    EXPECT_NE(companion.error().message.find("reserved"), std::string::npos);
    EXPECT_TRUE(check_kafka_topic_name("alice.ks-meta.results"));
}

TEST(PluginTopicPolicy, RegexEscapeMatchesOnlyItself) {
    const std::string user = "a.b+c$d(e)[f]{g}|h^i\\j?k*l-m/n";
    regex_t re;
    ASSERT_EQ(regcomp(&re, ("^" + regex_escape(user) + "$").c_str(), REG_EXTENDED | REG_NOSUB), 0);
    EXPECT_EQ(regexec(&re, user.c_str(), 0, nullptr, 0), 0);
    EXPECT_NE(regexec(&re, "aXb+c$d(e)[f]{g}|h^i\\j?k*l-m/n", 0, nullptr, 0), 0);
    regfree(&re);
}

TEST(PluginTopicPolicy, SitePolicySubstitutesTheUser) {
    EXPECT_TRUE(check_topic("alice.results", "%u[.].+", "alice"));
    EXPECT_FALSE(check_topic("bob.results", "%u[.].+", "alice"));
    // The whole name must match, not a part of it.
    EXPECT_FALSE(check_topic("x.alice.results", "%u[.].+", "alice"));
    // A user name with regex metacharacters matches only literally.
    EXPECT_TRUE(check_topic("a.b.out", "%u[.].+", "a.b"));
    EXPECT_FALSE(check_topic("aXb.out", "%u[.].+", "a.b"));
    // No policy: any valid Kafka name; a policy never admits an invalid Kafka name.
    EXPECT_TRUE(check_topic("anything", "", "alice"));
    EXPECT_FALSE(check_topic("alice.a b", "%u[.].+", "alice"));
    EXPECT_FALSE(check_topic("100%", "100%%", "alice"));  // '%' is not a Kafka character
}

TEST(PluginTopicPolicy, PolicyErrorsAreReportedNotThrown) {
    auto bad_regex = check_topic("alice.x", "%u[.", "alice");
    ASSERT_FALSE(bad_regex);
    EXPECT_NE(bad_regex.error().message.find("not a valid regular expression"), std::string::npos);
    auto bad_spec = check_topic("alice.x", "%x.*", "alice");
    ASSERT_FALSE(bad_spec);
    EXPECT_NE(bad_spec.error().message.find("%x"), std::string::npos);
    EXPECT_FALSE(expand_topic_policy("abc%", "alice"));
    auto expanded = expand_topic_policy("%u-%%", "al.ice");
    ASSERT_TRUE(expanded);
    EXPECT_EQ(*expanded, "al\\.ice-%");
}

TEST(PluginTopicPolicy, DisallowedTopicMessageNamesThePolicy) {
    auto r = check_topic("results", "%u[.].+", "alice");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("not allowed on this cluster"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("%u[.].+"), std::string::npos) << r.error().message;
}

TEST(PluginTopicPolicy, IncludeList) {
    auto one = parse_include_list("*.csv");
    ASSERT_TRUE(one);
    EXPECT_EQ(*one, std::vector<std::string>{"*.csv"});
    auto many = parse_include_list("*.csv,out/**,a b");
    ASSERT_TRUE(many);
    EXPECT_EQ(*many, (std::vector<std::string>{"*.csv", "out/**", "a b"}));
    EXPECT_FALSE(parse_include_list(""));
    EXPECT_FALSE(parse_include_list("a,,b"));
    EXPECT_FALSE(parse_include_list("a,"));
}

TEST(PluginTopicPolicy, StepInsideAnAllocationUsesTheJobsTopic) {
    EXPECT_TRUE(check_step_topic("alice.out", "42", "alice.out"));
    auto none = check_step_topic("alice.out", "42", "");
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().message.find("give --kafka-stream to sbatch or salloc"), std::string::npos);
    EXPECT_NE(none.error().message.find("job 42"), std::string::npos);
    auto other = check_step_topic("alice.out", "42", "alice.other");
    ASSERT_FALSE(other);
    EXPECT_NE(other.error().message.find("'alice.other'"), std::string::npos);
}
