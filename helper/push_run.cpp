#include "push_run.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "push_contract.hpp"
#include "glob_filter.hpp"
#include "privileges.hpp"
#include "run_summary.hpp"
#include "record_sender.hpp"
#include "safe_walk.hpp"
#include "size_limit.hpp"
#include "spool.hpp"
#include "text_lines.hpp"
#include "transfer_open.hpp"

namespace ks::push {
namespace {

std::optional<std::string> real_env(const char* name) {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return std::string(v);
}

std::string short_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    std::string h = buf;
    return h.substr(0, h.find('.'));
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::uint64_t chunk_count(std::uint64_t size, std::uint64_t chunk) {
    return size == 0 ? 1 : (size + chunk - 1) / chunk;
}

void print_line(const std::string& line) {
    std::string l = line + "\n";
    std::fputs(l.c_str(), stderr);
    std::fflush(stderr);
}

// What a push ended with, before the manifest is sent or the spool written.
struct Tally {
    std::vector<wire::FileEntry> confirmed;
    std::vector<wire::SkipEntry> skipped;
    std::vector<std::size_t> pending;  // positions in the results that still need delivery
    std::uint64_t bytes = 0;
};

Tally tally(std::vector<FileResult>& results, std::vector<wire::SkipEntry> walk_skips) {
    Tally t;
    t.skipped = std::move(walk_skips);
    for (std::size_t i = 0; i < results.size(); ++i) {
        auto& r = results[i];
        switch (r.status) {
        case FileStatus::confirmed:
            t.bytes += r.entry.meta.size;
            t.confirmed.push_back(r.entry);
            break;
        case FileStatus::skipped:
            t.skipped.push_back({r.entry.meta.path, r.skip_reason});
            break;
        case FileStatus::unconfirmed:
        case FileStatus::not_started:
            t.pending.push_back(i);
            break;
        }
    }
    return t;
}

// Copies every file that is not confirmed into a new spool entry; the manifest is completed with what was copied.
Result<std::string> spool_pending(const Settings& s, const std::string& topic, const wire::TransferIdentity& id,
                                  wire::Manifest manifest, std::vector<FileResult>& results,
                                  const std::vector<std::size_t>& pending, const std::vector<bool>& as_records,
                                  int root_fd, const MessageSigner& signer, std::uint64_t& spooled_files,
                                  std::vector<std::string>& not_spooled) {
    TRY_ASSIGN(auto writer, SpoolWriter::begin(s.spool_dir, ::geteuid(), id.transfer_id,
                                               SpoolLimits{s.spool_max_bytes, s.spool_min_free_percent}));
    SpoolEntry entry;
    entry.topic = topic;
    entry.id = id;
    entry.records = s.format == SendFormat::records;
    for (std::size_t pos : pending) {
        FileResult& r = results[pos];
        OpenedFile opened;
        if (r.fd) {
            opened.fd = std::move(r.fd);
            if (::fstat(opened.fd.get(), &opened.st) != 0) return fail("fstat " + r.entry.meta.path + " for the spool");
        } else {
            auto o = open_regular_beneath(root_fd, r.entry.meta.path);
            if (!o) {
                manifest.skipped.push_back({r.entry.meta.path, o.error().message});
                continue;
            }
            opened = std::move(*o);
        }
        auto copy = writer.add_file(r.entry.meta.index, opened.fd.get());
        if (!copy) {
            if (!copy.error().full) return fail(copy.error().message);
            // No room in the spool for this file: the others are still saved; the run reports the loss.
            not_spooled.push_back(r.entry.meta.path);
            manifest.skipped.push_back({r.entry.meta.path, "not spooled: " + copy.error().message});
            continue;
        }
        wire::FileEntry f;
        f.meta = r.entry.meta;
        f.meta.size = copy->size;
        f.meta.mode = opened.st.st_mode & 07777;
        f.meta.mtime_ns =
            static_cast<std::int64_t>(opened.st.st_mtim.tv_sec) * 1'000'000'000 + opened.st.st_mtim.tv_nsec;
        f.sha256 = copy->sha256;
        f.chunks = chunk_count(copy->size, manifest.chunk_bytes);
        if (as_records[pos]) f.format = std::string(wire::kFormatRecords);  // the drain sends it as records again
        manifest.files.push_back(std::move(f));
        entry.resend.push_back(r.entry.meta.index);
        ++spooled_files;
    }
    std::sort(manifest.files.begin(), manifest.files.end(),
              [](const auto& a, const auto& b) { return a.meta.index < b.meta.index; });
    entry.manifest = std::move(manifest);
    return writer.commit(entry, [&](std::string_view json) { return signer.sign_spool_entry(id, topic, json); });
}

// Which files would go as records (records mode, when nothing could be sent): the spool entry says so, and the
// drain sends those as records.
std::vector<bool> text_files(const std::vector<SourceFile>& sources, std::size_t max_line_bytes) {
    std::vector<bool> text(sources.size(), false);
    for (std::size_t i = 0; i < sources.size(); ++i) {
        auto opened = sources[i].open();
        if (!opened) continue;
        auto verdict = classify_text(opened->fd.get(), static_cast<std::uint64_t>(opened->st.st_size), max_line_bytes);
        text[i] = verdict && verdict->records;
    }
    return text;
}

// Who runs the push and which transfer it is: the options checked against the settings and the environment.
struct PushPlan {
    std::optional<RunAs> run_as;
    uid_t uid = 0;
    gid_t gid = 0;
    wire::JobInfo job;
    wire::TransferIdentity id;
    bool records = false;
    std::string companion;  // records mode: the open message, chunks and manifest go there (and are signed for it)
};

Result<PushPlan> plan_push(const CommandLine& cl, const Settings& s) {
    PushPlan p;
    if (cl.run_as) {
        if (::geteuid() != 0) return fail("--run-as is only allowed when running as root");
        TRY_ASSIGN(p.run_as, parse_run_as(*cl.run_as));
    }
    p.uid = p.run_as ? p.run_as->uid : ::getuid();
    p.gid = p.run_as ? p.run_as->gid : ::getgid();
    JobDefaults defaults{short_hostname(), user_name_of(p.uid), p.uid, p.gid,
                         "adhoc-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(::getpid())};
    TRY_ASSIGN(p.job, resolve_job(cl, s, real_env, defaults));
    p.id = identity_of(p.job);
    p.records = s.format == SendFormat::records;
    if (p.records) {
        p.companion = wire::companion_topic(cl.topic);
        if (!kafka::valid_topic_name(p.companion))
            return fail("--topic \"" + cl.topic + "\": records mode also writes to " + p.companion +
                        ", longer than Kafka's 249 characters: use a shorter topic");
    }
    return p;
}

// One push, step by step: plan, connect (and drop privileges), walk, deliver, then the manifest or the spool.
class PushRun {
public:
    PushRun(const CommandLine& cl, const Settings& s, const rd_kafka_conf_t* conf, const RunContext& ctx,
            const Log& log)
        : cl_(cl), s_(s), conf_(conf), ctx_(ctx), log_(log), start_(Clock::now()),
          deadline_(start_ + std::chrono::milliseconds(static_cast<long long>(s.timeout_seconds * 1000))) {}
    int run();

private:
    void deliver(std::unique_ptr<Producer> session, const std::vector<SourceFile>& sources, std::size_t line_limit);
    int conclude(Tally t, int root_fd);
    int spool(wire::Manifest manifest, const Tally& t, PushSummary summary, int root_fd);
    // Prints the run's line and its JSON summary; returns its exit code.
    int report(PushSummary summary, const char* status, int code, const std::string& line) const;
    std::string tail() const { return ", transfer " + plan_.id.transfer_id + " to " + cl_.topic; }

    const CommandLine& cl_;
    const Settings& s_;
    const rd_kafka_conf_t* conf_;
    const RunContext& ctx_;
    const Log& log_;
    const Clock::time_point start_;
    const Clock::time_point deadline_;
    PushPlan plan_;
    std::optional<MessageSigner> signer_;
    std::vector<FileResult> results_;  // one per source file
    std::vector<bool> as_records_;     // went, or would go, as records: the drain sends those as records again
    std::string failure_before_chunks_;
    std::optional<TransferSender> sender_;  // sends the manifest too; absent when the open or the records failed
};

int PushRun::run() {
    auto filter = GlobFilter::create(cl_.includes, cl_.excludes);
    if (!filter) return log_.error(filter.error().message), exit_code::usage;
    auto plan = plan_push(cl_, s_);
    if (!plan) return log_.error(plan.error().message), exit_code::usage;
    plan_ = std::move(*plan);
    signer_.emplace(ctx_.keys ? &ctx_.keys->signing_key() : nullptr, plan_.records ? plan_.companion : cl_.topic);

    // Credentials and connection first, while we may still be root; nothing under DIR has been touched yet.
    auto line_limit = records_line_limit(s_);
    if (plan_.records && !line_limit) return log_.error(line_limit.error().message), exit_code::usage;
    auto producer = Producer::create(conf_, cl_.topic, message_timeout_for(deadline_), log_, plan_.companion);
    if (!producer) return log_.error(producer.error().message), exit_code::usage;
    if (plan_.run_as) {
        if (auto p = prepare_user_spool(s_.spool_dir, plan_.uid, plan_.gid); !p)
            log_.warning("spool not ready (" + p.error().message + "); if delivery fails nothing can be spooled");
        if (auto d = drop_privileges(*plan_.run_as); !d) {
            log_.error("cannot drop privileges to " + *cl_.run_as + ": " + d.error().message +
                       "; nothing was read or sent");
            print_summary_line(push_summary_json({"lost", exit_code::lost, plan_.id.transfer_id, cl_.topic, 0, 0, 0,
                                                  seconds_since(start_), 0, std::nullopt}));
            return exit_code::lost;
        }
    }

    auto root = open_root_directory(cl_.dir);
    if (!root) return log_.error(root.error().message), exit_code::usage;
    auto walked = walk_tree(root->get(), *filter);
    if (!walked) return log_.error(cl_.dir + ": " + walked.error().message), exit_code::usage;
    apply_size_limit(*walked, s_.max_file_bytes);
    log_.debug("transfer " + plan_.id.transfer_id + ": " + std::to_string(walked->files.size()) + " files, " +
               std::to_string(walked->skipped.size()) + " skipped entries");
    std::vector<SourceFile> sources;
    sources.reserve(walked->files.size());
    const int root_fd = root->get();
    for (std::size_t i = 0; i < walked->files.size(); ++i) {
        std::string path = walked->files[i].path;
        sources.push_back({path, i, [root_fd, path] { return open_regular_beneath(root_fd, path); }, std::nullopt});
    }
    deliver(std::move(*producer), sources, line_limit ? *line_limit : 0);
    return conclude(tally(results_, std::move(walked->skipped)), root_fd);
}

void PushRun::deliver(std::unique_ptr<Producer> session, const std::vector<SourceFile>& sources,
                      std::size_t line_limit) {
    ProducerFactory rebuild = [this](int timeout_ms) {
        return Producer::create(conf_, cl_.topic, timeout_ms, log_, plan_.companion);
    };
    results_ = std::vector<FileResult>(sources.size());
    as_records_.assign(sources.size(), false);
    std::vector<std::size_t> file_mode;  // positions of the files sent as chunks
    // The signed open message first: the sink stages nothing of a transfer before it.
    if (auto opened = open_transfer(*session, plan_.job, plan_.id, *signer_, deadline_, ctx_.interrupted); !opened) {
        failure_before_chunks_ = opened.error().message;
        for (std::size_t pos = 0; pos < sources.size(); ++pos) file_mode.push_back(pos);
        if (plan_.records) as_records_ = text_files(sources, line_limit);
    } else if (plan_.records) {
        // Text files first, as records; then the rest as chunks and the manifest, on the same producer session.
        RecordSettings rs{line_limit,           s_.max_open_files, s_.max_producer_rebuilds,
                          s_.max_file_attempts, deadline_,         ctx_.interrupted};
        RecordSender records(std::move(session), rebuild, plan_.id, rs, log_);
        RecordOutcome out = records.send_files(sources);
        failure_before_chunks_ = records.failure();
        session = records.release_producer();
        results_ = std::move(out.results);
        for (std::size_t i = 0; i < sources.size(); ++i) {
            if (out.file_mode[i]) file_mode.push_back(i);
            as_records_[i] = !out.file_mode[i];
        }
    } else {
        for (std::size_t i = 0; i < sources.size(); ++i) file_mode.push_back(i);
    }
    if (!failure_before_chunks_.empty() || !session) {
        // The open or the records did not all get through: nothing more is sent; what is not confirmed is spooled.
        for (std::size_t pos : file_mode)
            results_[pos].entry.meta = {sources[pos].path, sources[pos].index, 0, 0644, 0};
        return;
    }
    SenderSettings ss{s_.chunk_bytes,   s_.max_open_files, s_.max_producer_rebuilds, s_.max_file_attempts, deadline_,
                      ctx_.interrupted, &*signer_};
    sender_.emplace(std::move(session), rebuild, plan_.id, ss, log_);
    std::vector<SourceFile> chunked;
    for (std::size_t pos : file_mode) chunked.push_back(sources[pos]);
    auto sent = sender_->send_files(std::move(chunked));
    for (std::size_t k = 0; k < sent.size(); ++k) results_[file_mode[k]] = std::move(sent[k]);
}

int PushRun::conclude(Tally t, int root_fd) {
    wire::Manifest manifest;
    manifest.transfer_id = plan_.id.transfer_id;
    manifest.job = plan_.job;
    manifest.chunk_bytes = s_.chunk_bytes;
    manifest.files = t.confirmed;
    manifest.skipped = t.skipped;
    auto parts = manifest_messages(manifest, s_.message_max_bytes);
    if (!parts) log_.error(parts.error().message);
    PushSummary summary{"delivered",
                        exit_code::delivered,
                        plan_.id.transfer_id,
                        cl_.topic,
                        t.confirmed.size(),
                        t.bytes,
                        t.skipped.size(),
                        0,
                        0,
                        std::nullopt};
    if (t.pending.empty() && parts && sender_ && sender_->send_manifest(std::move(*parts))) {
        summary.seconds = seconds_since(start_);
        return report(summary, "delivered", exit_code::delivered,
                      "kafka-stream-push: " +
                          summary_counts(t.confirmed.size(), t.bytes, t.skipped.size(), summary.seconds) + tail());
    }
    return spool(std::move(manifest), t, std::move(summary), root_fd);
}

int PushRun::spool(wire::Manifest manifest, const Tally& t, PushSummary summary, int root_fd) {
    const bool interrupted = ctx_.interrupted && *ctx_.interrupted;
    std::string why = interrupted                              ? "interrupted (SIGTERM: the epilog's time is up)"
                      : !failure_before_chunks_.empty()        ? failure_before_chunks_
                      : sender_ && !sender_->failure().empty() ? sender_->failure()
                                                               : "not every message was confirmed";
    log_.warning("not delivered: " + why + "; spooling what is not confirmed");
    std::uint64_t spooled = 0;
    std::vector<std::string> not_spooled;
    auto where = spool_pending(s_, cl_.topic, plan_.id, std::move(manifest), results_, t.pending, as_records_, root_fd,
                               *signer_, spooled, not_spooled);
    summary.seconds = seconds_since(start_);
    const std::string counts = summary_counts(t.confirmed.size(), t.bytes, t.skipped.size(), summary.seconds);
    if (!where) {
        log_.error("cannot spool: " + where.error().message);
        return report(summary, "lost", exit_code::lost,
                      "kafka-stream-push: NOT delivered and NOT spooled: " + counts + tail());
    }
    summary.spooled_files = spooled;
    summary.spool_entry = *where;
    const std::string spooled_to =
        "kafka-stream-push: NOT delivered, spooled " + std::to_string(spooled) + " files to " + *where;
    if (!not_spooled.empty()) {
        log_.error(std::to_string(not_spooled.size()) +
                   " file(s) did not fit in the spool and are NOT saved, first: " + not_spooled.front());
        return report(
            summary, "lost", exit_code::lost,
            spooled_to + ", " + std::to_string(not_spooled.size()) + " NOT spooled (spool full): " + counts + tail());
    }
    return report(summary, "spooled", exit_code::spooled, spooled_to + ": " + counts + tail());
}

int PushRun::report(PushSummary summary, const char* status, int code, const std::string& line) const {
    summary.status = status;
    summary.exit_code = code;
    print_line(line);
    print_summary_line(push_summary_json(summary));
    return code;
}

}  // namespace

int message_timeout_for(Clock::time_point deadline) { return std::max(1000, remaining_ms(deadline) - 500); }

std::string summary_counts(std::uint64_t files, std::uint64_t bytes, std::uint64_t skipped, double seconds) {
    char buf[256];
    double mbps = seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0;
    std::snprintf(buf, sizeof buf, "sent %llu files, %llu bytes, %llu skipped in %.2f s (%.1f MB/s)",
                  static_cast<unsigned long long>(files), static_cast<unsigned long long>(bytes),
                  static_cast<unsigned long long>(skipped), seconds, mbps);
    return buf;
}

int run_push(const CommandLine& cl, const Settings& s, const rd_kafka_conf_t* conf, const RunContext& ctx,
             const Log& log) {
    return PushRun(cl, s, conf, ctx, log).run();
}

}  // namespace ks::push
