#include <gtest/gtest.h>

#include "../../sink/consumer_service.hpp"
#include "../../sink/sink_options.hpp"

using namespace ks;
using namespace ks::sink;

namespace {
Result<SinkConfig> resolve(const std::vector<std::string_view>& args, std::string_view file = "") {
    auto a = parse_sink_args(args);
    if (!a) return std::unexpected(a.error());
    auto entries = parse_config(file, "sink.conf");
    if (!entries) return std::unexpected(entries.error());
    return resolve_sink_config(*a, *entries);
}
}  // namespace

TEST(SinkOptions, CommandLineWithDefaults) {
    auto c = resolve({"-X", "bootstrap.servers=k:9092", "--topic", "a,b", "--topic=c", "--group", "g", "--output", "/r",
                      "--exit-when-idle", "2.5", "--chown"});
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->topics, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(c->group, "g");
    EXPECT_EQ(c->output, "/r");
    EXPECT_EQ(c->layout, "{user}/{job}/{node}/{path}");
    ASSERT_TRUE(c->exit_when_idle);
    EXPECT_DOUBLE_EQ(*c->exit_when_idle, 2.5);
    EXPECT_TRUE(c->chown);
    EXPECT_DOUBLE_EQ(c->commit_interval_s, 2.0);
    ASSERT_EQ(c->kafka.size(), 1u);
    EXPECT_EQ(c->kafka[0].key, "bootstrap.servers");
}

TEST(SinkOptions, ConfigFileThenOverridesThenOptions) {
    std::string_view file =
        "bootstrap.servers = k:1\nstream.topic.regex = hpc-.*\nstream.group = from-file\nstream.output = /file\n"
        "stream.commit.interval.ms = 500\nstream.stale.seconds = 60\nstream.max.files = 10\n";
    auto c = resolve({"-Xstream.commit.interval.ms=750", "--group", "from-cli"}, file);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->topic_regex, "^hpc-.*");
    EXPECT_EQ(c->group, "from-cli");
    EXPECT_EQ(c->output, "/file");
    EXPECT_DOUBLE_EQ(c->commit_interval_s, 0.75);
    EXPECT_DOUBLE_EQ(c->stale_seconds, 60);
    EXPECT_EQ(c->limits.max_files, 10u);
}

TEST(SinkOptions, ClearErrors) {
    auto has = [](const Result<SinkConfig>& r, std::string_view text) {
        return !r && r.error().message.find(text) != std::string::npos;
    };
    const std::string_view base = "bootstrap.servers=k:1\n";
    EXPECT_TRUE(has(resolve({"--group", "g", "--output", "/r"}, base), "--topic"));
    EXPECT_TRUE(
        has(resolve({"--topic", "t", "--topic-regex", "x", "--group", "g", "--output", "/r"}, base), "exactly one"));
    EXPECT_TRUE(has(resolve({"--topic", "t", "--output", "/r"}, base), "--group"));
    EXPECT_TRUE(has(resolve({"--topic", "t", "--group", "g"}, base), "--output"));
    EXPECT_TRUE(has(resolve({"--topic", "t", "--group", "g", "--output", "/r"}), "bootstrap.servers"));
    EXPECT_TRUE(has(resolve({"--topic", "bad topic", "--group", "g", "--output", "/r"}, base), "invalid topic"));
    EXPECT_TRUE(has(resolve({"--topic", "t", "--group", "g", "--output", "/r", "--layout", "{x}/{path}"}, base),
                    "unknown variable"));
    EXPECT_TRUE(has(resolve({"--topic", "t", "--group", "g", "--output", "/r"}, "bootstrap.servers=k\nstream.nope=1\n"),
                    "sink.conf:2"));
    EXPECT_TRUE(has(resolve({"--topic", "t", "--group", "g", "--output", "/r"},
                            "bootstrap.servers=k\nstream.commit.interval.ms=abc\n"),
                    "sink.conf:2"));
    EXPECT_FALSE(parse_sink_args({"--bogus"}));
    EXPECT_FALSE(parse_sink_args({"--topic"}));
    EXPECT_FALSE(parse_sink_args({"--exit-when-idle", "-1"}));
    EXPECT_FALSE(parse_sink_args({"-X", "novalue"}));
}

TEST(SinkOptions, PrefetchDefaultsAvoidLibrdkafkaFetchStall) {
    auto old = ks::sink::prefetch_defaults(0x020002ff);  // 2.0.2: no fetch.queue.backoff.ms (the sink kicks the fetch)
    ASSERT_EQ(old.size(), 1u);
    EXPECT_EQ(old[0], (ks::kafka::Property{"queued.max.messages.kbytes", "16384"}));
    auto fresh = ks::sink::prefetch_defaults(0x020300ff);
    ASSERT_EQ(fresh.size(), 2u);
    EXPECT_EQ(fresh[0], (ks::kafka::Property{"queued.max.messages.kbytes", "16384"}));
    EXPECT_EQ(fresh[1].first, "fetch.queue.backoff.ms");
}

TEST(SinkOptions, RecordsTimestampDataFromOptionOrConfig) {
    const std::vector<std::string_view> base = {
        "-X", "bootstrap.servers=k:9092", "--topic", "t", "--group", "g", "--output", "/r"};
    auto off = resolve(base);
    ASSERT_TRUE(off) << off.error().message;
    EXPECT_FALSE(off->records_timestamp_data);
    auto args = base;
    args.push_back("--records-timestamp-data");
    auto on = resolve(args);
    ASSERT_TRUE(on) << on.error().message;
    EXPECT_TRUE(on->records_timestamp_data);
    auto conf = resolve(base, "stream.records.timestamp.data = true\n");
    ASSERT_TRUE(conf) << conf.error().message;
    EXPECT_TRUE(conf->records_timestamp_data);
    auto bad = resolve(base, "stream.records.timestamp.data = maybe\n");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("sink.conf:1"), std::string::npos) << bad.error().message;
}
