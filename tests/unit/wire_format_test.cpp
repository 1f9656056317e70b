#include "wire_format.hpp"

#include <gtest/gtest.h>

#include "push_contract.hpp"
#include "sha256.hpp"

using namespace ks::wire;

static std::string sha256_hex_for_test(std::size_t i) { return ks::sha256_hex(std::to_string(i)); }

namespace {

ChunkHeader sample_chunk() {
    ChunkHeader c;
    c.id = {"clusterA", "123", "n1", "alice", make_transfer_id("clusterA", "123", "n1")};
    c.file = {"out/res\xff.csv", 7, 5000, 0640, 1732840000123456789};
    c.offset = 4096;
    return c;
}

}  // namespace

TEST(WireFormat, TransferIdIsStableAndDistinct) {
    EXPECT_EQ(make_transfer_id("c", "1", "n1"), make_transfer_id("c", "1", "n1"));
    EXPECT_NE(make_transfer_id("c", "1", "n1"), make_transfer_id("c", "1", "n2"));
    EXPECT_NE(make_transfer_id("c", "12", "n1"), make_transfer_id("c", "1", "2n1"));
    EXPECT_EQ(make_transfer_id("c", "1", "n1").size(), 32u);
}

TEST(WireFormat, ChunkRoundTrip) {
    auto c = sample_chunk();
    auto decoded = decode_chunk(encode_chunk(c));
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(decoded->id.transfer_id, c.id.transfer_id);
    EXPECT_EQ(decoded->id.user, "alice");
    EXPECT_EQ(decoded->file.path, c.file.path);
    EXPECT_EQ(decoded->file.index, 7u);
    EXPECT_EQ(decoded->file.size, 5000u);
    EXPECT_EQ(decoded->file.mode, 0640u);
    EXPECT_EQ(decoded->file.mtime_ns, 1732840000123456789);
    EXPECT_EQ(decoded->offset, 4096u);
}

TEST(WireFormat, ChunkRejectsBadHeaders) {
    auto base = encode_chunk(sample_chunk());
    auto with = [&](std::string_view name, std::string value) {
        auto h = base;
        for (auto& [k, v] : h)
            if (k == name) v = value;
        return h;
    };
    EXPECT_FALSE(decode_chunk(with(header::version, "1")));  // the unsigned format before transfers had an open message
    EXPECT_FALSE(decode_chunk(with(header::version, "3")));
    EXPECT_FALSE(decode_chunk(with(header::type, "bogus")));
    EXPECT_FALSE(decode_chunk(with(header::offset, "-1")));
    EXPECT_FALSE(decode_chunk(with(header::offset, "5001")));  // beyond size
    EXPECT_FALSE(decode_chunk(with(header::size, "99999999999999999999999")));
    EXPECT_FALSE(decode_chunk(with(header::mode, "999")));
    EXPECT_FALSE(decode_chunk(with(header::mtime, "12abc")));
    EXPECT_FALSE(decode_chunk(with(header::transfer, "../../etc")));
    Headers missing;
    for (auto& kv : base)
        if (kv.first != header::path) missing.push_back(kv);
    EXPECT_FALSE(decode_chunk(missing));
    EXPECT_EQ(message_type({}).value_or(MessageType::chunk), MessageType::record);  // no header: a record
}

TEST(WireFormat, ManifestRoundTripWithNonUtf8Path) {
    Manifest m;
    m.transfer_id = make_transfer_id("c", "9", "n2");
    m.job = {"9", "bob", 1001, 1001, "n2", "c", 2, 0};
    m.files.push_back({{"a/b.txt", 0, 3, 0644, 1}, std::string(64, 'a'), 1});
    m.files.push_back({{"bad\xc3(name", 1, 0, 0600, 2}, std::string(64, 'b'), 1});
    m.skipped.push_back({"fifo", "fifo"});
    auto parsed = parse_manifest(manifest_to_json(m));
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->files.size(), 2u);
    EXPECT_EQ(parsed->files[1].meta.path, "bad\xc3(name");
    EXPECT_EQ(parsed->job.nodes, 2u);
    EXPECT_EQ(parsed->job.exit_code, 0);
    EXPECT_EQ(parsed->skipped.at(0).reason, "fifo");
    EXPECT_EQ(parsed->total_bytes(), 3u);
}

TEST(WireFormat, ManifestRejectsMalformed) {
    EXPECT_FALSE(parse_manifest("not json"));
    EXPECT_FALSE(parse_manifest("[]"));
    EXPECT_FALSE(parse_manifest(R"({"version":2})"));
    Manifest m;
    m.transfer_id = make_transfer_id("c", "9", "n2");
    m.job = {"9", "bob", 1001, 1001, "n2", "c", 1, std::nullopt};
    m.files.push_back({{"x", 0, 3, 0644, 1}, std::string(64, 'a'), 1});
    m.files.push_back({{"y", 0, 3, 0644, 1}, std::string(64, 'a'), 1});
    EXPECT_FALSE(parse_manifest(manifest_to_json(m)));  // duplicate index
    m.files.pop_back();
    m.files[0].sha256 = "zz";
    EXPECT_FALSE(parse_manifest(manifest_to_json(m)));
}

