// The directory the epilog streams (the job's $TMPDIR on this node): is it safe to hand to the helper, and
// creating it per job (create_tmpdir=yes) for sites that have no per-job TMPDIR.
#pragma once
#include <sys/types.h>

#include <string>

#include "result.hpp"

namespace ks::plugin {

enum class DirState { present, missing };

// A directory may be streamed when it is a real directory (not a symlink) owned by the job's user and not writable
// by others. A shared directory (/, /tmp, /var/tmp, /dev/shm, anything world-writable or owned by someone else)
// would send other users' files; it is refused unless allow_shared. A directory that does not exist is `missing`.
Result<DirState> check_stream_dir(const std::string& path, uid_t job_uid, bool allow_shared);

// Creates `path` (its parent must exist) as a directory owned by uid:gid with mode 0700. An existing directory is
// accepted only if it is a real directory already owned by uid (e.g. made by an earlier step of the same job); a
// symlink or someone else's directory is an error. Returns true when this call created it.
Result<bool> create_job_tmpdir(const std::string& path, uid_t uid, gid_t gid);

}  // namespace ks::plugin
