// Records mode options: the helper's --format / stream.format / stream.records.max.line.bytes, and the plugin's
// --kafka-stream-format passed on as --format.
#include <gtest/gtest.h>

#include <algorithm>

#include "../../helper/push_options.hpp"
#include "../../helper/record_encoder.hpp"
#include "../../spank_plugin/helper_command.hpp"

using namespace ks;

namespace {

Result<push::CommandLine> parse(std::vector<std::string> args) { return push::parse_command_line(args); }

}  // namespace

TEST(RecordsOptions, FormatOptionParses) {
    auto cl = parse({"--topic", "t", "--format", "records", "/d"});
    ASSERT_TRUE(cl) << cl.error().message;
    ASSERT_TRUE(cl->format);
    EXPECT_EQ(*cl->format, push::SendFormat::records);
    auto files = parse({"--topic", "t", "--format=files", "/d"});
    ASSERT_TRUE(files);
    EXPECT_EQ(*files->format, push::SendFormat::files);
    auto bad = parse({"--topic", "t", "--format", "lines", "/d"});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("records"), std::string::npos);
}

TEST(RecordsOptions, DefaultIsFilesAndTheCommandLineWinsOverTheConfig) {
    auto cl = parse({"--topic", "t", "/d"});
    ASSERT_TRUE(cl);
    auto s = push::resolve_settings({}, *cl);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->format, push::SendFormat::files);
    std::vector<ConfigEntry> site = {{"stream.format", "records", "site.conf:1"}};
    auto from_site = push::resolve_settings(site, *cl);
    ASSERT_TRUE(from_site) << from_site.error().message;
    EXPECT_EQ(from_site->format, push::SendFormat::records);
    auto cl_files = parse({"--topic", "t", "--format", "files", "/d"});
    EXPECT_EQ(push::resolve_settings(site, *cl_files)->format, push::SendFormat::files);
    std::vector<ConfigEntry> wrong = {{"stream.format", "csv", "site.conf:2"}};
    auto err = push::resolve_settings(wrong, *cl);
    ASSERT_FALSE(err);
    EXPECT_NE(err.error().message.find("site.conf:2"), std::string::npos);
}

TEST(RecordsOptions, LineLimitFitsTheMessageSize) {
    push::Settings s;
    s.message_max_bytes = 1'000'000;
    auto limit = push::records_line_limit(s);
    ASSERT_TRUE(limit);
    EXPECT_GT(*limit, 100'000u);  // the default leaves ordinary long CSV lines in records mode
    EXPECT_LE(push::max_record_value_bytes(*limit) + 16 * 1024, s.message_max_bytes);
    EXPECT_GT(push::max_record_value_bytes(*limit + 1) + 16 * 1024, s.message_max_bytes);
    s.records_max_line_bytes = 4096;
    EXPECT_EQ(*push::records_line_limit(s), 4096u);
    s.records_max_line_bytes = 512 * 1024;  // cannot fit 1 MB messages in the worst case
    EXPECT_FALSE(push::records_line_limit(s));
}

TEST(RecordsPluginOptions, FormatIsCheckedAndPassedToTheHelper) {
    EXPECT_TRUE(plugin::check_stream_format("records"));
    EXPECT_TRUE(plugin::check_stream_format("files"));
    EXPECT_FALSE(plugin::check_stream_format(""));
    EXPECT_FALSE(plugin::check_stream_format("Records"));
    plugin::PluginConfig c;
    c.helper = "/usr/bin/kafka-stream-push";
    plugin::EpilogJob j;
    j.job_id = "7";
    j.node = "n1";
    auto cmd = plugin::build_helper_command(c, j, "t", {}, "/d", "records");
    auto it = std::find(cmd.argv.begin(), cmd.argv.end(), "--format");
    ASSERT_NE(it, cmd.argv.end());
    EXPECT_EQ(*(it + 1), "records");
    EXPECT_LT(it, std::find(cmd.argv.begin(), cmd.argv.end(), "--"));  // an option, before DIR
    auto plain = plugin::build_helper_command(c, j, "t", {}, "/d");
    EXPECT_EQ(std::find(plain.argv.begin(), plain.argv.end(), "--format"), plain.argv.end());
}

TEST(RecordsOptions, RecordsAreCompressedByDefaultFilesAreNot) {
    auto compression = [](push::SendFormat f) {
        push::Settings s;
        s.format = f;
        for (const auto& p : push::default_kafka_properties(s))
            if (p.first == "compression.type") return p.second;
        return std::string("(unset)");
    };
    EXPECT_EQ(compression(push::SendFormat::records), "lz4");
    EXPECT_EQ(compression(push::SendFormat::files), "none");
    push::Settings rec;
    rec.format = push::SendFormat::records;
    auto props = push::default_kafka_properties(rec);
    EXPECT_NE(std::find(props.begin(), props.end(), kafka::Property{"batch.num.messages", "100000"}), props.end());
}

TEST(RecordsOptions, FileChunksGoOneBatchEachWithOneRequestFewerInFlightThanIdempotenceAllows) {
    push::Settings files;
    files.chunk_bytes = 512 * 1024;
    auto props = push::default_kafka_properties(files);
    auto has = [&](const kafka::Property& p) { return std::find(props.begin(), props.end(), p) != props.end(); };
    EXPECT_TRUE(has({"batch.size", "524288"}));
    EXPECT_TRUE(has({"max.in.flight.requests.per.connection", "4"}));
    push::Settings rec;
    rec.format = push::SendFormat::records;
    for (const auto& p : push::default_kafka_properties(rec)) EXPECT_NE(p.first, "batch.size");  // records batch up
}
