// Command line and site configuration of kafka-stream-push, resolved into plain values (no I/O except what the
// caller passes in), so every rule is unit-tested.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "kafka.hpp"
#include "push_contract.hpp"
#include "result.hpp"
#include "signature.hpp"
#include "wire_format.hpp"

namespace ks::push {

inline constexpr const char* kDefaultConfigPath = "/etc/kafka-stream.conf";
inline constexpr const char* kDefaultSpoolDir = "/var/spool/kafka-stream";
inline constexpr double kDefaultTimeoutSeconds = 300;

// How files travel: "files" (chunks, any file) or "records" (text files as one JSON message per line; others as
// chunks). See record_sender.hpp.
enum class SendFormat { files, records };
Result<SendFormat> parse_send_format(std::string_view text);

struct CommandLine {
    bool help = false;
    bool version = false;
    bool verbose = false;
    std::optional<std::string> config_path;
    std::vector<ConfigEntry> overrides;  // -X key=value, in order
    std::string topic;
    std::optional<std::string> cluster, job_id, job_instance, node, user, spool, run_as, drain_spool;
    std::optional<std::string> metrics_file;  // with --drain-spool: the spool's node_exporter textfile
    std::optional<std::uint32_t> nodes;
    std::optional<std::int32_t> exit_code;
    std::optional<double> timeout;
    std::vector<std::string> includes, excludes;
    std::optional<SendFormat> format;
    std::string dir;
};

// Parses argv[1..]. "--opt value" and "--opt=value" both work; "--" ends options. Checks presence and shape only.
Result<CommandLine> parse_command_line(const std::vector<std::string>& args);

std::string usage_text();

// The tool's own configuration keys (all start with "stream.").
const std::vector<std::string>& own_config_keys();

struct Settings {
    std::uint64_t chunk_bytes = wire::kDefaultChunkBytes;
    double timeout_seconds = kDefaultTimeoutSeconds;
    std::string spool_dir = kDefaultSpoolDir;
    std::optional<std::string> cluster;
    std::size_t max_open_files = 64;  // replaced by default_max_open_files() unless stream.max.open.files is set
    int max_producer_rebuilds = 5;
    int max_file_attempts = 3;
    std::uint64_t message_max_bytes = 1'000'000;  // librdkafka's message.max.bytes, read back from the conf
    SendFormat format = SendFormat::files;
    std::optional<std::uint64_t> records_max_line_bytes;  // stream.records.max.line.bytes; default: what fits
    std::optional<std::uint64_t> max_file_bytes;  // stream.max.file.bytes: larger files are skipped; default: no limit
    std::vector<ConfigEntry> kafka;  // librdkafka properties from the file and -X, in order
    // stream.auth: "hmac" (default: sign the transfer with the site key) or "none" (send unsigned; a sink that
    // authenticates sets such transfers aside).
    bool authenticate = true;
    std::string auth_key_file = auth::kDefaultKeyFile;  // stream.auth.key.file
    // The spool: at most this many bytes per user (0 = no limit), and never below this share of free space.
    std::uint64_t spool_max_bytes = 0;
    unsigned spool_min_free_percent = 5;
    // --drain-spool as root: each user's entries get at most this long (then the child draining them is killed),
    // and never more than an even share of what is left of --timeout.
    double drain_user_seconds = 120;
};

// Files kept open while their chunks await confirmation, by default: many small files are confirmed in batches, so
// a small bound throttles them (a bound of 64 sent several times fewer files a second than 1024); never more than
// the fd limit allows.
std::size_t default_max_open_files(std::uint64_t fd_soft_limit);
// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in force afterwards.
std::uint64_t raise_fd_limit();

// Config entries (file, then -X) plus the command line's own options, which win over the file.
Result<Settings> resolve_settings(const std::vector<ConfigEntry>& entries, const CommandLine& cl);

// librdkafka properties: ours by default (the site may override), and those correctness depends on (forced).
std::vector<kafka::Property> default_kafka_properties(const Settings& s);
std::vector<kafka::Property> forced_kafka_properties();
// Fails when librdkafka's message.max.bytes leaves no room for a chunk plus its headers.
Result<void> check_chunk_fits(std::uint64_t chunk_bytes, std::uint64_t message_max_bytes);
// Records mode's line limit: the configured one, or by default the longest line whose record (in the worst case of
// escaping) still fits one message. Fails when the configured limit cannot fit.
Result<std::size_t> records_line_limit(const Settings& s);
// The largest manifest part (JSON bytes) that fits one message with its headers.
std::size_t manifest_part_budget(std::uint64_t message_max_bytes);
// The manifest as the parts to send; fails only when a single entry cannot fit one message.
Result<std::vector<std::string>> manifest_messages(const wire::Manifest& manifest, std::uint64_t message_max_bytes);

// Reads an environment variable; a function so tests can supply their own environment.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;

struct JobDefaults {
    std::string hostname;   // short host name
    std::string user_name;  // of the uid the files are read as
    std::int64_t uid = -1;
    std::int64_t gid = -1;
    std::string adhoc_job_id;  // "adhoc-<epoch>-<pid>", used when no job id is known
};

// Who and what this transfer is: options, then Slurm's environment, then `defaults`.
Result<wire::JobInfo> resolve_job(const CommandLine& cl, const Settings& s, const EnvLookup& env,
                                  const JobDefaults& defaults);
wire::TransferIdentity identity_of(const wire::JobInfo& job);

// Slurm's SLURM_JOB_EXIT_CODE2 ("exit:signal") or SLURM_JOB_EXIT_CODE (a wait status) as an exit code.
std::optional<std::int32_t> exit_code_from_slurm(const EnvLookup& env);

}  // namespace ks::push
