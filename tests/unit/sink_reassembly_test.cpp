// Drives the sink core (no Kafka) with wire-format messages in a temporary output root.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "sha256.hpp"
#include "../../sink/sink.hpp"
#include "../../helper/record_encoder.hpp"

namespace fs = std::filesystem;
using namespace ks;
using namespace ks::sink;

namespace {

struct Msg {
    wire::Headers headers;
    std::string payload;
};

struct SourceFile {
    std::string path;
    std::string data;
    std::uint32_t mode = 0640;
};

class Job {
public:
    Job(std::string job, std::string node, std::uint32_t nodes = 1) : nodes_(nodes) {
        id_.cluster = "c1";
        id_.job_id = std::move(job);
        id_.node = std::move(node);
        id_.user = "alice";
        id_.transfer_id = wire::make_transfer_id(id_.cluster, id_.job_id, id_.node);
    }
    const wire::TransferIdentity& id() const { return id_; }
    wire::JobInfo job_info() const { return wire::JobInfo{id_.job_id, id_.user, 1000, 1000, id_.node, id_.cluster, nodes_, 0}; }

    // The transfer's open message (unsigned: these sinks run with stream.auth=none).
    Msg open() const {
        return {wire::encode_open_headers(id_), wire::open_to_json({wire::kVersion, id_.transfer_id, job_info()})};
    }

    // The open message, chunks of every file (chunk_bytes each; a 0-byte file is one empty chunk), then the manifest.
    std::vector<Msg> messages(const std::vector<SourceFile>& files, std::size_t chunk_bytes = 4) const {
        std::vector<Msg> out = {open()};
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto& f = files[i];
            std::size_t off = 0;
            do {
                wire::ChunkHeader c{id_, wire::FileMeta{f.path, i, f.data.size(), f.mode, 1700000000123456789}, off};
                out.push_back({wire::encode_chunk(c), f.data.substr(off, chunk_bytes)});
                off += chunk_bytes;
            } while (off < f.data.size());
        }
        out.push_back({wire::encode_manifest_headers(id_), manifest_json(files)});
        return out;
    }

    // The same messages with the manifest split into parts of at most `part_bytes` JSON bytes each.
    std::vector<Msg> messages_with_parts(const std::vector<SourceFile>& files, std::size_t part_bytes) const {
        auto out = messages(files);
        out.pop_back();
        auto m = wire::parse_manifest(manifest_json(files));
        auto parts = wire::manifest_parts_json(*m, part_bytes);
        for (std::size_t i = 0; i < parts->size(); ++i)
            out.push_back({wire::encode_manifest_headers(id_, static_cast<std::uint32_t>(i),
                                                         static_cast<std::uint32_t>(parts->size())),
                           (*parts)[i]});
        return out;
    }

    std::string manifest_json(const std::vector<SourceFile>& files) const {
        wire::Manifest m;
        m.transfer_id = id_.transfer_id;
        m.job = job_info();
        m.chunk_bytes = 4;
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto& f = files[i];
            wire::FileEntry e;
            e.meta = wire::FileMeta{f.path, i, f.data.size(), f.mode, 1700000000123456789};
            e.sha256 = sha256_hex(f.data);
            e.chunks = (f.data.size() + 3) / 4;
            m.files.push_back(std::move(e));
        }
        return wire::manifest_to_json(m);
    }

private:
    wire::TransferIdentity id_;
    std::uint32_t nodes_;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every regular file below `dir` (not the sink's own dot-directories) as "path -> content".
std::map<std::string, std::string> tree(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
        auto rel = fs::relative(it->path(), dir).string();
        if (rel.starts_with(".")) {
            if (it->is_directory()) it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file()) out[rel] = slurp(it->path());
    }
    return out;
}

