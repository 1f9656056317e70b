// Command line and configuration of kafka-stream-sink, resolved into one settings struct (pure, unit-tested).
//
// Precedence: command-line options > -X overrides > config file. Own keys (stream.*) are validated here;
// every other key is a librdkafka property and passes through.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admission.hpp"
#include "config.hpp"
#include "metrics_http.hpp"
#include "result.hpp"
#include "signature.hpp"
#include "transfer_plan.hpp"

namespace ks::sink {

inline constexpr std::string_view kDefaultConfigPath = "/etc/slurm-kafka-stream/kafka-stream-sink.conf";

struct SinkArgs {
    std::optional<std::string> config_path;
    std::vector<ConfigEntry> overrides;  // -X key=value, in order
    std::vector<std::string> topics;
    std::optional<std::string> topic_regex;
    std::optional<std::string> group;
    std::optional<std::string> output;
    std::optional<std::string> layout;
    std::optional<double> exit_when_idle;
    std::optional<std::string> metrics_file;
    std::optional<std::string> metrics_listen;
    std::optional<std::string> instance;
    bool chown = false;
    bool records_timestamp_data = false;
    bool verbose = false;
    bool help = false;
    bool version = false;
};

// Fails with a message suitable for "usage error" (exit code 2).
Result<SinkArgs> parse_sink_args(const std::vector<std::string_view>& args);

struct SinkConfig {
    std::vector<std::string> topics;
    std::string topic_regex;  // librdkafka form, starting with '^'
    std::string group;
    std::string output;
    std::string layout;
    std::optional<double> exit_when_idle;
    bool chown = false;
    bool records_timestamp_data = false;
    double commit_interval_s = 2.0;
    std::uint64_t commit_bytes = 64ull << 20;
    double stale_seconds = 7 * 24 * 3600.0;
    std::size_t max_open_files = 256;
    std::string metrics_file;                     // empty: none
    std::optional<ListenAddress> metrics_listen;  // none: no HTTP endpoint
    double metrics_interval_s = 10.0;
    std::string instance = "default";  // for the static group member id (static_membership.hpp)
    bool static_membership = true;
    double stop_timeout_s = 10.0;
    Limits limits;
    bool authenticate = true;                          // stream.auth=hmac (default) or none
    std::string auth_key_file = auth::kDefaultKeyFile;  // stream.auth.key.file
    StagingLedger::Limits staging_limits = {100000, 10000, 0};  // max_user_bytes 0: half the output file system
    double keep_seconds = 30 * 24 * 3600.0;
    std::uint64_t max_record_bytes = 16ull << 20;
    std::vector<ConfigEntry> kafka;  // librdkafka properties
};

// The own keys this tool accepts in its config file.
const std::vector<std::string>& sink_config_keys();

// Combines parsed arguments with config-file entries (already read; `file_entries` may be empty).
Result<SinkConfig> resolve_sink_config(const SinkArgs& args, const std::vector<ConfigEntry>& file_entries);

std::string sink_usage();

}  // namespace ks::sink
