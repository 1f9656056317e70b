#include "finalizer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "layout.hpp"
#include "safe_fs.hpp"
#include "sync_batch.hpp"

namespace ks::sink {
namespace {

// errno values that mean the host is in trouble, not the input: stop instead of quarantining good data. A full file
// system or quota is not one of them: a transfer that does not fit is set aside (kept whole in .quarantine) and the
// sink goes on, since stopping would only stop again at every restart.
bool host_failure(int err) { return err == EIO || err == EROFS || err == ENOMEM || err == EMFILE || err == ENFILE; }

// Turns a failed file-system step into either a host failure (Result error) or a rejection of the transfer.
Result<FinalizeResult> judge(const Error& e, int err) {
    if (host_failure(err)) return std::unexpected(e);
    return FinalizeResult{FinalizeResult::Kind::rejected, e.message, 0, 0, false};
}

FinalizeResult waiting(std::string reason) { return FinalizeResult{FinalizeResult::Kind::waiting, std::move(reason), 0, 0, false}; }

struct timespec to_timespec(std::int64_t ns) {
    struct timespec ts {};
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += 1000000000;
        ts.tv_sec -= 1;
    }
    return ts;
}

// Is the file already in place (a previous run renamed it before a crash)?
Result<bool> already_placed(int parent, const std::string& name, const PlannedFile& f) {
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!fd) return false;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != f.size) return false;
    TRY_ASSIGN(auto digest, sha256_of_fd(fd.get(), f.size));
    return digest == f.sha256;
}

// Is `f` in place because another sink sharing ROOT (recovering at startup) finalized the same transfer?
Result<bool> placed_by_another_sink(int rootfd, const PlannedFile& f) {
    std::vector<std::string> dir(f.target.begin(), f.target.end() - 1);
    auto p = open_dir_path(rootfd, dir, false);
    if (!p) return false;
    return already_placed(p->get(), f.target.back(), f);
}

// Another transfer's node manifest in this transfer's place: the job id was reused (a new job with the same id, or
// another cluster with the same name), and its files are never replaced by ours.
Result<std::optional<std::string>> other_transfer_in_place(int rootfd, const TransferPlan& plan,
                                                           const std::string& transfer) {
    auto jobdir = open_dir_path(rootfd, plan.job_dir, false);
    if (!jobdir) return std::optional<std::string>{};
    auto mdir = open_dir(jobdir->get(), std::string(kManifestDirName), false);
    if (!mdir) return std::optional<std::string>{};
    if (!entry_exists(mdir->get(), plan.node_manifest_name)) return std::optional<std::string>{};
    TRY_ASSIGN(auto text, read_small_file(mdir->get(), plan.node_manifest_name, 256u << 20));
    auto placed = wire::parse_manifest(text);
    if (placed && placed->transfer_id == transfer) return std::optional<std::string>{};
    return std::optional<std::string>{placed ? placed->transfer_id : std::string("(unreadable manifest)")};
}

