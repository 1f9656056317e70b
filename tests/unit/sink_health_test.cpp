// The sink's metrics endpoint (metrics_http.hpp), systemd notifications (systemd_notify.hpp) and static group
// membership (static_membership.hpp), on real sockets.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "../../sink/metrics_http.hpp"
#include "../../sink/sink_options.hpp"
#include "../../sink/static_membership.hpp"
#include "../../sink/systemd_notify.hpp"

using namespace ks;
using namespace ks::sink;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int connect_to(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    return fd;
}

// Sends `request`, then lets the server work until the connection is closed; returns what came back.
std::string round_trip(MetricsHttpServer& server, const std::string& request, int calls = 200) {
    UniqueFd fd(connect_to(server.port()));
    EXPECT_EQ(::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    std::string reply;
    for (int i = 0; i < calls; ++i) {
        server.serve(now_s(), [] { return std::string("kafka_stream_sink_up 1\n"); });
        char buf[4096];
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) break;
        if (n > 0) reply.append(buf, static_cast<std::size_t>(n));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return reply;
}

}  // namespace

TEST(SinkMetricsHttp, ListenAddresses) {
    auto a = parse_listen_address("9464");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");  // loopback unless told otherwise
    EXPECT_EQ(a->port, 9464);
    a = parse_listen_address("0.0.0.0:9100");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "0.0.0.0");
    a = parse_listen_address("[::1]:9464");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "::1");
    a = parse_listen_address("localhost:1");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_FALSE(parse_listen_address(""));
    EXPECT_FALSE(parse_listen_address("65536"));
    EXPECT_FALSE(parse_listen_address("host.example.org:9464"));  // no name lookup
    EXPECT_FALSE(parse_listen_address("::1:9464"));
    EXPECT_FALSE(parse_listen_address("[::1]9464"));
    EXPECT_FALSE(parse_listen_address("1.2.3.4:x"));
}

