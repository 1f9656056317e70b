// The command line and environment of kafka-stream-push as the epilog runs it: everything passed explicitly,
// nothing inherited from slurmstepd.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "child_process.hpp"
#include "plugin_config.hpp"
#include "push_contract.hpp"
#include "result.hpp"

namespace ks::plugin {

// What the epilog knows about the job on this node.
struct EpilogJob {
    std::string job_id;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string user;
    std::string node;
    std::string cluster;
    std::string nodes;      // number of nodes of the job ("" if unknown)
    std::string exit_code;  // the job's exit code ("" if unknown)
    std::string instance;   // the job instance drawn at submission ("" if none)
};

// The job instance: set with spank_job_control_setenv at submission, seen by the epilog with Slurm's "SPANK_" prefix.
inline constexpr const char* kInstanceVar = "KAFKA_STREAM_INSTANCE";
inline constexpr const char* kInstanceEpilogEnv = "SPANK_KAFKA_STREAM_INSTANCE";
// 16 random hex digits (getrandom); nullopt if no randomness is available. Always a push::valid_job_instance.
std::optional<std::string> new_job_instance();

struct HelperCommand {
    std::vector<std::string> argv;
    std::vector<std::string> env;
};

// The only environment the helper gets.
inline constexpr const char* kHelperPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

// Seconds the helper is given: the plugin's timeout minus a margin in which it can still spool before the plugin
// kills it.
unsigned helper_timeout_seconds(unsigned plugin_timeout);

// `format` ("files", "records" or "" = the helper's default) becomes --format.
HelperCommand build_helper_command(const PluginConfig& config, const EpilogJob& job, const std::string& topic,
                                   const std::vector<std::string>& includes, const std::string& dir,
                                   const std::string& format = "");

// --kafka-stream-format's value: "files" or "records" (see kafka-stream-push --format).
ks::Result<std::string> check_stream_format(std::string_view value);

// One log line summing up the helper's run (push::exit_code); `safe` says whether the job's data is safe (delivered or spooled).
struct HelperOutcome {
    bool delivered = false;
    bool safe = false;
    std::string message;
};
HelperOutcome judge_helper_exit(const ExitStatus& status, const std::string& dir);

}  // namespace ks::plugin
