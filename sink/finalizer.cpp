#include "finalizer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

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

FinalizeResult waiting(std::string reason) {
    return FinalizeResult{FinalizeResult::Kind::waiting, std::move(reason), 0, 0, false};
}

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
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != f.size)
        return false;
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

namespace {

// What every pass of one finalization works on.
struct Finalization {
    const FinalizeTarget& target;
    StagingArea& staging;
    const std::string& transfer;
    const TransferPlan& plan;
    int tdir;  // the transfer's staging directory
    uid_t uid;
    gid_t gid;
    bool do_chown;
    std::function<void(int)> on_created;  // for directories the passes create
};

// A pass that ends the finalization early gives its result (waiting, rejected, or a host failure); nullopt: go on.
using Stop = std::optional<Result<FinalizeResult>>;

// Pass 1: is every file complete and correct? Nothing becomes visible before this is known for all of them, so a
// transfer that is still waiting for a replay leaves no half tree behind. Marks in `staged` the files found staged.
Stop verify_files(const Finalization& fin, std::vector<bool>& staged) {
    const TransferPlan& plan = fin.plan;
    std::uint64_t hash_budget = fin.target.hash_budget;
    for (std::size_t i = 0; i < plan.files.size(); ++i) {
        const PlannedFile& f = plan.files[i];
        auto differs = [&f] { return waiting("file \"" + f.path + "\": SHA-256 differs from the manifest"); };
        // This process wrote its first f.size bytes in order and hashed them on the way: no need to open it (pass 2
        // finds out if it disappeared meanwhile, and truncates what an earlier, longer version left past f.size).
        if (auto known = fin.staging.known_digest(fin.transfer, f.index, f.size)) {
            if (*known != f.sha256) return differs();
            staged[i] = true;
            continue;
        }
        std::string sname = staged_file_name(f.index);
        UniqueFd fd(::openat(fin.tdir, sname.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) {
            if (errno != ENOENT) return judge(errno_error("open staged " + sname), errno);
            continue;  // placed before a crash, or never received: checked below
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return judge(errno_error("stat staged " + sname), errno);
        auto have = static_cast<std::uint64_t>(st.st_size);
        if (have < f.size)
            return waiting("file \"" + f.path + "\": " + std::to_string(have) + " of " + std::to_string(f.size) +
                           " bytes");
        auto digest = fin.staging.digest_by_reading(fin.transfer, f.index, fd.get(), f.size, hash_budget);
        if (!digest) return judge(digest.error(), errno);
        if (!*digest) {
            FinalizeResult later =
                waiting("file \"" + f.path + "\": still hashing its " + std::to_string(f.size) + " bytes");
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
        auto parent = open_dir_path(fin.target.rootfd, dir, false);
        if (!parent) return waiting("file \"" + f.path + "\" not received");
        auto placed = already_placed(parent->get(), f.target.back(), f);
        if (!placed) return judge(placed.error(), errno);
        if (!*placed) return waiting("file \"" + f.path + "\" not received");
    }
    return std::nullopt;
}

// A node directory that holds another transfer's output is never overwritten.
Stop reject_if_occupied(const Finalization& fin) {
    auto occupant = other_transfer_in_place(fin.target.rootfd, fin.plan, fin.transfer);
    if (!occupant) return judge(occupant.error(), errno);
    if (*occupant)
        return FinalizeResult{FinalizeResult::Kind::rejected,
                              "job " + fin.plan.job.job_id + " node " + fin.plan.job.node +
                                  " already holds the output of transfer " + **occupant +
                                  " (the job id was reused); it is kept, this transfer is not placed " +
                                  "(see docs/security.md)",
                              0, 0, false};
    return std::nullopt;
}

// Pass 2: give each staged file its size, mode, owner and mtime, then make all of them durable at once (one syncfs
// where that is reliable, else an fsync each): a file is renamed only once its content and metadata are durable.
// Marks in `to_rename` the files still in staging.
Stop settle_staged_files(const Finalization& fin, const std::vector<bool>& staged, std::vector<bool>& to_rename) {
    const TransferPlan& plan = fin.plan;
    std::size_t staged_count = 0;
    for (bool b : staged) staged_count += b ? 1 : 0;
    SyncBatch content(fin.target.rootfd, fin.staging.sync_mode(), staged_count);
    for (std::size_t i = 0; i < plan.files.size(); ++i) {
        if (!staged[i]) continue;
        const PlannedFile& f = plan.files[i];
        std::string sname = staged_file_name(f.index);
        fin.staging.release(fin.transfer, f.index);
        UniqueFd fd(::openat(fin.tdir, sname.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
        if (!fd && errno == ENOENT) {
            // Another sink sharing ROOT (recovering at startup) may be finalizing the same transfer: what it
            // moved into place counts as done.
            auto other = placed_by_another_sink(fin.target.rootfd, f);
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
        if (fin.do_chown && ::fchown(fd.get(), fin.uid, fin.gid) != 0)
            return judge(errno_error("chown " + f.path), errno);
        struct timespec times[2] = {to_timespec(f.mtime_ns), to_timespec(f.mtime_ns)};
        if (::futimens(fd.get(), times) != 0) return judge(errno_error("set mtime of " + f.path), errno);
        if (auto ok = content.add(fd.get(), f.path); !ok) return judge(ok.error(), errno);
        to_rename[i] = true;
    }
    if (auto ok = content.commit(); !ok) return judge(ok.error(), errno);
    return std::nullopt;
}

// Pass 3: rename into place; every directory that gained entries or was created is made durable after its
// renames (grouped: one syncfs once all are renamed, instead of an fsync of the parent per new directory).
Stop rename_into_place(const Finalization& fin, const std::vector<bool>& to_rename) {
    const TransferPlan& plan = fin.plan;
    std::size_t rename_count = 0;
    for (bool b : to_rename) rename_count += b ? 1 : 0;
    SyncBatch directories(fin.target.rootfd, fin.staging.sync_mode(), rename_count);
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
            auto p = open_dir_path(fin.target.rootfd, dir, true, fin.on_created, &directories);
            if (!p) return judge(p.error(), errno);
            parent = std::move(*p);
            open_parent_path = dir;
        }
        std::string sname = staged_file_name(f.index);
        if (rename_no_replace(fin.tdir, sname.c_str(), parent.get(), f.target.back().c_str()) != 0) {
            auto e = errno_error("rename into place: " + f.path);
            int err = errno;
            if (err == ENOENT) {
                auto placed = placed_by_another_sink(fin.target.rootfd, f);
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
                (void)::unlinkat(fin.tdir, sname.c_str(), 0);
                continue;
            }
            return judge(e, err);
        }
        if (++placed_count == 1) crash_point("after-first-rename");
    }
    if (parent)
        if (auto ok = directories.add(parent.get(), "output directory"); !ok) return judge(ok.error(), errno);
    if (auto ok = directories.commit(); !ok) return judge(ok.error(), errno);
    return std::nullopt;
}

// The node manifest, then the job marker (_SUCCESS) once every node of the job is in; sets result.job_complete when
// this call wrote the marker.
Stop record_node(const Finalization& fin, const std::string& manifest_json, FinalizeResult& result) {
    auto jobdir = open_dir_path(fin.target.rootfd, fin.plan.job_dir, true, fin.on_created);
    if (!jobdir) return judge(jobdir.error(), errno);
    auto mdir = open_dir(jobdir->get(), std::string(kManifestDirName), true, fin.on_created);
    if (!mdir) return judge(mdir.error(), errno);
    if (auto ok = write_file_atomic(fin.tdir, mdir->get(), fin.plan.node_manifest_name, manifest_json); !ok)
        return judge(ok.error(), errno);
    crash_point("after-node-manifest");
    auto names = list_dir(mdir->get());
    if (!names) return judge(names.error(), errno);
    std::size_t nodes_in = 0;
    for (const auto& n : *names)
        if (n.size() > 5 && n.ends_with(".json") && !n.starts_with(".tmp-")) ++nodes_in;
    if (nodes_in >= fin.plan.job.nodes) {
        UniqueFd marker(::openat(jobdir->get(), std::string(kSuccessName).c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (marker) {
            if (fin.do_chown && ::fchown(marker.get(), fin.uid, fin.gid) != 0) { /* best effort */
            }
            if (auto ok = fsync_fd(marker.get(), "_SUCCESS"); !ok) return judge(ok.error(), errno);
            if (auto ok = fsync_fd(jobdir->get(), "job directory"); !ok) return judge(ok.error(), errno);
            result.job_complete = true;
        } else if (errno != EEXIST) {
            return judge(errno_error("create _SUCCESS"), errno);
        }
    }
    return std::nullopt;
}

}  // namespace

Result<FinalizeResult> finalize_transfer(const FinalizeTarget& target, StagingArea& staging,
                                         const std::string& transfer, const TransferPlan& plan,
                                         const std::string& manifest_json) {
    auto tdir = staging.open_transfer_dir(transfer, false);
    if (!tdir) return judge(tdir.error(), errno);
    const uid_t uid = static_cast<uid_t>(plan.job.uid);
    const gid_t gid = static_cast<gid_t>(plan.job.gid);
    const bool do_chown = target.chown && plan.job.uid >= 0 && plan.job.gid >= 0;
    auto on_created = [=](int fd) {
        if (do_chown && ::fchown(fd, uid, gid) != 0) { /* best effort: the directory exists either way */
        }
    };
    const Finalization fin{target, staging, transfer, plan, tdir->get(), uid, gid, do_chown, on_created};

    std::vector<bool> staged(plan.files.size(), false);
    if (auto stop = verify_files(fin, staged)) return *stop;
    if (auto stop = reject_if_occupied(fin)) return *stop;
    crash_point("before-place");
    FinalizeResult result{FinalizeResult::Kind::done, {}, plan.files.size(), plan.total_bytes, false};
    std::vector<bool> to_rename(plan.files.size(), false);
    if (auto stop = settle_staged_files(fin, staged, to_rename)) return *stop;
    if (auto stop = rename_into_place(fin, to_rename)) return *stop;
    crash_point("after-place");
    if (auto stop = record_node(fin, manifest_json, result)) return *stop;
    crash_point("after-success");

    // Done: ROOT/.done/<transfer> records it, and the staging goes.
    if (auto ok = write_file_atomic(tdir->get(), target.done_dirfd, transfer, manifest_json); !ok)
        return judge(ok.error(), errno);
    crash_point("after-done");
    tdir->reset();
    staging.release_transfer(transfer);
    if (auto ok = remove_tree(staging.dir(), transfer); !ok) return judge(ok.error(), errno);
    return result;
}

}  // namespace ks::sink
