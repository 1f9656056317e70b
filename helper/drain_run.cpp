// --drain-spool: resend spooled transfers (see spool.hpp for the layout).
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>

#include "push_contract.hpp"
#include "privileges.hpp"
#include "push_run.hpp"
#include "prometheus_text.hpp"
#include "record_sender.hpp"
#include "run_summary.hpp"
#include "safe_walk.hpp"
#include "sha256.hpp"
#include "spool.hpp"
#include "transfer_open.hpp"

namespace ks::push {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

bool has_entry_file(int dir_fd) {
    struct stat st {};
    return ::fstatat(dir_fd, kSpoolEntryFile, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> subdirectories(int dir_fd) {
    std::vector<std::string> out;
    int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return out;
    DIR* d = ::fdopendir(dup_fd);
    if (!d) {
        ::close(dup_fd);
        return out;
    }
    ::rewinddir(d);
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        struct stat st {};
        if (n.front() == '.') continue;  // ".", "..", partial and superseded entries
        if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::string> read_small_file(int dir_fd, const char* name) {
    UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!fd) return fail(std::string(name) + ": " + std::strerror(errno));
    std::string text;
    char buf[65536];
    while (true) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string(name) + ": " + std::strerror(errno));
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > (256u << 20)) return fail(std::string(name) + ": too large");
    }
    return text;
}

wire::FileEntry* manifest_file(wire::Manifest& m, std::uint64_t index) {
    for (auto& f : m.files)
        if (f.meta.index == index) return &f;
    return nullptr;
}

// The spooled copy must be exactly what the manifest says before anything of it is sent.
Result<void> verify_spooled(int entry_fd, const wire::FileEntry& f) {
    auto opened = open_regular_beneath(entry_fd, "data/" + std::to_string(f.meta.index));
    if (!opened) return fail("data/" + std::to_string(f.meta.index) + ": " + opened.error().message);
    Sha256 sha;
    std::string buf(1 << 20, '\0');
    std::uint64_t total = 0;
    while (true) {
        ssize_t n = ::read(opened->fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string("read: ") + std::strerror(errno));
        if (n == 0) break;
        sha.update(buf.data(), static_cast<std::size_t>(n));
        total += static_cast<std::uint64_t>(n);
    }
    if (total != f.meta.size || sha.finish_hex() != f.sha256)
        return fail("data/" + std::to_string(f.meta.index) + " does not match the manifest (size or SHA-256)");
    return {};
}

struct DrainCounts {
    int drained = 0;
    int kept = 0;
};

// What the drain of one SPOOL/<uid> directory needs besides the settings.
struct DrainScope {
    const rd_kafka_conf_t* conf = nullptr;
    const RunContext* ctx = nullptr;
    uid_t owner = 0;  // the directory's owner: every entry in it must be a transfer of this uid
    Clock::time_point deadline;
};

// The spool directory belongs to the job's user, who can rewrite any entry: only an entry a node signed, for a job
// of this very user, is resent (with stream.auth=none, whatever is there).
Result<void> check_entry_origin(int entry_fd, const std::string& text, const SpoolEntry& entry, const DrainScope& d) {
    if (entry.manifest.job.uid != static_cast<std::int64_t>(d.owner))
        return fail("the entry is a transfer of uid " + std::to_string(entry.manifest.job.uid) +
                    " but lies in the spool directory of uid " + std::to_string(d.owner) + "; not sent");
    if (auto ok = wire::check_identity_names(entry.id.cluster, entry.id.job_id, entry.id.node, entry.id.user); !ok)
        return fail(ok.error().message + "; not sent");
    if (!d.ctx->keys) return {};
    auto sig = read_small_file(entry_fd, kSpoolSignatureFile);
    if (!sig) return fail("no valid signature (" + sig.error().message + "); not sent");
    std::string_view signature = *sig;
    while (!signature.empty() && (signature.back() == '\n' || signature.back() == '\r')) signature.remove_suffix(1);
    const std::string key = wire::message_key(entry.id);
    if (auto ok = auth::verify(*d.ctx->keys, signature, {"spool", entry.topic, key, entry.id.transfer_id, 0, 1, text});
        !ok)
        return fail("transfer.json: " + ok.error().message + "; not sent");
    return {};
}

