#include "signature.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "errno_error.hpp"
#include "unique_fd.hpp"

namespace ks::auth {
namespace {

constexpr std::string_view kDomain = "ks-sig-v2";
constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(n * 2, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kHex[p[i] >> 4];
        out[2 * i + 1] = kHex[p[i] & 15];
    }
    return out;
}

bool valid_key_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxKeyIdBytes) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    return true;
}

std::string_view trim(std::string_view s) {
    const char* ws = " \t\r";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

void wipe(std::string& s) {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

void append_field(std::string& out, std::string_view field) {
    out += std::to_string(field.size());
    out.push_back(':');
    out.append(field);
}

}  // namespace

KeyRing::~KeyRing() {
    for (auto& k : keys_) wipe(k.secret);
}

Result<KeyRing> KeyRing::parse(std::string_view text, std::string_view path) {
    KeyRing ring;
    std::size_t lineno = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++lineno;
        const std::string origin = std::string(path) + ":" + std::to_string(lineno);
        if (line.empty() || line.front() == '#') continue;
        auto blank = line.find_first_of(" \t");
        // The line is never quoted: it holds a secret.
        if (blank == std::string_view::npos) return fail(origin + ": expected \"<key id> <secret in hex>\"");
        std::string_view id = line.substr(0, blank);
        std::string_view hex = trim(line.substr(blank));
        if (!valid_key_id(id))
            return fail(origin + ": the key id must be 1-" + std::to_string(kMaxKeyIdBytes) +
                        " characters of [A-Za-z0-9._-]");
        if (ring.find(id)) return fail(origin + ": key id \"" + std::string(id) + "\" appears twice");
        if (hex.size() % 2 != 0 || hex.size() < 2 * kMinSecretBytes || hex.size() > 2 * kMaxSecretBytes)
            return fail(origin + ": the secret of key \"" + std::string(id) + "\" must be " +
                        std::to_string(kMinSecretBytes) + " to " + std::to_string(kMaxSecretBytes) +
                        " bytes written as hex digits (e.g. openssl rand -hex 32)");
        Key key{std::string(id), std::string(hex.size() / 2, '\0')};
        for (std::size_t i = 0; i < key.secret.size(); ++i) {
            int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                wipe(key.secret);
                return fail(origin + ": the secret of key \"" + std::string(id) + "\" is not hexadecimal");
            }
            key.secret[i] = static_cast<char>(hi * 16 + lo);
        }
        ring.keys_.push_back(std::move(key));
    }
    if (ring.keys_.empty()) return fail(std::string(path) + ": no key in the file");
    return ring;
}

Result<KeyRing> KeyRing::load(const std::string& path, unsigned owner) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!fd) {
        int err = errno;
        return fail(path + ": cannot read the signing key: " + std::strerror(err) +
                    (err == EACCES ? " (only the node, as root, can sign transfers)" : "") +
                    (err == ELOOP ? " (a symbolic link is not accepted)" : ""));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno(path);
    if (!S_ISREG(st.st_mode)) return fail(path + ": the signing key must be a regular file");
    if (st.st_uid != owner)
        return fail(path + ": the signing key belongs to uid " + std::to_string(st.st_uid) + ", expected " +
                    std::to_string(owner) + " (chown it to the user the tool runs as, normally root)");
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return fail(path + ": permissions " + mode +
                    " are too open: the signing key must be readable by its owner only (chmod 600 " + path + ")");
    }
    if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) return fail(path + ": too large for a key file");
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    auto ring = parse(text, path);
    wipe(text);
    return ring;
}

const Key* KeyRing::find(std::string_view id) const {
    for (const auto& k : keys_)
        if (k.id == id) return &k;
    return nullptr;
}

std::string signed_material(const SignedFields& f) {
    std::string out(kDomain);
    out.reserve(kDomain.size() + f.value.size() + f.topic.size() + f.key.size() + 96);
    for (std::string_view field : {f.type, f.topic, f.key, f.transfer}) append_field(out, field);
    append_field(out, std::to_string(f.part));
    append_field(out, std::to_string(f.parts));
    append_field(out, f.value);
    return out;
}

std::string hmac_sha256_hex(std::string_view secret, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                   reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, sizeof mac, &len))
        return {};
    return to_hex(mac, len);
}

std::string sign(const Key& key, const SignedFields& f) {
    return key.id + ":" + hmac_sha256_hex(key.secret, signed_material(f));
}

Result<void> verify(const KeyRing& ring, std::string_view signature, const SignedFields& f) {
    if (signature.empty()) return fail("not signed (no ks.sig header)");
    auto colon = signature.find(':');
    if (colon == std::string_view::npos || signature.size() - colon - 1 != 64)
        return fail("malformed signature (expected <key id>:<64 hex digits>)");
    std::string_view id = signature.substr(0, colon);
    const Key* key = ring.find(id);
    if (!key)
        return fail("signed with key \"" + std::string(id.substr(0, kMaxKeyIdBytes)) +
                    "\", which is not in this host's key file");
    const std::string expected = hmac_sha256_hex(key->secret, signed_material(f));
    std::string_view given = signature.substr(colon + 1);
    if (expected.size() != given.size() || CRYPTO_memcmp(expected.data(), given.data(), given.size()) != 0)
        return fail("bad signature (key \"" + key->id +
                    "\"): the message was not signed by a node of this site, "
                    "or was changed");
    return {};
}

}  // namespace ks::auth
