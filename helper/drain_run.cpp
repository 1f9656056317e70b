// --drain-spool: resend spooled transfers (see spool.hpp for the layout).
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <algorithm>
#include <cerrno>

#include "fs_ops.hpp"
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

constexpr std::size_t kMaxEntryFile = 256u << 20;  // transfer.json lists every file of the transfer

// The subdirectories of a spool directory (users' directories, or entries), sorted; not partial or superseded
// entries (their names start with '.').
std::vector<std::string> subdirectories(int dir_fd) {
    std::vector<std::string> out;
    for (auto& e : visible_entries(dir_fd))
        if (S_ISDIR(e.st.st_mode)) out.push_back(std::move(e.name));
    return out;
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
        if (n < 0) return fail_errno("read");
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
    auto sig = read_small_file(entry_fd, kSpoolSignatureFile, kMaxEntryFile);
    if (!sig) return fail("no valid signature (" + sig.error().message + "); not sent");
    std::string_view signature = *sig;
    while (!signature.empty() && (signature.back() == '\n' || signature.back() == '\r')) signature.remove_suffix(1);
    const std::string key = wire::message_key(entry.id);
    if (auto ok = auth::verify(*d.ctx->keys, signature, {"spool", entry.topic, key, entry.id.transfer_id, 0, 1, text});
        !ok)
        return fail("transfer.json: " + ok.error().message + "; not sent");
    return {};
}

// An entry read and checked (check_entry_origin) before anything of it is sent.
struct CheckedEntry {
    UniqueFd fd;
    SpoolEntry entry;
};

Result<CheckedEntry> open_checked_entry(int parent_fd, const std::string& name, const DrainScope& d) {
    TRY_ASSIGN(auto entry_fd, open_dir_at(parent_fd, name));
    TRY_ASSIGN(auto text, read_small_file(entry_fd.get(), kSpoolEntryFile, kMaxEntryFile));
    TRY_ASSIGN(auto entry, parse_spool_entry(text));
    TRY(check_entry_origin(entry_fd.get(), text, entry, d));
    return CheckedEntry{std::move(entry_fd), std::move(entry)};
}

// What one entry's resend needs at each step; every failure is logged here and keeps the entry.
struct EntrySend {
    SpoolEntry& entry;
    const std::string& shown;
    const Settings& s;
    const DrainScope& d;
    const ProducerFactory& rebuild;
    const Log& log;

    bool kept(const std::string& why, bool warning = false) const {
        const std::string line = shown + ": " + why + " (entry kept)";
        return warning ? log.warning(line) : log.error(line), false;
    }
    bool not_delivered(const std::string& why) const { return kept("not delivered: " + why, true); }
    bool changed(const wire::FileEntry& f) const {
        return kept(f.meta.path + " changed in the spool while it was sent");
    }
};

// Files that were going out as records go as records again: consumers of the topic get every line. Returns the
// producer for what follows (null when the entry is kept); a file that is not text after all joins `sources`.
std::unique_ptr<Producer> resend_records(const EntrySend& e, std::unique_ptr<Producer> session,
                                         std::vector<SourceFile>& as_records, std::vector<SourceFile>& sources) {
    auto limit = records_line_limit(e.s);
    if (!limit) return e.kept(limit.error().message), nullptr;
    RecordSettings rs{*limit,       e.s.max_open_files,  e.s.max_producer_rebuilds, e.s.max_file_attempts,
                      e.d.deadline, e.d.ctx->interrupted};
    RecordSender records(std::move(session), e.rebuild, e.entry.id, rs, e.log);
    RecordOutcome out = records.send_files(as_records);
    if (!records.failure().empty()) return e.not_delivered(records.failure()), nullptr;
    for (std::size_t i = 0; i < as_records.size(); ++i) {
        wire::FileEntry* f = manifest_file(e.entry.manifest, as_records[i].index);
        if (out.file_mode[i]) {  // not text after all (cannot happen unless the copy changed): as chunks
            f->format.clear();
            sources.push_back(as_records[i]);
            continue;
        }
        const FileResult& r = out.results[i];
        if (r.status != FileStatus::confirmed) return e.not_delivered(r.skip_reason), nullptr;
        if (r.entry.sha256 != f->sha256 || r.entry.meta.size != f->meta.size) return e.changed(*f), nullptr;
        f->chunks = r.entry.chunks;
        f->timestamps = r.entry.timestamps;
    }
    std::unique_ptr<Producer> next = records.release_producer();
    if (!next) return e.kept("no producer left after the records"), nullptr;
    return next;
}

