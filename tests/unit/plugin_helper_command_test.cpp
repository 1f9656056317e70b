#include "../../spank_plugin/helper_command.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace ks::plugin;

namespace {

EpilogJob job() {
    EpilogJob j;
    j.job_id = "42";
    j.uid = 1000;
    j.gid = 100;
    j.user = "alice";
    j.node = "n1";
    j.cluster = "c1";
    j.nodes = "2";
    j.exit_code = "0";
    return j;
}

// The value following `option` in argv, or "" if absent.
std::string after(const std::vector<std::string>& argv, const std::string& option) {
    auto it = std::find(argv.begin(), argv.end(), option);
    return it == argv.end() || it + 1 == argv.end() ? "" : *(it + 1);
}

}  // namespace

TEST(PluginHelperCommand, PassesEverythingExplicitly) {
    PluginConfig c;
    c.helper = "/opt/bin/kafka-stream-push";
    c.config_file = "/etc/slurm/kafka-stream.conf";
    c.spool = "/var/spool/ks";
    c.timeout_seconds = 100;
    auto cmd = build_helper_command(c, job(), "alice.out", {"*.csv", "out/**"}, "/scratch/n1/job_42");
    const auto& a = cmd.argv;
    EXPECT_EQ(a.front(), "/opt/bin/kafka-stream-push");
    EXPECT_EQ(after(a, "--config"), "/etc/slurm/kafka-stream.conf");
    EXPECT_EQ(after(a, "--topic"), "alice.out");
    EXPECT_EQ(after(a, "--job-id"), "42");
    EXPECT_EQ(after(a, "--node"), "n1");
    EXPECT_EQ(after(a, "--user"), "alice");
    EXPECT_EQ(after(a, "--cluster"), "c1");
    EXPECT_EQ(after(a, "--nodes"), "2");
    EXPECT_EQ(after(a, "--exit-code"), "0");
    EXPECT_EQ(after(a, "--spool"), "/var/spool/ks");
    EXPECT_EQ(after(a, "--run-as"), "1000:100");
    EXPECT_EQ(after(a, "--timeout"), "90");
    EXPECT_EQ(std::count(a.begin(), a.end(), "--include"), 2);
    EXPECT_EQ(after(a, "--include"), "*.csv");
    ASSERT_GE(a.size(), 2u);
    EXPECT_EQ(a[a.size() - 2], "--");
    EXPECT_EQ(a.back(), "/scratch/n1/job_42");
    EXPECT_EQ(cmd.env, (std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}));
}

TEST(PluginHelperCommand, OptionalPartsAreLeftOut) {
    PluginConfig c;
    EpilogJob j = job();
    j.cluster.clear();
    j.nodes.clear();
    j.exit_code.clear();
    auto cmd = build_helper_command(c, j, "t", {}, "/d");
    for (const char* absent : {"--config", "--spool", "--cluster", "--nodes", "--exit-code", "--include"})
        EXPECT_EQ(std::count(cmd.argv.begin(), cmd.argv.end(), absent), 0) << absent;
    EXPECT_EQ(cmd.argv.front(), KS_DEFAULT_HELPER);
}

TEST(PluginHelperCommand, HelperTimeoutLeavesAMarginForSpooling) {
    EXPECT_EQ(helper_timeout_seconds(300), 270u);
    EXPECT_EQ(helper_timeout_seconds(1000), 970u);  // margin capped at 30 s
    EXPECT_EQ(helper_timeout_seconds(10), 8u);      // at least 2 s
    EXPECT_EQ(helper_timeout_seconds(2), 1u);
    EXPECT_EQ(helper_timeout_seconds(1), 1u);
}

TEST(PluginHelperCommand, JobExitCodeFromWaitStatus) {
    using ks::push::exit_code_from_wait_status;  // common/push_contract.hpp, shared with the push
    EXPECT_EQ(exit_code_from_wait_status("0"), 0);
    EXPECT_EQ(exit_code_from_wait_status("256"), 1);
    EXPECT_EQ(exit_code_from_wait_status("768"), 3);
    EXPECT_EQ(exit_code_from_wait_status("9"), 137);  // killed by SIGKILL
    EXPECT_EQ(exit_code_from_wait_status(""), std::nullopt);
    EXPECT_EQ(exit_code_from_wait_status("x1"), std::nullopt);
    EXPECT_EQ(exit_code_from_wait_status("65536"), std::nullopt);  // not a wait status
}

TEST(PluginHelperCommand, JudgesTheHelpersExit) {
    auto delivered = judge_helper_exit({false, true, 0, 0}, "/d");
    EXPECT_TRUE(delivered.delivered);
    EXPECT_TRUE(delivered.safe);
    auto spooled = judge_helper_exit({false, true, 3, 0}, "/d");
    EXPECT_FALSE(spooled.delivered);
    EXPECT_TRUE(spooled.safe);
    EXPECT_NE(spooled.message.find("spooled"), std::string::npos);
    auto usage = judge_helper_exit({false, true, 2, 0}, "/d");
    EXPECT_FALSE(usage.safe);
    auto failed = judge_helper_exit({false, true, 4, 0}, "/d");
    EXPECT_FALSE(failed.safe);
    auto killed = judge_helper_exit({true, false, 0, 9}, "/d");
    EXPECT_FALSE(killed.safe);
    EXPECT_NE(killed.message.find("timed out"), std::string::npos) << killed.message;
    // Exit 0 after the plugin's SIGTERM is not proof of delivery.
    EXPECT_FALSE(judge_helper_exit({true, true, 0, 0}, "/d").delivered);
}

TEST(PluginHelperCommand, JobInstanceIsDrawnAndPassed) {
    auto a = new_job_instance();
    auto b = new_job_instance();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->size(), 16u);
    EXPECT_NE(*a, *b);
    EXPECT_TRUE(ks::push::valid_job_instance(*a));
    EXPECT_FALSE(ks::push::valid_job_instance(""));
    EXPECT_FALSE(ks::push::valid_job_instance("a b"));
    EXPECT_TRUE(
        ks::push::valid_job_instance("--run-as"));  // harmless: passed as the value of --job-instance, one argv element
    PluginConfig c;
    c.helper = "/bin/push";
    auto j = job();
    EXPECT_EQ(after(build_helper_command(c, j, "t", {}, "/d").argv, "--job-instance"), "");
    j.instance = *a;
    EXPECT_EQ(after(build_helper_command(c, j, "t", {}, "/d").argv, "--job-instance"), *a);
}
