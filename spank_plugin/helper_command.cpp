#include "helper_command.hpp"

#include <sys/random.h>

#include <algorithm>

namespace ks::plugin {

unsigned helper_timeout_seconds(unsigned plugin_timeout) {
    // A tenth of the budget, between 2 and 30 seconds, is left for spooling; a tiny timeout still gives 1 second.
    unsigned margin = std::clamp(plugin_timeout / 10, 2u, 30u);
    return plugin_timeout > margin ? plugin_timeout - margin : 1;
}

HelperCommand build_helper_command(const PluginConfig& config, const EpilogJob& job, const std::string& topic,
                                   const std::vector<std::string>& includes, const std::string& dir,
                                   const std::string& format) {
    HelperCommand cmd;
    auto& a = cmd.argv;
    a.push_back(config.helper);
    if (!config.config_file.empty()) a.insert(a.end(), {"--config", config.config_file});
    a.insert(a.end(), {"--topic", topic, "--job-id", job.job_id, "--node", job.node});
    if (!job.user.empty()) a.insert(a.end(), {"--user", job.user});
    if (!job.cluster.empty()) a.insert(a.end(), {"--cluster", job.cluster});
    if (!job.nodes.empty()) a.insert(a.end(), {"--nodes", job.nodes});
    if (!job.exit_code.empty()) a.insert(a.end(), {"--exit-code", job.exit_code});
    if (!job.instance.empty()) a.insert(a.end(), {"--job-instance", job.instance});
    for (const auto& glob : includes) a.insert(a.end(), {"--include", glob});
    if (!format.empty()) a.insert(a.end(), {"--format", format});
    a.insert(a.end(), {"--timeout", std::to_string(helper_timeout_seconds(config.timeout_seconds))});
    if (!config.spool.empty()) a.insert(a.end(), {"--spool", config.spool});
    a.insert(a.end(), {"--run-as", std::to_string(job.uid) + ":" + std::to_string(job.gid)});
    // "--" so that a directory name starting with '-' is never taken for an option.
    a.insert(a.end(), {"--", dir});
    cmd.env = {kHelperPath, "LC_ALL=C"};
    return cmd;
}

std::optional<std::string> new_job_instance() {
    unsigned char raw[8];
    if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) return std::nullopt;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : raw) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

ks::Result<std::string> check_stream_format(std::string_view value) {
    if (push::valid_format_name(value)) return std::string(value);
    return ks::fail("--kafka-stream-format: expected \"files\" or \"records\", got \"" + std::string(value) + "\"");
}

HelperOutcome judge_helper_exit(const ExitStatus& status, const std::string& dir) {
    HelperOutcome o;
    if (status.exited && !status.timed_out && status.code == push::exit_code::delivered) {
        o.delivered = o.safe = true;
        o.message = "delivered " + dir;
    } else if (status.exited && status.code == push::exit_code::spooled) {
        o.safe = true;
        o.message = "NOT delivered, spooled on this node for a later --drain-spool: " + dir;
    } else if (status.exited && status.code == push::exit_code::usage) {
        o.message = "NOT delivered (helper usage or configuration error, nothing spooled): " + dir;
    } else {
        o.message = "NOT delivered (helper " + describe(status) + "; nothing may have been spooled): " + dir;
    }
    return o;
}

}  // namespace ks::plugin