// Every case runs twice: with an fsync per file, and with fsyncs grouped into syncfs() (sync_batch.hpp).
class SinkReassembly : public ::testing::TestWithParam<SyncMode> {
protected:
    void SetUp() override {
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        std::replace(name.begin(), name.end(), '/', '-');
        root_ = fs::temp_directory_path() / ("ks-sink-test-" + std::to_string(::getpid()) + "-" + name);
        fs::remove_all(root_);
        fs::create_directories(root_);
        open_sink();
    }
    void TearDown() override {
        sink_.reset();
        fs::remove_all(root_);
    }
    void open_sink() {
        sink_.reset();
        auto layout = Layout::parse(kDefaultLayout);
        ASSERT_TRUE(layout);
        SinkSettings s;
        s.root = root_.string();
        s.layout = *layout;
        s.limits = Limits{1 << 20, 1000};
        s.stale_seconds = 3600;
        s.max_open_files = 3;
        s.sync_mode = GetParam();
        s.records_timestamp_data = timestamp_data_;
        s.clock = [this] { return clock_; };
        auto sink = Sink::open(std::move(s), log_);
        ASSERT_TRUE(sink) << sink.error().message;
        sink_.emplace(std::move(*sink));
    }
    void feed(const std::vector<Msg>& msgs) {
        feed_unflushed(msgs);
        auto ok = sink_->flush();
        ASSERT_TRUE(ok) << ok.error().message;
    }
    // Without the flush that the consumer does every commit interval.
    void feed_unflushed(const std::vector<Msg>& msgs) {
        for (const auto& m : msgs) {
            IncomingMessage in{"topic", 0, offset_++, &m.headers, m.payload};
            auto ok = sink_->handle(in);
            ASSERT_TRUE(ok) << ok.error().message;
        }
    }
    // As the consumer does: each payload can be taken over by the sink (to be hashed after handle() returns); counts
    // the payloads taken and those released again.
    void feed_handing_over(const std::vector<Msg>& msgs, int& taken, std::shared_ptr<int> released) {
        struct Payload {
            Payload(std::string b, std::shared_ptr<int> r) : bytes(std::move(b)), released(std::move(r)) {}
            Payload(const Payload&) = delete;
            ~Payload() { ++*released; }
            std::string bytes;
            std::shared_ptr<int> released;
        };
        for (const auto& m : msgs) {
            auto payload = std::make_unique<Payload>(m.payload, released);
            IncomingMessage in{"topic", 0, offset_++, &m.headers, payload->bytes};
            in.take_payload = [&] {
                ++taken;
                return Keep::owning(std::move(payload));
            };
            auto ok = sink_->handle(in);
            ASSERT_TRUE(ok) << ok.error().message;
            if (payload) payload.reset();  // not taken: the consumer releases it now
        }
        auto ok = sink_->flush();
        ASSERT_TRUE(ok) << ok.error().message;
    }
    bool exists(const std::string& rel) const { return fs::exists(fs::symlink_status(root_ / rel)); }

    fs::path root_;
    bool timestamp_data_ = false;
    Log log_{"sink-test", LogLevel::error};
    std::optional<Sink> sink_;
    std::int64_t offset_ = 0;
    double clock_ = static_cast<double>(::time(nullptr));  // compared with directory mtimes
};

const std::vector<SourceFile> kFiles = {
    {"a.csv", "hello, world\n"}, {"empty", ""}, {"d/e/f/deep.bin", std::string("\0\1\2\3\4\5\6\7\x08\x09", 10)},
    {"ünï/日本.txt", "non-ascii name", 0600}};

}  // namespace

INSTANTIATE_TEST_SUITE_P(SyncModes, SinkReassembly, ::testing::Values(SyncMode::per_file, SyncMode::grouped),
                         [](const ::testing::TestParamInfo<SyncMode>& p) {
                             return std::string(p.param == SyncMode::grouped ? "grouped" : "per_file");
                         });

