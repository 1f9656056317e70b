#include "../../spank_plugin/hostlist.hpp"

#include <gtest/gtest.h>

using namespace ks::plugin;
using Names = std::vector<std::string>;

TEST(PluginHostlist, ExpandsSlurmHostLists) {
    EXPECT_EQ(*expand_hostlist("n1"), Names{"n1"});
    EXPECT_EQ(*expand_hostlist("n[1-2]"), (Names{"n1", "n2"}));
    EXPECT_EQ(*expand_hostlist("n[1-3,7],gpu[01-02],login"),
              (Names{"n1", "n2", "n3", "n7", "gpu01", "gpu02", "login"}));
    EXPECT_EQ(*expand_hostlist("n[08-11]"), (Names{"n08", "n09", "n10", "n11"}));
    EXPECT_EQ(*expand_hostlist("r[1-2]c[1-2]"), (Names{"r1c1", "r1c2", "r2c1", "r2c2"}));
    EXPECT_EQ(*expand_hostlist("a[1]-ib"), Names{"a1-ib"});
}

TEST(PluginHostlist, RefusesMalformedOrHugeLists) {
    for (const char* bad : {"", "n[1-", "n1]", "n[2-1]", "n[a-b]", "n[]", "n[1,]", "a,,b", "n[-3]"})
        EXPECT_FALSE(expand_hostlist(bad)) << bad;
    EXPECT_FALSE(expand_hostlist("n[1-1000000]"));
    EXPECT_FALSE(expand_hostlist("n[1-3]", 2));
}
