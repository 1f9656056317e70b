#include "../../helper/push_options.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace ks;
using namespace ks::push;

namespace {

Result<CommandLine> parse(std::vector<std::string> args) { return parse_command_line(args); }

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

JobDefaults defaults() { return {"host1", "alice", 1000, 1000, "adhoc-1-2"}; }

bool mentions(const Error& e, const std::string& what) { return e.message.find(what) != std::string::npos; }

}  // namespace

TEST(PushOptions, ParsesEveryOptionInBothForms) {
    auto cl = parse({"--config",      "/etc/k.conf", "-X",        "linger.ms=5", "-Xacks=all",  "--topic=results",
                     "--cluster",     "c1",          "--job-id",  "42",          "--node",      "n1",
                     "--user",        "bob",         "--nodes",   "3",           "--exit-code", "-1",
                     "--include",     "*.csv",       "--exclude", "tmp/**",      "--timeout",   "2.5",
                     "--spool",       "/s",          "--run-as",  "1000:100",    "-v",          "--",
                     "-dir-with-dash"});
    ASSERT_TRUE(cl) << cl.error().message;
    EXPECT_EQ(*cl->config_path, "/etc/k.conf");
    ASSERT_EQ(cl->overrides.size(), 2u);
    EXPECT_EQ(cl->overrides[1].key, "acks");
    EXPECT_EQ(cl->topic, "results");
    EXPECT_EQ(*cl->cluster, "c1");
    EXPECT_EQ(*cl->job_id, "42");
    EXPECT_EQ(*cl->nodes, 3u);
    EXPECT_EQ(*cl->exit_code, -1);
    EXPECT_EQ(cl->includes, std::vector<std::string>{"*.csv"});
    EXPECT_EQ(cl->excludes, std::vector<std::string>{"tmp/**"});
    EXPECT_DOUBLE_EQ(*cl->timeout, 2.5);
    EXPECT_EQ(*cl->run_as, "1000:100");
    EXPECT_TRUE(cl->verbose);
    EXPECT_EQ(cl->dir, "-dir-with-dash");
}

TEST(PushOptions, UsageErrorsAreExplained) {
    EXPECT_TRUE(mentions(parse({"--topic", "t"}).error(), "DIR"));
    EXPECT_TRUE(mentions(parse({"/d"}).error(), "--topic"));
    EXPECT_TRUE(mentions(parse({"--topic", "bad topic", "/d"}).error(), "topic"));
    EXPECT_TRUE(mentions(parse({"--bogus", "/d"}).error(), "--bogus"));
    EXPECT_TRUE(mentions(parse({"--topic"}).error(), "needs a value"));
    EXPECT_TRUE(mentions(parse({"--topic", "t", "--timeout", "0", "/d"}).error(), "--timeout"));
    EXPECT_TRUE(mentions(parse({"--topic", "t", "--timeout", "abc", "/d"}).error(), "--timeout"));
    EXPECT_TRUE(mentions(parse({"--topic", "t", "--nodes", "0", "/d"}).error(), "--nodes"));
    EXPECT_TRUE(mentions(parse({"--topic", "t", "/a", "/b"}).error(), "exactly one"));
    EXPECT_TRUE(mentions(parse({"-X", "novalue", "--topic", "t", "/d"}).error(), "key=value"));
    EXPECT_TRUE(mentions(parse({"--drain-spool", "/s", "/d"}).error(), "no DIR"));
    EXPECT_TRUE(mentions(parse({"--drain-spool", "/s", "--topic", "t"}).error(), "--topic"));
    EXPECT_TRUE(parse({"--drain-spool", "/s", "--timeout", "5"}));
    EXPECT_TRUE(parse({"--help"})->help);
}

