#include "plugin_config.hpp"

#include <algorithm>
#include <charconv>

namespace ks::plugin {
namespace {

// Slurm's PrologEpilogTimeout is commonly minutes; a day is far beyond any sane epilog.
constexpr unsigned kMaxTimeoutSeconds = 86400;

Result<bool> parse_yes_no(std::string_view key, std::string_view value) {
    if (value == "yes" || value == "true" || value == "1") return true;
    if (value == "no" || value == "false" || value == "0") return false;
    return fail(std::string(key) + "=" + std::string(value) + ": expected yes or no");
}

Result<unsigned> parse_timeout(std::string_view value) {
    unsigned seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || end != value.data() + value.size() || seconds == 0 || seconds > kMaxTimeoutSeconds)
        return fail("timeout=" + std::string(value) + ": expected whole seconds between 1 and " +
                    std::to_string(kMaxTimeoutSeconds));
    return seconds;
}

Result<std::string> absolute_path(std::string_view key, std::string_view value) {
    if (value.empty() || value.front() != '/')
        return fail(std::string(key) + "=" + std::string(value) + ": expected an absolute path");
    return std::string(value);
}

// Cross-key rules, checked once every key is known.
Result<void> check_consistency(const PluginConfig& c) {
    if (c.tmpdir.empty())
        return fail("tmpdir= is required: a template such as /scratch/%u/job_%j, or 'job' for the job's own $TMPDIR");
    if (c.tmpdir_from_job() && c.create_tmpdir)
        return fail("create_tmpdir=yes needs a tmpdir= template (tmpdir=job uses the directory the job already had)");
    if (!c.tmpdir_from_job() && c.tmpdir.front() != '/')
        return fail("tmpdir=" + c.tmpdir + ": expected an absolute template or 'job'");
    return {};
}

}  // namespace

const std::vector<std::string_view>& plugin_config_keys() {
    static const std::vector<std::string_view> keys = {"config",        "helper",   "tmpdir", "create_tmpdir",
                                                       "topics",        "timeout",  "spool",  "allow_shared",
                                                       "fail_on_error", "state_dir"};
    return keys;
}

Result<PluginConfig> parse_plugin_args(const std::vector<std::string_view>& args) {
    PluginConfig c;
    std::vector<std::string_view> seen;
    for (std::string_view arg : args) {
        auto eq = arg.find('=');
        if (eq == std::string_view::npos || eq == 0)
            return fail("argument '" + std::string(arg) + "': expected key=value");
        std::string_view key = arg.substr(0, eq);
        std::string_view value = arg.substr(eq + 1);
        const auto& keys = plugin_config_keys();
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
            std::string known;
            for (auto k : keys) known += (known.empty() ? "" : ", ") + std::string(k);
            return fail("unknown key '" + std::string(key) + "' (known keys: " + known + ")");
        }
        // A repeated key is most likely an editing mistake; refuse rather than guess which one was meant.
        if (std::find(seen.begin(), seen.end(), key) != seen.end())
            return fail("key '" + std::string(key) + "' given twice");
        seen.push_back(key);

        Result<void> ok;
        auto set_path = [&](std::string& field) {
            auto p = absolute_path(key, value);
            if (p) field = *p;
            else ok = std::unexpected(p.error());
        };
        auto set_bool = [&](bool& field) {
            auto b = parse_yes_no(key, value);
            if (b) field = *b;
            else ok = std::unexpected(b.error());
        };
        if (key == "config") set_path(c.config_file);
        else if (key == "helper") set_path(c.helper);
        else if (key == "spool") set_path(c.spool);
        else if (key == "state_dir") set_path(c.state_dir);
        else if (key == "tmpdir") c.tmpdir = std::string(value);
        else if (key == "topics") c.topics = std::string(value);
        else if (key == "create_tmpdir") set_bool(c.create_tmpdir);
        else if (key == "allow_shared") set_bool(c.allow_shared);
        else if (key == "fail_on_error") set_bool(c.fail_on_error);
        else if (key == "timeout") {
            auto t = parse_timeout(value);
            if (t) c.timeout_seconds = *t;
            else ok = std::unexpected(t.error());
        }
        if (!ok) return std::unexpected(ok.error());
    }
    if (auto ok = check_consistency(c); !ok) return std::unexpected(ok.error());
    return c;
}

}  // namespace ks::plugin
