// Small file-system operations relative to directory descriptors, shared by the push (spool, drain, walk) and the
// sink (staging, finalizing). Both run as root over directories a job's user can write into, so nothing here
// follows a symbolic link: directories and files are opened with O_NOFOLLOW, one name at a time, relative to an
// open directory. On failure errno still holds the cause, so a caller can classify it (ENOSPC, EDQUOT, ELOOP...).
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "errno_error.hpp"
#include "result.hpp"
#include "unique_fd.hpp"

namespace ks {

// Opens the directory `name` in `dirfd`, never through a symlink ("exists and is not a directory (or is a symlink)").
Result<UniqueFd> open_dir_at(int dirfd, const std::string& name);
// mkdirat(`mode`) unless it exists, then open_dir_at; `created` tells whether this call made it.
Result<UniqueFd> make_dir_at(int dirfd, const std::string& name, mode_t mode, bool& created);

// All names in the directory except "." and "..", sorted by bytes. The descriptor is duplicated and rewound, so it
// may have been listed before and needs only read permission (not search) on the directory.
Result<std::vector<std::string>> list_dir(int dir_fd);
struct DirEntry {
    std::string name;
    struct stat st;  // lstat: a symlink is reported as one
};
// list_dir with each name's lstat; a name that vanished in between is left out.
Result<std::vector<DirEntry>> list_dir_entries(int dir_fd);

// write(2) until all of `data` is written (EINTR retried); error "write <what>: ...", errno ENOSPC etc. kept.
Result<void> write_all(int fd, std::string_view data, const std::string& what);
Result<void> fsync_fd(int fd, const std::string& what);
// fdatasync: the data and what is needed to read it back (the size), not timestamps.
Result<void> datasync_fd(int fd, const std::string& what);

// Reads a regular file (not a symlink; O_NONBLOCK, so a FIFO put in its place cannot block) of at most `max_bytes`.
Result<std::string> read_small_file(int dirfd, const std::string& name, std::size_t max_bytes);
// Creates a new regular file (O_EXCL: never an existing file or a symlink's target).
Result<UniqueFd> create_file_at(int dirfd, const std::string& name, mode_t mode, int access = O_WRONLY);

struct AtomicWrite {
    mode_t mode = 0644;
    // fsync the file before the rename and the directory after it: the new content survives a crash. Off only for
    // what is rewritten soon anyway (a metrics textfile).
    bool durable = true;
};
// Writes `content` to a fresh temporary name in `tmp_dirfd` (unique_temp_name, O_EXCL), renames it to `name` in
// `dirfd` (replacing any previous entry; both on one file system), so a reader sees the old or the new content,
// never a part. The temporary file is removed on failure.
Result<void> write_file_atomic(int tmp_dirfd, int dirfd, const std::string& name, std::string_view content,
                               AtomicWrite how = {});

// A name for temporary files that no other process (also on another machine sharing the tree) will use; it starts
// with '.'.
std::string unique_temp_name();

}  // namespace ks
