#include "secret_config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>

namespace ks {
namespace {

bool key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; }

std::string octal(mode_t mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// Reads a PEM file that a config entry names, checking it like a config file that holds a secret when `secret`.
Result<std::string> read_named_file(const ConfigEntry& e, bool secret) {
    TRY_ASSIGN(auto file, read_regular_file(e.value, e.origin + ": " + e.key + "=" + e.value, 1u << 20));
    if (secret) TRY(check_config_file_access(e.value, file.owner, file.mode, ::geteuid(), &e));
    return std::move(file.text);
}

}  // namespace

bool is_secret_key(std::string_view key) {
    static constexpr std::string_view kSecrets[] = {"sasl.password",
                                                    "ssl.key.password",
                                                    "ssl.key.pem",
                                                    "ssl.keystore.password",
                                                    "sasl.oauthbearer.client.secret",
                                                    "sasl.oauthbearer.config"};
    for (auto s : kSecrets)
        if (key == s) return true;
    return key.find("password") != std::string_view::npos || key.find("secret") != std::string_view::npos;
}

const ConfigEntry* first_secret(const std::vector<ConfigEntry>& entries) {
    for (const auto& e : entries)
        if (is_secret_key(e.key)) return &e;
    return nullptr;
}

Result<void> check_config_file_access(const std::string& path, uid_t owner, mode_t mode, uid_t euid,
                                      const ConfigEntry* secret) {
    const std::string who = euid == 0 ? "root" : "root or uid " + std::to_string(euid);
    if (owner != 0 && owner != euid)
        return fail(path + ": owned by uid " + std::to_string(owner) + ", refusing it (it must belong to " + who +
                    "; chown root " + path + ")");
    if (mode & (S_IWGRP | S_IWOTH))
        return fail(path + ": mode " + octal(mode) + " lets other users change it, refusing it (chmod go-w " + path +
                    ")");
    if (secret && (mode & (S_IRGRP | S_IROTH)))
        return fail(path + ": mode " + octal(mode) + " lets other users read the secret " + secret->key + " (" +
                    secret->origin + "), refusing it (chmod 0600 " + path + ")");
    return {};
}

std::string without_value(std::string_view text) {
    std::size_t n = 0;
    while (n < text.size() && key_char(text[n])) ++n;
    std::string out(text.substr(0, n));
    if (n < text.size()) out += out.empty() ? "..." : " ...";
    return out;
}

Result<void> check_override_not_secret(const ConfigEntry& entry) {
    if (!is_secret_key(entry.key)) return {};
    return fail("-X " + entry.key +
                "=...: a secret on the command line is visible to every user (ps); put it in the "
                "config file, mode 0600");
}

Result<std::vector<ConfigEntry>> inline_tls_files(std::vector<ConfigEntry> entries) {
    struct Inlined {
        std::string_view location, pem;
        bool secret;
    };
    static constexpr Inlined kFiles[] = {{"ssl.key.location", "ssl.key.pem", true},
                                         {"ssl.certificate.location", "ssl.certificate.pem", false},
                                         {"ssl.ca.location", "ssl.ca.pem", false}};
    for (auto& e : entries) {
        for (const auto& f : kFiles) {
            if (e.key != f.location || e.value.empty()) continue;
            struct stat st {};
            // ssl.ca.location may name a directory of CAs (or "probe"): librdkafka reads that itself.
            if (f.location == "ssl.ca.location" && (::stat(e.value.c_str(), &st) != 0 || !S_ISREG(st.st_mode)))
                continue;
            TRY_ASSIGN(auto text, read_named_file(e, f.secret));
            e.key = std::string(f.pem);
            e.value = std::move(text);
        }
    }
    return entries;
}

}  // namespace ks
