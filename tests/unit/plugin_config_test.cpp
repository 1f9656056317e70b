#include "../../spank_plugin/plugin_config.hpp"

#include <gtest/gtest.h>

using namespace ks::plugin;

namespace {
ks::Result<PluginConfig> parse(std::vector<std::string_view> args) { return parse_plugin_args(args); }
bool mentions(const ks::Error& e, std::string_view s) { return e.message.find(s) != std::string::npos; }
}  // namespace

TEST(PluginConfig, DefaultsNeedOnlyTmpdir) {
    auto c = parse({"tmpdir=/scratch/%u/job_%j"});
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->tmpdir, "/scratch/%u/job_%j");
    EXPECT_EQ(c->helper, KS_DEFAULT_HELPER);
    EXPECT_EQ(c->timeout_seconds, 300u);
    EXPECT_FALSE(c->create_tmpdir);
    EXPECT_FALSE(c->allow_shared);
    EXPECT_FALSE(c->fail_on_error);
    EXPECT_TRUE(c->config_file.empty());
    EXPECT_TRUE(c->topics.empty());
    EXPECT_FALSE(c->tmpdir_from_job());
}

TEST(PluginConfig, EveryKeyIsParsed) {
    auto c = parse({"config=/etc/slurm/kafka-stream.conf", "helper=/opt/ks/bin/kafka-stream-push",
                    "tmpdir=/scratch/%n/job_%j", "create_tmpdir=yes", "topics=^%u[.].*$", "timeout=60",
                    "spool=/var/spool/ks", "allow_shared=true", "fail_on_error=1", "state_dir=/run/ks"});
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->config_file, "/etc/slurm/kafka-stream.conf");
    EXPECT_EQ(c->helper, "/opt/ks/bin/kafka-stream-push");
    EXPECT_TRUE(c->create_tmpdir);
    EXPECT_EQ(c->topics, "^%u[.].*$");
    EXPECT_EQ(c->timeout_seconds, 60u);
    EXPECT_EQ(c->spool, "/var/spool/ks");
    EXPECT_TRUE(c->allow_shared);
    EXPECT_TRUE(c->fail_on_error);
    EXPECT_EQ(c->state_dir, "/run/ks");
    EXPECT_EQ(plugin_config_keys().size(), 10u);
}

TEST(PluginConfig, UnknownKeyIsAnErrorNamingTheKnownOnes) {
    auto c = parse({"tmpdir=/x/%j", "timeuot=5"});
    ASSERT_FALSE(c);
    EXPECT_TRUE(mentions(c.error(), "unknown key 'timeuot'")) << c.error().message;
    EXPECT_TRUE(mentions(c.error(), "timeout")) << c.error().message;
}

TEST(PluginConfig, MalformedValuesAreErrors) {
    EXPECT_FALSE(parse({"tmpdir=/x", "novalue"}));
    EXPECT_FALSE(parse({"tmpdir=/x", "=5"}));
    EXPECT_FALSE(parse({"tmpdir=/x", "timeout=0"}));
    EXPECT_FALSE(parse({"tmpdir=/x", "timeout=-1"}));
    EXPECT_FALSE(parse({"tmpdir=/x", "timeout=10s"}));
    EXPECT_FALSE(parse({"tmpdir=/x", "timeout=86401"}));
    EXPECT_FALSE(parse({"tmpdir=/x", "create_tmpdir=maybe"}));
    EXPECT_FALSE(parse({"tmpdir=/x", "helper=kafka-stream-push"}));  // relative: would depend on PATH
    EXPECT_FALSE(parse({"tmpdir=/x", "config="}));
    EXPECT_FALSE(parse({"tmpdir=/x", "timeout=5", "timeout=6"}));
    auto c = parse({"tmpdir=/x", "allow_shared=perhaps"});
    ASSERT_FALSE(c);
    EXPECT_TRUE(mentions(c.error(), "allow_shared=perhaps")) << c.error().message;
}

TEST(PluginConfig, TmpdirIsRequiredAndConsistent) {
    auto none = parse({});
    ASSERT_FALSE(none);
    EXPECT_TRUE(mentions(none.error(), "tmpdir= is required")) << none.error().message;
    EXPECT_FALSE(parse({"tmpdir=scratch/%j"}));
    auto job = parse({"tmpdir=job"});
    ASSERT_TRUE(job) << job.error().message;
    EXPECT_TRUE(job->tmpdir_from_job());
    EXPECT_FALSE(parse({"tmpdir=job", "create_tmpdir=yes"}));
}
