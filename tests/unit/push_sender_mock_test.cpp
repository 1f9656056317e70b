// TransferSender against the librdkafka mock cluster (in process, no broker needed):
//  - librdkafka 2.0.2's fatal idempotent-producer error, survived: after each injected fatal error the sender must
//    rebuild its producer, resend every message without a successful report, and end with every file complete in the
//    topic, before the manifest;
//  - a file that changes while it is sent is sent again, or reported skipped if it never stops changing;
//  - RecordSender's digests (hashed on its worker thread) across producer rebuilds.
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "../../sink/record_decoder.hpp"
#include "../../helper/record_sender.hpp"
#include "../../helper/transfer_sender.hpp"
#include "kafka.hpp"
#include "kafka_mock.hpp"
#include "sha256.hpp"

using namespace ks;
using namespace ks::push;
using namespace ks::push::mock;
namespace fs = std::filesystem;

namespace {

constexpr std::int16_t kApiKeyProduce = 0;  // Kafka protocol ApiKey (kApiKeyProduce is not public)

struct SourceTree {
    fs::path root;
    std::map<std::string, std::string> files;  // path -> content
    SourceTree() {
        std::string tmpl = (fs::temp_directory_path() / "ks-fatal-XXXXXX").string();
        root = ::mkdtemp(tmpl.data());
        std::mt19937 rng(42);
        // Small enough for the mock's ~5 MiB per partition, large enough for many chunks.
        for (int i = 0; i < 6; ++i) {
            std::string content(static_cast<std::size_t>(i == 0 ? 0 : 150'000 * i), '\0');
            for (auto& c : content) c = static_cast<char>(rng());
            std::string name = "f" + std::to_string(i) + ".bin";
            std::ofstream(root / name, std::ios::binary) << content;
            files[name] = content;
        }
    }
    ~SourceTree() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
};

struct Consumed {
    std::map<std::string, std::string> files;  // reassembled, last write of an offset wins
    std::map<std::string, std::string> sha_in_manifest;
    bool manifest_seen = false;
    bool chunk_after_manifest = false;
    int chunks = 0;
};

// A consumer reading partition 0 of `topic` from its start.
kafka::HandlePtr consumer_from_start(const std::string& bootstraps, const std::string& topic) {
    char err[256];
    kafka::ConfPtr conf(rd_kafka_conf_new());
    rd_kafka_conf_set(conf.get(), "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf.get(), "group.id", "verify", err, sizeof err);
    kafka::HandlePtr c(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), err, sizeof err));
    kafka::PartitionListPtr parts(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c.get(), parts.get());
    return c;
}

Consumed consume_all(const std::string& bootstraps, const std::string& topic) {
    Consumed out;
    kafka::HandlePtr c = consumer_from_start(bootstraps, topic);
    for (int idle = 0; idle < 100 && !out.manifest_seen; ++idle) {
        kafka::MessagePtr m(rd_kafka_consumer_poll(c.get(), 100));
        if (!m || m->err) continue;
        idle = 0;
        rd_kafka_headers_t* h = nullptr;
        rd_kafka_message_headers(m.get(), &h);
        wire::Headers headers = kafka::to_wire_headers(h);
        auto type = wire::message_type(headers);
        if (!type) continue;
        std::string_view value(static_cast<const char*>(m->payload), m->len);
        if (*type == wire::MessageType::manifest) {
            auto manifest = wire::parse_manifest(value);
            if (!manifest) continue;
            out.manifest_seen = true;
            for (const auto& f : manifest->files) out.sha_in_manifest[f.meta.path] = f.sha256;
            continue;
        }
        auto chunk = wire::decode_chunk(headers);
        if (!chunk) continue;
        if (out.manifest_seen) out.chunk_after_manifest = true;
        ++out.chunks;
        std::string& data = out.files[chunk->file.path];
        data.resize(chunk->file.size);
        std::copy(value.begin(), value.end(), data.begin() + static_cast<long>(chunk->offset));
    }
    rd_kafka_consumer_close(c.get());
    return out;
}

std::vector<SourceFile> sources_of(const SourceTree& t, int root_fd) {
    std::vector<SourceFile> out;
    std::uint64_t i = 0;
    for (const auto& [name, content] : t.files) {
        std::string n = name;
        out.push_back({n, i++, [root_fd, n] { return open_regular_beneath(root_fd, n); }, std::nullopt});
    }
    return out;
}

struct RunOutcome {
    std::vector<FileResult> results;
    bool manifest_ok = false;
    int rebuilds = 0;
};

RunOutcome run_transfer(const MockCluster& mock, const std::string& topic, const SourceTree& tree,
                        std::function<void(rd_kafka_t*, std::uint64_t)> hook,
                        const std::vector<kafka::Property>& extra_properties = {},
                        std::function<void(std::uint64_t)> after_read = {}) {
    std::vector<kafka::Property> properties = {{"linger.ms", "5"}};
    properties.insert(properties.end(), extra_properties.begin(), extra_properties.end());
    MockProducer p(mock, topic, properties);
    auto& [conf, log, first, again] = p;
    wire::TransferIdentity id{"c", "1", "n1", "u", wire::make_transfer_id("c", "1", "n1")};
    SenderSettings s;
    s.chunk_bytes = 64 * 1024;
    s.max_open_files = 2;  // files stay open until confirmed: exercise the bound too
    s.deadline = Clock::now() + std::chrono::seconds(60);
    TransferSender sender(std::move(*first), again, id, s, log);
    sender.set_after_produce(std::move(hook));
    if (after_read) sender.set_after_read(std::move(after_read));
    auto root = open_root_directory(tree.root.string());
    EXPECT_TRUE(root);
    RunOutcome out;
    out.results = sender.send_files(sources_of(tree, root->get()));
    wire::Manifest m;
    m.transfer_id = id.transfer_id;
    m.job.job_id = "1";
    m.job.node = "n1";
    m.job.cluster = "c";
    m.job.user = "u";
    m.chunk_bytes = s.chunk_bytes;
    for (const auto& r : out.results) m.files.push_back(r.entry);
    out.manifest_ok = sender.send_manifest({wire::manifest_to_json(m)});
    out.rebuilds = sender.producer_rebuilds();
    EXPECT_TRUE(sender.failure().empty()) << sender.failure();
    return out;
}

void expect_complete(const SourceTree& tree, const RunOutcome& run, const Consumed& got) {
    ASSERT_TRUE(run.manifest_ok);
    for (const auto& r : run.results) EXPECT_EQ(r.status, FileStatus::confirmed) << r.entry.meta.path;
    for (const auto& r : run.results) {
        ASSERT_TRUE(tree.files.count(r.entry.meta.path));
        EXPECT_EQ(r.entry.sha256, sha256_hex(tree.files.at(r.entry.meta.path))) << r.entry.meta.path;
    }
    ASSERT_TRUE(got.manifest_seen);
    EXPECT_FALSE(got.chunk_after_manifest);
    ASSERT_EQ(got.files.size(), tree.files.size());
    for (const auto& [name, content] : tree.files) {
        ASSERT_TRUE(got.files.count(name)) << name;
        EXPECT_EQ(got.files.at(name).size(), content.size()) << name;
        EXPECT_TRUE(got.files.at(name) == content) << name << " differs";
        EXPECT_EQ(got.sha_in_manifest.at(name), sha256_hex(content)) << name;
    }
}

}  // namespace

TEST(PushFatalRecovery, InjectedFatalErrorsRebuildTheProducerAndLoseNothing) {
    MockCluster mock;
    ASSERT_NE(mock.get(), nullptr);
    const std::string topic = "fatal-injected";
    ASSERT_EQ(rd_kafka_mock_topic_create(mock.get(), topic.c_str(), 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    SourceTree tree;
    int injected = 0;
    auto run = run_transfer(mock, topic, tree, [&](rd_kafka_t* rk, std::uint64_t produced) {
        // Twice, in the middle of the stream: some messages are confirmed, some queued, some in flight.
        if (produced == 8 || produced == 30) {
            rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected by the test");
            ++injected;
        }
    });
    EXPECT_EQ(injected, 2);
    EXPECT_EQ(run.rebuilds, 2);
    expect_complete(tree, run, consume_all(mock.bootstraps(), topic));
}

TEST(PushFatalRecovery, BrokerSideSequenceErrorsEndWithEverythingConfirmed) {
    MockCluster mock;
    ASSERT_NE(mock.get(), nullptr);
    const std::string topic = "fatal-broker";
    ASSERT_EQ(rd_kafka_mock_topic_create(mock.get(), topic.c_str(), 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    SourceTree tree;
    bool pushed = false;
    auto run = run_transfer(mock, topic, tree, [&](rd_kafka_t*, std::uint64_t produced) {
        if (produced == 5 && !pushed) {
            // The broker answers Produce with timeouts then OUT_OF_ORDER_SEQUENCE_NUMBER: librdkafka 2.0.2 may turn
            // this into a fatal error; either way every message must end up confirmed.
            rd_kafka_mock_push_request_errors(mock.get(), kApiKeyProduce, 3, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                              RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                              RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
            pushed = true;
        }
    });
    EXPECT_TRUE(pushed);
    expect_complete(tree, run, consume_all(mock.bootstraps(), topic));
    RecordProperty("producer_rebuilds", run.rebuilds);
}

TEST(PushSmallQueue, ChunksThatWaitForRoomInTheQueueArriveIntact) {
    // Chunk buffers are handed to librdkafka without a copy; a produce refused with QUEUE_FULL leaves the buffer with
    // the sender, which retries with the same bytes. A queue of two chunks makes that the common case.
    MockCluster mock;
    const std::string topic = "small-queue";
    ASSERT_EQ(rd_kafka_mock_topic_create(mock.get(), topic.c_str(), 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    SourceTree tree;
    std::uint64_t produced_total = 0;
    auto run = run_transfer(mock, topic, tree, [&](rd_kafka_t*, std::uint64_t produced) { produced_total = produced; },
                            {{"queue.buffering.max.kbytes", "128"}});
    EXPECT_GT(produced_total, 20u);  // the files make ~35 chunks of 64 KiB: far more than the queue holds
    expect_complete(tree, run, consume_all(mock.bootstraps(), topic));
}

TEST(PushChangingFile, AFileThatChangesWhileReadIsSentAgainWithItsNewContent) {
    MockCluster mock;
    const std::string topic = "changed-once";
    ASSERT_EQ(rd_kafka_mock_topic_create(mock.get(), topic.c_str(), 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    SourceTree tree;
    // f0.bin (empty) is read 1; f1.bin's first chunk is read 2: append to it then (its chunks are produced later, once
    // hashed, so a change while it is read is made on reads, not on produces).
    auto run = run_transfer(mock, topic, tree, nullptr, {}, [&](std::uint64_t read) {
        if (read == 2) {
            std::ofstream(tree.root / "f1.bin", std::ios::binary | std::ios::app) << "appended while sending";
            tree.files["f1.bin"] += "appended while sending";
        }
    });
    expect_complete(tree, run, consume_all(mock.bootstraps(), topic));
}

TEST(PushChangingFile, AFileThatNeverStopsChangingIsReportedSkipped) {
    MockCluster mock;
    const std::string topic = "changed-always";
    ASSERT_EQ(rd_kafka_mock_topic_create(mock.get(), topic.c_str(), 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    SourceTree tree;
    bool writing = true;
    auto run = run_transfer(mock, topic, tree, nullptr, {}, [&](std::uint64_t) {
        if (writing) std::ofstream(tree.root / "f1.bin", std::ios::binary | std::ios::app) << "x";
    });
    writing = false;
    ASSERT_TRUE(run.manifest_ok);
    for (const auto& r : run.results) {
        if (r.entry.meta.path == "f1.bin") {
            EXPECT_EQ(r.status, FileStatus::skipped);
            EXPECT_EQ(r.skip_reason, "changed while sending");
            EXPECT_TRUE(r.entry.sha256.empty());
        } else {
            EXPECT_EQ(r.status, FileStatus::confirmed) << r.entry.meta.path;
        }
    }
}

// Records mode: lines are hashed block by block on the sender's hashing thread from the bytes that were produced;
// across injected fatal errors (the rebuilt producer resends from the lowest unconfirmed line, which is never hashed
// twice) each file's digest is still the SHA-256 of the file, and the records rebuild it byte for byte.
TEST(RecordsFatalRecovery, DigestsAndLinesSurviveRebuilds) {
    MockCluster mock;
    const std::string topic = "records-fatal";
    ASSERT_EQ(rd_kafka_mock_topic_create(mock.get(), topic.c_str(), 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    SourceTree tree;
    tree.files.clear();
    for (const auto& entry : fs::directory_iterator(tree.root)) fs::remove(entry.path());
    std::mt19937 rng(3);
    // More than one read block (1 MiB) for the first file; lz4 keeps the mock's partition (~5 MiB) from dropping any.
    for (std::size_t i = 0; i < 3; ++i) {
        std::string text;
        const std::size_t target = i == 0 ? (1u << 20) + 300000 : 5000 * (i + 1);
        while (text.size() < target)
            text += std::to_string(rng()) + "," + std::string(rng() % 70, static_cast<char>('a' + rng() % 26)) +
                    (rng() % 5 ? "\n" : "\r\n");
        std::string name = "t" + std::to_string(i) + ".csv";
        std::ofstream(tree.root / name, std::ios::binary) << text;
        tree.files[name] = text;
    }
    MockProducer p(mock, topic, {{"compression.type", "lz4"}});
    ASSERT_TRUE(p.first);
    wire::TransferIdentity id{"c", "2", "n1", "u", wire::make_transfer_id("c", "2", "n1")};
    RecordSettings rs;
    rs.deadline = Clock::now() + std::chrono::seconds(60);
    rs.max_file_attempts = 1;  // nothing changes the files: a digest that went wrong may not hide behind a resend
    RecordSender sender(std::move(*p.first), p.again, id, rs, p.log);
    int injected = 0;
    sender.set_after_produce([&](rd_kafka_t* rk, std::uint64_t produced) {
        if (produced == 5000 || produced == 17000) {
            rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected by the test");
            ++injected;
        }
    });
    auto root = open_root_directory(tree.root.string());
    ASSERT_TRUE(root);
    RecordOutcome out = sender.send_files(sources_of(tree, root->get()));
    EXPECT_TRUE(sender.failure().empty()) << sender.failure();
    EXPECT_EQ(injected, 2);
    EXPECT_EQ(sender.producer_rebuilds(), 2);
    std::map<std::string, std::string> digests;
    for (const auto& r : out.results) {
        EXPECT_EQ(r.status, FileStatus::confirmed) << r.entry.meta.path;
        EXPECT_EQ(r.entry.format, std::string(wire::kFormatRecords)) << r.entry.meta.path;
        EXPECT_EQ(r.entry.sha256, sha256_hex(tree.files.at(r.entry.meta.path))) << r.entry.meta.path;
        digests[r.entry.meta.path] = r.entry.sha256;
    }
    // Read the records back: every line at its offset.
    std::map<std::uint64_t, std::string> by_index;
    kafka::HandlePtr c = consumer_from_start(mock.bootstraps(), topic);
    sink::DecodedRecord rec;
    for (int idle = 0; idle < 20; ++idle) {
        kafka::MessagePtr m(rd_kafka_consumer_poll(c.get(), 100));
        if (!m || m->err) continue;
        idle = 0;
        ASSERT_TRUE(sink::decode_record_message({static_cast<const char*>(m->payload), m->len}, rec));
        std::string& data = by_index[rec.value.meta.file];
        data.resize(rec.value.meta.size);
        std::copy(rec.bytes.begin(), rec.bytes.end(), data.begin() + static_cast<long>(rec.value.meta.offset));
    }
    rd_kafka_consumer_close(c.get());
    ASSERT_EQ(by_index.size(), tree.files.size());
    std::uint64_t index = 0;
    for (const auto& [name, content] : tree.files) EXPECT_TRUE(by_index[index++] == content) << name << " differs";
}