TEST(PushOptions, SettingsFromConfigWithCommandLineWinning) {
    auto entries = parse_config(
        "bootstrap.servers=b:9092\nstream.chunk.bytes=524288\nstream.timeout=60\n"
        "stream.spool=/var/s\nstream.cluster=hpc\nstream.max.open.files=8\n",
        "/etc/k.conf");
    ASSERT_TRUE(entries);
    auto cl = parse({"--topic", "t", "--timeout", "5", "/d"});
    ASSERT_TRUE(cl);
    auto s = resolve_settings(*entries, *cl);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->chunk_bytes, 524288u);
    EXPECT_DOUBLE_EQ(s->timeout_seconds, 5);
    EXPECT_EQ(s->spool_dir, "/var/s");
    EXPECT_EQ(*s->cluster, "hpc");
    EXPECT_EQ(s->max_open_files, 8u);
    ASSERT_EQ(s->kafka.size(), 1u);
    EXPECT_EQ(s->kafka[0].key, "bootstrap.servers");
}

TEST(PushOptions, ConfigErrorsNamePathAndLine) {
    auto cl = parse({"--topic", "t", "/d"});
    ASSERT_TRUE(cl);
    for (auto [text, what] :
         {std::pair{"a=1\nstream.bogus=1\n", "/etc/k.conf:2"}, std::pair{"stream.chunk.bytes=12\n", "/etc/k.conf:1"},
          std::pair{"\n\nstream.timeout=soon\n", "/etc/k.conf:3"},
          std::pair{"stream.spool=relative\n", "/etc/k.conf:1"}}) {
        auto entries = parse_config(text, "/etc/k.conf");
        ASSERT_TRUE(entries);
        auto s = resolve_settings(*entries, *cl);
        ASSERT_FALSE(s) << text;
        EXPECT_TRUE(mentions(s.error(), what)) << s.error().message;
    }
}

