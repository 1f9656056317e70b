// tmpdir=job: the job's own $TMPDIR, recorded as root in remote context (where the task environment is visible)
// and read back in the epilog (which has no TMPDIR). Records live in a root-only directory, one file per job and
// node; a record is only a hint: the epilog still checks the directory with check_stream_dir().
#pragma once
#include <optional>
#include <string>

#include "result.hpp"

namespace ks::plugin {

// Stores `tmpdir` for (job, node) unless a record exists already (the first step's value wins).
// Creates state_dir (mode 0700) if missing; refuses a state_dir not owned by the caller or writable by others.
Result<void> record_job_tmpdir(const std::string& state_dir, const std::string& job_id, const std::string& node,
                               const std::string& tmpdir);

// The recorded directory, or nullopt when none was recorded.
Result<std::optional<std::string>> read_recorded_tmpdir(const std::string& state_dir, const std::string& job_id,
                                                        const std::string& node);

// Deletes the record (a missing record is fine).
Result<void> remove_recorded_tmpdir(const std::string& state_dir, const std::string& job_id, const std::string& node);

}  // namespace ks::plugin
