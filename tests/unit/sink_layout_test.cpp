#include <gtest/gtest.h>

#include "../../sink/layout.hpp"

using namespace ks::sink;

namespace {
LayoutVars vars() { return LayoutVars{"alice", "1000", "42", "n1", "c1", "0123456789abcdef0123456789abcdef", "topic"}; }
std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& c : v) s += (s.empty() ? "" : "/") + c;
    return s;
}
}  // namespace

TEST(SinkLayout, DefaultLayout) {
    auto l = Layout::parse(kDefaultLayout);
    ASSERT_TRUE(l) << l.error().message;
    auto p = l->file_path(vars(), "out/a.csv");
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(join(*p), "alice/42/n1/out/a.csv");
    auto j = l->job_dir(vars());
    ASSERT_TRUE(j);
    EXPECT_EQ(join(*j), "alice/42");
}

TEST(SinkLayout, MixedLiteralsAndVariables) {
    auto l = Layout::parse("{cluster}/u-{user}.{uid}/job_{job}/{node}-{transfer}/{topic}/{path}");
    ASSERT_TRUE(l) << l.error().message;
    auto p = l->file_path(vars(), "x");
    ASSERT_TRUE(p);
    EXPECT_EQ(join(*p), "c1/u-alice.1000/job_42/n1-0123456789abcdef0123456789abcdef/topic/x");
    EXPECT_EQ(join(*l->job_dir(vars())), "c1/u-alice.1000/job_42");
}

TEST(SinkLayout, RejectsBadTemplates) {
    for (const char* bad : {"", "/abs/{job}/{path}", "{user}/{job}", "{path}/{job}", "{job}/{path}/{path}",
                            "{job}/x{path}", "{bogus}/{job}/{path}", "{job/{path}", "{job}}/{path}", "{job}/../{path}",
                            "{job}//{path}", "{node}/{job}/{path}", "{user}/{path}"})
        EXPECT_FALSE(Layout::parse(bad)) << "accepted \"" << bad << "\"";
}

TEST(SinkLayout, UnsafeValuesAreRefused) {
    auto l = Layout::parse(kDefaultLayout);
    ASSERT_TRUE(l);
    LayoutVars v = vars();
    v.user = "..";
    EXPECT_FALSE(l->file_path(v, "a"));
    v = vars();
    v.node = "a/b";
    EXPECT_FALSE(l->file_path(v, "a"));
    v = vars();
    v.job = "";
    EXPECT_FALSE(l->job_dir(v));
    EXPECT_FALSE(l->file_path(vars(), "../../etc/passwd"));
    EXPECT_FALSE(l->file_path(vars(), "/etc/passwd"));
}

TEST(SinkLayout, ReservedNamesInTheJobDirectory) {
    auto l = Layout::parse("{user}/{job}/{path}");
    ASSERT_TRUE(l);
    EXPECT_FALSE(l->file_path(vars(), "_SUCCESS"));
    EXPECT_FALSE(l->file_path(vars(), "_manifests/n1.json"));
    EXPECT_TRUE(l->file_path(vars(), "sub/_SUCCESS"));
    auto d = Layout::parse(kDefaultLayout);
    LayoutVars v = vars();
    v.node = "_manifests";
    EXPECT_FALSE(d->file_path(v, "a"));
}
