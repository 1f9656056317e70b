#include "../../spank_plugin/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

using namespace ks::plugin;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kEnv = {"PATH=/usr/bin:/bin", "KS_TEST=1"};

struct Run {
    ks::Result<ExitStatus> status;
    std::vector<std::string> lines;
};

Run run_shell(const std::string& script, std::chrono::milliseconds limit = 60s, std::chrono::milliseconds grace = 5s) {
    auto child = ChildProcess::spawn({"/bin/sh", "-c", script}, kEnv);
    if (!child) return {std::unexpected(child.error()), {}};
    Run r{ExitStatus{}, {}};
    r.status = child->wait(limit, grace, [&](std::string_view line) { r.lines.emplace_back(line); });
    return r;
}

// Dead = gone, or a zombie waiting for a reaper that is not us (the test's PID 1 may never reap).
bool process_is_dead(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto paren = text.rfind(')');
    return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

bool eventually_dead(pid_t pid) {
    for (int i = 0; i < 200; ++i) {
        if (process_is_dead(pid)) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

}  // namespace

TEST(PluginChildProcess, CapturesStdoutAndStderrAndTheExitCode) {
    auto r = run_shell("echo one; echo two >&2; printf 'no newline'; exit 3");
    ASSERT_TRUE(r.status) << r.status.error().message;
    EXPECT_TRUE(r.status->exited);
    EXPECT_FALSE(r.status->timed_out);
    EXPECT_EQ(r.status->code, 3);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"one", "two", "no newline"}));
    EXPECT_EQ(describe(*r.status), "exit 3");
}

TEST(PluginChildProcess, GetsExactlyTheGivenEnvironmentAndNoStdin) {
    auto r = run_shell("env | sort; if read x; then echo read:$x; else echo stdin-empty; fi");
    ASSERT_TRUE(r.status) << r.status.error().message;
    EXPECT_EQ(r.status->code, 0);
    // sh adds PWD (and may add SHLVL/_) itself; nothing of ours beyond kEnv may appear.
    for (const auto& line : r.lines) {
        if (line.rfind("PWD=", 0) == 0 || line.rfind("SHLVL=", 0) == 0 || line.rfind("_=", 0) == 0) continue;
        EXPECT_TRUE(line == "PATH=/usr/bin:/bin" || line == "KS_TEST=1" || line == "stdin-empty") << line;
    }
    EXPECT_NE(std::find(r.lines.begin(), r.lines.end(), "stdin-empty"), r.lines.end());
}

TEST(PluginChildProcess, InheritsNoOtherDescriptors) {
    // A descriptor without close-on-exec, like the sockets slurmstepd holds, must not reach the helper.
    // A high number, so that it cannot be confused with the directory ls opens itself.
    int opened = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(opened, 0);
    int leaked = ::fcntl(opened, F_DUPFD, 200);
    ::close(opened);
    ASSERT_GE(leaked, 200);
    auto r = run_shell("ls /proc/self/fd");
    ::close(leaked);
    ASSERT_TRUE(r.status) << r.status.error().message;
    // 0, 1, 2 and the directory ls itself opens.
    EXPECT_LE(r.lines.size(), 4u);
    EXPECT_EQ(std::find(r.lines.begin(), r.lines.end(), std::to_string(leaked)), r.lines.end());
}

TEST(PluginChildProcess, RunsInItsOwnSession) {
    auto r = run_shell("ps -o sid= -p $$; echo $$");
    ASSERT_TRUE(r.status) << r.status.error().message;
    ASSERT_EQ(r.lines.size(), 2u);
    EXPECT_EQ(std::stol(r.lines[0]), std::stol(r.lines[1]));
    EXPECT_NE(std::stol(r.lines[0]), static_cast<long>(::getsid(0)));
}

TEST(PluginChildProcess, TimeoutKillsTheWholeProcessGroup) {
    // The shell ignores SIGTERM, and leaves a background grandchild: both must be gone after wait().
    pid_t grandchild = 0;
    auto child =
        ChildProcess::spawn({"/bin/sh", "-c", "trap '' TERM; sleep 300 & echo $!; while :; do sleep 1; done"}, kEnv);
    ASSERT_TRUE(child) << child.error().message;
    const pid_t leader = child->pid();
    auto status = child->wait(300ms, 200ms, [&](std::string_view line) { grandchild = std::stoi(std::string(line)); });
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_TRUE(status->timed_out);
    EXPECT_FALSE(status->exited);
    EXPECT_EQ(status->signal, SIGKILL);
    ASSERT_GT(grandchild, 0);
    EXPECT_TRUE(eventually_dead(grandchild));
    EXPECT_TRUE(process_is_dead(leader));
}

TEST(PluginChildProcess, PoliteTerminationIsReported) {
    auto r = run_shell("trap 'echo spooling; exit 3' TERM; while :; do sleep 0.1; done", 200ms, 30s);
    ASSERT_TRUE(r.status) << r.status.error().message;
    EXPECT_TRUE(r.status->timed_out);
    EXPECT_TRUE(r.status->exited);
    EXPECT_EQ(r.status->code, 3);
    EXPECT_NE(std::find(r.lines.begin(), r.lines.end(), "spooling"), r.lines.end());
}

TEST(PluginChildProcess, LeftoverGrandchildrenDoNotKeepUsWaiting) {
    // The helper exits but a grandchild keeps the output pipe open: wait() returns and the grandchild is killed.
    pid_t grandchild = 0;
    auto child = ChildProcess::spawn({"/bin/sh", "-c", "sleep 300 & echo $!; exit 0"}, kEnv);
    ASSERT_TRUE(child) << child.error().message;
    auto status = child->wait(60s, 5s, [&](std::string_view line) { grandchild = std::stoi(std::string(line)); });
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_FALSE(status->timed_out);
    EXPECT_EQ(status->code, 0);
    ASSERT_GT(grandchild, 0);
    EXPECT_TRUE(eventually_dead(grandchild));
}

TEST(PluginChildProcess, LongLinesAreCut) {
    auto r = run_shell("head -c 10000 /dev/zero | tr '\\0' a; echo; echo end");
    ASSERT_TRUE(r.status) << r.status.error().message;
    ASSERT_GE(r.lines.size(), 4u);
    for (const auto& l : r.lines) EXPECT_LE(l.size(), kMaxLogLine);
    EXPECT_EQ(r.lines.back(), "end");
}

TEST(PluginChildProcess, UnrunnableProgramIsAClearError) {
    auto missing = ChildProcess::spawn({"/nonexistent/kafka-stream-push"}, kEnv);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("/nonexistent/kafka-stream-push"), std::string::npos);
    EXPECT_NE(missing.error().message.find("No such file"), std::string::npos) << missing.error().message;
    EXPECT_FALSE(ChildProcess::spawn({"sh"}, kEnv));  // relative: would depend on PATH
    EXPECT_FALSE(ChildProcess::spawn({}, kEnv));
}

TEST(PluginChildProcess, DestructorKillsAnUnwaitedChild) {
    pid_t pid = 0;
    {
        auto child = ChildProcess::spawn({"/bin/sleep", "300"}, kEnv);
        ASSERT_TRUE(child) << child.error().message;
        pid = child->pid();
    }
    EXPECT_TRUE(process_is_dead(pid));
}
