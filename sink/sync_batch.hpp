// Makes many files durable with one syncfs() of their file system instead of one fsync() each, where that is as
// strong.
//
// An fsync of a small file costs a wait for the device, and each small file paid for about two.
// syncfs() writes and waits for every dirty inode of the file system at once. It is only as strong as
// per-file fsync when the kernel reports writeback errors through it (Linux >= 5.8, errors since the descriptor given
// to it was opened) and the file system writes and waits for everything in sync_fs (ext2/3/4, XFS, btrfs). Elsewhere
// (NFS, Lustre, GPFS, FUSE, older kernels) SyncMode::per_file keeps the fsync of each file.
#pragma once
#include <cstddef>
#include <string>

#include "result.hpp"

namespace ks::sink {

enum class SyncMode { per_file, grouped };

// grouped when the file system of `fd` and the running kernel make syncfs() as strong as fsync(), else per_file.
SyncMode reliable_sync_mode(int fd);

// Below this many files a batch fsyncs each one: syncfs() also writes other programs' dirty data on the same file
// system, which costs more than a few fsyncs.
inline constexpr std::size_t kGroupedSyncMinFiles = 8;

// One round of "make these durable". In grouped mode add() only remembers that something must be synced and commit()
// runs one syncfs(); in per-file mode add() fsyncs at once and commit() has nothing left to do. Either way, a file is
// durable once commit() succeeded, so callers may close descriptors right after add().
class SyncBatch {
public:
    // `fs_fd`: a descriptor on the file system of every file added, opened before any of them was written (syncfs
    // reports the writeback errors that happened since it was opened). `expected_files`: how many adds will follow.
    SyncBatch(int fs_fd, SyncMode mode, std::size_t expected_files);

    // fsync (data_only: fdatasync, for staged chunks whose timestamps do not matter) or defer to commit().
    Result<void> add(int fd, const std::string& what, bool data_only = false);
    // A change that no open descriptor reaches (a file closed without fsync, a directory not kept open): only
    // syncfs() makes it durable, so the batch syncs the file system whatever its size. An error in per-file mode,
    // where the caller must fsync before closing.
    Result<void> add_without_fd(const std::string& what);
    Result<void> commit();

    bool grouped() const { return grouped_; }
    // Something was added that only commit() makes durable.
    bool pending() const { return pending_; }

private:
    int fs_fd_;
    SyncMode mode_;
    bool grouped_;
    bool pending_ = false;
};

}  // namespace ks::sink
