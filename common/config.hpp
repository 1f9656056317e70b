// Site config files: one "key = value" per line, '#' comments, blank lines ignored.
//
// Keys starting with "stream." belong to kafka-stream itself (each tool validates its own); every other key is a
// librdkafka property and passes through (bootstrap.servers, security.protocol, sasl.*, ssl.*, ...).
// "-X key=value" on the command line adds entries after the file's, so they override.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace ks {

struct ConfigEntry {
    std::string key;
    std::string value;
    std::string origin;  // "path:line" or "-X" — used in every error message about this entry
};

inline constexpr std::string_view kOwnKeyPrefix = "stream.";

// Parses text already read from `path` (path is only used for messages).
Result<std::vector<ConfigEntry>> parse_config(std::string_view text, std::string_view path);
// Reads and parses a file; a missing file is an error naming the path. The file must belong to root or to the
// effective uid and not be writable by others; one that holds a secret must not be readable by others either
// (secret_config.hpp).
Result<std::vector<ConfigEntry>> read_config_file(const std::string& path);
// The whole text of the regular file at `path` (at most max_bytes) and the fstat of the descriptor it was read from,
// so that a check of its owner and mode applies to what was read. Errors start with `shown`.
struct FileText {
    std::string text;
    uid_t owner = 0;
    mode_t mode = 0;
};
Result<FileText> read_regular_file(const std::string& path, const std::string& shown, std::size_t max_bytes);
// Parses one "-X key=value" argument; a secret (sasl.password, ...) is refused there (secret_config.hpp).
Result<ConfigEntry> parse_override(std::string_view arg);

// The result of splitting entries: our own keys (last wins) and librdkafka properties (in order, last wins).
struct SplitConfig {
    std::map<std::string, ConfigEntry> own;
    std::vector<ConfigEntry> kafka;
};
// Fails, naming path:line, on an own key that is not in `known_own_keys`.
Result<SplitConfig> split_config(const std::vector<ConfigEntry>& entries,
                                 const std::vector<std::string>& known_own_keys);

// Typed lookups of own keys, with errors naming the entry's origin.
Result<std::optional<std::uint64_t>> get_u64(const SplitConfig& c, const std::string& key, std::uint64_t min,
                                             std::uint64_t max);
Result<std::optional<double>> get_seconds(const SplitConfig& c, const std::string& key);
Result<std::optional<bool>> get_bool(const SplitConfig& c, const std::string& key);
std::optional<std::string> get_string(const SplitConfig& c, const std::string& key);

}  // namespace ks