// The files as chunks, then the manifest; true once all is confirmed.
bool resend_chunks_and_manifest(const EntrySend& e, std::unique_ptr<Producer> session, std::vector<SourceFile> sources,
                                const MessageSigner& signer) {
    SenderSettings ss{e.entry.manifest.chunk_bytes,
                      e.s.max_open_files,
                      e.s.max_producer_rebuilds,
                      e.s.max_file_attempts,
                      e.d.deadline,
                      e.d.ctx->interrupted,
                      &signer};
    TransferSender sender(std::move(session), e.rebuild, e.entry.id, ss, e.log);
    for (const auto& r : sender.send_files(std::move(sources))) {
        wire::FileEntry* f = manifest_file(e.entry.manifest, r.entry.meta.index);
        if (r.status != FileStatus::confirmed)
            return e.not_delivered(sender.failure().empty() ? r.skip_reason : sender.failure());
        if (r.entry.sha256 != f->sha256 || r.entry.meta.size != f->meta.size) return e.changed(*f);
        f->chunks = r.entry.chunks;
    }
    auto parts = manifest_messages(e.entry.manifest, e.s.message_max_bytes);
    if (!parts) return e.kept(parts.error().message);
    if (!sender.send_manifest(std::move(*parts))) return e.kept("manifest not delivered: " + sender.failure(), true);
    return true;
}

// Drains one entry; true when it was delivered and removed.
bool drain_entry(int parent_fd, const std::string& name, const std::string& shown, const Settings& s,
                 const DrainScope& d, const Log& log) {
    auto checked = open_checked_entry(parent_fd, name, d);
    if (!checked) return log.error(shown + ": " + checked.error().message + " (entry kept)"), false;
    SpoolEntry& entry = checked->entry;
    const std::string topic = entry.topic;
    const std::string companion = entry.records ? wire::companion_topic(topic) : std::string();
    const MessageSigner signer(d.ctx->keys ? &d.ctx->keys->signing_key() : nullptr, entry.records ? companion : topic);
    const ProducerFactory rebuild = [conf = d.conf, topic, companion, &log](int ms) {
        return Producer::create(conf, topic, ms, log, companion);
    };
    const EntrySend send{entry, shown, s, d, rebuild, log};
    std::vector<SourceFile> sources, as_records;
    for (auto index : entry.resend) {
        const wire::FileEntry* f = manifest_file(entry.manifest, index);
        if (auto ok = verify_spooled(checked->fd.get(), *f); !ok) return send.kept(ok.error().message);
        int fd = checked->fd.get();
        std::string data = "data/" + std::to_string(index);
        SourceFile src{f->meta.path, index, [fd, data] { return open_regular_beneath(fd, data); }, f->meta};
        (f->format == wire::kFormatRecords ? as_records : sources).push_back(std::move(src));
    }
    auto producer = Producer::create(d.conf, topic, message_timeout_for(d.deadline), log, companion);
    if (!producer) return log.error(shown + ": " + producer.error().message), false;
    std::unique_ptr<Producer> session = std::move(*producer);
    if (auto opened = open_transfer(*session, entry.manifest.job, entry.id, signer, d.deadline, d.ctx->interrupted);
        !opened)
        return send.not_delivered(opened.error().message);
    if (!as_records.empty() && !(session = resend_records(send, std::move(session), as_records, sources))) return false;
    if (!resend_chunks_and_manifest(send, std::move(session), std::move(sources), signer)) return false;
    checked->fd.reset();
    if (auto rm = remove_entry(parent_fd, name); !rm)
        log.warning(shown + ": delivered, but removing it failed: " + rm.error().message);
    log.info(shown + ": delivered " + std::to_string(entry.resend.size()) + " spooled files and the manifest of " +
             "transfer " + entry.id.transfer_id + " to " + topic);
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
        if (auto e = open_dir_at(dir_fd, name); !e || !is_complete_entry(e->get())) continue;  // not a complete entry
        if (Clock::now() >= d.deadline || (d.ctx->interrupted && *d.ctx->interrupted)) {
            ++c.kept;
            continue;
        }
        if (drain_entry(dir_fd, name, shown + "/" + name, s, d, log)) ++c.drained;
        else ++c.kept;
    }
    return c;
}

int code_for(const DrainCounts& c) { return c.kept ? exit_code::spooled : exit_code::delivered; }

// As root: drain one user's directory in a child that runs as the directory's owner, killed if it is still running
// `budget` after it started (a user's entries must not stall the drain of everyone else's).
int drain_as_owner(int parent_fd, const std::string& name, const std::string& shown,
                   const std::optional<std::string>& only, const Settings& s, DrainScope d, Clock::duration budget,
                   const Log& log) {
    auto opened = open_dir_at(parent_fd, name);
    if (!opened) return log.error(shown + ": " + opened.error().message), exit_code::spooled;
    const UniqueFd dir = std::move(*opened);
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) return log.error(errno_error(shown).message), exit_code::spooled;
    d.owner = st.st_uid;
    const auto started = Clock::now();
    d.deadline = std::min(d.deadline, started + budget);
    if (st.st_uid == 0) return code_for(drain_user_dir(dir.get(), shown, only, s, d, log));
    pid_t pid = ::fork();
    if (pid < 0) return log.error(errno_error("fork").message), exit_code::spooled;
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
        if (r < 0 && errno != EINTR) return log.error(errno_error(shown + ": waitpid").message), exit_code::spooled;
        if (Clock::now() >= kill_at) {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
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
    time_t oldest = std::numeric_limits<time_t>::max();
    auto dir = open_dir_at(spool_fd, name);
    if (!dir) return oldest;
    for (const auto& e : visible_entries(dir->get()))
        if (S_ISDIR(e.st.st_mode)) oldest = std::min(oldest, e.st.st_mtime);
    return oldest;
}

