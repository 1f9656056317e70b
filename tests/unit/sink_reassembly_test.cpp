// Drives the sink core (no Kafka) with wire-format messages in a temporary output root: reassembly and placing.
#include <random>

#include "sink_fixture.hpp"

using namespace ks;
using namespace ks::sink;
using namespace ks::sink::testing;

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
