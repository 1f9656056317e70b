#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ks::plugin {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kSlice{100};
// After SIGKILL a process normally disappears at once; do not wait forever for one stuck in the kernel.
constexpr std::chrono::milliseconds kReapLimit{5000};

std::vector<char*> c_strings(const std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void exec_child(int devnull, int out_fd, int err_fd, char* const* argv, char* const* envp) {
    ::setsid();
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    if (::dup2(devnull, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0) {
        int e = errno;
        (void)!::write(err_fd, &e, sizeof e);
        ::_exit(127);
    }
    // Everything above 2 (slurmstepd's sockets, the log...) must not leak into the helper. err_fd is marked
    // close-on-exec too, so the parent sees EOF on it exactly when execve succeeds.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        for (int fd = 3; fd < 65536; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::execve(argv[0], argv, envp);
    int e = errno;
    (void)!::write(err_fd, &e, sizeof e);
    ::_exit(127);
}

void reap_bounded(pid_t pid, int* status, bool* reaped) {
    auto until = Clock::now() + kReapLimit;
    while (true) {
        pid_t r = ::waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            *reaped = r == pid;
            return;
        }
        if (Clock::now() >= until) return;
        ::poll(nullptr, 0, 20);
    }
}

// Splits the output stream into lines, cutting overlong ones.
class LineSplitter {
public:
    explicit LineSplitter(const std::function<void(std::string_view)>& on_line) : on_line_(on_line) {}
    void feed(std::string_view data) {
        for (char c : data) {
            if (c == '\n') {
                flush();
            } else if (pending_.size() < kMaxLogLine) {
                pending_ += c;
            } else {
                flush();
                pending_ += c;
            }
        }
    }
    void flush() {
        if (!pending_.empty()) on_line_(pending_);
        pending_.clear();
    }

private:
    const std::function<void(std::string_view)>& on_line_;
    std::string pending_;
};

// Reads what is available; false at end of stream or on error.
bool read_available(int fd, LineSplitter& lines) {
    char buf[4096];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            lines.feed(std::string_view(buf, static_cast<std::size_t>(n)));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && errno == EAGAIN;
    }
}

}  // namespace

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    if (argv.empty() || argv[0].empty() || argv[0].front() != '/')
        return fail("the program to run must be given by absolute path");
    // Everything the child needs is prepared before fork: after it, only async-signal-safe calls are allowed.
    auto c_argv = c_strings(argv);
    auto c_env = c_strings(env);
    UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devnull) return fail(std::string("cannot open /dev/null: ") + std::strerror(errno));
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return fail(std::string("cannot create a pipe: ") + std::strerror(errno));
    UniqueFd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) return fail(std::string("cannot create a pipe: ") + std::strerror(errno));
    UniqueFd err_r(err[0]), err_w(err[1]);

    pid_t pid = ::fork();
    if (pid < 0) return fail(std::string("cannot fork: ") + std::strerror(errno));
    if (pid == 0) exec_child(devnull.get(), out_w.get(), err_w.get(), c_argv.data(), c_env.data());

    out_w.reset();
    err_w.reset();
    ChildProcess child(pid, std::move(out_r));
    int exec_errno = 0;
    ssize_t n;
    do n = ::read(err_r.get(), &exec_errno, sizeof exec_errno);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        int status = 0;
        bool reaped = false;
        reap_bounded(pid, &status, &reaped);
        if (reaped) child.pid_ = -1;
        return fail("cannot execute " + argv[0] + ": " + std::strerror(exec_errno));
    }
    int flags = ::fcntl(child.output_.get(), F_GETFL);
    ::fcntl(child.output_.get(), F_SETFL, flags | O_NONBLOCK);
    return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), output_(std::move(other.output_)) {}

ChildProcess::~ChildProcess() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    int status = 0;
    bool reaped = false;
    reap_bounded(pid_, &status, &reaped);
}

Result<ExitStatus> ChildProcess::wait(std::chrono::milliseconds limit, std::chrono::milliseconds grace,
                                      const std::function<void(std::string_view)>& on_line) {
    if (pid_ <= 0) return fail("the child was already waited for");
    LineSplitter lines(on_line);
    ExitStatus result;
    int status = 0;
    bool reaped = false;
    bool output_open = true;
    auto deadline = Clock::now() + limit;
    bool terminated = false;

    while (!reaped) {
        auto now = Clock::now();
        if (now >= deadline) {
            if (!terminated) {
                // First the polite signal, so the helper can still spool what it holds.
                result.timed_out = true;
                terminated = true;
                ::kill(-pid_, SIGTERM);
                deadline = now + grace;
                continue;
            }
            ::kill(-pid_, SIGKILL);
            reap_bounded(pid_, &status, &reaped);
            if (!reaped) return fail("process " + std::to_string(pid_) + " did not die after SIGKILL");
            break;
        }
        auto slice = std::min<Clock::duration>(kSlice, deadline - now);
        int wait_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(slice).count()) + 1;
        if (output_open) {
            pollfd p{output_.get(), POLLIN, 0};
            int r = ::poll(&p, 1, wait_ms);
            if (r > 0) output_open = read_available(output_.get(), lines);
        } else {
            ::poll(nullptr, 0, wait_ms);
        }
        pid_t w = ::waitpid(pid_, &status, WNOHANG);
        if (w == pid_) reaped = true;
        else if (w < 0 && errno != EINTR) return fail(std::string("waitpid: ") + std::strerror(errno));
    }
    if (output_open) read_available(output_.get(), lines);
    lines.flush();
    // Whatever the helper left behind in its session (a stuck grandchild holding the pipe) goes too.
    ::kill(-pid_, SIGKILL);
    pid_ = -1;
    output_.reset();
    if (WIFEXITED(status)) {
        result.exited = true;
        result.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
    }
    return result;
}

std::string describe(const ExitStatus& status) {
    std::string s =
        status.exited ? "exit " + std::to_string(status.code) : "killed by signal " + std::to_string(status.signal);
    if (status.timed_out) s = "timed out (" + s + ")";
    return s;
}

}  // namespace ks::plugin
