// Runs one helper process for the epilog: clean environment, stdin from /dev/null, stdout+stderr captured line by
// line, in its own session (so its whole process group can be killed), waited for at most a given time.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"
#include "unique_fd.hpp"

namespace ks::plugin {

struct ExitStatus {
    bool timed_out = false;  // the limit passed and the process group was killed
    bool exited = false;     // normal exit: `code` is the exit status; otherwise `signal` killed it
    int code = 0;
    int signal = 0;
};

// Longer output lines are cut here so a runaway helper cannot grow the plugin's memory (or slurmd's log lines).
inline constexpr std::size_t kMaxLogLine = 4096;

class ChildProcess {
public:
    // Forks and execs argv[0] (an absolute path) with exactly `env`. All descriptors but 0-2 are closed in the
    // child. Fails with errno's text when the program cannot be executed.
    static Result<ChildProcess> spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env);

    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&&) = delete;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    // Kills the process group and reaps the child if wait() did not.
    ~ChildProcess();

    pid_t pid() const { return pid_; }

    // Hands every output line to on_line until the child exits or `limit` passes; then sends SIGTERM to the
    // process group, waits up to `grace`, and sends SIGKILL. Leftover members of the group are always killed.
    Result<ExitStatus> wait(std::chrono::milliseconds limit, std::chrono::milliseconds grace,
                            const std::function<void(std::string_view)>& on_line);

private:
    ChildProcess(pid_t pid, UniqueFd output) : pid_(pid), output_(std::move(output)) {}
    pid_t pid_ = -1;  // -1 once reaped
    UniqueFd output_;
};

// "exit 3", "killed by signal 9", "timed out"...: for log lines.
std::string describe(const ExitStatus& status);

}  // namespace ks::plugin