TEST(WireFormat, Utf8AndBase64) {
    using namespace ks::text;  // text_codec.hpp, which wire_format.hpp includes
    EXPECT_TRUE(is_valid_utf8("héllo"));
    EXPECT_FALSE(is_valid_utf8("\xc3"));
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));  // overlong
    for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
        auto d = base64_decode(base64_encode(s));
        ASSERT_TRUE(d);
        EXPECT_EQ(*d, s);
    }
    EXPECT_FALSE(base64_decode("a==="));
    EXPECT_FALSE(base64_decode("ab=c"));
}

namespace {
Manifest many_files_manifest(std::size_t n) {
    Manifest m;
    m.transfer_id = make_transfer_id("c", "77", "n1");
    m.job = {"77", "carol", 1002, 1002, "n1", "c", 2, 3};
    for (std::size_t i = 0; i < n; ++i)
        m.files.push_back(
            {{"dir/file-" + std::to_string(i) + ".dat", i, 4096, 0644, 1732840000000000000 + std::int64_t(i)},
             sha256_hex_for_test(i),
             1});
    m.skipped.push_back({"pipe", "fifo"});
    return m;
}
}  // namespace

TEST(WireFormat, SmallManifestIsOnePart) {
    auto parts = manifest_parts_json(many_files_manifest(3), 1'000'000);
    ASSERT_TRUE(parts);
    ASSERT_EQ(parts->size(), 1u);
    auto m = parse_manifest(parts->front());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->parts, 1u);
}

TEST(WireFormat, LargeManifestSplitsIntoPartsThatMergeBack) {
    const auto whole = many_files_manifest(20000);
    const std::size_t limit = 200'000;
    auto parts = manifest_parts_json(whole, limit);
    ASSERT_TRUE(parts) << parts.error().message;
    ASSERT_GT(parts->size(), 10u);
    std::vector<Manifest> parsed;
    for (auto it = parts->rbegin(); it != parts->rend(); ++it) {  // any order
        EXPECT_LE(it->size(), limit);
        auto p = parse_manifest(*it);
        ASSERT_TRUE(p) << p.error().message;
        EXPECT_EQ(p->parts, parts->size());
        parsed.push_back(std::move(*p));
    }
    auto incomplete = parsed;
    incomplete.pop_back();
    EXPECT_FALSE(merge_manifest_parts(incomplete));
    auto twice = parsed;
    twice.back() = twice.front();
    EXPECT_FALSE(merge_manifest_parts(twice));
    auto merged = merge_manifest_parts(parsed);
    ASSERT_TRUE(merged) << merged.error().message;
    ASSERT_EQ(merged->files.size(), whole.files.size());
    for (std::size_t i = 0; i < whole.files.size(); ++i) {
        EXPECT_EQ(merged->files[i].meta.path, whole.files[i].meta.path);
        EXPECT_EQ(merged->files[i].sha256, whole.files[i].sha256);
    }
    EXPECT_EQ(merged->skipped.size(), 1u);
    EXPECT_EQ(merged->total_bytes(), whole.total_bytes());
    EXPECT_FALSE(manifest_parts_json(whole, 100));  // no entry fits
}

TEST(WireFormat, ManifestPartNumbersAreChecked) {
    EXPECT_FALSE(parse_manifest(R"({"version":1,"part":3,"parts":2})"));
    auto parts = manifest_parts_json(many_files_manifest(1), 1'000'000);
    ASSERT_TRUE(parts);
    std::string bad = parts->front();
    bad.replace(bad.find("\"parts\":1"), 9, "\"parts\":0");
    EXPECT_FALSE(parse_manifest(bad));
}

TEST(WireFormat, JobInstanceSeparatesReusedJobIds) {
    // Without an instance the id is what it always was; with one, a reused job id gives another transfer.
    EXPECT_EQ(make_transfer_id("c", "6", "n1", ""), make_transfer_id("c", "6", "n1"));
    EXPECT_NE(make_transfer_id("c", "6", "n1", "a1b2"), make_transfer_id("c", "6", "n1", "c3d4"));
    EXPECT_NE(make_transfer_id("c", "6", "n1", "a1b2"), make_transfer_id("c", "6", "n1"));
    auto c = sample_chunk();
    c.id.instance = "0123456789abcdef";
    c.id.transfer_id = make_transfer_id(c.id.cluster, c.id.job_id, c.id.node, c.id.instance);
    auto decoded = decode_chunk(encode_chunk(c));
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(decoded->id.instance, c.id.instance);
    auto headers = encode_chunk(c);
    for (auto& [k, v] : headers)
        if (k == header::instance) v = "bad/instance";
    EXPECT_FALSE(decode_chunk(headers));
    Manifest m;
    m.transfer_id = c.id.transfer_id;
    m.job = {"6", "bob", 1001, 1001, "n1", "c", 1, 0, "0123456789abcdef"};
    auto parsed = parse_manifest(manifest_to_json(m));
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->job.instance, "0123456789abcdef");
    EXPECT_FALSE(ks::push::valid_job_instance(""));
    EXPECT_FALSE(ks::push::valid_job_instance(std::string(65, 'a')));
}
