// kafka-stream-push's command line: parsed into plain values (presence and shape only; push_settings.hpp resolves
// them against the site configuration), and the --help text.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "result.hpp"

namespace ks::push {

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

// Parses argv[1..] against the option table (common/command_line.hpp: "--opt value", "--opt=value", "-Xkey=value",
// "--" ends options). Checks presence and shape only.
Result<CommandLine> parse_command_line(const std::vector<std::string>& args);

std::string usage_text();

}  // namespace ks::push
