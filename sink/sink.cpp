#include "sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "finalizer.hpp"
#include "safe_fs.hpp"
#include "safe_path.hpp"
#include "timestamp_data.hpp"

namespace ks::sink {
namespace {

constexpr std::size_t kMaxManifestBytes = 256u << 20;
// Cached states of finished transfers are dropped beyond this many (they are re-read from ROOT/.done when needed).
constexpr std::size_t kMaxCachedTransfers = 100000;

// Bytes allocated below a staged transfer's directory (its files are one level deep).
std::uint64_t staged_bytes_of(int staging_dir, const std::string& id) {
    auto dir = open_dir(staging_dir, id, false);
    if (!dir) return 0;
    auto names = list_dir(dir->get());
    if (!names) return 0;
    std::uint64_t total = 0;
    for (const auto& n : *names) {
        struct stat st {};
        if (::fstatat(dir->get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
    return total;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double real_time() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Reads the staged parts 0..parts-1 of a manifest; nullopt while one is missing, the merged JSON once all are in.
Result<std::optional<std::string>> merge_staged_parts(int tdir, std::uint32_t parts) {
    std::vector<wire::Manifest> all;
    std::size_t total = 0;
    for (std::uint32_t i = 0; i < parts; ++i) {
        const std::string name = std::string(kStagedManifestPartPrefix) + std::to_string(i);
        struct stat st {};
        if (::fstatat(tdir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::optional<std::string>{};
        TRY_ASSIGN(auto text, read_small_file(tdir, name, kMaxManifestBytes));
        total += text.size();
        if (total > kMaxManifestBytes)
            return fail("manifest parts exceed " + std::to_string(kMaxManifestBytes) + " bytes");
        auto m = wire::parse_manifest(text);
        if (!m) return fail("staged manifest part " + std::to_string(i) + ": " + m.error().message);
        if (m->parts != parts) {
            // Left from an earlier send of this transfer, split differently (a file changed and was resent):
            // the newest part decides; the others of that send will come again.
            if (::unlinkat(tdir, name.c_str(), 0) != 0 && errno != ENOENT)
                return fail_errno("remove stale manifest part");
            return std::optional<std::string>{};
        }
        all.push_back(std::move(*m));
    }
    TRY_ASSIGN(auto merged, wire::merge_manifest_parts(std::move(all)));
    return std::optional<std::string>{wire::manifest_to_json(merged)};
}

}  // namespace

Result<Sink> Sink::open(SinkSettings settings, const Log& log) {
    if (!settings.clock) settings.clock = real_time;
    // The root must exist: creating it could silently write onto the wrong file system when a mount is missing.
    UniqueFd root(::open(settings.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail_errno("output root " + settings.root);
    const SyncMode sync_mode = settings.sync_mode.value_or(reliable_sync_mode(root.get()));
    TRY_ASSIGN(auto staging, StagingArea::open(root.get(), settings.max_open_files, sync_mode));
    TRY_ASSIGN(auto quarantine, open_dir(root.get(), std::string(kQuarantineDirName), true));
    TRY_ASSIGN(auto stale, open_dir(root.get(), std::string(kStaleDirName), true));
    TRY_ASSIGN(auto done, open_dir(root.get(), std::string(kDoneDirName), true));
    UniqueFd qlog(::openat(quarantine.get(), std::string(kQuarantineLogName).c_str(),
                           O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640));
    if (!qlog) return fail_errno("open quarantine log");
    StagingLedger::Limits limits = settings.staging_limits;
    if (limits.max_user_bytes == 0) {
        struct statvfs fs {};
        if (::fstatvfs(root.get(), &fs) != 0) return fail_errno("statfs " + settings.root);
        limits.max_user_bytes = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize / 2;
    }
    Sink sink(std::move(settings), log, std::move(root), std::move(staging), std::move(quarantine), std::move(stale),
              std::move(done), std::move(qlog), StagingLedger(limits));
    struct stat st {};
    if (::fstat(sink.qlog_.get(), &st) == 0) sink.qlog_bytes_ = static_cast<std::uint64_t>(st.st_size);
    return sink;
}

Sink::Transfer* Sink::find_transfer(const std::string& id) {
    if (auto it = transfers_.find(id); it != transfers_.end()) return &it->second;
    Transfer t;
    t.first_seen = t.last_progress = now();
    if (entry_exists(done_.get(), id)) {
        t.state = State::done;
    } else if (entry_exists(quarantine_.get(), id)) {
        t.state = State::quarantined;
    } else {
        // Admitted before (by this process before a restart, or by another sink sharing ROOT): its open message is
        // staged, and was verified when it was.
        auto tdir = staging_.open_transfer_dir(id, false);
        if (!tdir) return nullptr;
        auto text = read_small_file(tdir->get(), std::string(kStagedOpenName), 64 * 1024);
        if (!text) return nullptr;
        auto open = wire::parse_open(*text);
        if (!open || open->transfer_id != id) return nullptr;
        t.job = open->job;
        t.manifest_staged = entry_exists(tdir->get(), std::string(kStagedManifestName));
        t.staged_bytes = staged_bytes_of(staging_.dir(), id);
        (void)ledger_.add_bytes(t.job->user, t.staged_bytes);  // already there: counted, not judged
        ledger_.adopt(t.job->user);
    }
    if (transfers_.size() >= kMaxCachedTransfers)
        std::erase_if(transfers_, [](const auto& kv) { return kv.second.state != State::active; });
    return &transfers_.emplace(id, std::move(t)).first->second;
}

void Sink::release(Transfer& t) {
    if (!t.job) return;
    ledger_.close(t.job->user, t.staged_bytes);
    t.staged_bytes = 0;
    t.job.reset();
}

Result<Handled> Sink::handle(const IncomingMessage& msg) {
    static const wire::Headers kNone;
    const wire::Headers& headers = msg.headers ? *msg.headers : kNone;
    auto type = wire::message_type(headers);
    if (type && *type == wire::MessageType::record) return handle_record(msg);  // its identity is in the value
    ++stats_.messages;
    stats_.bytes += msg.payload.size();
    TRY(handle_headed(msg, headers, type));
    return Handled::done;
}

Result<void> Sink::handle_headed(const IncomingMessage& msg, const wire::Headers& headers,
                                 const Result<wire::MessageType>& type) {
    if (!type) return quarantine_message(msg, type.error().message);
    TRY(write_pending_records());
    auto id = wire::decode_identity(headers);
    if (!id) return quarantine_message(msg, id.error().message);
    if (auto ok = check_identity(*id); !ok) return quarantine_message(msg, ok.error().message);
    if (*type == wire::MessageType::open) return handle_open(msg, *id);
    Transfer* t = find_transfer(id->transfer_id);
    if (!t) return drop_unadmitted(msg, id->transfer_id);
    if (t->state == State::quarantined) {
        ++stats_.dropped;
        return {};
    }
    if (t->state == State::done) {
        if (*type == wire::MessageType::manifest) return replay_of_done(msg, *id);
        ++stats_.dropped;
        return {};
    }
    if (!t->job) return drop_unadmitted(msg, id->transfer_id);
    if (*type == wire::MessageType::chunk) return handle_chunk(msg, *id, *t);
    if (*type == wire::MessageType::manifest) return handle_manifest(msg, *id, *t);
    return quarantine_message(msg, "message type not supported by this sink");
}

Result<void> Sink::handle_open(const IncomingMessage& msg, const wire::TransferIdentity& id) {
    auto open = admit_open(rules(), {"open", msg.topic, &id, msg.headers, msg.payload});
    if (!open) return quarantine_message(msg, open.error().message);
    if (Transfer* known = find_transfer(id.transfer_id)) {
        // Sent again (a retry, the drain of a spooled transfer): nothing new unless it was never admitted.
        if (known->state != State::active || known->job) {
            ++stats_.dropped;
            return {};
        }
    }
    Transfer& t = transfers_[id.transfer_id];
    t = Transfer{};
    t.first_seen = t.last_progress = now();
    if (auto ok = ledger_.open(open->job.user); !ok)
        return quarantine_transfer(id.transfer_id, t, &msg, ok.error().message);
    t.job = open->job;
    auto tdir = staging_.open_transfer_dir(id.transfer_id, true);
    if (!tdir) return staging_write_failed(id.transfer_id, t, &msg, tdir.error(), errno);
    // The topic, then the open message: once open.json is there, the transfer is admitted for every sink sharing ROOT.
    for (auto [name, content] : {std::pair{kStagedTopicName, msg.topic}, std::pair{kStagedOpenName, msg.payload}})
        if (auto ok = write_file_atomic(tdir->get(), tdir->get(), std::string(name), content); !ok)
            return staging_write_failed(id.transfer_id, t, &msg, ok.error(), errno);
    log_->debug("transfer " + id.transfer_id + " opened: job " + id.job_id + " node " + id.node + " user " + id.user);
    return {};
}

Result<void> Sink::drop_unadmitted(const IncomingMessage& msg, const std::string& id) {
    ++stats_.unadmitted;
    return quarantine_message(msg, "transfer " + id + " was not opened by a verified open message: dropped");
}

Result<void> Sink::account_staged(const std::string& id, Transfer& t, std::uint64_t bytes, const IncomingMessage* msg) {
    t.staged_bytes += bytes;
    if (auto ok = ledger_.add_bytes(t.job->user, bytes); !ok)
        return quarantine_transfer(id, t, msg, ok.error().message, true);
    return {};
}

Result<void> Sink::staging_write_failed(const std::string& id, Transfer& t, const IncomingMessage* msg, const Error& e,
                                        int err) {
    if (!no_space(err)) return std::unexpected(e);
    return quarantine_transfer(id, t, msg, "did not fit in staging: " + e.message, true);
}

Result<void> Sink::handle_chunk(const IncomingMessage& msg, const wire::TransferIdentity& id, Transfer& t) {
    auto chunk = wire::decode_chunk(*msg.headers);
    if (!chunk) return quarantine_transfer(id.transfer_id, t, &msg, chunk.error().message);
    if (auto ok = check_chunk(*chunk, msg.payload.size(), settings_.limits); !ok)
        return quarantine_transfer(id.transfer_id, t, &msg, ok.error().message);
    bool input_error = false;
    auto ok = staging_.write_chunk(id.transfer_id, chunk->file.index, chunk->offset, chunk->file.size, msg.payload,
                                   input_error, msg.take_payload);
    if (!ok) {
        const int err = errno;
        if (input_error) return quarantine_transfer(id.transfer_id, t, &msg, ok.error().message);
        return staging_write_failed(id.transfer_id, t, &msg, ok.error(), err);
    }
    t.last_progress = now();
    if (t.manifest_staged) t.retry = true;
    return account_staged(id.transfer_id, t, msg.payload.size(), &msg);
}

Result<void> Sink::handle_manifest(const IncomingMessage& msg, const wire::TransferIdentity& id, Transfer& t) {
    auto manifest = wire::parse_manifest(msg.payload);
    if (!manifest) return quarantine_transfer(id.transfer_id, t, &msg, manifest.error().message);
    if (auto ok = verify_signature(
            rules(), {"manifest", msg.topic, &id, msg.headers, msg.payload, manifest->part, manifest->parts});
        !ok)
        return quarantine_transfer(id.transfer_id, t, &msg, "manifest: " + ok.error().message);
    if (auto ok = manifest_matches_open(*manifest, *t.job); !ok)
        return quarantine_transfer(id.transfer_id, t, &msg, ok.error().message);
    auto plan = plan_transfer(*manifest, id, std::string(msg.topic), settings_.layout, settings_.limits);
    if (!plan) return quarantine_transfer(id.transfer_id, t, &msg, plan.error().message);
    auto tdir = staging_.open_transfer_dir(id.transfer_id, true);
    if (!tdir) return staging_write_failed(id.transfer_id, t, &msg, tdir.error(), errno);
    // The topic was staged with the open message; it must be this one (the signatures bind it).
    if (auto staged_topic = read_small_file(tdir->get(), std::string(kStagedTopicName), 4096);
        !staged_topic || *staged_topic != msg.topic)
        return quarantine_transfer(id.transfer_id, t, &msg, "manifest arrived on another topic than the open message");
    std::string whole;
    if (manifest->parts > 1) {
        // A large manifest comes in parts: stage each; once all are in, stage their merge as manifest.json (read
        // and merged once, not at every part). A crash in between is harmless: the offset of the last part is
        // committed only after this message was handled.
        const std::string part_name = std::string(kStagedManifestPartPrefix) + std::to_string(manifest->part);
        if (auto ok = write_file_atomic(tdir->get(), tdir->get(), part_name, msg.payload); !ok)
            return staging_write_failed(id.transfer_id, t, &msg, ok.error(), errno);
        t.last_progress = now();
        if (t.parts != manifest->parts) {
            // First part seen by this process (or the manifest was split differently): see what is staged already.
            t.parts = manifest->parts;
            t.parts_staged.clear();
            for (std::uint32_t i = 0; i < t.parts; ++i)
                if (entry_exists(tdir->get(), std::string(kStagedManifestPartPrefix) + std::to_string(i)))
                    t.parts_staged.insert(i);
        }
        t.parts_staged.insert(manifest->part);
        if (t.parts_staged.size() < t.parts) return {};  // parts still missing
        auto merged = merge_staged_parts(tdir->get(), manifest->parts);
        if (!merged) {
            // Parts of two sends with the same count but other boundaries cannot be told from forged ones: wait for
            // a consistent set (a replay resends all parts); stream.stale.seconds bounds the wait.
            log_->warning("transfer " + id.transfer_id +
                          ": manifest parts do not fit together yet: " + printable(merged.error().message));
            t.parts = 0;
            return {};
        }
        if (!*merged) {
            t.parts = 0;  // a part was left from another send: look again when the next one comes
            return {};
        }
        whole = std::move(**merged);
    }
    std::string_view staged = manifest->parts > 1 ? std::string_view(whole) : msg.payload;
    if (auto ok = write_file_atomic(tdir->get(), tdir->get(), std::string(kStagedManifestName), staged); !ok)
        return staging_write_failed(id.transfer_id, t, &msg, ok.error(), errno);
    t.manifest_staged = true;
    t.last_progress = now();
    return try_finalize(id.transfer_id, t);
}

Result<void> Sink::try_finalize(const std::string& id, Transfer& t) {
    t.retry = false;
    auto tdir = staging_.open_transfer_dir(id, false);
    if (!tdir) {
        t.manifest_staged = false;
        return {};
    }
    auto json = read_small_file(tdir->get(), std::string(kStagedManifestName), kMaxManifestBytes);
    auto topic = read_small_file(tdir->get(), std::string(kStagedTopicName), 4096);
    if (!json || !topic) return quarantine_transfer(id, t, nullptr, "staged manifest unreadable");
    auto manifest = wire::parse_manifest(*json);
    if (!manifest) return quarantine_transfer(id, t, nullptr, "staged manifest: " + manifest.error().message);
    t.expected_bytes = manifest->total_bytes();
    wire::TransferIdentity identity{
        manifest->job.cluster, manifest->job.job_id, manifest->job.node, manifest->job.user, id,
        manifest->job.instance};
    auto plan = plan_transfer(*manifest, identity, *topic, settings_.layout, settings_.limits);
    if (!plan) return quarantine_transfer(id, t, nullptr, plan.error().message);
    tdir->reset();
    if (settings_.records_timestamp_data) TRY(plan_timestamp_data(root_.get(), staging_, id, *manifest, *plan, *log_));
    FinalizeTarget target{root_.get(), done_.get(), settings_.chown, settings_.finalize_hash_budget};
    const auto started = std::chrono::steady_clock::now();
    TRY_ASSIGN(auto result, finalize_transfer(target, staging_, id, *plan, *json));
    if (result.kind == FinalizeResult::Kind::done) stats_.finalize_seconds.observe(seconds_since(started));
    switch (result.kind) {
    case FinalizeResult::Kind::waiting:
        log_->debug("transfer " + id + " waits: " + printable(result.reason));
        t.waiting = result.reason;
        t.retry = result.call_again;
        return {};
    case FinalizeResult::Kind::rejected:
        // Another sink sharing ROOT may have finished it meanwhile and removed its staging: not bad input.
        if (entry_exists(done_.get(), id)) {
            log_->info("transfer " + id + " was finalized by another sink meanwhile");
            t.state = State::done;
            t.manifest_staged = false;
            release(t);
            return {};
        }
        return quarantine_transfer(id, t, nullptr, result.reason);
    case FinalizeResult::Kind::done:
        break;
    }
    t.state = State::done;
    t.manifest_staged = false;
    release(t);
    ++stats_.finalized_transfers;
    stats_.finalized_files += result.files;
    stats_.finalized_bytes += result.bytes;
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", now() - t.first_seen);
    log_->info("finalized job " + printable(plan->job.job_id) + " node " + printable(plan->job.node) + ": " +
               std::to_string(result.files) + " files, " + std::to_string(result.bytes) + " bytes in " + secs + " s" +
               (result.job_complete ? " (job complete: _SUCCESS written)" : ""));
    return {};
}

Result<void> Sink::replay_of_done(const IncomingMessage& msg, const wire::TransferIdentity& id) {
    ++stats_.dropped;
    auto stored = read_small_file(done_.get(), id.transfer_id, kMaxManifestBytes);
    auto incoming = wire::parse_manifest(msg.payload);
    if (!stored || !incoming) return {};  // nothing to compare with: the first version stays
    auto first = wire::parse_manifest(*stored);
    if (!first) return {};
    auto summary = [](const wire::Manifest& m) {
        std::set<std::tuple<std::string, std::uint64_t, std::string>> s;
        for (const auto& f : m.files) s.emplace(f.meta.path, f.meta.size, f.sha256);
        return s;
    };
    // A part of a multi-part manifest lists only some files: it matches when each of them is in the first version.
    const auto known = summary(*first);
    const auto seen = summary(*incoming);
    const bool same =
        incoming->parts > 1 ? std::includes(known.begin(), known.end(), seen.begin(), seen.end()) : known == seen;
    if (same) {
        log_->debug("transfer " + id.transfer_id + " already finalized; replay ignored");
        return {};
    }
    return quarantine_message(msg, "transfer " + id.transfer_id + " (job " + id.job_id + " node " + id.node +
                                       ") was already finalized with different content; the first version is kept");
}

Result<void> Sink::flush() {
    TRY(write_pending_records());
    const auto started = std::chrono::steady_clock::now();
    const bool staged = staging_.unflushed_bytes() > 0;  // idle flushes would only add zeros
    TRY(staging_.flush());
    if (staged) stats_.sync_seconds.observe(seconds_since(started));
    if (qlog_dirty_) {
        TRY(fsync_fd(qlog_.get(), "quarantine log"));
        qlog_dirty_ = false;
    }
    for (auto& [id, t] : transfers_)
        if (t.state == State::active && t.manifest_staged && t.retry) TRY(try_finalize(id, t));
    return {};
}

void Sink::forget_cached_states() {
    staging_.forget_directories();
    // A forgotten transfer is counted again (from its staged files) when one of its messages comes back.
    for (auto it = transfers_.begin(); it != transfers_.end();) {
        if (it->second.retry) {
            ++it;
            continue;
        }
        release(it->second);
        it = transfers_.erase(it);
    }
}

}  // namespace ks::sink
