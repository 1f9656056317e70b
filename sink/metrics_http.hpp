// --metrics-listen: a minimal HTTP server for Prometheus scrapes, served from the consumer loop without ever making
// it wait. Sockets are non-blocking; at most kMaxClients connections are kept (more are closed at once); a request
// head may be at most kMaxRequestBytes and must arrive within kClientTimeout seconds, and the response must be taken
// within that time too, so a slow or hostile client costs a few bytes of memory, never the sink's time. Only
// "GET /metrics" is answered with the metrics; anything else gets an error status. Binds to loopback unless told.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"
#include "unique_fd.hpp"

namespace ks::sink {

struct ListenAddress {
    std::string host;  // a numeric IPv4 or IPv6 address
    std::uint16_t port = 0;
};

// "PORT" (on 127.0.0.1), "HOST:PORT" or "[IPV6]:PORT"; HOST is a numeric address or "localhost". No name lookup:
// the sink never waits for DNS.
Result<ListenAddress> parse_listen_address(std::string_view text);

// The complete response to one request head (pure). `body` is called only for GET /metrics.
std::string http_response(std::string_view request_head, const std::function<std::string()>& body);

class MetricsHttpServer {
public:
    static constexpr std::size_t kMaxClients = 16;
    static constexpr std::size_t kMaxRequestBytes = 8192;
    static constexpr double kClientTimeout = 10.0;

    static Result<MetricsHttpServer> listen(const ListenAddress& address);
    // Accepts, reads and answers whatever is ready, without waiting; `now` is monotonic seconds. `body` is called at
    // most once per call, when a complete GET /metrics has arrived.
    void serve(double now, const std::function<std::string()>& body);
    std::uint16_t port() const { return port_; }  // the bound port (useful with port 0)

private:
    struct Client {
        UniqueFd fd;
        double since = 0;
        std::string in;
        std::string out;
        std::size_t sent = 0;
        bool answered = false;
    };
    MetricsHttpServer(UniqueFd fd, std::uint16_t port) : listen_fd_(std::move(fd)), port_(port) {}
    // false when the client is done (answered completely, gone, or timed out).
    bool progress(Client& c, double now, const std::function<std::string()>& body, std::string& cached);

    UniqueFd listen_fd_;
    std::uint16_t port_;
    std::vector<Client> clients_;
};

}  // namespace ks::sink
