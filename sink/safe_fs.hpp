// The sink's file-system operations on top of common/fs_ops.hpp (which this includes), for a tree that untrusted
// names are written into: directories created and synced through a SyncBatch, reads, removal, hashing.
//
// Nothing here follows a symbolic link: directories are opened with O_NOFOLLOW one component at a time, files with
// O_NOFOLLOW. Writes that must survive a crash are fsync'ed together with the directory that names them.
#pragma once
#include <cerrno>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fs_ops.hpp"
#include "result.hpp"
#include "sha256.hpp"
#include "unique_fd.hpp"

namespace ks::sink {

// A write that failed because the file system or the quota is full: what was written did not fit (not bad input).
inline bool no_space(int err) { return err == ENOSPC || err == EDQUOT || err == EFBIG; }

class SyncBatch;

// Opens (and with `create`, first creates, mode 0755) the directory `name` inside `dirfd`; never follows a symlink.
// When it was created, `on_created(fd)` is called (for chown) and the parent is fsync'ed, or added to `batch` (made
// durable by its commit(), which the caller runs before anything relies on the new directory).
Result<UniqueFd> open_dir(int dirfd, const std::string& name, bool create,
                          const std::function<void(int)>& on_created = {}, SyncBatch* batch = nullptr);
// The same, component by component from `rootfd`; an empty list opens `rootfd` itself again.
Result<UniqueFd> open_dir_path(int rootfd, const std::vector<std::string>& components, bool create,
                               const std::function<void(int)>& on_created = {}, SyncBatch* batch = nullptr);

// True if `name` exists in `dirfd` (as anything; links are not followed).
bool entry_exists(int dirfd, const std::string& name);
// Removes `name` and, if it is a directory, everything below it; a missing entry is not an error.
Result<void> remove_tree(int dirfd, const std::string& name);

// SHA-256 of a file's first `size` bytes, read through `fd`; fails if the file is shorter.
Result<std::string> sha256_of_fd(int fd, std::uint64_t size);
// Feeds bytes [*pos, size) of `fd` into `hash`, at most `budget` of them (budget is decreased): a huge file is hashed
// a slice at a time. True once *pos reached size; fails if the file is shorter.
Result<bool> sha256_slice(int fd, std::uint64_t size, Sha256& hash, std::uint64_t& pos, std::uint64_t& budget);

}  // namespace ks::sink
