// The sink with a site key: only transfers opened by a verified open message are staged; signatures, names, uids
// and the staging limits; nothing a message says stops it (sink/admission.hpp, sink/sink.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../../sink/sink.hpp"
#include "sha256.hpp"
#include "signature.hpp"

namespace fs = std::filesystem;
using namespace ks;
using namespace ks::sink;

namespace {

constexpr std::string_view kTopic = "t-admission";

auth::KeyRing ring(char fill) {
    auto r = auth::KeyRing::parse("k1 " + std::string(64, fill) + "\n", "test");
    return *r;
}

struct Msg {
    wire::Headers headers;
    std::string payload;
    std::string topic = std::string(kTopic);
};

// A node of the site: signs with `key` (or not at all).
class Node {
public:
    Node(const auth::KeyRing* key, std::string job, std::string user = "alice", std::int64_t uid = 1000,
         std::string instance = {})
        : key_(key) {
        job_ = wire::JobInfo{std::move(job), std::move(user), uid, 1000, "n1", "c1", 1, 0, std::move(instance)};
        id_ = wire::identity_of(job_, wire::make_transfer_id(job_.cluster, job_.job_id, job_.node, job_.instance));
    }
    const wire::TransferIdentity& id() const { return id_; }
    wire::JobInfo& job() { return job_; }

