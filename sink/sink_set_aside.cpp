// What the Sink sets aside and cleans up: a bad message or transfer is quarantined (with a rate-limited warning and a
// line in the quarantine log), staging left by an earlier run is recovered, transfers that stopped progressing go to
// .stale, and .quarantine / .stale are pruned after their retention (sink.hpp).
#include "sink.hpp"

#include <sys/stat.h>

#include <chrono>

#include "safe_fs.hpp"
#include "safe_path.hpp"

namespace ks::sink {
namespace {

constexpr std::uint64_t kWarningsPerMinute = 20;

bool is_transfer_id(std::string_view s) {
    return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

double mtime_of(int dirfd, const std::string& name) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
    return static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1e9;
}

std::string where(const IncomingMessage& msg) {
    return printable(msg.topic) + "/" + std::to_string(msg.partition) + "@" + std::to_string(msg.offset);
}

}  // namespace

Result<void> Sink::quarantine_message(const IncomingMessage& msg, const std::string& reason) {
    ++stats_.quarantined;
    std::string line = printable(where(msg) + ": " + reason, 1000);
    // Anyone who can produce to the topic can send such messages: the log gets a bounded number of lines a minute,
    // messages.log gets every one (and is rotated by size, prune_set_aside()).
    if (now() - warn_window_start_ >= 60) {
        if (warnings_suppressed_)
            log_->warning(std::to_string(warnings_suppressed_) +
                          " more messages were quarantined in the last minute; "
                          "see " +
                          std::string(kQuarantineDirName) + "/" + std::string(kQuarantineLogName));
        warn_window_start_ = now();
        warnings_in_window_ = warnings_suppressed_ = 0;
    }
    if (warnings_in_window_ < kWarningsPerMinute) {
        ++warnings_in_window_;
        log_->warning("quarantined message " + line);
    } else {
        ++warnings_suppressed_;
    }
    line.push_back('\n');
    if (::write(qlog_.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        // The log is for the admin; a full disk must not stop the sink because of someone's messages.
        if (!no_space(errno)) return fail_errno("append to quarantine log");
        return {};
    }
    qlog_bytes_ += line.size();
    qlog_dirty_ = true;
    return {};
}

Result<void> Sink::quarantine_transfer(const std::string& id, Transfer& t, const IncomingMessage* msg,
                                       const std::string& reason, bool drop_data) {
    ++stats_.quarantined;
    ++stats_.quarantined_transfers;
    if (pending_.transfer == id) pending_.transfer.clear(), pending_.bytes.clear();
    staging_.release_transfer(id);
    release(t);
    t.state = State::quarantined;
    t.manifest_staged = false;
    if (drop_data) TRY(remove_tree(staging_.dir(), id));
    if (entry_exists(staging_.dir(), id)) {
        if (::renameat(staging_.dir(), id.c_str(), quarantine_.get(), id.c_str()) != 0)
            return fail_errno("move " + id + " to quarantine");
    } else if (::mkdirat(quarantine_.get(), id.c_str(), 0750) != 0 && errno != EEXIST) {
        if (!no_space(errno)) return fail_errno("create quarantine entry " + id);
    }
    log_->warning("quarantined transfer " + id + (msg ? " at " + where(*msg) : std::string()) + ": " +
                  printable(reason, 1000));
    std::string text = printable(reason, 2000) + "\n";
    if (msg) text += "message: " + where(*msg) + "\n";
    if (drop_data) text += "its staged data was removed; its messages are still in Kafka (see docs/security.md)\n";
    // The reason is for the admin: with the file system full it may not be written, and the sink goes on.
    auto qdir = open_dir(quarantine_.get(), id, false);
    if (!qdir) return {};
    if (auto ok = write_file_atomic(qdir->get(), qdir->get(), "reason", text); !ok && !no_space(errno)) return ok;
    TRY(fsync_fd(quarantine_.get(), "quarantine directory"));
    return fsync_fd(staging_.dir(), "staging directory");
}

Result<void> Sink::recover() {
    TRY_ASSIGN(auto names, list_dir(staging_.dir()));
    for (const auto& n : names) {
        if (!is_transfer_id(n)) continue;
        Transfer* t = find_transfer(n);
        if (!t) continue;  // never admitted (left by an older version): sweep_stale moves it aside in time
        // Finalized, but the crash came before its staging was removed.
        if (t->state == State::done) {
            TRY(remove_tree(staging_.dir(), n));
            continue;
        }
        if (t->state == State::active && t->manifest_staged) TRY(try_finalize(n, *t));
    }
    return {};
}

Result<void> Sink::sweep_stale() {
    TRY(write_pending_records());
    TRY_ASSIGN(auto names, list_dir(staging_.dir()));
    const double t_now = now();
    for (const auto& n : names) {
        double last = mtime_of(staging_.dir(), n);
        auto it = transfers_.find(n);
        if (it != transfers_.end() && it->second.last_progress > last) last = it->second.last_progress;
        if (t_now - last < settings_.stale_seconds) continue;
        if (!is_transfer_id(n)) {
            // Temporary files of an interrupted write.
            if (n.starts_with(".tmp-")) (void)remove_tree(staging_.dir(), n);
            continue;
        }
        staging_.release_transfer(n);
        std::string dest = n + "-" + std::to_string(static_cast<long long>(t_now));
        if (::renameat(staging_.dir(), n.c_str(), stale_.get(), dest.c_str()) != 0)
            return fail_errno("move " + n + " to " + std::string(kStaleDirName));
        TRY(fsync_fd(stale_.get(), "stale directory"));
        TRY(fsync_fd(staging_.dir(), "staging directory"));
        // Why it was stuck, for the admin: what finalization last waited for, or whether the manifest ever came.
        if (auto sdir = open_dir(stale_.get(), dest, false); sdir) {
            std::string why = it != transfers_.end() && !it->second.waiting.empty()
                                  ? "waiting for: " + printable(it->second.waiting, 2000)
                              : !entry_exists(sdir->get(), std::string(kStagedOpenName))
                                  ? std::string("it was never opened by a verified open message")
                              : entry_exists(sdir->get(), std::string(kStagedManifestName))
                                  ? std::string("the staged files never matched the manifest")
                                  : std::string("no (complete) manifest was received");
            (void)write_file_atomic(sdir->get(), sdir->get(), "reason",
                                    "made no progress for " +
                                        std::to_string(static_cast<long long>(settings_.stale_seconds)) + " s; " + why +
                                        "\n");
        }
        if (it != transfers_.end()) {
            release(it->second);
            transfers_.erase(it);
        }
        ++stats_.stale_transfers;
        log_->warning("transfer " + n + " made no progress for " +
                      std::to_string(static_cast<long long>(settings_.stale_seconds)) + " s: moved to " +
                      std::string(kStaleDirName) + "/" + dest);
    }
    return prune_set_aside();
}

Result<void> Sink::prune_set_aside() {
    const double t_now = now();
    for (int dirfd : {stale_.get(), quarantine_.get()}) {
        TRY_ASSIGN(auto names, list_dir(dirfd));
        for (const auto& n : names) {
            if (n == kQuarantineLogName || n.starts_with(std::string(kQuarantineLogName) + ".")) continue;
            if (t_now - mtime_of(dirfd, n) < settings_.keep_seconds) continue;
            TRY(remove_tree(dirfd, n));
            // A transfer set aside long ago is forgotten: if it is ever sent again, it is judged again.
            if (auto it = transfers_.find(n); it != transfers_.end() && it->second.state == State::quarantined)
                transfers_.erase(it);
            log_->info("removed " + std::string(dirfd == stale_.get() ? kStaleDirName : kQuarantineDirName) + "/" + n +
                       ", older than stream.sink.keep.seconds");
        }
    }
    if (qlog_bytes_ > settings_.quarantine_log_bytes) {
        const std::string name(kQuarantineLogName);
        if (::renameat(quarantine_.get(), name.c_str(), quarantine_.get(), (name + ".1").c_str()) != 0)
            return fail_errno("rotate " + name);
        UniqueFd qlog(
            ::openat(quarantine_.get(), name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640));
        if (!qlog) return fail_errno("open quarantine log");
        qlog_ = std::move(qlog);
        qlog_bytes_ = 0;
    }
    return {};
}

}  // namespace ks::sink
