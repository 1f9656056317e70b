// The plugin's settings: the key=value arguments of its plugstack.conf line.
// Parsed in every context (sbatch, srun, slurmstepd, epilog); an unknown or malformed key is an error, so a typo
// in plugstack.conf is reported instead of silently ignored.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace ks::plugin {

#ifndef KS_DEFAULT_HELPER
#define KS_DEFAULT_HELPER "/usr/local/bin/kafka-stream-push"
#endif

// The special tmpdir= value meaning "the $TMPDIR the job really had", recorded in remote context.
inline constexpr std::string_view kTmpdirFromJob = "job";

struct PluginConfig {
    std::string config_file;             // config=: passed to the helper as --config (empty: helper's default)
    std::string helper = KS_DEFAULT_HELPER;  // helper=: absolute path of kafka-stream-push
    std::string tmpdir;                  // tmpdir=: template (%j %u %U %n %%) or "job"
    bool create_tmpdir = false;          // create_tmpdir=: create the per-job directory and set TMPDIR for tasks
    std::string topics;                  // topics=: site regex for topic names, %u = user name (empty: any)
    unsigned timeout_seconds = 300;      // timeout=: upper bound of the epilog's wait for the helper
    std::string spool;                   // spool=: passed to the helper as --spool (empty: helper's default)
    bool allow_shared = false;           // allow_shared=: permit streaming a shared directory such as /tmp
    bool fail_on_error = false;          // fail_on_error=: epilog returns an error when the data was not delivered
    std::string state_dir = "/run/slurm-kafka-stream";  // state_dir=: root-only records for tmpdir=job

    bool tmpdir_from_job() const { return tmpdir == kTmpdirFromJob; }
};

// Every key the plugin accepts, in the order the man page lists them.
const std::vector<std::string_view>& plugin_config_keys();

// Parses the plugstack arguments (argv without the plugin path). Errors name the offending argument.
Result<PluginConfig> parse_plugin_args(const std::vector<std::string_view>& args);

}  // namespace ks::plugin
