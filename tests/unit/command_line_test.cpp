// The option walk both tools share (common/command_line.hpp), and that both tools' command lines go through it.
#include "command_line.hpp"

#include <gtest/gtest.h>

#include "../../helper/push_command_line.hpp"
#include "../../sink/sink_options.hpp"

using namespace ks;

namespace {

struct Seen {
    bool flag = false;
    std::vector<std::string> values;
};

const std::vector<cli::Option<Seen>>& table() {
    static const std::vector<cli::Option<Seen>> t = {
        {{"--flag", "-f", {}, "a flag"},
         [](Seen& s, std::string_view) -> Result<void> {
             s.flag = true;
             return {};
         }},
        {{"--value", {}, "V", "a value\nsecond line"},
         [](Seen& s, std::string_view v) -> Result<void> {
             if (v == "bad") return fail("not that one");
             s.values.emplace_back(v);
             return {};
         }},
        {{"-X", {}, "k=v", "attached or not"},
         [](Seen& s, std::string_view v) -> Result<void> {
             s.values.emplace_back(v);
             return {};
         }},
        {{"--a-rather-long-option-name", {}, {}, "goes on the next line"},
         [](Seen&, std::string_view) -> Result<void> { return {}; }},
        {{"--hidden", {}, {}, {}}, [](Seen&, std::string_view) -> Result<void> { return {}; }},
    };
    return t;
}

Result<std::vector<std::string>> parse(std::vector<std::string_view> args, Seen& seen) {
    return cli::parse<Seen>(table(), args, seen);
}

std::string error_of(std::vector<std::string_view> args) {
    Seen seen;
    auto r = parse(args, seen);
    return r ? "" : r.error().message;
}

}  // namespace

TEST(CommandLine, ValueFormsFlagsAndPositionals) {
    Seen seen;
    auto pos =
        parse({"a", "--value", "1", "--value=2", "-Xk=v", "-X", "k2=v2", "-f", "-", "--", "--flag", "-Xz"}, seen);
    ASSERT_TRUE(pos) << pos.error().message;
    EXPECT_TRUE(seen.flag);
    EXPECT_EQ(seen.values, (std::vector<std::string>{"1", "2", "k=v", "k2=v2"}));
    EXPECT_EQ(*pos, (std::vector<std::string>{"a", "-", "--flag", "-Xz"}));  // after "--" nothing is an option
    Seen empty;
    ASSERT_TRUE(parse({"--value="}, empty));
    EXPECT_EQ(empty.values, std::vector<std::string>{""});
}

TEST(CommandLine, ErrorsNameTheOption) {
    EXPECT_EQ(error_of({"--bogus"}), "unknown option \"--bogus\"");
    EXPECT_EQ(error_of({"--bogus=1"}), "unknown option \"--bogus=1\"");
    EXPECT_EQ(error_of({"-fx"}), "unknown option \"-fx\"");  // flags do not combine
    EXPECT_EQ(error_of({"--value"}), "--value needs a value");
    EXPECT_EQ(error_of({"--flag=yes"}), "--flag takes no value");
    EXPECT_EQ(error_of({"--value", "bad"}), "--value: not that one");
}

TEST(CommandLine, HelpFromTheTable) {
    EXPECT_EQ(cli::help<Seen>(table(), 16),
              "  -f, --flag    a flag\n"
              "  --value V     a value\n"
              "                second line\n"
              "  -X k=v        attached or not\n"
              "  --a-rather-long-option-name\n"
              "                goes on the next line\n");
}

// The push and the sink walk the same way: same messages for the same mistakes, and "--" ends options in both.
TEST(CommandLine, BothToolsSayTheSame) {
    for (std::string_view option : {"--topic", "--config"}) {
        auto push = push::parse_command_line({std::string(option)});
        auto sink = sink::parse_sink_args({option});
        ASSERT_FALSE(push);
        ASSERT_FALSE(sink);
        EXPECT_EQ(push.error().message, sink.error().message);
        EXPECT_EQ(push.error().message, std::string(option) + " needs a value");
    }
    auto push = push::parse_command_line({"--bogus", "/d"});
    auto sink = sink::parse_sink_args({"--bogus"});
    ASSERT_FALSE(push);
    ASSERT_FALSE(sink);
    EXPECT_EQ(push.error().message, sink.error().message);
    EXPECT_EQ(push::parse_command_line({"--topic", "t", "-Xnovalue", "/d"}).error().message,
              sink::parse_sink_args({"-Xnovalue"}).error().message);

    auto after_dashes = sink::parse_sink_args({"--topic", "t", "--", "--group"});
    ASSERT_FALSE(after_dashes);
    EXPECT_EQ(after_dashes.error().message, "unexpected argument \"--group\": the sink takes options only");
    EXPECT_TRUE(sink::parse_sink_args({"--topic", "t", "--"}));
    auto dir = push::parse_command_line({"--topic", "t", "--", "--help"});
    ASSERT_TRUE(dir) << dir.error().message;
    EXPECT_FALSE(dir->help);
    EXPECT_EQ(dir->dir, "--help");
}
