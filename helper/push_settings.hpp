// kafka-stream-push's settings: the site configuration's stream.* keys (file, then -X) and the command line's own
// options, resolved into plain values (no I/O but the fd limit), so every rule is unit-tested.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "push_command_line.hpp"
#include "result.hpp"
#include "signature.hpp"
#include "wire_headers.hpp"

namespace ks::push {

inline constexpr const char* kDefaultConfigPath = "/etc/kafka-stream.conf";
inline constexpr const char* kDefaultSpoolDir = "/var/spool/kafka-stream";
inline constexpr double kDefaultTimeoutSeconds = 300;

// The tool's own configuration keys (all start with "stream.").
const std::vector<std::string>& own_config_keys();

// Named in producer_config's errors too.
inline constexpr const char* kKeyMaxLine = "stream.records.max.line.bytes";

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

}  // namespace ks::push
