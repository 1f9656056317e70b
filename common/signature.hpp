// Authenticated transfers: only a node (root, holding the site's key) can speak for a job.
//
// Scheme (docs/security.md): HMAC-SHA256 with a site key shared by compute nodes and sinks, kept in a root-only key
// file (stream.auth.key.file). The file lists one or more keys "<key id> <secret as hex>": the first one signs, every
// one verifies, so keys rotate without a flag day. What is signed is the message's type, topic, key, transfer id,
// manifest part and the whole value (an open message carries the job's identity, a manifest its files with their
// SHA-256), each field length-prefixed, under a domain tag. The signature travels in the header ks.sig as
// "<key id>:<64 hex digits>". Chunks and records are not signed: the manifest's per-file SHA-256 binds their bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace ks::auth {

inline constexpr const char* kDefaultKeyFile = "/etc/kafka-stream.key";
inline constexpr std::size_t kMinSecretBytes = 32;
inline constexpr std::size_t kMaxSecretBytes = 128;
inline constexpr std::size_t kMaxKeyIdBytes = 32;

struct Key {
    std::string id;
    std::string secret;  // raw bytes
};

// The keys of a key file, in file order. The first one signs.
class KeyRing {
public:
    // Reads and checks a key file: a regular file (not a symlink) owned by `owner` (the process's euid, normally
    // root) and not accessible to group or others, like ssh's private keys. Errors name the path and line, never a
    // secret.
    static Result<KeyRing> load(const std::string& path, unsigned owner);
    // Parses the text of a key file (`path` only for messages).
    static Result<KeyRing> parse(std::string_view text, std::string_view path);

    const Key& signing_key() const { return keys_.front(); }
    const Key* find(std::string_view id) const;
    std::size_t size() const { return keys_.size(); }

    KeyRing(const KeyRing&) = default;
    KeyRing& operator=(const KeyRing&) = default;
    KeyRing(KeyRing&&) noexcept = default;
    KeyRing& operator=(KeyRing&&) noexcept = default;
    ~KeyRing();  // wipes the secrets

private:
    KeyRing() = default;
    std::vector<Key> keys_;
};

// What a signature covers. `part`/`parts` are 0/1 for everything but a manifest split into parts.
struct SignedFields {
    std::string_view type;      // "open", "manifest", "spool"
    std::string_view topic;
    std::string_view key;       // the Kafka message key (cluster/job/node)
    std::string_view transfer;  // transfer id
    std::uint32_t part = 0;
    std::uint32_t parts = 1;
    std::string_view value;     // the message value (JSON)
};

// The exact bytes that are MACed: a domain tag, then each field as "<decimal length>:<bytes>".
std::string signed_material(const SignedFields& f);

// "<key id>:<hex HMAC-SHA256>" of the fields with `key`.
std::string sign(const Key& key, const SignedFields& f);

// Checks a "<key id>:<hex>" signature with the key of that id in `ring` (constant-time comparison). The error says
// why without guessing: missing, malformed, unknown key id, or does not match.
Result<void> verify(const KeyRing& ring, std::string_view signature, const SignedFields& f);

// HMAC-SHA256 as lowercase hex (exposed for the known-answer tests).
std::string hmac_sha256_hex(std::string_view secret, std::string_view data);

}  // namespace ks::auth
