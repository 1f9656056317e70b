#include "sync_batch.hpp"

#include <linux/magic.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdio>

#include "safe_fs.hpp"

namespace ks::sink {
namespace {

// syncfs() returns writeback errors since Linux 5.8 (before, it returned 0 even when data was lost).
bool kernel_reports_syncfs_errors() {
    struct utsname u {};
    if (::uname(&u) != 0) return false;
    int major = 0, minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 8);
}

// Local file systems whose syncfs writes every dirty inode and metadata block and waits for them (and the journal).
bool sync_fs_waits_for_everything(int fd) {
    struct statfs fs {};
    if (::fstatfs(fd, &fs) != 0) return false;
    switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:  // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:  // nothing to write either way
        return true;
    default:
        return false;
    }
}

}  // namespace

SyncMode reliable_sync_mode(int fd) {
    return kernel_reports_syncfs_errors() && sync_fs_waits_for_everything(fd) ? SyncMode::grouped : SyncMode::per_file;
}

SyncBatch::SyncBatch(int fs_fd, SyncMode mode, std::size_t expected_files)
    : fs_fd_(fs_fd), mode_(mode), grouped_(mode == SyncMode::grouped && expected_files >= kGroupedSyncMinFiles) {}

Result<void> SyncBatch::add(int fd, const std::string& what, bool data_only) {
    if (grouped_) {
        pending_ = true;
        return {};
    }
    return data_only ? datasync_fd(fd, what) : fsync_fd(fd, what);
}

Result<void> SyncBatch::add_without_fd(const std::string& what) {
    if (mode_ != SyncMode::grouped)
        return fail("cannot make " + what + " durable without its descriptor: syncfs is not reliable here");
    grouped_ = true;
    pending_ = true;
    return {};
}

Result<void> SyncBatch::commit() {
    if (!pending_) return {};
    if (::syncfs(fs_fd_) != 0) return fail_errno("syncfs (the file system of the output root)");
    pending_ = false;
    return {};
}

}  // namespace ks::sink