TEST(SinkMetricsHttp, OnlyGetMetrics) {
    int calls = 0;
    auto body = [&] {
        ++calls;
        return std::string("m 1\n");
    };
    std::string ok = http_response("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", body);
    EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(ok.find("Content-Length: 4\r\n"), std::string::npos);
    EXPECT_EQ(ok.substr(ok.size() - 4), "m 1\n");
    EXPECT_EQ(http_response("GET /metrics?x=1 HTTP/1.0\r\n\r\n", body).rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_EQ(http_response("POST /metrics HTTP/1.1\r\n\r\n", body).rfind("HTTP/1.1 405", 0), 0u);
    EXPECT_EQ(http_response("GET / HTTP/1.1\r\n\r\n", body).rfind("HTTP/1.1 404", 0), 0u);
    EXPECT_EQ(http_response("GET /metrics/../etc HTTP/1.1\r\n\r\n", body).rfind("HTTP/1.1 404", 0), 0u);
    EXPECT_EQ(http_response("garbage\r\n\r\n", body).rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_EQ(calls, 2);  // the body is rendered only for what gets it
}

TEST(SinkMetricsHttp, ServesScrapesAndRefusesHugeRequests) {
    auto server = MetricsHttpServer::listen({"127.0.0.1", 0});
    ASSERT_TRUE(server) << server.error().message;
    ASSERT_NE(server->port(), 0);
    std::string reply = round_trip(*server, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK", 0), 0u) << reply;
    EXPECT_NE(reply.find("\r\n\r\nkafka_stream_sink_up 1\n"), std::string::npos);
    std::string huge = "GET /metrics HTTP/1.1\r\nX: " + std::string(MetricsHttpServer::kMaxRequestBytes, 'x');
    reply = round_trip(*server, huge);
    EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply.substr(0, 100);
}

TEST(SinkMetricsHttp, StalledClientsDoNotBlockOthers) {
    auto server = MetricsHttpServer::listen({"127.0.0.1", 0});
    ASSERT_TRUE(server);
    std::vector<UniqueFd> stalled;
    double longest = 0;
    for (std::size_t i = 0; i < MetricsHttpServer::kMaxClients + 4; ++i) {
        stalled.emplace_back(connect_to(server->port()));
        ::send(stalled.back().get(), "GET /met", 8, MSG_NOSIGNAL);
        const double before = now_s();
        server->serve(now_s(), [] { return std::string(); });
        longest = std::max(longest, now_s() - before);
    }
    EXPECT_LT(longest, 1.0);  // serve() never waits for a client (generous: a shared machine)
    stalled.resize(2);  // most of them go away; the server notices and frees their slots
    std::string reply = round_trip(*server, "GET /metrics HTTP/1.1\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK", 0), 0u) << reply;
}

TEST(SinkMetricsHttp, BindErrorsNameTheAddress) {
    auto first = MetricsHttpServer::listen({"127.0.0.1", 0});
    ASSERT_TRUE(first);
    auto second = MetricsHttpServer::listen({"127.0.0.1", first->port()});
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("127.0.0.1:" + std::to_string(first->port())), std::string::npos);
}

namespace {

struct NotifyListener {
    UniqueFd fd;
    std::string path;
    NotifyListener() {
        char tmpl[] = "/tmp/ks-notify-test.XXXXXX";
        path = std::string(::mkdtemp(tmpl)) + "/notify.sock";
        fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strcpy(sa.sun_path, path.c_str());
        EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    }
    ~NotifyListener() {
        ::unlink(path.c_str());
        ::rmdir(path.substr(0, path.rfind('/')).c_str());
    }
    std::string next() {
        char buf[4096];
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        return n < 0 ? std::string("(none)") : std::string(buf, static_cast<std::size_t>(n));
    }
};

SystemdNotifier::Getenv env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

}  // namespace

TEST(SinkSystemdNotify, DisabledWithoutNotifySocket) {
    auto n = SystemdNotifier::from_environment(env({}), 42);
    ASSERT_TRUE(n);
    EXPECT_FALSE(n->enabled());
    EXPECT_FALSE(n->notify("READY=1"));
}

TEST(SinkSystemdNotify, SendsDatagramsAndPingsAtHalfTheInterval) {
    NotifyListener listener;
    auto n =
        SystemdNotifier::from_environment(env({{"NOTIFY_SOCKET", listener.path}, {"WATCHDOG_USEC", "3000000"}}), 42);
    ASSERT_TRUE(n) << n.error().message;
    ASSERT_TRUE(n->ping_interval());
    EXPECT_DOUBLE_EQ(*n->ping_interval(), 1.5);
    EXPECT_TRUE(n->notify("READY=1\n" + status_message("4 partitions\nlag 0")));
    EXPECT_EQ(listener.next(), "READY=1\nSTATUS=4 partitions lag 0");
    n->watchdog(100.0);
    EXPECT_EQ(listener.next(), "WATCHDOG=1");
    n->watchdog(101.0);  // too soon
    EXPECT_EQ(listener.next(), "(none)");
    n->watchdog(101.5);
    EXPECT_EQ(listener.next(), "WATCHDOG=1");
}

TEST(SinkSystemdNotify, WatchdogOnlyForItsOwnProcess) {
    NotifyListener listener;
    auto other = SystemdNotifier::from_environment(
        env({{"NOTIFY_SOCKET", listener.path}, {"WATCHDOG_USEC", "1000000"}, {"WATCHDOG_PID", "7"}}), 42);
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->ping_interval());
    auto mine = SystemdNotifier::from_environment(
        env({{"NOTIFY_SOCKET", listener.path}, {"WATCHDOG_USEC", "1000000"}, {"WATCHDOG_PID", "42"}}), 42);
    ASSERT_TRUE(mine);
    EXPECT_TRUE(mine->ping_interval());
}

TEST(SinkSystemdNotify, BadEnvironment) {
    EXPECT_FALSE(SystemdNotifier::from_environment(env({{"NOTIFY_SOCKET", "relative/path"}}), 1));
    EXPECT_FALSE(SystemdNotifier::from_environment(env({{"NOTIFY_SOCKET", "/" + std::string(200, 'a')}}), 1));
    EXPECT_FALSE(SystemdNotifier::from_environment(env({{"NOTIFY_SOCKET", "/x"}, {"WATCHDOG_USEC", "soon"}}), 1));
    EXPECT_FALSE(SystemdNotifier::from_environment(env({{"NOTIFY_SOCKET", "/x"}, {"WATCHDOG_USEC", "0"}}), 1));
    auto abstract = SystemdNotifier::from_environment(env({{"NOTIFY_SOCKET", "@ks-test"}}), 1);
    ASSERT_TRUE(abstract);
    EXPECT_TRUE(abstract->enabled());
}