TEST_P(SinkReassembly, InOrderTransferIsPlacedWithModeAndMtime) {
    Job job("42", "n1");
    feed(job.messages(kFiles));
    auto t = tree(root_);
    EXPECT_EQ(t.size(), kFiles.size() + 2);  // + _manifests/n1.json + _SUCCESS
    for (const auto& f : kFiles) EXPECT_EQ(t["alice/42/n1/" + f.path], f.data) << f.path;
    EXPECT_TRUE(exists("alice/42/_SUCCESS"));
    EXPECT_TRUE(exists("alice/42/_manifests/n1.json"));
    struct stat st {};
    ASSERT_EQ(::stat((root_ / "alice/42/n1/ünï/日本.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
    EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
    EXPECT_TRUE(fs::is_empty(root_ / ".staging"));
    EXPECT_TRUE(exists(".done/" + job.id().transfer_id));
    EXPECT_EQ(sink_->stats().finalized_transfers, 1u);
}

// More files than descriptors kept open (3) and than kGroupedSyncMinFiles, in several directories, interleaved: files
// leave the LRU half written (grouped mode: closed without fsync) and finalization syncs them in one batch.
TEST_P(SinkReassembly, ManyInterleavedFilesSurviveEvictionAndARestart) {
    Job job("47", "n1");
    std::vector<SourceFile> files;
    for (int i = 0; i < 40; ++i)
        files.push_back({"d" + std::to_string(i % 3) + "/f" + std::to_string(i), std::string(9 + i, char('a' + i % 26)),
                         i % 2 ? 0640u : 0600u});
    auto msgs = job.messages(files);
    Msg manifest = msgs.back();
    msgs.pop_back();
    std::mt19937 rng(11);
    std::shuffle(msgs.begin() + 1, msgs.end(), rng);  // the open message stays first, as in a partition
    feed(std::vector<Msg>(msgs.begin(), msgs.begin() + static_cast<long>(msgs.size() / 2)));
    open_sink();  // a restart between two flushes: the staged halves are what the first process made durable
    feed(std::vector<Msg>(msgs.begin() + static_cast<long>(msgs.size() / 2), msgs.end()));
    feed({manifest});
    auto t = tree(root_);
    EXPECT_EQ(t.size(), files.size() + 2);
    for (const auto& f : files) {
        EXPECT_EQ(t["alice/47/n1/" + f.path], f.data) << f.path;
        struct stat st {};
        ASSERT_EQ(::stat((root_ / ("alice/47/n1/" + f.path)).c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, f.mode) << f.path;
        EXPECT_EQ(st.st_mtim.tv_sec, 1700000000) << f.path;
    }
    EXPECT_TRUE(exists("alice/47/_SUCCESS"));
    EXPECT_TRUE(fs::is_empty(root_ / ".staging"));
}

TEST_P(SinkReassembly, ShuffledAndDuplicatedChunksGiveTheSameFiles) {
    Job job("43", "n1");
    auto msgs = job.messages(kFiles);
    Msg manifest = msgs.back();
    msgs.pop_back();
    auto dup = msgs;
    msgs.insert(msgs.end(), dup.begin(), dup.end());
    std::mt19937 rng(7);
    std::shuffle(msgs.begin() + 1, msgs.end(), rng);  // the open message stays first, as in a partition
    msgs.push_back(manifest);
    msgs.push_back(manifest);  // a producer retry of the manifest
    feed(msgs);
    auto t = tree(root_);
    for (const auto& f : kFiles) EXPECT_EQ(t["alice/43/n1/" + f.path], f.data) << f.path;
    EXPECT_EQ(sink_->stats().quarantined, 0u);
}

TEST_P(SinkReassembly, MissingChunkWaitsForTheSpoolReplay) {
    Job job("44", "n1");
    auto msgs = job.messages(kFiles);
    auto lost = msgs[2];  // second chunk of a.csv (after the open message and the first chunk)
    msgs.erase(msgs.begin() + 2);
    feed(msgs);
    EXPECT_FALSE(exists("alice/44/n1/a.csv"));
    EXPECT_FALSE(exists("alice/44/_SUCCESS"));
    EXPECT_TRUE(exists(".staging/" + job.id().transfer_id + "/manifest.json"));
    // The replay resends what was not confirmed, then the manifest again.
    feed({lost, job.messages(kFiles).back()});
    EXPECT_EQ(tree(root_)["alice/44/n1/a.csv"], kFiles[0].data);
    EXPECT_TRUE(exists("alice/44/_SUCCESS"));
}

TEST_P(SinkReassembly, ResentFileLastWriteWins) {
    Job job("45", "n1");
    std::vector<SourceFile> before = {{"f", "old content that is longer"}};
    std::vector<SourceFile> after = {{"f", "new content"}};
    auto first = job.messages(before);
    first.pop_back();
    auto second = job.messages(after);
    first.insert(first.end(), second.begin(), second.end());
    feed(first);
    EXPECT_EQ(tree(root_)["alice/45/n1/f"], "new content");
}

// Chunks in order are hashed by the staging area's worker thread from the payloads the consumer hands over (no copy);
// each payload is released once hashed; the verification before the rename uses that digest.
TEST_P(SinkReassembly, PayloadsHandedOverAreHashedThenReleased) {
    Job job("48", "n1");
    std::mt19937 rng(5);
    std::string big(1000000, '\0');
    for (auto& c : big) c = static_cast<char>(rng());
    std::vector<SourceFile> files = {{"big.bin", big}, {"small.txt", "small"}};
    int taken = 0;
    auto released = std::make_shared<int>(0);
    auto msgs = job.messages(files, 131072);  // chunks larger than the worker hashes on the caller's thread
    feed_handing_over(msgs, taken, released);
    EXPECT_EQ(tree(root_)["alice/48/n1/big.bin"], big);
    EXPECT_EQ(tree(root_)["alice/48/n1/small.txt"], "small");
    EXPECT_EQ(taken, 8) << "each chunk of big.bin (not the small file hashed at once, nor the other messages)";
    sink_->settle();
    EXPECT_EQ(*released, static_cast<int>(msgs.size()));
}

// The worker's digest is checked like any other: bytes that differ from the manifest are never placed.
TEST_P(SinkReassembly, ChunksInOrderWithOtherBytesAreNotPlaced) {
    Job job("49", "n1");
    std::string data(600000, 'x');
    auto msgs = job.messages({{"f.bin", data}}, 131072);
    int taken = 0;
    auto released = std::make_shared<int>(0);
    msgs[3].payload[7] ^= 1;  // the third chunk (after the open message) carries one other bit
    feed_handing_over(msgs, taken, released);
    EXPECT_FALSE(exists("alice/49/n1/f.bin"));
    EXPECT_FALSE(exists("alice/49/_SUCCESS"));
    msgs[3].payload[7] ^= 1;  // the replay carries the right bytes
    feed_handing_over({msgs[3], msgs.back()}, taken, released);
    EXPECT_EQ(tree(root_)["alice/49/n1/f.bin"], data);
}

TEST_P(SinkReassembly, SuccessOnlyWhenAllNodesAreIn) {
    Job n1("46", "n1", 2), n2("46", "n2", 2);
    feed(n1.messages(kFiles));
    EXPECT_FALSE(exists("alice/46/_SUCCESS"));
    feed(n2.messages({{"x", "y"}}));
    EXPECT_TRUE(exists("alice/46/_SUCCESS"));
    EXPECT_TRUE(exists("alice/46/_manifests/n1.json"));
    EXPECT_TRUE(exists("alice/46/_manifests/n2.json"));
}

TEST_P(SinkReassembly, ReplayOfAFinishedTransferChangesNothing) {
    Job job("47", "n1");
    feed(job.messages(kFiles));
    auto before = tree(root_);
    feed(job.messages(kFiles));
    EXPECT_EQ(tree(root_), before);
    EXPECT_EQ(sink_->stats().finalized_transfers, 1u);
    EXPECT_EQ(sink_->stats().quarantined, 0u);
    // The same transfer id with other content is refused and logged; the first version stays.
    feed(job.messages({{"a.csv", "something else"}}));
    EXPECT_EQ(tree(root_), before);
    EXPECT_EQ(sink_->stats().quarantined, 1u);
}

TEST_P(SinkReassembly, MultiPartManifestFinalizesOnlyWhenEveryPartIsIn) {
    Job job("49", "n1");
    auto msgs = job.messages_with_parts(kFiles, 600);
    const std::size_t parts = msgs.size() - job.messages(kFiles).size() + 1;
    ASSERT_GE(parts, 3u);
    auto last = msgs.back();
    msgs.pop_back();
    std::swap(msgs[msgs.size() - 1], msgs[msgs.size() - 2]);  // parts out of order
    feed(msgs);
    EXPECT_FALSE(exists("alice/49/n1/a.csv"));
    EXPECT_FALSE(exists("alice/49/_SUCCESS"));
    feed({last});
    auto t = tree(root_);
    for (const auto& f : kFiles) EXPECT_EQ(t["alice/49/n1/" + f.path], f.data) << f.path;
    EXPECT_TRUE(exists("alice/49/_SUCCESS"));
    auto node_manifest = wire::parse_manifest(slurp(root_ / "alice/49/_manifests/n1.json"));
    ASSERT_TRUE(node_manifest);
    EXPECT_EQ(node_manifest->files.size(), kFiles.size());  // the merged manifest
    // A replay of the parts changes nothing and is not taken for other content.
    auto before = tree(root_);
    feed(job.messages_with_parts(kFiles, 600));
    EXPECT_EQ(tree(root_), before);
    EXPECT_EQ(sink_->stats().quarantined, 0u);
}

TEST_P(SinkReassembly, PartsOfAnEarlierSendSplitDifferentlyDoNotBlockTheResend) {
    Job job("56", "n1");
    // First send: split into many parts, only the first one arrives (the rest was spooled).
    auto first = job.messages_with_parts(kFiles, 500);
    const std::size_t chunks = job.messages(kFiles).size() - 1;
    ASSERT_GE(first.size() - chunks, 3u);
    first.resize(chunks + 1);
    feed(first);
    EXPECT_FALSE(exists("alice/56/_SUCCESS"));
    // The resend is split into fewer parts: the stale part does not stop it, and nothing is quarantined.
    auto second = job.messages_with_parts(kFiles, 900);
    ASSERT_LT(second.size() - chunks, first.size() - chunks + 10);
    feed(second);
    auto t = tree(root_);
    for (const auto& f : kFiles) EXPECT_EQ(t["alice/56/n1/" + f.path], f.data) << f.path;
    EXPECT_TRUE(exists("alice/56/_SUCCESS"));
    EXPECT_EQ(sink_->stats().quarantined, 0u);
}

TEST_P(SinkReassembly, RestartFinalizesAStagedManifest) {
    Job job("48", "n1");
    auto msgs = job.messages(kFiles);
    // Everything staged, then "crash" before the final rename: simulate by placing half and dropping the sink.
    auto manifest = msgs.back();
    msgs.pop_back();
    feed(msgs);
    // Stage the manifest by hand as a crashed sink would have left it, then restart.
    auto dir = root_ / ".staging" / job.id().transfer_id;
    std::ofstream(dir / "topic") << "topic";
    std::ofstream(dir / "manifest.json") << manifest.payload;
    // One file already moved into place before the crash.
    fs::create_directories(root_ / "alice/48/n1");
    fs::rename(dir / "f0", root_ / "alice/48/n1/a.csv");
    open_sink();
    auto ok = sink_->recover();
    ASSERT_TRUE(ok) << ok.error().message;
    auto t = tree(root_);
    for (const auto& f : kFiles) EXPECT_EQ(t["alice/48/n1/" + f.path], f.data) << f.path;
    EXPECT_TRUE(exists("alice/48/_SUCCESS"));
}

TEST_P(SinkReassembly, HostileChunksAreQuarantinedAndNothingEscapes) {
    Job job("49", "n1");
    auto make = [&](std::string path, std::uint64_t size, std::uint64_t offset, std::string payload) {
        wire::ChunkHeader c{job.id(), wire::FileMeta{std::move(path), 0, size, 0644, 0}, offset};
        return Msg{wire::encode_chunk(c), std::move(payload)};
    };
    std::vector<Msg> bad = {job.open(), make("../escape", 3, 0, "abc")};
    feed(bad);
    EXPECT_TRUE(exists(".quarantine/" + job.id().transfer_id + "/reason"));
    EXPECT_FALSE(fs::exists(root_.parent_path() / "escape"));
    // Later messages of a quarantined transfer are dropped.
    feed(job.messages(kFiles));
    EXPECT_FALSE(exists("alice"));

    Job j2("50", "n1");
    auto past = [&](const Job& j) {
        wire::ChunkHeader c{j.id(), wire::FileMeta{"f", 0, 4, 0644, 0}, 2};
        return Msg{wire::encode_chunk(c), "too long"};
    };
    feed({j2.open(), past(j2)});
    EXPECT_TRUE(exists(".quarantine/" + j2.id().transfer_id));

    Job j3("51", "n1");
    wire::ChunkHeader huge{j3.id(), wire::FileMeta{"f", 0, 1ull << 62, 0644, 0}, (1ull << 62) - 1};
    feed({j3.open(), Msg{wire::encode_chunk(huge), "x"}});
    EXPECT_TRUE(exists(".quarantine/" + j3.id().transfer_id));
}

TEST_P(SinkReassembly, MalformedMessagesAreLogged) {
    Job job("52", "n1");
    wire::Headers no_version = {{"ks.type", "chunk"}};
    wire::Headers bad_version = wire::encode_manifest_headers(job.id());
    bad_version[0].second = "9";
    wire::Headers forged = wire::encode_manifest_headers(job.id());
    for (auto& [k, v] : forged)
        if (k == "ks.transfer") v = std::string(32, 'a');
    feed({Msg{no_version, "x"}, Msg{bad_version, "{}"}, Msg{forged, "{}"}, Msg{{}, "no headers"}});
    EXPECT_EQ(sink_->stats().quarantined, 4u);
    auto log = slurp(root_ / ".quarantine/messages.log");
    EXPECT_NE(log.find("topic/0@0"), std::string::npos) << log;
    EXPECT_NE(log.find("version"), std::string::npos) << log;
    EXPECT_NE(log.find("transfer id does not match"), std::string::npos) << log;
    EXPECT_NE(log.find("no ks.type header, and not a record"), std::string::npos) << log;

    Job j2("53", "n1");
    auto msgs = j2.messages({{"a", "b"}});
    msgs.back().payload = "{not json";
    feed(msgs);
    EXPECT_TRUE(exists(".quarantine/" + j2.id().transfer_id + "/f0"));
}

TEST_P(SinkReassembly, SymlinkInsideRootIsNeverFollowed) {
    auto outside = root_.string() + "-outside";
    fs::create_directories(outside);
    fs::create_directories(root_ / "alice");
    fs::create_directory_symlink(outside, root_ / "alice/54");
    Job job("54", "n1");
    feed(job.messages({{"a", "data"}}));
    EXPECT_TRUE(fs::is_empty(outside));
    EXPECT_TRUE(exists(".quarantine/" + job.id().transfer_id + "/reason"));
    fs::remove_all(outside);
}

TEST_P(SinkReassembly, StaleTransfersAreMovedAside) {
    Job job("55", "n1");
    auto msgs = job.messages(kFiles);
    msgs.pop_back();
    feed(msgs);
    clock_ += 100;  // less than stale_seconds
    ASSERT_TRUE(sink_->sweep_stale());
    EXPECT_TRUE(exists(".staging/" + job.id().transfer_id));
    clock_ += 10000;
    ASSERT_TRUE(sink_->sweep_stale());
    EXPECT_FALSE(exists(".staging/" + job.id().transfer_id));
    EXPECT_FALSE(fs::is_empty(root_ / ".stale"));
    // Regression: a stale entry said nothing about why; now its reason file does (here: no manifest came).
    auto entry = fs::directory_iterator(root_ / ".stale")->path();
    std::string reason = tree(entry)["reason"];
    EXPECT_NE(reason.find("made no progress"), std::string::npos) << reason;
    EXPECT_NE(reason.find("no (complete) manifest was received"), std::string::npos) << reason;
}

TEST_P(SinkReassembly, StaleTransferNamesWhatFinalizationWaitedFor) {
    Job job("56", "n1");
    auto msgs = job.messages(kFiles);
    msgs.erase(msgs.begin() + 2);  // a chunk of a.csv never comes, the manifest does
    feed(msgs);
    clock_ += 10000;
    ASSERT_TRUE(sink_->sweep_stale());
    auto entry = fs::directory_iterator(root_ / ".stale")->path();
    std::string reason = tree(entry)["reason"];
    EXPECT_NE(reason.find("waiting for: file \"a.csv\""), std::string::npos) << reason;
}

namespace {

// Records mode: one message per line (what push::RecordSender produces), and the manifest saying so.
std::vector<Msg> record_messages(const Job& job, const std::vector<SourceFile>& files) {
    std::vector<Msg> out;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const auto& f = files[i];
        const std::string prefix = push::record_meta_prefix(job.id().transfer_id, {f.path, i, f.data.size(), 0, 0});
        for (std::size_t off = 0; off < f.data.size();) {
            std::size_t nl = f.data.find('\n', off);
            std::size_t end = nl == std::string::npos ? f.data.size() : nl + 1;
            std::string_view line(f.data.data() + off, end - off), eol;
            if (line.ends_with("\r\n")) eol = "\r\n";
            else if (line.ends_with("\n")) eol = "\n";
            line.remove_suffix(eol.size());
            Msg m{{}, {}};
            push::encode_record_value(line, off < 6 ? "1.5" : "2.5", prefix, off, eol, m.payload);
            out.push_back(std::move(m));
            off = end;
        }
    }
    auto manifest = wire::parse_manifest(job.manifest_json(files));
    for (auto& e : manifest->files) {
        e.format = "records";
        e.timestamps = {{0, "1.5"}};
        if (e.meta.size > 6) e.timestamps.push_back({6, "2.5"});
    }
    out.push_back({wire::encode_manifest_headers(job.id()), wire::manifest_to_json(*manifest)});
    return out;
}

}  // namespace

TEST_P(SinkReassembly, RecordsInterleavedReorderedAndDuplicatedGiveTheFiles) {
    Job job("77", "n1");
    const std::vector<SourceFile> files = {{"a.csv", "id,v\r\n1,x\n2,y\n3,z"}, {"sub/b.txt", "one\ntwo\n\nfour\n"}};
    auto msgs = record_messages(job, files);
    Msg manifest = msgs.back();
    msgs.pop_back();
    feed({job.open()});
    // Interleave the two files, repeat a stretch (a resend after a producer rebuild), then one line out of order.
    std::vector<Msg> order;
    for (std::size_t i = 0; i < 4; ++i) order.push_back(msgs[i]), order.push_back(msgs[4 + i]);
    ASSERT_EQ(msgs.size(), 8u);
    order.push_back(msgs[1]);
    order.push_back(msgs[2]);
    order.push_back(msgs[0]);
    feed(order);
    EXPECT_FALSE(exists("alice/77/_SUCCESS"));
    feed({manifest});
    ASSERT_TRUE(exists("alice/77/_SUCCESS"));
    EXPECT_EQ(slurp(root_ / "alice/77/n1/a.csv"), files[0].data);
    EXPECT_EQ(slurp(root_ / "alice/77/n1/sub/b.txt"), files[1].data);
    EXPECT_FALSE(exists("alice/77/n1/a.csv.timestamp_data"));  // only with the option
}

// Records mode's manifest travels on the companion topic and is often read before the last records: the transfer is
// finalized with its last line, not at the next flush (up to a commit interval later); a line sent twice before it
// only delays that to the flush.
TEST_P(SinkReassembly, RecordsAfterTheirManifestFinalizeWithTheLastLine) {
    Job job("79", "n1");
    const std::vector<SourceFile> files = {{"a.csv", "id,v\r\n1,x\n2,y\n3,z"}, {"sub/b.txt", "one\ntwo\n\nfour\n"}};
    auto msgs = record_messages(job, files);
    Msg manifest = msgs.back();
    msgs.pop_back();
    Msg last = msgs.back();
    msgs.pop_back();
    feed_unflushed({job.open(), manifest});
    feed_unflushed(msgs);
    EXPECT_FALSE(exists("alice/79/_SUCCESS"));
    feed_unflushed({last});
    ASSERT_TRUE(exists("alice/79/_SUCCESS"));
    EXPECT_EQ(slurp(root_ / "alice/79/n1/a.csv"), files[0].data);
    EXPECT_EQ(slurp(root_ / "alice/79/n1/sub/b.txt"), files[1].data);

    Job again("80", "n1");
    msgs = record_messages(again, files);
    manifest = msgs.back();
    msgs.pop_back();
    last = msgs.back();
    msgs.pop_back();
    feed_unflushed({again.open(), manifest, msgs[0]});  // sent twice
    feed_unflushed(msgs);
    feed_unflushed({last});
    EXPECT_FALSE(exists("alice/80/_SUCCESS"));  // counted one line twice: reached its bytes one line early
    feed({});
    ASSERT_TRUE(exists("alice/80/_SUCCESS"));
    EXPECT_EQ(slurp(root_ / "alice/80/n1/a.csv"), files[0].data);
}

TEST_P(SinkReassembly, RecordsTimestampDataIsPlacedWithTheFiles) {
    timestamp_data_ = true;
    open_sink();
    Job job("78", "n1");
    const std::vector<SourceFile> files = {{"a.csv", "id,v\r\n1,x\n2,y\n3,z"}};
    feed({job.open()});
    feed(record_messages(job, files));
    ASSERT_TRUE(exists("alice/78/_SUCCESS"));
    EXPECT_EQ(slurp(root_ / "alice/78/n1/a.csv"), files[0].data);
    EXPECT_EQ(slurp(root_ / "alice/78/n1/a.csv.timestamp_data"), "1.5,id,v\n2.5,1,x\n2.5,2,y\n2.5,3,z\n");
}

TEST_P(SinkReassembly, RecordsOfAForeignTransferIdAreQuarantinedNotFollowed) {
    Msg bad{{},
            R"({"timestamp":1.0,"data":"x","ks":{"transfer":"../../../etc","file":0,"size":2,"offset":0,"eol":"\n"}})"};
    feed({bad});
    EXPECT_TRUE(fs::is_empty(root_ / ".staging"));
    EXPECT_EQ(tree(root_).size(), 0u);
}