// Drains one entry; true when it was delivered and removed.
bool drain_entry(int parent_fd, const std::string& name, const std::string& shown, const Settings& s,
                 const DrainScope& d, const Log& log) {
    const rd_kafka_conf_t* conf = d.conf;
    const Clock::time_point deadline = d.deadline;
    UniqueFd entry_fd(::openat(parent_fd, name.c_str(), kDirFlags));
    if (!entry_fd) return log.error(shown + ": " + std::strerror(errno)), false;
    auto text = read_small_file(entry_fd.get(), kSpoolEntryFile);
    if (!text) return log.error(shown + ": " + text.error().message), false;
    auto entry = parse_spool_entry(*text);
    if (!entry) return log.error(shown + ": " + entry.error().message + " (entry kept)"), false;
    if (auto ok = check_entry_origin(entry_fd.get(), *text, *entry, d); !ok)
        return log.error(shown + ": " + ok.error().message + " (entry kept)"), false;
    const std::string companion = entry->records ? wire::companion_topic(entry->topic) : std::string();
    const MessageSigner signer(d.ctx->keys ? &d.ctx->keys->signing_key() : nullptr,
                               entry->records ? companion : entry->topic);
    std::vector<SourceFile> sources, as_records;
    for (auto index : entry->resend) {
        const wire::FileEntry* f = manifest_file(entry->manifest, index);
        if (auto ok = verify_spooled(entry_fd.get(), *f); !ok)
            return log.error(shown + ": " + ok.error().message + " (entry kept)"), false;
        int fd = entry_fd.get();
        std::string data = "data/" + std::to_string(index);
        SourceFile src{f->meta.path, index, [fd, data] { return open_regular_beneath(fd, data); }, f->meta};
        (f->format == wire::kFormatRecords ? as_records : sources).push_back(std::move(src));
    }
    auto producer = Producer::create(conf, entry->topic, message_timeout_for(deadline), log, companion);
    if (!producer) return log.error(shown + ": " + producer.error().message), false;
    std::string topic = entry->topic;
    ProducerFactory rebuild = [conf, topic, companion, &log](int ms) {
        return Producer::create(conf, topic, ms, log, companion);
    };
    std::unique_ptr<Producer> session = std::move(*producer);
    if (auto opened = open_transfer(*session, entry->manifest.job, entry->id, signer, deadline, d.ctx->interrupted); !opened)
        return log.warning(shown + ": not delivered: " + opened.error().message + " (entry kept)"), false;
    auto changed = [&](const wire::FileEntry& f) {
        return log.error(shown + ": " + f.meta.path + " changed in the spool while it was sent (entry kept)"), false;
    };
    if (!as_records.empty()) {
        // Files that were going out as records go as records again: consumers of the topic get every line.
        auto limit = records_line_limit(s);
        if (!limit) return log.error(shown + ": " + limit.error().message + " (entry kept)"), false;
        RecordSettings rs{*limit, s.max_open_files, s.max_producer_rebuilds, s.max_file_attempts, deadline,
                          d.ctx->interrupted};
        RecordSender records(std::move(session), rebuild, entry->id, rs, log);
        RecordOutcome out = records.send_files(as_records);
        if (!records.failure().empty())
            return log.warning(shown + ": not delivered: " + records.failure() + " (entry kept)"), false;
        session = records.release_producer();
        for (std::size_t i = 0; i < as_records.size(); ++i) {
            wire::FileEntry* f = manifest_file(entry->manifest, as_records[i].index);
            if (out.file_mode[i]) {  // not text after all (cannot happen unless the copy changed): as chunks
                f->format.clear();
                sources.push_back(as_records[i]);
                continue;
            }
            const FileResult& r = out.results[i];
            if (r.status != FileStatus::confirmed)
                return log.warning(shown + ": not delivered: " + r.skip_reason + " (entry kept)"), false;
            if (r.entry.sha256 != f->sha256 || r.entry.meta.size != f->meta.size) return changed(*f);
            f->chunks = r.entry.chunks;
            f->timestamps = r.entry.timestamps;
        }
    }
    SenderSettings ss{entry->manifest.chunk_bytes, s.max_open_files, s.max_producer_rebuilds, s.max_file_attempts,
                      deadline, d.ctx->interrupted, &signer};
    TransferSender sender(std::move(session), rebuild, entry->id, ss, log);
    auto results = sender.send_files(std::move(sources));
    for (const auto& r : results) {
        wire::FileEntry* f = manifest_file(entry->manifest, r.entry.meta.index);
        if (r.status != FileStatus::confirmed)
            return log.warning(shown + ": not delivered: " +
                               (sender.failure().empty() ? r.skip_reason : sender.failure()) + " (entry kept)"),
                   false;
        if (r.entry.sha256 != f->sha256 || r.entry.meta.size != f->meta.size) return changed(*f);
        f->chunks = r.entry.chunks;
    }
    auto parts = manifest_messages(entry->manifest, s.message_max_bytes);
    if (!parts) return log.error(shown + ": " + parts.error().message + " (entry kept)"), false;
    if (!sender.send_manifest(std::move(*parts)))
        return log.warning(shown + ": manifest not delivered: " + sender.failure() + " (entry kept)"), false;
    entry_fd.reset();
    if (auto rm = remove_entry(parent_fd, name); !rm)
        log.warning(shown + ": delivered, but removing it failed: " + rm.error().message);
    log.info(shown + ": delivered " + std::to_string(entry->resend.size()) + " spooled files and the manifest of " +
             "transfer " + entry->id.transfer_id + " to " + entry->topic);
    return true;
}

