// Config files that hold credentials: which keys are secrets, who may own, read and write such a file (the rules ssh
// applies to its own files), and how a config line or -X argument is shown in a message without its value.
//
// Both tools run as root and read their config before anything else: a file that another user can write would let
// that user point them at another broker, or at librdkafka's plugin.library.paths (code run as root); a secret that
// another user can read is no longer a secret. A secret never goes on a command line (ps shows it to everyone).
#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "result.hpp"

namespace ks {

// Keys whose value is a credential: sasl.password, ssl.key.password, ssl.key.pem, ssl.keystore.password,
// sasl.oauthbearer.client.secret, sasl.oauthbearer.config, and any key naming a password or secret.
bool is_secret_key(std::string_view key);

// The first entry that holds a secret, or nullptr.
const ConfigEntry* first_secret(const std::vector<ConfigEntry>& entries);

// The file's owner and mode against the rules above, for a process whose effective uid is `euid`: owned by root or
// by `euid`; not writable by group or others; and when `secret` is not null (the entry that makes it secret), not
// readable by group or others either. The message says what to run to fix it.
Result<void> check_config_file_access(const std::string& path, uid_t owner, mode_t mode, uid_t euid,
                                      const ConfigEntry* secret);

// A config line (or a key) for an error message: its leading key-like part only ([A-Za-z0-9._-]), then "..." if
// anything followed, so a malformed "sasl.password hunter2" is shown as "sasl.password ...".
std::string without_value(std::string_view text);

// -X key=value is on the command line: refused for secret keys (the message does not repeat the value).
Result<void> check_override_not_secret(const ConfigEntry& entry);

// ssl.key.location, ssl.certificate.location and ssl.ca.location (when a regular file) replaced by the files' text
// as ssl.key.pem, ssl.certificate.pem and ssl.ca.pem. kafka-stream-push reads its config as root and may build a
// producer later as the job's user (a rebuild, the drain's per-user child), who cannot read a root-only key file.
Result<std::vector<ConfigEntry>> inline_tls_files(std::vector<ConfigEntry> entries);

}  // namespace ks
