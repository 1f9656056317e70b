// The sink core (no Kafka) in records mode: one message per line, the manifest saying so.
#include "sink_fixture.hpp"

using namespace ks;
using namespace ks::sink;
using namespace ks::sink::testing;

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

Msg take_last(std::vector<Msg>& msgs) {
    Msg m = std::move(msgs.back());
    msgs.pop_back();
    return m;
}

const std::vector<SourceFile> kTextFiles = {{"a.csv", "id,v\r\n1,x\n2,y\n3,z"}, {"sub/b.txt", "one\ntwo\n\nfour\n"}};

}  // namespace

TEST_P(SinkReassembly, RecordsInterleavedReorderedAndDuplicatedGiveTheFiles) {
    Job job("77", "n1");
    const auto& files = kTextFiles;
    auto msgs = record_messages(job, files);
    Msg manifest = take_last(msgs);
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
    const auto& files = kTextFiles;
    auto msgs = record_messages(job, files);
    Msg manifest = take_last(msgs);
    Msg last = take_last(msgs);
    feed_unflushed({job.open(), manifest});
    feed_unflushed(msgs);
    EXPECT_FALSE(exists("alice/79/_SUCCESS"));
    feed_unflushed({last});
    ASSERT_TRUE(exists("alice/79/_SUCCESS"));
    EXPECT_EQ(slurp(root_ / "alice/79/n1/a.csv"), files[0].data);
    EXPECT_EQ(slurp(root_ / "alice/79/n1/sub/b.txt"), files[1].data);

    Job again("80", "n1");
    msgs = record_messages(again, files);
    manifest = take_last(msgs);
    last = take_last(msgs);
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
