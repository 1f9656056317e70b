// kafka-stream-sink: parses arguments and configuration, then runs the consumer; turns errors into messages and exit
// codes (0 ok, 1 runtime failure, 2 usage or configuration error).
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "consumer_service.hpp"
#include "kafka_access_check.hpp"
#include "log.hpp"
#include "service_monitor.hpp"
#include "sink.hpp"
#include "sink_options.hpp"
#include "static_membership.hpp"
#include "staging_area.hpp"
#include "stop_signal.hpp"
#include "wire_format.hpp"

namespace {

using namespace ks::sink;

// A start-up step that failed: its message is logged, this is the exit code.
struct Stop {
    int code;
};
template <class T>
using Step = std::expected<T, Stop>;

std::unexpected<Stop> stop(const ks::Log& log, const std::string& message, int code) {
    log.error(message);
    return std::unexpected(Stop{code});
}

// The config file (the one given, else the default one if it exists) resolved with the command line.
Step<SinkConfig> load_config(const SinkArgs& args, const ks::Log& log) {
    std::vector<ks::ConfigEntry> file_entries;
    std::string config_path = args.config_path.value_or(std::string(kDefaultConfigPath));
    if (args.config_path || ::access(config_path.c_str(), F_OK) == 0) {
        auto entries = ks::read_config_file(config_path);
        if (!entries) return stop(log, entries.error().message, 2);
        file_entries = std::move(*entries);
    }
    auto config = resolve_sink_config(args, file_entries);
    if (!config) return stop(log, config.error().message, 2);
    return std::move(*config);
}

// What the sink itself needs: output root, layout, limits, and the keys transfers must be signed with.
Step<SinkSettings> sink_settings(const SinkConfig& config, const ks::Log& log) {
    bool chown = config.chown;
    if (chown && ::geteuid() != 0) {
        log.warning("--chown needs root: files keep the sink's own uid");
        chown = false;
    }
    auto layout = Layout::parse(config.layout);
    if (!layout) return stop(log, layout.error().message, 2);
    SinkSettings settings;
    settings.root = config.output;
    settings.layout = *layout;
    settings.limits = config.limits;
    settings.chown = chown;
    settings.stale_seconds = config.stale_seconds;
    settings.max_open_files = config.max_open_files;
    settings.records_timestamp_data = config.records_timestamp_data;
    if (config.authenticate) {
        auto keys = ks::auth::KeyRing::load(config.auth_key_file, ::geteuid());
        if (!keys)
            return stop(log,
                        keys.error().message +
                            "; the sink accepts only transfers signed by the site's nodes (set "
                            "stream.auth=none to accept anything, which lets any producer write into any user's tree)",
                        2);
        settings.keys = std::move(*keys);
    } else {
        log.warning("stream.auth=none: transfers are NOT authenticated; anyone who can produce to " +
                    std::string(config.topics.empty() ? "the topics" : "topic " + config.topics.front()) +
                    " can write files into any user's tree" + (chown ? ", owned by that user" : ""));
    }
    settings.staging_limits = config.staging_limits;
    settings.keep_seconds = config.keep_seconds;
    settings.max_record_bytes = config.max_record_bytes;
    return settings;
}

// Static group membership: after a crash, the restarted sink takes its partitions back at once. The lock on the
// id lives as long as the process (another sink of the group on this host takes the next id).
Step<std::vector<ks::ConfigEntry>> with_static_membership(const SinkConfig& config,
                                                          std::optional<StaticMemberLock>& member, const ks::Log& log) {
    std::vector<ks::ConfigEntry> kafka_properties = config.kafka;
    const bool site_id = std::any_of(kafka_properties.begin(), kafka_properties.end(),
                                     [](const auto& e) { return e.key == "group.instance.id"; });
    if (config.static_membership && !site_id) {
        auto lock = StaticMemberLock::acquire(config.group, short_host_name(), config.instance);
        if (!lock) return stop(log, lock.error().message, 1);
        kafka_properties.push_back({"group.instance.id", lock->id(), "stream.instance"});
        member.emplace(std::move(*lock));
    }
    return kafka_properties;
}

// Metrics and systemd notifications; the monitor measures ROOT/.staging through `staging_dir`, which outlives it.
Step<ServiceMonitor> open_monitor(const SinkConfig& config, ks::UniqueFd& staging_dir, const ks::Log& log) {
    auto notifier = SystemdNotifier::from_environment(std::getenv, ::getpid());
    if (!notifier) {
        log.warning(notifier.error().message + ": no systemd notifications");
        notifier = SystemdNotifier::from_environment([](const char*) -> const char* { return nullptr; }, ::getpid());
    }
    const std::string staging_path = config.output + "/" + std::string(kStagingDirName);
    staging_dir = ks::UniqueFd(::open(staging_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!staging_dir) return stop(log, staging_path + ": cannot open", 1);
    MonitorSettings monitor_settings{config.metrics_file, config.metrics_listen, config.metrics_interval_s};
    auto monitor = ServiceMonitor::open(monitor_settings, staging_dir.get(), std::move(*notifier), log);
    if (!monitor) return stop(log, monitor.error().message, 1);
    return std::move(*monitor);
}

// Runs the consumer until SIGTERM/SIGINT (or idle, in one-shot mode).
int serve(const SinkConfig& config, const std::vector<ks::ConfigEntry>& kafka_properties, Sink& sink,
          ServiceMonitor& monitor, const ks::Log& log) {
    ks::install_stop_signal();
    signal(SIGPIPE, SIG_IGN);  // a write to a closed pipe or socket fails with EPIPE instead of ending the sink
    ServiceSettings service{config.topics,         config.topic_regex,
                            config.group,          config.commit_interval_s,
                            config.commit_bytes,   std::min(60.0, std::max(1.0, config.stale_seconds / 2)),
                            config.exit_when_idle, ::isatty(STDERR_FILENO) == 1,
                            config.stop_timeout_s};
    auto outcome = run_consumer(service, kafka_properties, sink, monitor, log, ks::stop_requested());
    const int rc = outcome.result ? 0 : 1;
    if (!outcome.result) log.error(outcome.result.error().message);
    // Kafka did not answer in time and its handle was left open: destroying it would wait for the coordinator.
    // Everything read is durable; what was not committed is read again at the next start.
    if (outcome.kafka_left_open) {
        std::fflush(nullptr);
        ::_exit(rc);
    }
    return rc;
}

int run(int argc, char** argv) {
    ks::Log log("kafka-stream-sink");
    std::vector<std::string_view> args(argv + 1, argv + argc);
    auto parsed = parse_sink_args(args);
    if (!parsed) {
        log.error(parsed.error().message + " (see --help)");
        return 2;
    }
    if (parsed->help) {
        std::fputs(sink_usage().c_str(), stdout);
        return 0;
    }
    if (parsed->version) {
        std::printf("kafka-stream-sink (slurm-kafka-stream), wire format %d, librdkafka %s\n", ks::wire::kVersion,
                    rd_kafka_version_str());
        return 0;
    }
    if (parsed->verbose) log.set_threshold(ks::LogLevel::debug);
    auto config = load_config(*parsed, log);
    if (!config) return config.error().code;
    auto settings = sink_settings(*config, log);
    if (!settings) return settings.error().code;
    // A wrong password, certificate or ACL: refuse to start, in one line.
    if (auto ok = check_kafka_access(config->kafka, {config->topics, config->group}, log); !ok) {
        log.error(ok.error().message);
        return 2;
    }
    auto sink = Sink::open(std::move(*settings), log);
    if (!sink) {
        log.error(sink.error().message);
        return 1;
    }
    // Transfers whose manifest was staged before a crash or stop are completed first.
    if (auto ok = sink->recover(); !ok) {
        log.error(ok.error().message);
        return 1;
    }
    std::optional<StaticMemberLock> member;
    auto kafka_properties = with_static_membership(*config, member, log);
    if (!kafka_properties) return kafka_properties.error().code;
    ks::UniqueFd staging_dir;
    auto monitor = open_monitor(*config, staging_dir, log);
    if (!monitor) return monitor.error().code;
    return serve(*config, *kafka_properties, *sink, *monitor, log);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kafka-stream-sink: error: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "kafka-stream-sink: error: unexpected exception\n");
    }
    return 1;
}
