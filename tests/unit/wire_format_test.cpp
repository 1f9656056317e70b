#include "wire_format.hpp"

#include <gtest/gtest.h>

using namespace ks::wire;

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
    EXPECT_FALSE(decode_chunk(with(header::version, "2")));
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
    EXPECT_FALSE(message_type({}));
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
    EXPECT_TRUE(is_valid_utf8("héllo"));
    EXPECT_FALSE(is_valid_utf8("\xc3"));
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));      // overlong
    for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
        auto d = base64_decode(base64_encode(s));
        ASSERT_TRUE(d);
        EXPECT_EQ(*d, s);
    }
    EXPECT_FALSE(base64_decode("a==="));
    EXPECT_FALSE(base64_decode("ab=c"));
}
