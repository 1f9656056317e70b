// systemd's service notification protocol, without libsystemd: one datagram per message ("READY=1", "STATUS=...",
// "WATCHDOG=1", "STOPPING=1") to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
// namespace), as sd_notify(3) sends it. With Type=notify the unit is started once the sink runs its consumer loop;
// with WatchdogSec= systemd sets $WATCHDOG_USEC and the loop pings at half that interval, so a sink whose loop is
// stuck (a hung file system, a hung library call) is killed and restarted.
#pragma once
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "result.hpp"
#include "unique_fd.hpp"

namespace ks::sink {

class SystemdNotifier {
public:
    using Getenv = std::function<const char*(const char*)>;

    // Disabled (every call does nothing) when NOTIFY_SOCKET is unset. An unusable NOTIFY_SOCKET or WATCHDOG_USEC is
    // an error. The watchdog is off when WATCHDOG_USEC is unset or WATCHDOG_PID names another process.
    static Result<SystemdNotifier> from_environment(const Getenv& getenv, pid_t self);

    bool enabled() const { return fd_.get() >= 0; }
    // Seconds between pings (half of WatchdogSec), if systemd asked for them.
    std::optional<double> ping_interval() const { return ping_interval_; }
    // Sends one message ("READY=1\nSTATUS=..." may combine several); false if it could not be sent.
    bool notify(std::string_view message) const;
    // WATCHDOG=1 if at least ping_interval() passed since the last one; `now` is monotonic seconds.
    void watchdog(double now);

private:
    SystemdNotifier() = default;
    UniqueFd fd_;
    std::string address_;  // sockaddr_un path bytes ('\0' first for the abstract namespace)
    std::optional<double> ping_interval_;
    double last_ping_ = -1e300;
};

// "STATUS=<line>", with the line's control characters replaced (one message is one line per field).
std::string status_message(std::string_view line);

}  // namespace ks::sink
