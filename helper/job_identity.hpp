// Who and what one push's transfer is: the job, its node, cluster, user and exit code, from the options, Slurm's
// environment and the process's own defaults; the transfer identity derived from them.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "manifest_json.hpp"
#include "push_command_line.hpp"
#include "push_settings.hpp"
#include "result.hpp"

namespace ks::push {

// Reads an environment variable; a function so tests can supply their own environment.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;

struct JobDefaults {
    std::string hostname;   // short host name
    std::string user_name;  // of the uid the files are read as
    std::int64_t uid = -1;
    std::int64_t gid = -1;
    std::string adhoc_job_id;  // "adhoc-<epoch>-<pid>", used when no job id is known
};

// Who and what this transfer is: options, then Slurm's environment, then `defaults`.
Result<wire::JobInfo> resolve_job(const CommandLine& cl, const Settings& s, const EnvLookup& env,
                                  const JobDefaults& defaults);
wire::TransferIdentity identity_of(const wire::JobInfo& job);

// Slurm's SLURM_JOB_EXIT_CODE2 ("exit:signal") or SLURM_JOB_EXIT_CODE (a wait status) as an exit code.
std::optional<std::int32_t> exit_code_from_slurm(const EnvLookup& env);

}  // namespace ks::push
