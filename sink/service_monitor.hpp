// What the running sink shows the outside world: Prometheus metrics (metrics.hpp) in a node_exporter textfile and/or
// on an HTTP endpoint (metrics_http.hpp), and systemd notifications (systemd_notify.hpp): READY=1 once the consumer
// loop runs, a STATUS= summary line, WATCHDOG=1 pings, STOPPING=1. The consumer loop calls tick() often; nothing in
// it waits (the textfile is a small local write every interval).
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "log.hpp"
#include "metrics.hpp"
#include "metrics_http.hpp"
#include "result.hpp"
#include "sink.hpp"
#include "systemd_notify.hpp"
#include "unique_fd.hpp"

namespace ks::sink {

struct MonitorSettings {
    std::string metrics_file;  // empty: no textfile
    std::optional<ListenAddress> metrics_listen;
    double interval_s = 10;  // how often the textfile and the STATUS line are refreshed
};

class ServiceMonitor {
public:
    using Snapshot = std::function<ServiceSnapshot()>;

    // `staging_dirfd`: ROOT/.staging (borrowed; measured for the active-transfer and staged-bytes gauges).
    static Result<ServiceMonitor> open(const MonitorSettings& settings, int staging_dirfd, SystemdNotifier notifier,
                                       const Log& log);

    // From the consumer loop (`now`: monotonic seconds): answers scrapes, pings the watchdog, and every interval
    // rewrites the metrics file and the STATUS line.
    void tick(double now, const SinkStats& stats, const Snapshot& snapshot);
    // READY=1 with a first STATUS line.
    void ready(double now, const SinkStats& stats, const Snapshot& snapshot);
    // STOPPING=1; the metrics file is written once more by finish().
    void stopping(double now);
    void finish(double now, const SinkStats& stats, const Snapshot& snapshot);
    std::optional<std::uint16_t> http_port() const {
        return http_ ? std::optional<std::uint16_t>(http_->port()) : std::nullopt;
    }

private:
    ServiceMonitor(const MonitorSettings& settings, int staging_dirfd, SystemdNotifier notifier, const Log& log,
                   std::optional<MetricsHttpServer> http)
        : settings_(settings), staging_dirfd_(staging_dirfd), notifier_(std::move(notifier)), log_(&log),
          http_(std::move(http)) {}
    const StagingUsage& staging(double now);
    void refresh(double now, const SinkStats& stats, const Snapshot& snapshot);

    MonitorSettings settings_;
    int staging_dirfd_;
    SystemdNotifier notifier_;
    const Log* log_;
    std::optional<MetricsHttpServer> http_;
    double start_wall_ = 0;
    double last_refresh_ = -1e300;
    double last_serve_ = -1e300;
    double staging_measured_ = -1e300;
    StagingUsage staging_;
    bool warned_file_ = false;
};

double wall_seconds();

}  // namespace ks::sink
