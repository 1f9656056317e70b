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

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::uint64_t chunk_count(std::uint64_t size, std::uint64_t chunk) { return size == 0 ? 1 : (size + chunk - 1) / chunk; }

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
        f.meta.mtime_ns = static_cast<std::int64_t>(opened.st.st_mtim.tv_sec) * 1'000'000'000 + opened.st.st_mtim.tv_nsec;
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
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::milliseconds(static_cast<long long>(s.timeout_seconds * 1000));

    auto filter = GlobFilter::create(cl.includes, cl.excludes);
    if (!filter) return log.error(filter.error().message), exit_code::usage;
    std::optional<RunAs> run_as;
    if (cl.run_as) {
        if (::geteuid() != 0) return log.error("--run-as is only allowed when running as root"), exit_code::usage;
        auto r = parse_run_as(*cl.run_as);
        if (!r) return log.error(r.error().message), exit_code::usage;
        run_as = *r;
    }
    const uid_t uid = run_as ? run_as->uid : ::getuid();
    const gid_t gid = run_as ? run_as->gid : ::getgid();
    JobDefaults defaults{short_hostname(), user_name_of(uid), uid, gid,
                         "adhoc-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(::getpid())};
    auto job = resolve_job(cl, s, real_env, defaults);
    if (!job) return log.error(job.error().message), exit_code::usage;
    const wire::TransferIdentity id = identity_of(*job);
    // Records mode: the open message, chunks and manifest go to the companion topic; they are signed for it.
    const bool records_mode = s.format == SendFormat::records;
    const std::string companion = records_mode ? wire::companion_topic(cl.topic) : std::string();
    if (records_mode && !kafka::valid_topic_name(companion))
        return log.error("--topic \"" + cl.topic + "\": records mode also writes to " + companion +
                         ", longer than Kafka's 249 characters: use a shorter topic"),
               exit_code::usage;
    const MessageSigner signer(ctx.keys ? &ctx.keys->signing_key() : nullptr, records_mode ? companion : cl.topic);

    // Credentials and connection first, while we may still be root; nothing under DIR has been touched yet.
    auto line_limit = records_line_limit(s);
    if (s.format == SendFormat::records && !line_limit) return log.error(line_limit.error().message), exit_code::usage;
    auto producer = Producer::create(conf, cl.topic, message_timeout_for(deadline), log, companion);
    if (!producer) return log.error(producer.error().message), exit_code::usage;
    if (run_as) {
        if (auto p = prepare_user_spool(s.spool_dir, uid, gid); !p)
            log.warning("spool not ready (" + p.error().message + "); if delivery fails nothing can be spooled");
        if (auto d = drop_privileges(*run_as); !d) {
            log.error("cannot drop privileges to " + *cl.run_as + ": " + d.error().message + "; nothing was read or sent");
            print_summary_line(push_summary_json(
                {"lost", exit_code::lost, id.transfer_id, cl.topic, 0, 0, 0, seconds_since(start), 0, std::nullopt}));
            return exit_code::lost;
        }
    }

    auto root = open_root_directory(cl.dir);
    if (!root) return log.error(root.error().message), exit_code::usage;
    auto walked = walk_tree(root->get(), *filter);
    if (!walked) return log.error(cl.dir + ": " + walked.error().message), exit_code::usage;
    apply_size_limit(*walked, s.max_file_bytes);
    log.debug("transfer " + id.transfer_id + ": " + std::to_string(walked->files.size()) + " files, " +
              std::to_string(walked->skipped.size()) + " skipped entries");

    wire::Manifest manifest;
    manifest.transfer_id = id.transfer_id;
    manifest.job = *job;
    manifest.chunk_bytes = s.chunk_bytes;
    const std::string tail = ", transfer " + id.transfer_id + " to " + cl.topic;
    std::vector<SourceFile> sources;
    sources.reserve(walked->files.size());
    const int root_fd = root->get();
    for (std::size_t i = 0; i < walked->files.size(); ++i) {
        std::string path = walked->files[i].path;
        sources.push_back({path, i, [root_fd, path] { return open_regular_beneath(root_fd, path); }, std::nullopt});
    }
    SenderSettings ss{s.chunk_bytes, s.max_open_files, s.max_producer_rebuilds, s.max_file_attempts, deadline,
                      ctx.interrupted, &signer};
    ProducerFactory rebuild = [conf, &cl, &log, &companion](int timeout_ms) {
        return Producer::create(conf, cl.topic, timeout_ms, log, companion);
    };
    std::unique_ptr<Producer> session = std::move(*producer);
    std::vector<FileResult> results(sources.size());
    std::vector<std::size_t> file_mode;  // positions of the files sent as chunks
    std::vector<bool> as_records(sources.size(), false);
    std::string failure_before_chunks;
    // The signed open message first: the sink stages nothing of a transfer before it.
    if (auto opened = open_transfer(*session, *job, id, signer, deadline, ctx.interrupted); !opened) {
        failure_before_chunks = opened.error().message;
        for (std::size_t pos = 0; pos < sources.size(); ++pos) file_mode.push_back(pos);
        if (s.format == SendFormat::records) as_records = text_files(sources, *line_limit);
    } else if (s.format == SendFormat::records) {
        // Text files first, as records; then the rest as chunks and the manifest, on the same producer session.
        RecordSettings rs{*line_limit, s.max_open_files, s.max_producer_rebuilds, s.max_file_attempts, deadline,
                          ctx.interrupted};
        RecordSender records(std::move(session), rebuild, id, rs, log);
        RecordOutcome out = records.send_files(sources);
        failure_before_chunks = records.failure();
        session = records.release_producer();
        results = std::move(out.results);
        for (std::size_t i = 0; i < sources.size(); ++i) {
            if (out.file_mode[i]) file_mode.push_back(i);
            as_records[i] = !out.file_mode[i];
        }
    } else {
        for (std::size_t i = 0; i < sources.size(); ++i) file_mode.push_back(i);
    }
    std::optional<TransferSender> sender;
    if (failure_before_chunks.empty() && session) {
        sender.emplace(std::move(session), rebuild, id, ss, log);
        std::vector<SourceFile> chunked;
        for (std::size_t pos : file_mode) chunked.push_back(sources[pos]);
        auto sent = sender->send_files(std::move(chunked));
        for (std::size_t k = 0; k < sent.size(); ++k) results[file_mode[k]] = std::move(sent[k]);
    } else {
        // The open or the records did not all get through: nothing more is sent; what is not confirmed is spooled.
        for (std::size_t pos : file_mode) results[pos].entry.meta = {sources[pos].path, sources[pos].index, 0, 0644, 0};
    }
    Tally t = tally(results, std::move(walked->skipped));

    manifest.files = t.confirmed;
    manifest.skipped = t.skipped;
    auto parts = manifest_messages(manifest, s.message_max_bytes);
    if (!parts) log.error(parts.error().message);
    PushSummary summary{"delivered", exit_code::delivered, id.transfer_id, cl.topic, t.confirmed.size(), t.bytes,
                        t.skipped.size(), 0, 0, std::nullopt};
    if (t.pending.empty() && parts && sender && sender->send_manifest(std::move(*parts))) {
        summary.seconds = seconds_since(start);
        print_line("kafka-stream-push: " + summary_counts(t.confirmed.size(), t.bytes, t.skipped.size(),
                                                          summary.seconds) + tail);
        print_summary_line(push_summary_json(summary));
        return exit_code::delivered;
    }

    const bool interrupted = ctx.interrupted && *ctx.interrupted;
    std::string why = interrupted                              ? "interrupted (SIGTERM: the epilog's time is up)"
                      : !failure_before_chunks.empty()               ? failure_before_chunks
                      : sender && !sender->failure().empty() ? sender->failure()
                                                             : "not every message was confirmed";
    log.warning("not delivered: " + why + "; spooling what is not confirmed");
    std::uint64_t spooled = 0;
    std::vector<std::string> not_spooled;
    auto where = spool_pending(s, cl.topic, id, std::move(manifest), results, t.pending, as_records, root_fd, signer,
                               spooled, not_spooled);
    summary.seconds = seconds_since(start);
    std::string counts = summary_counts(t.confirmed.size(), t.bytes, t.skipped.size(), summary.seconds);
    if (!where) {
        log.error("cannot spool: " + where.error().message);
        print_line("kafka-stream-push: NOT delivered and NOT spooled: " + counts + tail);
        summary.status = "lost";
        summary.exit_code = exit_code::lost;
        print_summary_line(push_summary_json(summary));
        return exit_code::lost;
    }
    if (!not_spooled.empty()) {
        log.error(std::to_string(not_spooled.size()) + " file(s) did not fit in the spool and are NOT saved, first: " +
                  not_spooled.front());
        print_line("kafka-stream-push: NOT delivered, spooled " + std::to_string(spooled) + " files to " + *where +
                   ", " + std::to_string(not_spooled.size()) + " NOT spooled (spool full): " + counts + tail);
        summary.status = "lost";
        summary.exit_code = exit_code::lost;
        summary.spooled_files = spooled;
        summary.spool_entry = *where;
        print_summary_line(push_summary_json(summary));
        return exit_code::lost;
    }
    print_line("kafka-stream-push: NOT delivered, spooled " + std::to_string(spooled) + " files to " + *where + ": " +
               counts + tail);
    summary.status = "spooled";
    summary.exit_code = exit_code::spooled;
    summary.spooled_files = spooled;
    summary.spool_entry = *where;
    print_summary_line(push_summary_json(summary));
    return exit_code::spooled;
}

}  // namespace ks::push