// The settings and limits every SPOOL/<uid> directory of one run is drained with.
struct DrainRun {
    const Settings& s;
    DrainScope scope;
    Clock::duration user_budget;  // stream.drain.user.seconds
    const Log& log;
    bool root() const { return scope.owner == 0; }
};

// Not root: only one's own directories, in this process, as oneself.
int drain_here(const DrainRun& run, int dir_fd, const std::string& shown, const std::optional<std::string>& only) {
    struct stat st {};
    DrainScope d = run.scope;
    if (::fstat(dir_fd, &st) == 0) d.owner = st.st_uid;
    return code_for(drain_user_dir(dir_fd, shown, only, run.s, d, run.log));
}

// The spool root: every user's directory, the one with the oldest entry first.
int drain_every_user(const DrainRun& run, int root_fd, const std::string& path) {
    std::vector<std::pair<time_t, std::string>> users;
    for (const auto& n : subdirectories(root_fd)) users.emplace_back(oldest_entry_time(root_fd, n), n);
    std::sort(users.begin(), users.end());
    int worst = exit_code::delivered;
    for (std::size_t i = 0; i < users.size(); ++i) {
        const std::string& n = users[i].second;
        const std::string shown = path + "/" + n;
        int code = exit_code::delivered;
        if (run.root()) {
            // Each user gets at most an even share of the time left, so the last ones are reached too.
            const auto share = (run.scope.deadline - Clock::now()) / static_cast<long>(users.size() - i);
            const auto budget = std::min(run.user_budget, std::max<Clock::duration>(share, std::chrono::seconds(5)));
            code = drain_as_owner(root_fd, n, shown, std::nullopt, run.s, run.scope, budget, run.log);
        } else if (auto sub = open_dir_at(root_fd, n)) {
            code = drain_here(run, sub->get(), shown, std::nullopt);
        }
        worst = std::max(worst, code);
    }
    return worst;
}

// The summary line on stdout and, with --metrics-file, the spool's metrics as they are after the drain.
void report_drain(const CommandLine& cl, const std::string& path, int worst, Clock::time_point start,
                  const SpoolStatus& before, const Log& log) {
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
}

}  // namespace

int run_drain(const CommandLine& cl, const Settings& s, const rd_kafka_conf_t* conf, const RunContext& ctx,
              const Log& log) {
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::milliseconds(static_cast<long long>(s.timeout_seconds * 1000));
    const std::string path = *cl.drain_spool;
    UniqueFd target(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!target) return log.error(errno_error(path).message), exit_code::usage;
    const DrainRun run{s, DrainScope{conf, &ctx, ::geteuid(), deadline},
                       std::chrono::milliseconds(static_cast<long long>(s.drain_user_seconds * 1000)), log};
    const SpoolStatus before = scan_spool(path);

    // One entry, one SPOOL/<uid> directory, or the spool root: each level is handled by the one below.
    std::string parent_path = path.substr(0, path.find_last_not_of('/') + 1);
    auto slash = parent_path.rfind('/');
    std::string base = slash == std::string::npos ? parent_path : parent_path.substr(slash + 1);
    std::string dirname = slash == std::string::npos ? "." : slash == 0 ? "/" : parent_path.substr(0, slash);

    int worst = exit_code::delivered;
    if (is_complete_entry(target.get())) {
        // A single entry: its parent is the user's directory.
        UniqueFd user_dir(::open(dirname.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!user_dir) return log.error(errno_error(dirname).message), exit_code::usage;
        auto up = dirname.rfind('/');
        UniqueFd spool_root(::open(up == std::string::npos ? "."
                                   : up == 0               ? "/"
                                                           : dirname.substr(0, up).c_str(),
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        std::string user_name = up == std::string::npos ? dirname : dirname.substr(up + 1);
        if (run.root() && spool_root)
            worst = drain_as_owner(spool_root.get(), user_name, dirname, base, s, run.scope, run.user_budget, log);
        else worst = drain_here(run, user_dir.get(), dirname, base);
    } else {
        bool user_level = false;
        for (const auto& n : subdirectories(target.get())) {
            auto sub = open_dir_at(target.get(), n);
            user_level = user_level || (sub && is_complete_entry(sub->get()));
        }
        UniqueFd parent(user_level ? ::open(dirname.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1);
        if (user_level && run.root() && parent)
            worst = drain_as_owner(parent.get(), base, path, std::nullopt, s, run.scope, run.user_budget, log);
        else if (user_level) worst = drain_here(run, target.get(), path, std::nullopt);
        else worst = drain_every_user(run, target.get(), path);
    }
    report_drain(cl, path, worst, start, before, log);
    return worst;
}

}  // namespace ks::push
