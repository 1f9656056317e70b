// The sink core (no Kafka): what it sets aside (hostile, malformed, stale transfers) and what it never follows.
#include "sink_fixture.hpp"

using namespace ks;
using namespace ks::sink;
using namespace ks::sink::testing;

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