    Msg open(std::string_view topic = kTopic) const {
        Msg m{wire::encode_open_headers(id_), wire::open_to_json({wire::kVersion, id_.transfer_id, job_}),
              std::string(topic)};
        sign(m, "open");
        return m;
    }
    Msg chunk(const std::string& path, std::uint64_t index, const std::string& data) const {
        wire::ChunkHeader c{id_, wire::FileMeta{path, index, data.size(), 0644, 0}, 0};
        return {wire::encode_chunk(c), data};
    }
    Msg manifest(const std::vector<std::pair<std::string, std::string>>& files) const {
        wire::Manifest m;
        m.transfer_id = id_.transfer_id;
        m.job = job_;
        m.chunk_bytes = 1 << 20;
        for (std::size_t i = 0; i < files.size(); ++i) {
            wire::FileEntry e;
            e.meta = wire::FileMeta{files[i].first, i, files[i].second.size(), 0644, 0};
            e.sha256 = sha256_hex(files[i].second);
            e.chunks = 1;
            m.files.push_back(e);
        }
        Msg out{wire::encode_manifest_headers(id_), wire::manifest_to_json(m)};
        sign(out, "manifest");
        return out;
    }
    // open, one chunk per file, manifest
    std::vector<Msg> transfer(const std::vector<std::pair<std::string, std::string>>& files) const {
        std::vector<Msg> out = {open()};
        for (std::size_t i = 0; i < files.size(); ++i) out.push_back(chunk(files[i].first, i, files[i].second));
        out.push_back(manifest(files));
        return out;
    }

private:
    void sign(Msg& m, std::string_view type) const {
        if (!key_) return;
        m.headers.emplace_back(
            wire::header::signature,
            auth::sign(key_->signing_key(), {type, m.topic, wire::message_key(id_), id_.transfer_id, 0, 1, m.payload}));
    }
    const auth::KeyRing* key_;
    wire::JobInfo job_;
    wire::TransferIdentity id_;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class SinkAdmission : public ::testing::Test {
protected:
    void SetUp() override {
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        root_ = fs::temp_directory_path() / ("ks-admission-" + std::to_string(::getpid()) + "-" + name);
        fs::remove_all(root_);
        fs::create_directories(root_);
        settings_.root = root_.string();
        settings_.layout = *Layout::parse(kDefaultLayout);
        settings_.stale_seconds = 3600;
        settings_.keys = site_;
        settings_.clock = [this] { return clock_; };
        settings_.lookup_uid = [](const std::string& user) -> std::optional<uid_t> {
            if (user == "alice") return 1000;
            if (user == "bob") return 1001;
            return std::nullopt;
        };
    }
    void TearDown() override {
        sink_.reset();
        fs::remove_all(root_);
    }
    void open_sink() {
        sink_.reset();
        auto s = Sink::open(settings_, log_);
        ASSERT_TRUE(s) << s.error().message;
        sink_.emplace(std::move(*s));
    }
    void feed(const std::vector<Msg>& msgs) {
        if (!sink_) open_sink();
        for (const auto& m : msgs) {
            IncomingMessage in{m.topic, 0, offset_++, &m.headers, m.payload};
            auto ok = sink_->handle(in);
            ASSERT_TRUE(ok) << "the sink stopped on a message: " << ok.error().message;
        }
        auto ok = sink_->flush();
        ASSERT_TRUE(ok) << ok.error().message;
    }
    bool exists(const std::string& rel) const { return fs::exists(fs::symlink_status(root_ / rel)); }
    std::string reason(const Node& n) const { return slurp(root_ / ".quarantine" / n.id().transfer_id / "reason"); }
    std::string qlog() const { return slurp(root_ / ".quarantine" / "messages.log"); }

    const auth::KeyRing site_ = ring('a');
    const auth::KeyRing other_ = ring('b');  // a key the sink does not know: a user's own "key file"
    fs::path root_;
    SinkSettings settings_;
    Log log_{"admission-test", LogLevel::error};
    std::optional<Sink> sink_;
    std::int64_t offset_ = 0;
    double clock_ = static_cast<double>(::time(nullptr));
};

const std::vector<std::pair<std::string, std::string>> kFiles = {{"a.csv", "1,2\n"}, {"d/b.txt", "hello"}};

}  // namespace

TEST_F(SinkAdmission, SignedTransferIsPersisted) {
    Node node(&site_, "10");
    feed(node.transfer(kFiles));
    EXPECT_EQ(slurp(root_ / "alice/10/n1/a.csv"), "1,2\n");
    EXPECT_TRUE(exists("alice/10/_SUCCESS"));
    EXPECT_EQ(sink_->stats().quarantined, 0u);
    EXPECT_EQ(sink_->ledger().transfers(), 0u);  // released once finalized
}

TEST_F(SinkAdmission, UnsignedOrForeignSignedTransfersStageNothing) {
    Node unsigned_node(nullptr, "11");
    Node foreign(&other_, "12");
    feed(unsigned_node.transfer(kFiles));
    feed(foreign.transfer(kFiles));
    EXPECT_FALSE(exists("alice"));
    EXPECT_TRUE(fs::is_empty(root_ / ".staging"));
    // Only the log knows: no quarantine directory per forged transfer, no cached state.
    EXPECT_FALSE(exists(".quarantine/" + unsigned_node.id().transfer_id));
    EXPECT_NE(qlog().find("not signed"), std::string::npos) << qlog();
    EXPECT_NE(qlog().find("bad signature"), std::string::npos) << qlog();
    EXPECT_EQ(sink_->stats().unadmitted, 6u);  // 2 chunks + manifest, twice
}

TEST_F(SinkAdmission, ChunksOfAnotherTransferOrBeforeTheOpenAreDropped) {
    Node node(&site_, "13");
    auto msgs = node.transfer(kFiles);
    std::swap(msgs[0], msgs[1]);  // a chunk before the open message: not admitted yet
    feed(msgs);
    EXPECT_FALSE(exists("alice/13/_SUCCESS"));  // waits for the chunk the sink refused
    EXPECT_EQ(sink_->stats().unadmitted, 1u);
    feed({node.chunk("a.csv", 0, "1,2\n"), node.manifest(kFiles)});  // a resend completes it
    EXPECT_TRUE(exists("alice/13/_SUCCESS"));
}

TEST_F(SinkAdmission, AnOpenMessageReplayedIntoAnotherTopicDoesNotVerify) {
    Node node(&site_, "14");
    Msg replayed = node.open("t-victim");  // signed for t-victim
    replayed.topic = std::string(kTopic);  // produced to t-admission
    feed({replayed, node.chunk("a.csv", 0, "1,2\n")});
    EXPECT_TRUE(fs::is_empty(root_ / ".staging"));
    EXPECT_NE(qlog().find("bad signature"), std::string::npos) << qlog();
}

TEST_F(SinkAdmission, HeadersThatDisagreeWithTheSignedOpenAreRefused) {
    Node node(&site_, "15");
    Msg open = node.open();
    for (auto& [k, v] : open.headers)
        if (k == wire::header::user) v = "bob";  // the headers claim bob, the signed value says alice
    feed({open});
    EXPECT_TRUE(fs::is_empty(root_ / ".staging"));
    EXPECT_NE(qlog().find("differs from its headers"), std::string::npos) << qlog();
}

TEST_F(SinkAdmission, AnUnsignedOrAlteredManifestSetsTheTransferAside) {
    Node node(&site_, "16");
    auto msgs = node.transfer(kFiles);
    // The manifest re-signed with a key the sink does not know.
    Node forger(&other_, "16");
    msgs.back() = forger.manifest({{"a.csv", "evil"}, {"d/b.txt", "hello"}});
    feed(msgs);
    EXPECT_FALSE(exists("alice/16"));
    EXPECT_NE(reason(node).find("manifest: bad signature"), std::string::npos) << reason(node);
}

TEST_F(SinkAdmission, AManifestForAnotherUidThanTheOpenIsRefused) {
    Node node(&site_, "17");
    auto msgs = node.transfer(kFiles);
    Node changed(&site_, "17");
    changed.job().uid = 1001;  // a genuine manifest of another job cannot be spliced in either
    msgs.back() = changed.manifest(kFiles);
    feed(msgs);
    EXPECT_FALSE(exists("alice/17"));
    EXPECT_NE(reason(node).find("differs from the one the transfer was opened for"), std::string::npos);
}

TEST_F(SinkAdmission, NamesThatWouldReachTheSinksStateAreRefused) {
    for (const std::string& user :
         std::vector<std::string>{".staging", "..", ".done", "-x", "a/b", std::string(200, 'u')}) {
        Node node(&site_, "18", user);
        feed(node.transfer(kFiles));
    }
    Node job(&site_, ".quarantine");
    feed(job.transfer(kFiles));
    EXPECT_TRUE(fs::is_empty(root_ / ".staging"));
    EXPECT_TRUE(fs::is_empty(root_ / ".done"));
    EXPECT_NE(qlog().find("is not a valid name"), std::string::npos) << qlog();
    for (auto& e : fs::directory_iterator(root_))
        EXPECT_TRUE(e.path().filename().string().starts_with(".")) << e.path();
}

TEST_F(SinkAdmission, WithChownTheUserMustBeTheSignedUidAndNeverRoot) {
    settings_.chown = true;
    Node root_job(&site_, "19", "alice", 0);
    Node wrong_uid(&site_, "20", "alice", 1001);  // alice is 1000 on this host
    Node unknown(&site_, "21", "nobody-here", 1234);
    feed({root_job.open(), wrong_uid.open(), unknown.open()});
    EXPECT_TRUE(fs::is_empty(root_ / ".staging"));
    const std::string log = qlog();
    EXPECT_NE(log.find("never given to root"), std::string::npos) << log;
    EXPECT_NE(log.find("has uid 1000 on this host, but the transfer says 1001"), std::string::npos) << log;
    EXPECT_NE(log.find("unknown on this host"), std::string::npos) << log;
}

TEST_F(SinkAdmission, PerUserTransferLimitQuarantinesTheNextOne) {
    settings_.staging_limits = {100, 2, 1 << 20};
    Node a1(&site_, "30"), a2(&site_, "31"), a3(&site_, "32"), b1(&site_, "33", "bob", 1001);
    feed({a1.open(), a2.open(), a3.open(), b1.open()});
    EXPECT_TRUE(exists(".staging/" + a1.id().transfer_id));
    EXPECT_TRUE(exists(".staging/" + a2.id().transfer_id));
    EXPECT_NE(reason(a3).find("already has 2 transfers in staging"), std::string::npos) << reason(a3);
    EXPECT_TRUE(exists(".staging/" + b1.id().transfer_id));  // another user is not held back
    // Once one finishes, a new transfer of the same user is admitted again.
    feed({a1.chunk("a.csv", 0, "1,2\n"), a1.chunk("d/b.txt", 1, "hello"), a1.manifest(kFiles)});
    Node a4(&site_, "34");
    feed(a4.transfer(kFiles));
    EXPECT_TRUE(exists("alice/34/_SUCCESS"));
}

TEST_F(SinkAdmission, PerUserStagedBytesLimitDropsTheDataAndTheSinkGoesOn) {
    settings_.staging_limits = {100, 100, 1000};
    Node big(&site_, "40");
    feed({big.open(), big.chunk("a", 0, std::string(600, 'x')), big.chunk("b", 1, std::string(600, 'y'))});
    EXPECT_NE(reason(big).find("more than 1000 bytes in staging"), std::string::npos) << reason(big);
    EXPECT_FALSE(exists(".quarantine/" + big.id().transfer_id + "/f0"));  // its staged data is gone
    EXPECT_EQ(sink_->ledger().bytes(), 0u);
    Node small(&site_, "41");
    feed(small.transfer(kFiles));
    EXPECT_TRUE(exists("alice/41/_SUCCESS"));
}

TEST_F(SinkAdmission, AHugeClaimedSizeCostsNoSpaceAndIsNeverHashed) {
    Node node(&site_, "42");
    wire::ChunkHeader c{node.id(), wire::FileMeta{"a.csv", 0, 1ull << 40, 0644, 0}, (1ull << 40) - 1};
    feed({node.open(), Msg{wire::encode_chunk(c), "x"}, node.chunk("a.csv", 0, "1,2\n"),
          node.chunk("d/b.txt", 1, "hello"), node.manifest(kFiles)});
    // The manifest (signed) says 4 bytes: only those are hashed, the sparse tail is cut off.
    EXPECT_EQ(slurp(root_ / "alice/42/n1/a.csv"), "1,2\n");
}

TEST_F(SinkAdmission, AFileReadBackToHashIsHashedASliceAtATime) {
    settings_.finalize_hash_budget = 3;  // bytes per attempt
    Node node(&site_, "43");
    const std::string data = "0123456789";
    wire::ChunkHeader second{node.id(), wire::FileMeta{"f", 0, data.size(), 0644, 0}, 5};
    wire::ChunkHeader first{node.id(), wire::FileMeta{"f", 0, data.size(), 0644, 0}, 0};
    // Out of order: not hashed on the way, so finalization reads it back, 3 bytes per flush.
    feed({node.open(), Msg{wire::encode_chunk(second), data.substr(5)},
          Msg{wire::encode_chunk(first), data.substr(0, 5)}, node.manifest({{"f", data}})});
    int flushes = 1;
    while (!exists("alice/43/_SUCCESS") && flushes < 20) {
        ASSERT_TRUE(sink_->flush());
        ++flushes;
    }
    EXPECT_EQ(slurp(root_ / "alice/43/n1/f"), data);
    EXPECT_EQ(flushes, 3);  // 10 bytes: 3 when the manifest came, then 3 + 3 + 1 in three flushes
}

TEST_F(SinkAdmission, AnotherTransfersOutputIsNeverReplaced) {
    Node first(&site_, "50");
    feed(first.transfer(kFiles));
    // The same job id reused by a new job (another instance): its node directory already holds the first's files.
    Node second(&site_, "50", "alice", 1000, "second");
    ASSERT_NE(second.id().transfer_id, first.id().transfer_id);
    feed(second.transfer({{"a.csv", "evil"}}));
    EXPECT_EQ(slurp(root_ / "alice/50/n1/a.csv"), "1,2\n");
    EXPECT_NE(reason(second).find("already holds the output of transfer " + first.id().transfer_id), std::string::npos)
        << reason(second);
    EXPECT_TRUE(exists(".quarantine/" + second.id().transfer_id + "/f0"));  // kept for the admin
}

TEST_F(SinkAdmission, AFileInTheWayIsNotReplacedAndTheSinkGoesOn) {
    // A directory (or someone's file) where a file of the transfer must go.
    fs::create_directories(root_ / "alice/60/n1/a.csv/inside");
    Node node(&site_, "60");
    feed(node.transfer(kFiles));
    EXPECT_TRUE(fs::is_directory(root_ / "alice/60/n1/a.csv/inside"));
    EXPECT_NE(reason(node).find("a.csv"), std::string::npos) << reason(node);
    Node next(&site_, "61");
    feed(next.transfer(kFiles));
    EXPECT_TRUE(exists("alice/61/_SUCCESS"));
}

TEST_F(SinkAdmission, SomethingElseInAStagedFilesPlaceSetsTheTransferAside) {
    Node node(&site_, "62");
    feed({node.open()});
    fs::create_directories(root_ / ".staging" / node.id().transfer_id / "f0" / "planted");
    feed({node.chunk("a.csv", 0, "1,2\n"), node.chunk("d/b.txt", 1, "hello"), node.manifest(kFiles)});
    EXPECT_NE(reason(node).find("f0"), std::string::npos) << reason(node);
    Node next(&site_, "63");
    feed(next.transfer(kFiles));
    EXPECT_TRUE(exists("alice/63/_SUCCESS"));
}

TEST_F(SinkAdmission, SetAsideEntriesArePrunedByAgeAndTheMessageLogIsRotated) {
    settings_.keep_seconds = 100;
    settings_.quarantine_log_bytes = 2000;
    Node bad(&site_, "70");
    feed({bad.open(), Msg{wire::encode_chunk({bad.id(), wire::FileMeta{"../x", 0, 1, 0644, 0}, 0}), "x"}});
    ASSERT_TRUE(exists(".quarantine/" + bad.id().transfer_id));
    Node forged(nullptr, "71");
    for (int i = 0; i < 40; ++i) feed({forged.chunk("a", 0, "x")});
    ASSERT_GT(fs::file_size(root_ / ".quarantine/messages.log"), 2000u);
    clock_ += 50;
    ASSERT_TRUE(sink_->sweep_stale());
    EXPECT_TRUE(exists(".quarantine/" + bad.id().transfer_id));  // younger than keep_seconds
    EXPECT_TRUE(exists(".quarantine/messages.log.1"));           // rotated
    EXPECT_EQ(fs::file_size(root_ / ".quarantine/messages.log"), 0u);
    clock_ += 100;
    ASSERT_TRUE(sink_->sweep_stale());
    EXPECT_FALSE(exists(".quarantine/" + bad.id().transfer_id));
    EXPECT_TRUE(exists(".quarantine/messages.log"));
}

TEST_F(SinkAdmission, AdmittedTransfersSurviveARestartAndAreCountedAgain) {
    settings_.staging_limits = {100, 1, 1 << 20};
    Node node(&site_, "80");
    feed({node.open(), node.chunk("a.csv", 0, "1,2\n")});
    open_sink();  // restart: the staged open message says the transfer was admitted
    ASSERT_TRUE(sink_->recover());
    EXPECT_EQ(sink_->ledger().transfers(), 1u);
    Node other(&site_, "81");
    feed({other.open()});  // alice is at her limit of 1 again
    EXPECT_NE(reason(other).find("already has 1 transfers"), std::string::npos);
    feed({node.chunk("d/b.txt", 1, "hello"), node.manifest(kFiles)});
    EXPECT_TRUE(exists("alice/80/_SUCCESS"));
}

TEST_F(SinkAdmission, ARecordBeforeItsOpenMessageIsDeferredThenTakenOrDropped) {
    open_sink();
    Node node(&site_, "90");
    const std::string prefix = "{\"timestamp\":1.5,\"data\":\"1,2\",\"ks\":{\"transfer\":\"" + node.id().transfer_id +
                               "\",\"file\":0,\"path\":\"a.csv\",\"size\":4,\"offset\":0,\"eol\":\"\\n\"}}";
    wire::Headers none;
    IncomingMessage record{kTopic, 0, 1, &none, prefix};
    auto r = sink_->handle(record);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, Handled::deferred);  // its open message may still be on the companion topic
    EXPECT_TRUE(fs::is_empty(root_ / ".staging"));
    record.last_chance = true;  // the companion topic was read as far as it matters: never opened
    r = sink_->handle(record);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, Handled::done);
    EXPECT_EQ(sink_->stats().unadmitted, 1u);
    // Once the transfer is open, the same record is taken.
    feed({node.open()});
    record.last_chance = false;
    r = sink_->handle(record);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, Handled::done);
    EXPECT_EQ(sink_->stats().deferred, 1u);
}

TEST(StagingLedger, CountsPerUserAndInAll) {
    StagingLedger ledger({3, 2, 100});
    EXPECT_TRUE(ledger.open("a"));
    EXPECT_TRUE(ledger.open("a"));
    EXPECT_FALSE(ledger.open("a"));
    EXPECT_TRUE(ledger.open("b"));
    EXPECT_FALSE(ledger.open("c"));  // 3 in all
    EXPECT_TRUE(ledger.add_bytes("a", 60));
    EXPECT_FALSE(ledger.add_bytes("a", 50));
    EXPECT_TRUE(ledger.add_bytes("b", 90));
    ledger.close("a", 110);
    EXPECT_EQ(ledger.transfers(), 2u);
    EXPECT_EQ(ledger.bytes(), 90u);
    EXPECT_TRUE(ledger.open("c"));
}