TEST(PushOptions, ForcedKafkaPropertiesCannotBeOverridden) {
    auto entries = parse_config("enable.idempotence=false\n", "/etc/k.conf");
    ASSERT_TRUE(entries);
    auto conf = kafka::make_conf({}, *entries, forced_kafka_properties());
    ASSERT_FALSE(conf);
    EXPECT_TRUE(mentions(conf.error(), "/etc/k.conf:1"));
    EXPECT_TRUE(check_chunk_fits(wire::kDefaultChunkBytes, 1'000'000));
    EXPECT_FALSE(check_chunk_fits(990'000, 1'000'000));
}

TEST(PushOptions, JobIdentityFromOptionsThenSlurmThenDefaults) {
    Settings s;
    auto plain = parse({"--topic", "t", "/d"});
    auto job = resolve_job(*plain, s, env_of({}), defaults());
    ASSERT_TRUE(job) << job.error().message;
    EXPECT_EQ(job->cluster, "default");
    EXPECT_EQ(job->job_id, "adhoc-1-2");
    EXPECT_EQ(job->node, "host1");
    EXPECT_EQ(job->user, "alice");
    EXPECT_EQ(job->nodes, 1u);
    EXPECT_FALSE(job->exit_code);

    auto slurm = env_of({{"SLURM_CLUSTER_NAME", "hpc"},
                         {"SLURM_JOB_ID", "77"},
                         {"SLURMD_NODENAME", "n7"},
                         {"SLURM_JOB_NUM_NODES", "4"},
                         {"SLURM_JOB_EXIT_CODE", "256"}});
    job = resolve_job(*plain, s, slurm, defaults());
    ASSERT_TRUE(job);
    EXPECT_EQ(job->cluster, "hpc");
    EXPECT_EQ(job->job_id, "77");
    EXPECT_EQ(job->node, "n7");
    EXPECT_EQ(job->nodes, 4u);
    EXPECT_EQ(job->exit_code, 1);

    auto explicit_cl = parse({"--topic", "t", "--cluster", "x", "--job-id", "9", "--node", "m", "--user", "carol",
                              "--nodes", "2", "--exit-code", "5", "/d"});
    job = resolve_job(*explicit_cl, s, slurm, defaults());
    ASSERT_TRUE(job);
    EXPECT_EQ(identity_of(*job).transfer_id, wire::make_transfer_id("x", "9", "m"));
    EXPECT_EQ(job->user, "carol");
    EXPECT_EQ(job->exit_code, 5);

    auto slash = parse({"--topic", "t", "--job-id", "a/b", "/d"});
    EXPECT_FALSE(resolve_job(*slash, s, env_of({}), defaults()));
    EXPECT_FALSE(resolve_job(*plain, s, env_of({{"SLURM_JOB_NUM_NODES", "many"}}), defaults()));
}

TEST(PushOptions, SlurmExitCodes) {
    EXPECT_EQ(exit_code_from_slurm(env_of({{"SLURM_JOB_EXIT_CODE2", "3:0"}})), 3);
    EXPECT_EQ(exit_code_from_slurm(env_of({{"SLURM_JOB_EXIT_CODE2", "0:9"}})), 137);
    EXPECT_EQ(exit_code_from_slurm(env_of({{"SLURM_JOB_EXIT_CODE", "9"}})), 137);
    EXPECT_EQ(exit_code_from_slurm(env_of({{"SLURM_JOB_EXIT_CODE", "0"}})), 0);
    EXPECT_FALSE(exit_code_from_slurm(env_of({{"SLURM_JOB_EXIT_CODE", "x"}})));
}

TEST(PushOptions, HelpCoversEveryOptionAndExitCode) {
    std::string help = usage_text();
    for (const char* o : {"--config", "-X", "--topic", "--cluster", "--job-id", "--node", "--user", "--nodes",
                          "--exit-code", "--include", "--exclude", "--timeout", "--spool", "--run-as", "--drain-spool",
                          "--verbose", "--help", "--version"})
        EXPECT_NE(help.find(o), std::string::npos) << o;
    for (const char* code : {"\n  0  ", "\n  1  ", "\n  2  ", "\n  3  ", "\n  4  "})
        EXPECT_NE(help.find(code), std::string::npos) << code;
}

TEST(PushOptions, DefaultOpenFilesFollowTheFdLimit) {
    EXPECT_EQ(ks::push::default_max_open_files(1u << 20), 1024u);
    EXPECT_EQ(ks::push::default_max_open_files(1024), 960u);
    EXPECT_EQ(ks::push::default_max_open_files(70), 16u);
    EXPECT_GE(ks::push::raise_fd_limit(), 1024u);  // Debian's default hard limit is far above this
}

TEST(PushOptions, CompanionTopicNamesAreReserved) {
    auto cl = parse({"--topic", "alice.results.ks-meta", "/d"});
    ASSERT_FALSE(cl);
    EXPECT_TRUE(mentions(cl.error(), "reserved for the companion topics of records mode"));
    EXPECT_EQ(wire::companion_topic("alice.results"), "alice.results.ks-meta");
    EXPECT_EQ(wire::user_topic_of("alice.results.ks-meta"), "alice.results");
    EXPECT_EQ(wire::user_topic_of("alice.results"), "alice.results");
    EXPECT_FALSE(wire::is_companion_topic(".ks-meta"));
}

TEST(PushOptions, SigningAndSpoolSettings) {
    auto cl = parse({"--topic", "t", "/d"});
    ASSERT_TRUE(cl);
    auto s = resolve_settings({}, *cl);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(s->authenticate);
    EXPECT_EQ(s->auth_key_file, "/etc/kafka-stream.key");
    std::vector<ConfigEntry> entries = {{"stream.auth", "none", "f:1"},
                                        {"stream.auth.key.file", "/k/site.key", "f:2"},
                                        {"stream.spool.max.bytes", "1000", "f:3"},
                                        {"stream.spool.min.free.percent", "10", "f:4"},
                                        {"stream.drain.user.seconds", "30", "f:5"}};
    s = resolve_settings(entries, *cl);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_FALSE(s->authenticate);
    EXPECT_EQ(s->auth_key_file, "/k/site.key");
    EXPECT_EQ(s->spool_max_bytes, 1000u);
    EXPECT_EQ(s->spool_min_free_percent, 10u);
    EXPECT_EQ(s->drain_user_seconds, 30);
    for (auto [key, value, why] : {std::tuple{"stream.auth", "maybe", "expected \"hmac\" or \"none\""},
                                   std::tuple{"stream.auth.key.file", "relative.key", "absolute path"},
                                   std::tuple{"stream.spool.min.free.percent", "100", "f:1"}}) {
        auto bad = resolve_settings({{key, value, "f:1"}}, *cl);
        ASSERT_FALSE(bad) << key;
        EXPECT_TRUE(mentions(bad.error(), why)) << bad.error().message;
    }
}
