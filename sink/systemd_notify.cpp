#include "systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace ks::sink {

Result<SystemdNotifier> SystemdNotifier::from_environment(const Getenv& getenv, pid_t self) {
    SystemdNotifier n;
    const char* socket_name = getenv("NOTIFY_SOCKET");
    if (!socket_name || !*socket_name) return n;
    std::string address = socket_name;
    if (address[0] == '@') address[0] = '\0';  // abstract namespace
    else if (address[0] != '/')
        return fail("NOTIFY_SOCKET=" + std::string(socket_name) + ": not an absolute path or @name");
    if (address.size() >= sizeof(sockaddr_un::sun_path))
        return fail("NOTIFY_SOCKET=" + std::string(socket_name) + ": too long");
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return fail(std::string("NOTIFY_SOCKET: socket: ") + std::strerror(errno));
    if (const char* usec = getenv("WATCHDOG_USEC"); usec && *usec) {
        std::string_view text(usec);
        unsigned long long value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() || value == 0)
            return fail("WATCHDOG_USEC=" + std::string(text) + ": not a positive number of microseconds");
        const char* pid = getenv("WATCHDOG_PID");
        if (!pid || !*pid || std::string_view(pid) == std::to_string(self)) n.ping_interval_ = value / 2e6;
    }
    n.fd_ = std::move(fd);
    n.address_ = std::move(address);
    return n;
}

bool SystemdNotifier::notify(std::string_view message) const {
    if (!enabled()) return false;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address_.data(), address_.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
    while (true) {
        ssize_t n =
            ::sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), len);
        if (n < 0 && errno == EINTR) continue;
        return n == static_cast<ssize_t>(message.size());
    }
}

void SystemdNotifier::watchdog(double now) {
    if (!enabled() || !ping_interval_ || now - last_ping_ < *ping_interval_) return;
    last_ping_ = now;
    notify("WATCHDOG=1");
}

std::string status_message(std::string_view line) {
    std::string out = "STATUS=";
    for (char c : line) out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    return out;
}

}  // namespace ks::sink
