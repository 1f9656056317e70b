#include "service_monitor.hpp"

#include <chrono>

namespace ks::sink {
namespace {

// Scrapes are answered at most this often from a busy loop (each look costs a system call).
constexpr double kServeEvery = 0.05;
// The staging directory is walked at most this often, however often it is scraped.
constexpr double kMeasureEvery = 1.0;

}  // namespace

double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<ServiceMonitor> ServiceMonitor::open(const MonitorSettings& settings, int staging_dirfd,
                                            SystemdNotifier notifier, const Log& log) {
    std::optional<MetricsHttpServer> http;
    if (settings.metrics_listen) {
        TRY_ASSIGN(auto server, MetricsHttpServer::listen(*settings.metrics_listen));
        log.info("metrics on http://" + settings.metrics_listen->host + ":" + std::to_string(server.port()) +
                 "/metrics");
        http = std::move(server);
    }
    if (!settings.metrics_file.empty())
        if (auto ok = replace_file(settings.metrics_file, ""); !ok)
            return fail("--metrics-file: " + ok.error().message);
    ServiceMonitor m(settings, staging_dirfd, std::move(notifier), log, std::move(http));
    m.start_wall_ = wall_seconds();
    if (auto interval = m.notifier_.ping_interval())
        log.debug("systemd watchdog: a ping every " + std::to_string(*interval) + " s");
    return m;
}

const StagingUsage& ServiceMonitor::staging(double now) {
    if (now - staging_measured_ >= kMeasureEvery) {
        staging_ = measure_staging(staging_dirfd_);
        staging_measured_ = now;
    }
    return staging_;
}

void ServiceMonitor::refresh(double now, const SinkStats& stats, const Snapshot& snapshot) {
    last_refresh_ = now;
    ServiceSnapshot svc = snapshot();
    svc.start_time = start_wall_;
    const StagingUsage& usage = staging(now);
    if (!settings_.metrics_file.empty()) {
        auto ok = replace_file(settings_.metrics_file, render_metrics(stats, usage, svc));
        if (!ok && !warned_file_) log_->warning("metrics file: " + ok.error().message);
        warned_file_ = !ok;
    }
    notifier_.notify(status_message(format_status(stats, usage, svc, wall_seconds())));
}

void ServiceMonitor::tick(double now, const SinkStats& stats, const Snapshot& snapshot) {
    notifier_.watchdog(now);
    if (http_ && now - last_serve_ >= kServeEvery) {
        last_serve_ = now;
        http_->serve(now, [&] {
            ServiceSnapshot svc = snapshot();
            svc.start_time = start_wall_;
            return render_metrics(stats, staging(now), svc);
        });
    }
    if (now - last_refresh_ >= settings_.interval_s) refresh(now, stats, snapshot);
}

void ServiceMonitor::ready(double now, const SinkStats& stats, const Snapshot& snapshot) {
    refresh(now, stats, snapshot);
    notifier_.notify("READY=1");
    notifier_.watchdog(now);
}

void ServiceMonitor::stopping(double now) {
    notifier_.notify("STOPPING=1\nSTATUS=stopping: committing offsets and leaving the consumer group");
    notifier_.watchdog(now);
}

void ServiceMonitor::finish(double now, const SinkStats& stats, const Snapshot& snapshot) {
    staging_measured_ = -1e300;  // the final figures, not a second-old walk
    ServiceSnapshot svc = snapshot();
    svc.start_time = start_wall_;
    if (!settings_.metrics_file.empty())
        if (auto ok = replace_file(settings_.metrics_file, render_metrics(stats, staging(now), svc)); !ok)
            log_->warning("metrics file: " + ok.error().message);
}

}  // namespace ks::sink
