#include "metrics.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "safe_fs.hpp"
#include "staging_area.hpp"

namespace ks::sink {
namespace {

std::string human_bytes(std::uint64_t b) {
    char buf[32];
    if (b >= 1'000'000'000) std::snprintf(buf, sizeof buf, "%.1f GB", static_cast<double>(b) / 1e9);
    else if (b >= 1'000'000) std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1e6);
    else std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(b));
    return buf;
}

}  // namespace

StagingUsage measure_staging(int staging_dirfd) {
    StagingUsage u;
    auto names = list_dir(staging_dirfd);
    if (!names) return u;
    for (const auto& n : *names) {
        if (n.starts_with(".")) continue;  // temporary files of an interrupted write
        auto dir = open_dir(staging_dirfd, n, false);
        if (!dir) continue;  // finalized or moved meanwhile
        ++u.transfers;
        auto files = list_dir(dir->get());
        if (!files) continue;
        for (const auto& f : *files) {
            struct stat st {};
            if (::fstatat(dir->get(), f.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                u.bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
        }
    }
    return u;
}

std::string render_metrics(const SinkStats& s, const StagingUsage& staging, const ServiceSnapshot& svc) {
    Exposition e("kafka_stream_sink_");
    auto d = [](std::uint64_t v) { return static_cast<double>(v); };
    e.gauge("start_time_seconds", "When this sink process started, in seconds since the epoch.", svc.start_time);
    e.counter("messages_total", "Kafka messages read (chunks, records, manifests, and messages that were refused).",
              d(s.messages));
    e.counter("consumed_bytes_total", "Payload bytes of the messages read.", d(s.bytes));
    e.counter("messages_dropped_total",
              "Messages of transfers that were already finalized or quarantined (replays, duplicates).", d(s.dropped));
    e.counter("messages_quarantined_total",
              "Single messages refused without a usable transfer identity (listed in ROOT/.quarantine/messages.log).",
              d(s.quarantined - s.quarantined_transfers));
    e.counter("messages_unadmitted_total",
              "Messages of transfers without a verified (signed) open message, dropped (stream.auth).",
              d(s.unadmitted));
    e.counter("transfers_finalized_total", "Node transfers verified and placed under the output root.",
              d(s.finalized_transfers));
    e.counter("transfers_quarantined_total", "Node transfers refused and moved to ROOT/.quarantine/.",
              d(s.quarantined_transfers));
    e.counter("transfers_stale_total",
              "Node transfers without progress for stream.stale.seconds, moved to ROOT/.stale/.", d(s.stale_transfers));
    e.counter("persisted_files_total", "Files of finalized transfers placed under the output root.",
              d(s.finalized_files));
    e.counter("persisted_bytes_total", "Bytes of the files placed under the output root.", d(s.finalized_bytes));
    e.gauge("active_transfers", "Transfers in progress: directories in ROOT/.staging/.", d(staging.transfers));
    e.gauge("staged_bytes", "Disk space used by the staged files of transfers in progress.", d(staging.bytes));
    e.histogram("fsync_duration_seconds",
                "Time to make the staged data durable (fsync or syncfs) before offsets are committed.", s.sync_seconds);
    e.histogram("finalize_duration_seconds",
                "Time to verify, sync and place one completed transfer (node manifest and _SUCCESS included).",
                s.finalize_seconds);
    e.gauge("assigned_partitions", "Partitions this sink owns in its consumer group.", d(svc.partitions.size()));
    for (const auto& p : svc.partitions)
        if (p.messages)
            e.gauge("consumer_lag_messages", "Messages in the partition after the offset this sink last committed.",
                    static_cast<double>(*p.messages), {{"topic", p.topic}, {"partition", std::to_string(p.partition)}});
    for (const auto& p : svc.partitions)
        if (p.messages)
            e.gauge(
                "consumer_lag_seconds",
                "0 when the partition is caught up, else the age of the last message read from it (Kafka timestamp).",
                p.seconds, {{"topic", p.topic}, {"partition", std::to_string(p.partition)}});
    e.counter("commits_total", "Offset commits the group coordinator confirmed.", d(svc.commits));
    e.counter("commit_failures_total",
              "Offset commits that failed (the data is durable; its messages are read again after a restart).",
              d(svc.commit_failures));
    if (svc.last_commit_time)
        e.gauge("last_commit_timestamp_seconds", "When an offset commit last succeeded, in seconds since the epoch.",
                *svc.last_commit_time);
    return e.text();
}

std::string format_status(const SinkStats& s, const StagingUsage& staging, const ServiceSnapshot& svc,
                          double now_wall) {
    std::int64_t lag = 0;
    bool lag_known = !svc.partitions.empty();
    for (const auto& p : svc.partitions) {
        if (p.messages) lag += *p.messages;
        else lag_known = false;
    }
    std::string out = std::to_string(svc.partitions.size()) +
                      (svc.partitions.size() == 1 ? " partition" : " partitions") +
                      (lag_known ? ", lag " + std::to_string(lag) + " messages" : std::string()) + "; " +
                      std::to_string(s.finalized_transfers) + " transfers finalized, " + std::to_string(s.quarantined) +
                      " quarantined, " + std::to_string(staging.transfers) + " in progress (" +
                      human_bytes(staging.bytes) + " staged)";
    if (svc.last_commit_time)
        out += "; last commit " +
               std::to_string(static_cast<long long>(std::max(0.0, now_wall - *svc.last_commit_time))) + " s ago";
    return out;
}

}  // namespace ks::sink
