// Walking the job's directory without ever following a symlink or blocking on a special file.
//
// Every open is relative to an already-open directory fd (openat) with O_NOFOLLOW, so neither an entry nor a
// component in the middle of a path can redirect the walk; the caller has already dropped privileges, so the kernel's
// permission checks are the job user's. Special files are classified with fstatat(AT_SYMLINK_NOFOLLOW) and never
// opened; regular files are opened O_NONBLOCK and checked again with fstat, so a file swapped for a FIFO between the
// two calls cannot block us.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "glob_filter.hpp"
#include "result.hpp"
#include "unique_fd.hpp"
#include "wire_format.hpp"

namespace ks::push {

// Skip reasons recorded in the manifest (stable strings: the sink and admins read them).
namespace skip_reason {
inline constexpr const char* symlink = "symlink";
inline constexpr const char* fifo = "fifo";
inline constexpr const char* socket = "socket";
inline constexpr const char* device = "device";
inline constexpr const char* other = "not a regular file";
inline constexpr const char* too_deep = "too deep";
inline constexpr const char* path_too_long = "path too long";
inline constexpr const char* control_character = "control character in the name";
inline constexpr const char* changed = "changed while sending";
inline constexpr const char* unreadable_prefix = "unreadable: ";  // followed by strerror(errno)
}  // namespace skip_reason

struct WalkedFile {
    std::string path;  // relative to DIR, '/'-separated
    std::uint64_t size = 0;
};

struct WalkResult {
    std::vector<WalkedFile> files;          // sorted by path bytes, depth-first
    std::vector<wire::SkipEntry> skipped;   // everything not sent, with the reason (exclusions are not recorded)
};

// Directories below DIR that are walked: files have at most kDefaultMaxDepth + 1 = 128 path components. The sink
// refuses an output path (its layout's directories plus this path) of more than 256 components, and one file it
// refuses gets the whole transfer quarantined: half of that budget is left to the layout.
inline constexpr int kDefaultMaxDepth = 127;

// True if the name has a control character (0x01-0x1f, 0x7f): the sink refuses such names, so they are skipped here
// (and recorded) rather than sent.
bool has_control_character(std::string_view name);

// Opens DIR itself, component by component from "/" (or from the working directory for a relative path), refusing
// a symlink anywhere in it. The error names the offending component.
Result<UniqueFd> open_root_directory(const std::string& path);

// Walks the tree under `root_fd`. Entries are visited in byte order of their names, so the same tree always gives
// the same file order. Fails only if the root itself cannot be read; everything else becomes a skip entry.
Result<WalkResult> walk_tree(int root_fd, const GlobFilter& filter, int max_depth = kDefaultMaxDepth);

struct OpenedFile {
    UniqueFd fd;
    struct stat st {};
};

// Opens the regular file at `relative` under `root_fd` without following symlinks (any component) and without
// blocking. The error message is a skip reason ("symlink", "fifo", "unreadable: Permission denied", ...).
Result<OpenedFile> open_regular_beneath(int root_fd, const std::string& relative);

// The skip reason for a non-regular file type (S_IFMT bits of st_mode).
const char* reason_for_type(mode_t mode);

}  // namespace ks::push