// rename(2) that never replaces an existing entry (RENAME_NOREPLACE; a file system without it gets a check first).
int rename_no_replace(int olddir, const char* oldname, int newdir, const char* newname) {
    if (::renameat2(olddir, oldname, newdir, newname, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -1;
    struct stat st {};
    if (::fstatat(newdir, newname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
        return -1;
    }
    return ::renameat(olddir, oldname, newdir, newname);
}

}  // namespace

void crash_point(const char* name) {
    const char* want = std::getenv("KS_SINK_CRASH_AT");
    if (want && std::strcmp(want, name) == 0) ::_exit(137);
}

Result<FinalizeResult> finalize_transfer(const FinalizeTarget& target, StagingArea& staging, const std::string& transfer,
                                         const TransferPlan& plan, const std::string& manifest_json) {
    auto tdir = staging.open_transfer_dir(transfer, false);
    if (!tdir) return judge(tdir.error(), errno);
    const uid_t uid = static_cast<uid_t>(plan.job.uid);
    const gid_t gid = static_cast<gid_t>(plan.job.gid);
    const bool do_chown = target.chown && plan.job.uid >= 0 && plan.job.gid >= 0;
    auto on_created = [&](int fd) {
        if (do_chown && ::fchown(fd, uid, gid) != 0) { /* best effort: the directory exists either way */ }
    };

    // Pass 1: is every file complete and correct? Nothing becomes visible before this is known for all of them,
    // so a transfer that is still waiting for a replay leaves no half tree behind.
    std::vector<bool> staged(plan.files.size(), false);
    std::uint64_t hash_budget = target.hash_budget;
    for (std::size_t i = 0; i < plan.files.size(); ++i) {
        const PlannedFile& f = plan.files[i];
        auto differs = [&f] { return waiting("file \"" + f.path + "\": SHA-256 differs from the manifest"); };
        // This process wrote its first f.size bytes in order and hashed them on the way: no need to open it (pass 2
        // finds out if it disappeared meanwhile, and truncates what an earlier, longer version left past f.size).
        if (auto known = staging.known_digest(transfer, f.index, f.size)) {
            if (*known != f.sha256) return differs();
            staged[i] = true;
            continue;
        }
        std::string sname = staged_file_name(f.index);
        UniqueFd fd(::openat(tdir->get(), sname.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) {
            if (errno != ENOENT) return judge(errno_error("open staged " + sname), errno);
            continue;  // placed before a crash, or never received: checked in pass 2
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return judge(errno_error("stat staged " + sname), errno);
        auto have = static_cast<std::uint64_t>(st.st_size);
        if (have < f.size) return waiting("file \"" + f.path + "\": " + std::to_string(have) + " of " + std::to_string(f.size) + " bytes");
        auto digest = staging.digest_by_reading(transfer, f.index, fd.get(), f.size, hash_budget);
        if (!digest) return judge(digest.error(), errno);
        if (!*digest) {
            FinalizeResult later = waiting("file \"" + f.path + "\": still hashing its " + std::to_string(f.size) + " bytes");
            later.call_again = true;
            return later;
        }
        if (**digest != f.sha256) return differs();
        staged[i] = true;
    }
    // Files not staged must already be in place.
    for (std::size_t i = 0; i < plan.files.size(); ++i) {
        if (staged[i]) continue;
        const PlannedFile& f = plan.files[i];
        std::vector<std::string> dir(f.target.begin(), f.target.end() - 1);
        auto parent = open_dir_path(target.rootfd, dir, false);
        if (!parent) return waiting("file \"" + f.path + "\" not received");
        auto placed = already_placed(parent->get(), f.target.back(), f);
        if (!placed) return judge(placed.error(), errno);
        if (!*placed) return waiting("file \"" + f.path + "\" not received");
    }

    // A node directory that holds another transfer's output is never overwritten.
    auto occupant = other_transfer_in_place(target.rootfd, plan, transfer);
    if (!occupant) return judge(occupant.error(), errno);
    if (*occupant)
        return FinalizeResult{FinalizeResult::Kind::rejected,
                              "job " + plan.job.job_id + " node " + plan.job.node + " already holds the output of " +
                                  "transfer " + **occupant + " (the job id was reused); it is kept, this transfer is " +
                                  "not placed (see docs/security.md)",
                              0, 0, false};

    // Pass 2: give each staged file its size, mode, owner and mtime, then make all of them durable at once (one syncfs
    // where that is reliable, else an fsync each): a file is renamed only once its content and metadata are durable.
    crash_point("before-place");
    FinalizeResult result{FinalizeResult::Kind::done, {}, plan.files.size(), plan.total_bytes, false};
    std::vector<bool> to_rename(plan.files.size(), false);
    {
        std::size_t staged_count = 0;
        for (bool b : staged) staged_count += b ? 1 : 0;
        SyncBatch content(target.rootfd, staging.sync_mode(), staged_count);
        for (std::size_t i = 0; i < plan.files.size(); ++i) {
            if (!staged[i]) continue;
            const PlannedFile& f = plan.files[i];
            std::string sname = staged_file_name(f.index);
            staging.release(transfer, f.index);
            UniqueFd fd(::openat(tdir->get(), sname.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
            if (!fd && errno == ENOENT) {
                // Another sink sharing ROOT (recovering at startup) may be finalizing the same transfer: what it
                // moved into place counts as done.
                auto other = placed_by_another_sink(target.rootfd, f);
                if (!other) return judge(other.error(), errno);
                if (*other) continue;
                return waiting("file \"" + f.path + "\" disappeared from staging");
            }
            if (!fd) return judge(errno_error("open staged " + sname), errno);
            struct stat st {};
            if (::fstat(fd.get(), &st) != 0) return judge(errno_error("stat staged " + sname), errno);
            // Bytes past the declared size are left over from an earlier, longer version of a resent file.
            if (static_cast<std::uint64_t>(st.st_size) > f.size && ::ftruncate(fd.get(), static_cast<off_t>(f.size)) != 0)
                return judge(errno_error("truncate staged " + sname), errno);
            if (::fchmod(fd.get(), f.mode & 0777) != 0) return judge(errno_error("chmod " + f.path), errno);
            if (do_chown && ::fchown(fd.get(), uid, gid) != 0) return judge(errno_error("chown " + f.path), errno);
            struct timespec times[2] = {to_timespec(f.mtime_ns), to_timespec(f.mtime_ns)};
            if (::futimens(fd.get(), times) != 0) return judge(errno_error("set mtime of " + f.path), errno);
            if (auto ok = content.add(fd.get(), f.path); !ok) return judge(ok.error(), errno);
            to_rename[i] = true;
        }
        if (auto ok = content.commit(); !ok) return judge(ok.error(), errno);
    }

    // Pass 3: rename into place; every directory that gained entries or was created is made durable after its
    // renames (grouped: one syncfs once all are renamed, instead of an fsync of the parent per new directory).
    std::size_t rename_count = 0;
    for (bool b : to_rename) rename_count += b ? 1 : 0;
    SyncBatch directories(target.rootfd, staging.sync_mode(), rename_count);
    std::vector<std::string> open_parent_path;
    UniqueFd parent;
    std::size_t placed_count = 0;
    for (std::size_t i = 0; i < plan.files.size(); ++i) {
        if (!to_rename[i]) continue;
        const PlannedFile& f = plan.files[i];
        std::vector<std::string> dir(f.target.begin(), f.target.end() - 1);
        if (!parent || dir != open_parent_path) {
            if (parent)
                if (auto ok = directories.add(parent.get(), "output directory"); !ok) return judge(ok.error(), errno);
            auto p = open_dir_path(target.rootfd, dir, true, on_created, &directories);
            if (!p) return judge(p.error(), errno);
            parent = std::move(*p);
            open_parent_path = dir;
        }
        std::string sname = staged_file_name(f.index);
        if (rename_no_replace(tdir->get(), sname.c_str(), parent.get(), f.target.back().c_str()) != 0) {
            auto e = errno_error("rename into place: " + f.path);
            int err = errno;
            if (err == ENOENT) {
                auto placed = placed_by_another_sink(target.rootfd, f);
                if (placed && *placed) continue;
            }
            if (err == EEXIST) {
                // Ours already (the same bytes): fine. Anything else there belongs to someone else: never replaced.
                auto same = already_placed(parent.get(), f.target.back(), f);
                if (!same) return judge(same.error(), errno);
                if (!*same)
                    return FinalizeResult{FinalizeResult::Kind::rejected,
                                          "\"" + f.path + "\": another file is already in its place (another " +
                                              "transfer's, or put there by someone else); it is not replaced",
                                          0, 0, false};
                (void)::unlinkat(tdir->get(), sname.c_str(), 0);
                continue;
            }
            return judge(e, err);
        }
        if (++placed_count == 1) crash_point("after-first-rename");
    }
    if (parent)
        if (auto ok = directories.add(parent.get(), "output directory"); !ok) return judge(ok.error(), errno);
    if (auto ok = directories.commit(); !ok) return judge(ok.error(), errno);
    crash_point("after-place");

    // The node manifest, then the job marker.
    auto jobdir = open_dir_path(target.rootfd, plan.job_dir, true, on_created);
    if (!jobdir) return judge(jobdir.error(), errno);
    auto mdir = open_dir(jobdir->get(), std::string(kManifestDirName), true, on_created);
    if (!mdir) return judge(mdir.error(), errno);
    if (auto ok = write_file_atomic(tdir->get(), mdir->get(), plan.node_manifest_name, manifest_json); !ok)
        return judge(ok.error(), errno);
    crash_point("after-node-manifest");
    auto names = list_dir(mdir->get());
    if (!names) return judge(names.error(), errno);
    std::size_t nodes_in = 0;
    for (const auto& n : *names)
        if (n.size() > 5 && n.ends_with(".json") && !n.starts_with(".tmp-")) ++nodes_in;
    if (nodes_in >= plan.job.nodes) {
        UniqueFd marker(::openat(jobdir->get(), std::string(kSuccessName).c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (marker) {
            if (do_chown && ::fchown(marker.get(), uid, gid) != 0) { /* best effort */ }
            if (auto ok = fsync_fd(marker.get(), "_SUCCESS"); !ok) return judge(ok.error(), errno);
            if (auto ok = fsync_fd(jobdir->get(), "job directory"); !ok) return judge(ok.error(), errno);
            result.job_complete = true;
        } else if (errno != EEXIST) {
            return judge(errno_error("create _SUCCESS"), errno);
        }
    }
    crash_point("after-success");

    if (auto ok = write_file_atomic(tdir->get(), target.done_dirfd, transfer, manifest_json); !ok)
        return judge(ok.error(), errno);
    crash_point("after-done");
    tdir->reset();
    staging.release_transfer(transfer);
    if (auto ok = remove_tree(staging.dir(), transfer); !ok) return judge(ok.error(), errno);
    return result;
}

}  // namespace ks::sink