TEST(SinkStaticMembership, Ids) {
    EXPECT_EQ(static_member_id("node7", "default", 1), "kafka-stream-sink.node7.default");
    EXPECT_EQ(static_member_id("node7", "a", 3), "kafka-stream-sink.node7.a.3");
    EXPECT_EQ(static_member_id("n\xc3\xa9 x", "a", 1), "kafka-stream-sink.n___x.a");
    EXPECT_TRUE(check_instance_name("sink-2.a_b"));
    EXPECT_FALSE(check_instance_name(""));
    EXPECT_FALSE(check_instance_name("a/b"));
    EXPECT_FALSE(check_instance_name(std::string(65, 'a')));
}

TEST(SinkStaticMembership, OneIdPerRunningSinkOfAGroup) {
    const std::string group = "unit-test-" + std::to_string(::getpid());
    std::optional<StaticMemberLock> first;
    if (auto lock = StaticMemberLock::acquire(group, "h", "i"); lock) first.emplace(std::move(*lock));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->id(), "kafka-stream-sink.h.i");
    auto second = StaticMemberLock::acquire(group, "h", "i");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->id(), "kafka-stream-sink.h.i.2");
    auto other_group = StaticMemberLock::acquire(group + "-other", "h", "i");
    ASSERT_TRUE(other_group);
    EXPECT_EQ(other_group->id(), "kafka-stream-sink.h.i");
    first.reset();  // the first sink ends: a restarted one takes its id again
    auto restarted = StaticMemberLock::acquire(group, "h", "i");
    ASSERT_TRUE(restarted);
    EXPECT_EQ(restarted->id(), "kafka-stream-sink.h.i");
}

TEST(SinkOptionsHealth, MetricsStaticMembershipAndStopTimeout) {
    auto a = parse_sink_args({"-X", "bootstrap.servers=k:9092", "--topic", "t", "--group", "g", "--output", "/r",
                              "--metrics-file", "/var/lib/node-exporter/ks.prom", "--metrics-listen", "9464",
                              "--instance", "two"});
    ASSERT_TRUE(a) << a.error().message;
    auto c = resolve_sink_config(*a, {});
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->metrics_file, "/var/lib/node-exporter/ks.prom");
    ASSERT_TRUE(c->metrics_listen);
    EXPECT_EQ(c->metrics_listen->host, "127.0.0.1");
    EXPECT_EQ(c->metrics_listen->port, 9464);
    EXPECT_EQ(c->instance, "two");
    EXPECT_TRUE(c->static_membership);
    EXPECT_DOUBLE_EQ(c->stop_timeout_s, 10.0);
    EXPECT_DOUBLE_EQ(c->metrics_interval_s, 10.0);

    auto file = parse_config(
        "bootstrap.servers = k\nstream.topics = t\nstream.group = g\nstream.output = /r\n"
        "stream.metrics.listen = [::1]:9100\nstream.metrics.interval.ms = 500\n"
        "stream.static.membership = false\nstream.stop.timeout.ms = 3000\n",
        "sink.conf");
    ASSERT_TRUE(file);
    auto none = parse_sink_args({});
    c = resolve_sink_config(*none, *file);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->metrics_listen->host, "::1");
    EXPECT_DOUBLE_EQ(c->metrics_interval_s, 0.5);
    EXPECT_FALSE(c->static_membership);
    EXPECT_DOUBLE_EQ(c->stop_timeout_s, 3.0);

    auto bad = [&](std::vector<std::string_view> extra) {
        std::vector<std::string_view> args = {"-X", "bootstrap.servers=k", "--topic", "t", "--group", "g", "--output",
                                              "/r"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto parsed = parse_sink_args(args);
        return !parsed || !resolve_sink_config(*parsed, {});
    };
    EXPECT_TRUE(bad({"--metrics-listen", "example.org:80"}));
    EXPECT_TRUE(bad({"--instance", "a b"}));
    EXPECT_TRUE(bad({"-X", "stream.stop.timeout.ms=10"}));
    EXPECT_TRUE(bad({"-X", "stream.metrics.interval.ms=0"}));
    EXPECT_TRUE(bad({"-X", "stream.static.membership=maybe"}));
    EXPECT_FALSE(bad({}));
}
