#include "config.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cmath>

#include "errno_error.hpp"
#include "secret_config.hpp"
#include "unique_fd.hpp"
#include "text_codec.hpp"

namespace ks {
namespace {

std::string_view trim(std::string_view s) {
    const char* ws = " \t\r";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

bool valid_key(std::string_view key) {
    if (key.empty()) return false;
    for (char c : key)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
    return true;
}

}  // namespace

Result<std::vector<ConfigEntry>> parse_config(std::string_view text, std::string_view path) {
    std::vector<ConfigEntry> out;
    std::size_t lineno = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++lineno;
        std::string origin = std::string(path) + ":" + std::to_string(lineno);
        std::string_view t = trim(line);
        if (t.empty() || t.front() == '#') continue;
        auto eq = t.find('=');
        // Quoted without what follows the key: a malformed line may hold a secret.
        if (eq == std::string_view::npos)
            return fail(origin + ": expected \"key = value\", got \"" + without_value(t) + "\"");
        std::string_view key = trim(t.substr(0, eq));
        std::string_view value = trim(t.substr(eq + 1));
        if (!valid_key(key)) return fail(origin + ": invalid key \"" + without_value(key) + "\"");
        out.push_back({std::string(key), std::string(value), std::move(origin)});
    }
    return out;
}

Result<FileText> read_regular_file(const std::string& path, const std::string& shown, std::size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) return fail_errno(shown + ": cannot read");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno(shown);
    if (!S_ISREG(st.st_mode)) return fail(shown + ": not a regular file");
    FileText out{{}, st.st_uid, st.st_mode};
    char buf[65536];
    while (true) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno(shown + ": read error");
        if (n == 0) break;
        out.text.append(buf, static_cast<std::size_t>(n));
        if (out.text.size() > max_bytes) return fail(shown + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    return out;
}

Result<std::vector<ConfigEntry>> read_config_file(const std::string& path) {
    TRY_ASSIGN(auto file, read_regular_file(path, path, 64u << 20));
    TRY_ASSIGN(auto entries, parse_config(file.text, path));
    // Owner and mode of the file that was read (fstat of the same descriptor), like ssh checks its own files.
    TRY(check_config_file_access(path, file.owner, file.mode, ::geteuid(), first_secret(entries)));
    return entries;
}

Result<ConfigEntry> parse_override(std::string_view arg) {
    auto eq = arg.find('=');
    if (eq == std::string_view::npos || eq == 0) return fail("-X " + without_value(arg) + ": expected key=value");
    std::string_view key = trim(arg.substr(0, eq));
    if (!valid_key(key)) return fail("-X " + without_value(key) + ": invalid key");
    ConfigEntry e{std::string(key), std::string(arg.substr(eq + 1)), "-X " + std::string(key)};
    TRY(check_override_not_secret(e));
    return e;
}

Result<SplitConfig> split_config(const std::vector<ConfigEntry>& entries,
                                 const std::vector<std::string>& known_own_keys) {
    SplitConfig out;
    for (const auto& e : entries) {
        if (e.key.starts_with(kOwnKeyPrefix)) {
            bool known = false;
            for (const auto& k : known_own_keys) known = known || k == e.key;
            if (!known) return fail(e.origin + ": unknown key \"" + e.key + "\"");
            out.own[e.key] = e;
        } else {
            out.kafka.push_back(e);
        }
    }
    return out;
}

Result<std::optional<std::uint64_t>> get_u64(const SplitConfig& c, const std::string& key, std::uint64_t min,
                                             std::uint64_t max) {
    auto it = c.own.find(key);
    if (it == c.own.end()) return std::optional<std::uint64_t>{};
    auto v = text::parse_u64(it->second.value);
    if (!v) return fail(it->second.origin + ": " + key + ": " + v.error().message);
    if (*v < min || *v > max)
        return fail(it->second.origin + ": " + key + " must be between " + std::to_string(min) + " and " +
                    std::to_string(max));
    return std::optional<std::uint64_t>{*v};
}

Result<std::optional<double>> get_seconds(const SplitConfig& c, const std::string& key) {
    auto it = c.own.find(key);
    if (it == c.own.end()) return std::optional<double>{};
    const std::string& s = it->second.value;
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || errno || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0)
        return fail(it->second.origin + ": " + key + ": expected a number of seconds, got \"" + s + "\"");
    return std::optional<double>{v};
}

Result<std::optional<bool>> get_bool(const SplitConfig& c, const std::string& key) {
    auto it = c.own.find(key);
    if (it == c.own.end()) return std::optional<bool>{};
    const std::string& s = it->second.value;
    if (s == "true" || s == "yes" || s == "1") return std::optional<bool>{true};
    if (s == "false" || s == "no" || s == "0") return std::optional<bool>{false};
    return fail(it->second.origin + ": " + key + ": expected true or false, got \"" + s + "\"");
}

std::optional<std::string> get_string(const SplitConfig& c, const std::string& key) {
    auto it = c.own.find(key);
    if (it == c.own.end()) return std::nullopt;
    return it->second.value;
}

}  // namespace ks
