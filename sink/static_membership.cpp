#include "static_membership.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sha256.hpp"

namespace ks::sink {
namespace {

bool id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

}  // namespace

std::string static_member_id(std::string_view host, std::string_view instance, unsigned slot) {
    std::string id = "kafka-stream-sink." + std::string(host) + "." + std::string(instance);
    if (slot > 1) id += "." + std::to_string(slot);
    for (char& c : id)
        if (!id_char(c)) c = '_';
    return id;
}

Result<void> check_instance_name(std::string_view instance) {
    if (instance.empty() || instance.size() > 64)
        return fail("instance name \"" + std::string(instance) + "\": 1 to 64 characters expected");
    for (char c : instance)
        if (!id_char(c))
            return fail("instance name \"" + std::string(instance) + "\": only letters, digits, '.', '_' and '-'");
    return {};
}

std::string short_host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
    std::string h = buf;
    return h.substr(0, h.find('.'));
}

Result<StaticMemberLock> StaticMemberLock::acquire(std::string_view group, std::string_view host,
                                                   std::string_view instance) {
    for (unsigned slot = 1; slot <= kMaxSlots; ++slot) {
        std::string id = static_member_id(host, instance, slot);
        // The abstract name is hashed: group ids may be long and contain any byte.
        std::string key = "kafka-stream-sink/" + sha256_hex(std::string(group) + '\0' + id).substr(0, 32);
        UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!fd) return fail(std::string("static membership lock: socket: ") + std::strerror(errno));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path + 1, key.data(), key.size());  // sun_path[0] == '\0': abstract namespace
        const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + key.size());
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0) return StaticMemberLock(std::move(fd), id);
        if (errno != EADDRINUSE) return fail(std::string("static membership lock: bind: ") + std::strerror(errno));
    }
    return fail("more than " + std::to_string(kMaxSlots) + " sinks of group \"" + std::string(group) +
                "\" with instance name \"" + std::string(instance) + "\" run on this host");
}

}  // namespace ks::sink
