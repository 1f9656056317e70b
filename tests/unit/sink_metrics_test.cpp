// The sink's Prometheus exposition, histogram, status line and atomic textfile (metrics.hpp).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../../common/histogram.hpp"
#include "../../sink/metrics.hpp"

using namespace ks;
using namespace ks::sink;

namespace {

std::string value_of(const std::string& text, const std::string& name) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(name + " ", 0) == 0) return line.substr(name.size() + 1);
    return "absent";
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/ks-metrics-test.XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST(SinkMetrics, SampleValues) {
    EXPECT_EQ(format_sample_value(0), "0");
    EXPECT_EQ(format_sample_value(12345678901234), "12345678901234");
    EXPECT_EQ(format_sample_value(0.25), "0.25");
    EXPECT_EQ(format_sample_value(-3), "-3");
    EXPECT_EQ(format_sample_value(1.0 / 0.0), "+Inf");
    EXPECT_EQ(format_sample_value(-1.0 / 0.0), "-Inf");
    EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
}

TEST(SinkMetrics, HistogramBucketsAreCumulative) {
    Histogram h;
    h.observe(0.0005);  // first bucket
    h.observe(0.003);   // le 0.005
    h.observe(0.005);   // le 0.005 (bounds are inclusive)
    h.observe(1000);    // only +Inf
    EXPECT_EQ(h.count(), 4u);
    EXPECT_DOUBLE_EQ(h.sum(), 0.0005 + 0.003 + 0.005 + 1000);
    EXPECT_EQ(h.cumulative(0), 1u);
    EXPECT_EQ(h.cumulative(1), 1u);
    EXPECT_EQ(h.cumulative(2), 3u);
    EXPECT_EQ(h.cumulative(Histogram::kBounds.size() - 1), 3u);
    EXPECT_EQ(h.cumulative(Histogram::kBounds.size()), 4u);
}

TEST(SinkMetrics, ExpositionFamiliesAndLabels) {
    Exposition e("kafka_stream_sink_");
    e.gauge("lag", "Help text.", 3, {{"topic", "a\"b\\c\nd"}, {"partition", "0"}});
    e.gauge("lag", "Help text.", 4, {{"topic", "t"}, {"partition", "1"}});
    e.counter("things_total", "Things.", 7);
    EXPECT_EQ(e.text(),
              "# HELP kafka_stream_sink_lag Help text.\n"
              "# TYPE kafka_stream_sink_lag gauge\n"
              "kafka_stream_sink_lag{topic=\"a\\\"b\\\\c\\nd\",partition=\"0\"} 3\n"
              "kafka_stream_sink_lag{topic=\"t\",partition=\"1\"} 4\n"
              "# HELP kafka_stream_sink_things_total Things.\n"
              "# TYPE kafka_stream_sink_things_total counter\n"
              "kafka_stream_sink_things_total 7\n");
}

TEST(SinkMetrics, RendersEveryMetricFromTheStats) {
    SinkStats s;
    s.messages = 10;
    s.bytes = 2000;
    s.finalized_transfers = 2;
    s.finalized_files = 5;
    s.finalized_bytes = 1500;
    s.quarantined = 3;
    s.quarantined_transfers = 1;
    s.stale_transfers = 4;
    s.dropped = 6;
    s.unadmitted = 9;
    s.sync_seconds.observe(0.02);
    s.finalize_seconds.observe(0.5);
    s.finalize_seconds.observe(2);
    ServiceSnapshot svc;
    svc.start_time = 1000;
    svc.commits = 8;
    svc.commit_failures = 1;
    svc.last_commit_time = 1234.5;
    svc.partitions = {{"t", 0, 12, 30.5}, {"t", 1, std::nullopt, 0}};
    const std::string text = render_metrics(s, {3, 4096}, svc);
    EXPECT_EQ(value_of(text, "kafka_stream_sink_messages_total"), "10");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_consumed_bytes_total"), "2000");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_transfers_finalized_total"), "2");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_transfers_quarantined_total"), "1");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_messages_quarantined_total"), "2");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_transfers_stale_total"), "4");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_messages_dropped_total"), "6");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_messages_unadmitted_total"), "9");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_persisted_files_total"), "5");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_persisted_bytes_total"), "1500");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_active_transfers"), "3");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_staged_bytes"), "4096");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_fsync_duration_seconds_count"), "1");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_finalize_duration_seconds_count"), "2");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_finalize_duration_seconds_bucket{le=\"1\"}"), "1");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_finalize_duration_seconds_bucket{le=\"+Inf\"}"), "2");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_assigned_partitions"), "2");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_consumer_lag_messages{topic=\"t\",partition=\"0\"}"), "12");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_consumer_lag_seconds{topic=\"t\",partition=\"0\"}"), "30.5");
    // Unknown until the broker reported the partition's end: no sample rather than a wrong one.
    EXPECT_EQ(value_of(text, "kafka_stream_sink_consumer_lag_messages{topic=\"t\",partition=\"1\"}"), "absent");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_commits_total"), "8");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_commit_failures_total"), "1");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_last_commit_timestamp_seconds"), "1234.5");
    EXPECT_EQ(value_of(text, "kafka_stream_sink_start_time_seconds"), "1000");
}

TEST(SinkMetrics, NoCommitTimeBeforeTheFirstCommit) {
    EXPECT_EQ(value_of(render_metrics({}, {}, {}), "kafka_stream_sink_last_commit_timestamp_seconds"), "absent");
}

TEST(SinkMetrics, StatusLine) {
    SinkStats s;
    s.finalized_transfers = 12;
    s.quarantined = 1;
    ServiceSnapshot svc;
    svc.partitions = {{"t", 0, 5, 1}, {"t", 1, 0, 0}};
    svc.last_commit_time = 100;
    EXPECT_EQ(format_status(s, {1, 3'100'000}, svc, 102.4),
              "2 partitions, lag 5 messages; 12 transfers finalized, 1 quarantined, 1 in progress (3.1 MB staged); "
              "last commit 2 s ago");
    svc.partitions[1].messages.reset();
    svc.last_commit_time.reset();
    EXPECT_EQ(format_status(s, {0, 0}, svc, 0),
              "2 partitions; 12 transfers finalized, 1 quarantined, 0 in progress (0 bytes staged)");
}

TEST(SinkMetrics, ReplaceFileIsAtomicAndLeavesNothingBehind) {
    TempDir dir;
    const std::string path = (dir.path / "sink.prom").string();
    ASSERT_TRUE(replace_file(path, "first\n"));
    ASSERT_TRUE(replace_file(path, "second\n"));
    std::ifstream in(path);
    std::string content((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(content, "second\n");
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) ++entries;
    EXPECT_EQ(entries, 1u);
    EXPECT_FALSE(replace_file((dir.path / "missing" / "sink.prom").string(), "x"));
}

TEST(SinkMetrics, StagingUsageCountsTransfersAndTheirBytes) {
    TempDir dir;
    std::filesystem::create_directories(dir.path / "0123");
    std::filesystem::create_directories(dir.path / "4567");
    std::ofstream(dir.path / "0123" / "f0") << std::string(10000, 'x');
    std::ofstream(dir.path / ".tmp-partial") << "ignored";
    int fd = ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
    StagingUsage u = measure_staging(fd);
    ::close(fd);
    EXPECT_EQ(u.transfers, 2u);
    EXPECT_GE(u.bytes, 10000u);
}
