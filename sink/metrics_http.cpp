#include "metrics_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace ks::sink {
namespace {

std::string status_response(std::string_view status, std::string_view extra_headers = {}) {
    std::string body = std::string(status) + "\n";
    return "HTTP/1.1 " + std::string(status) +
           "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           std::string(extra_headers) + "Connection: close\r\n\r\n" + body;
}

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
    ListenAddress a{"127.0.0.1", 0};
    std::string_view port = text;
    if (text.starts_with("[")) {
        auto close = text.find("]:");
        if (close == std::string_view::npos)
            return fail("metrics listen address \"" + std::string(text) + "\": expected [IPV6]:PORT");
        a.host = std::string(text.substr(1, close - 1));
        port = text.substr(close + 2);
    } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
        a.host = std::string(text.substr(0, colon));
        port = text.substr(colon + 1);
        if (a.host == "localhost") a.host = "127.0.0.1";
        if (a.host.find(':') != std::string::npos)
            return fail("metrics listen address \"" + std::string(text) + "\": write an IPv6 address as [ADDR]:PORT");
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
        return fail("metrics listen address \"" + std::string(text) + "\": expected PORT, HOST:PORT or [IPV6]:PORT");
    a.port = static_cast<std::uint16_t>(value);
    in6_addr v6{};
    in_addr v4{};
    if (::inet_pton(AF_INET, a.host.c_str(), &v4) != 1 && ::inet_pton(AF_INET6, a.host.c_str(), &v6) != 1)
        return fail("metrics listen address \"" + std::string(text) + "\": \"" + a.host +
                    "\" is not a numeric IP address (no name lookup)");
    return a;
}

std::string http_response(std::string_view head, const std::function<std::string()>& body) {
    auto eol = head.find("\r\n");
    if (eol == std::string_view::npos) eol = head.find('\n');
    std::string_view line = head.substr(0, eol);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || !line.substr(sp2 + 1).starts_with("HTTP/1."))
        return status_response("400 Bad Request");
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view path = target.substr(0, target.find('?'));
    if (path != "/metrics") return status_response("404 Not Found");
    if (method != "GET") return status_response("405 Method Not Allowed", "Allow: GET\r\n");
    std::string text = body();
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: " +
           std::to_string(text.size()) + "\r\nConnection: close\r\n\r\n" + text;
}

Result<MetricsHttpServer> MetricsHttpServer::listen(const ListenAddress& address) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    if (auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
        ::inet_pton(AF_INET, address.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(address.port);
        len = sizeof *v4;
    } else {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
        if (::inet_pton(AF_INET6, address.host.c_str(), &v6->sin6_addr) != 1)
            return fail("bad address " + address.host);
        v6->sin6_family = family = AF_INET6;
        v6->sin6_port = htons(address.port);
        len = sizeof *v6;
    }
    const std::string shown =
        (family == AF_INET6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return fail("metrics endpoint: socket: " + std::string(std::strerror(errno)));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
        return fail("metrics endpoint: cannot listen on " + shown + ": " + std::strerror(errno));
    if (::listen(fd.get(), 16) != 0) return fail("metrics endpoint: listen: " + std::string(std::strerror(errno)));
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &blen);
    std::uint16_t port = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                                           : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    return MetricsHttpServer(std::move(fd), port);
}

bool MetricsHttpServer::progress(Client& c, double now, const std::function<std::string()>& body, std::string& cached) {
    if (now - c.since > kClientTimeout) return false;
    if (!c.answered) {
        char buf[2048];
        while (true) {
            ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                return false;
            }
            if (n == 0) return false;  // closed before a complete request
            c.in.append(buf, static_cast<std::size_t>(n));
            if (c.in.size() > kMaxRequestBytes) break;
        }
        const bool complete = c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos;
        if (c.in.size() > kMaxRequestBytes) {
            c.out = status_response("431 Request Header Fields Too Large");
        } else if (complete) {
            c.out = http_response(c.in, [&] {
                if (cached.empty()) cached = body();
                return cached;
            });
        } else {
            return true;  // wait for the rest
        }
        c.answered = true;
        c.in.clear();
        c.in.shrink_to_fit();
    }
    while (c.sent < c.out.size()) {
        ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        c.sent += static_cast<std::size_t>(n);
    }
    ::shutdown(c.fd.get(), SHUT_WR);
    return false;
}

void MetricsHttpServer::serve(double now, const std::function<std::string()>& body) {
    std::string cached;
    auto done = [&](Client& c) { return !progress(c, now, body, cached); };
    std::erase_if(clients_, done);  // first, so that clients gone or timed out free their slots
    const std::size_t known = clients_.size();
    for (int i = 0; i < 64; ++i) {  // bounded: a flood of connections cannot keep the loop here
        UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) break;
        if (clients_.size() >= kMaxClients) continue;  // closed at once
        Client c;
        c.fd = std::move(fd);
        c.since = now;
        clients_.push_back(std::move(c));
    }
    clients_.erase(std::remove_if(clients_.begin() + static_cast<std::ptrdiff_t>(known), clients_.end(), done),
                   clients_.end());
}

}  // namespace ks::sink