// Drains every complete entry in a SPOOL/<uid> directory (or the single entry `only`), after removing what
// interrupted runs left there.
DrainCounts drain_user_dir(int dir_fd, const std::string& shown, const std::optional<std::string>& only,
                           const Settings& s, const DrainScope& d, const Log& log) {
    DrainCounts c;
    if (std::size_t n = remove_interrupted_entries(dir_fd))
        log.info(shown + ": removed " + std::to_string(n) + " entries left by interrupted runs");
    std::vector<std::string> names = only ? std::vector<std::string>{*only} : subdirectories(dir_fd);
    for (const auto& name : names) {
        UniqueFd e(::openat(dir_fd, name.c_str(), kDirFlags));
        if (!e || !has_entry_file(e.get())) continue;  // not a complete entry
        e.reset();
        if (Clock::now() >= d.deadline || (d.ctx->interrupted && *d.ctx->interrupted)) {
            ++c.kept;
            continue;
        }
        if (drain_entry(dir_fd, name, shown + "/" + name, s, d, log))
            ++c.drained;
        else
            ++c.kept;
    }
    return c;
}

int code_for(const DrainCounts& c) { return c.kept ? exit_code::spooled : exit_code::delivered; }

// As root: drain one user's directory in a child that runs as the directory's owner, killed if it is still running
// `budget` after it started (a user's entries must not stall the drain of everyone else's).
int drain_as_owner(int parent_fd, const std::string& name, const std::string& shown,
                   const std::optional<std::string>& only, const Settings& s, DrainScope d,
                   Clock::duration budget, const Log& log) {
    UniqueFd dir(::openat(parent_fd, name.c_str(), kDirFlags));
    if (!dir) return log.error(shown + ": " + std::strerror(errno)), exit_code::spooled;
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) return log.error(shown + ": " + std::strerror(errno)), exit_code::spooled;
    d.owner = st.st_uid;
    const auto started = Clock::now();
    d.deadline = std::min(d.deadline, started + budget);
    if (st.st_uid == 0) return code_for(drain_user_dir(dir.get(), shown, only, s, d, log));
    pid_t pid = ::fork();
    if (pid < 0) return log.error(std::string("fork: ") + std::strerror(errno)), exit_code::spooled;
    if (pid == 0) {
        if (auto dropped = drop_privileges({st.st_uid, st.st_gid}); !dropped) {
            log.error(shown + ": cannot drop privileges: " + dropped.error().message);
            ::_exit(exit_code::spooled);
        }
        ::_exit(code_for(drain_user_dir(dir.get(), shown, only, s, d, log)));
    }
    // The child stops by itself at its deadline; a child stuck in a system call is killed a little later.
    const auto kill_at = d.deadline + std::chrono::seconds(5);
    int status = 0;
    while (true) {
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return log.error(shown + ": waitpid: " + std::strerror(errno)), exit_code::spooled;
        if (Clock::now() >= kill_at) {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            log.error(shown + ": still draining after its time budget; stopped (the rest waits for the next run)");
            return exit_code::spooled;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    log.error(shown + ": drain child died");
    return exit_code::spooled;
}

// The oldest complete entry's time in a SPOOL/<uid> directory (lstat only, as root): users are drained oldest
// first, so a user whose entries keep failing cannot keep the others waiting forever.
time_t oldest_entry_time(int spool_fd, const std::string& name) {
    UniqueFd dir(::openat(spool_fd, name.c_str(), kDirFlags));
    time_t oldest = std::numeric_limits<time_t>::max();
    if (!dir) return oldest;
    for (const auto& n : subdirectories(dir.get())) {
        struct stat st {};
        if (::fstatat(dir.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) oldest = std::min(oldest, st.st_mtime);
    }
    return oldest;
}

}  // namespace

int run_drain(const CommandLine& cl, const Settings& s, const rd_kafka_conf_t* conf, const RunContext& ctx,
              const Log& log) {
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::milliseconds(static_cast<long long>(s.timeout_seconds * 1000));
    const std::string path = *cl.drain_spool;
    UniqueFd target(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!target) return log.error(path + ": " + std::strerror(errno)), exit_code::usage;
    const bool root = ::geteuid() == 0;
    const DrainScope scope{conf, &ctx, ::geteuid(), deadline};
    const Clock::duration user_budget = std::chrono::milliseconds(static_cast<long long>(s.drain_user_seconds * 1000));
    const SpoolStatus before = scan_spool(path);

    // One entry, one SPOOL/<uid> directory, or the spool root: each level is handled by the one below.
    std::string parent_path = path.substr(0, path.find_last_not_of('/') + 1);
    auto slash = parent_path.rfind('/');
    std::string base = slash == std::string::npos ? parent_path : parent_path.substr(slash + 1);
    std::string dirname = slash == std::string::npos ? "." : slash == 0 ? "/" : parent_path.substr(0, slash);

    int worst = exit_code::delivered;
    auto merge = [&worst](int code) { worst = std::max(worst, code); };
    // Not root: only one's own directories, as oneself.
    auto drain_here = [&](int dir_fd, const std::string& shown, const std::optional<std::string>& only) {
        struct stat st {};
        DrainScope d = scope;
        if (::fstat(dir_fd, &st) == 0) d.owner = st.st_uid;
        merge(code_for(drain_user_dir(dir_fd, shown, only, s, d, log)));
    };
    if (has_entry_file(target.get())) {
        // A single entry: its parent is the user's directory.
        UniqueFd user_dir(::open(dirname.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!user_dir) return log.error(dirname + ": " + std::strerror(errno)), exit_code::usage;
        auto up = dirname.rfind('/');
        UniqueFd spool_root(::open(up == std::string::npos ? "." : up == 0 ? "/" : dirname.substr(0, up).c_str(),
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        std::string user_name = up == std::string::npos ? dirname : dirname.substr(up + 1);
        if (root && spool_root)
            merge(drain_as_owner(spool_root.get(), user_name, dirname, base, s, scope, user_budget, log));
        else
            drain_here(user_dir.get(), dirname, base);
    } else {
        bool user_level = false;
        for (const auto& n : subdirectories(target.get())) {
            UniqueFd sub(::openat(target.get(), n.c_str(), kDirFlags));
            user_level = user_level || (sub && has_entry_file(sub.get()));
        }
        if (user_level) {
            UniqueFd parent(::open(dirname.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (root && parent)
                merge(drain_as_owner(parent.get(), base, path, std::nullopt, s, scope, user_budget, log));
            else
                drain_here(target.get(), path, std::nullopt);
        } else {
            std::vector<std::pair<time_t, std::string>> users;
            for (const auto& n : subdirectories(target.get())) users.emplace_back(oldest_entry_time(target.get(), n), n);
            std::sort(users.begin(), users.end());
            for (std::size_t i = 0; i < users.size(); ++i) {
                const std::string& n = users[i].second;
                std::string shown = path + "/" + n;
                if (root) {
                    // Each user gets at most an even share of the time left, so the last ones are reached too.
                    const auto left = deadline - Clock::now();
                    const auto share = left / static_cast<long>(users.size() - i);
                    merge(drain_as_owner(target.get(), n, shown, std::nullopt, s, scope,
                                         std::min(user_budget, std::max<Clock::duration>(share, std::chrono::seconds(5))),
                                         log));
                } else {
                    UniqueFd sub(::openat(target.get(), n.c_str(), kDirFlags));
                    if (sub) drain_here(sub.get(), shown, std::nullopt);
                }
            }
        }
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", secs);
    log.info(std::string(worst == exit_code::delivered ? "spool drained" : "some spool entries remain") + " (" + buf +
             " s): " + path);
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const DrainSummary summary{path, worst, secs, before, scan_spool(path), now};
    print_summary_line(drain_summary_json(summary));
    if (cl.metrics_file)
        if (auto ok = replace_file(*cl.metrics_file, spool_metrics(path, summary.after, now)); !ok)
            log.warning("--metrics-file: " + ok.error().message);
    return worst;
}

}  // namespace ks::push
