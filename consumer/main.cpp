// kafka-stream-sink: parses arguments and configuration, then runs the consumer; turns errors into messages and exit
// codes (0 ok, 1 runtime failure, 2 usage or configuration error).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

#include "consumer_service.hpp"
#include "log.hpp"
#include "sink.hpp"
#include "sink_options.hpp"

namespace {

// Set by SIGTERM/SIGINT, read by the poll loop: the only process-wide state, as signals require.
volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

int run(int argc, char** argv) {
    using namespace ks::sink;
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
        std::puts("kafka-stream-sink (slurm-kafka-stream) wire format 1");
        return 0;
    }
    if (parsed->verbose) log.set_threshold(ks::LogLevel::debug);
    std::vector<ks::ConfigEntry> file_entries;
    std::string config_path = parsed->config_path.value_or(std::string(kDefaultConfigPath));
    if (parsed->config_path || ::access(config_path.c_str(), F_OK) == 0) {
        auto entries = ks::read_config_file(config_path);
        if (!entries) {
            log.error(entries.error().message);
            return 2;
        }
        file_entries = std::move(*entries);
    }
    auto config = resolve_sink_config(*parsed, file_entries);
    if (!config) {
        log.error(config.error().message);
        return 2;
    }
    bool chown = config->chown;
    if (chown && ::geteuid() != 0) {
        log.warning("--chown needs root: files keep the sink's own uid");
        chown = false;
    }
    auto layout = Layout::parse(config->layout);
    if (!layout) {
        log.error(layout.error().message);
        return 2;
    }
    SinkSettings settings;
    settings.root = config->output;
    settings.layout = *layout;
    settings.limits = config->limits;
    settings.chown = chown;
    settings.stale_seconds = config->stale_seconds;
    settings.max_open_files = config->max_open_files;
    settings.records_timestamp_data = config->records_timestamp_data;
    if (config->authenticate) {
        auto keys = ks::auth::KeyRing::load(config->auth_key_file, ::geteuid());
        if (!keys) {
            log.error(keys.error().message + "; the sink accepts only transfers signed by the site's nodes (set "
                      "stream.auth=none to accept anything, which lets any producer write into any user's tree)");
            return 2;
        }
        settings.keys = std::move(*keys);
    } else {
        log.warning("stream.auth=none: transfers are NOT authenticated; anyone who can produce to " +
                    std::string(config->topics.empty() ? "the topics" : "topic " + config->topics.front()) +
                    " can write files into any user's tree" + (chown ? ", owned by that user" : ""));
    }
    settings.staging_limits = config->staging_limits;
    settings.keep_seconds = config->keep_seconds;
    settings.max_record_bytes = config->max_record_bytes;
    auto sink = Sink::open(std::move(settings), log);
    if (!sink) {
        log.error(sink.error().message);
        return 1;
    }
    // Transfers whose manifest was staged before a crash or stop are completed first.
    if (auto ok = sink->recover(); !ok) {
        log.error(ok.error().message);
        return 1;
    }
    install_signal_handlers();
    ServiceSettings service{config->topics, config->topic_regex, config->group, config->commit_interval_s,
                            config->commit_bytes, std::min(60.0, std::max(1.0, config->stale_seconds / 2)),
                            config->exit_when_idle, ::isatty(STDERR_FILENO) == 1};
    if (auto ok = run_consumer(service, config->kafka, *sink, log, g_stop); !ok) {
        log.error(ok.error().message);
        return 1;
    }
    return 0;
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
