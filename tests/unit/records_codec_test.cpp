// Records mode: the JSON line encoder (checked against nlohmann::json, the reference parser), line splitting, text
// classification, the sink's record decoder, and the record message headers.
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../../sink/record_decoder.hpp"
#include "../../helper/record_encoder.hpp"
#include "../../helper/record_sender.hpp"
#include "../../helper/text_lines.hpp"
#include "unique_fd.hpp"
#include "wire_format.hpp"

using namespace ks;
using json = nlohmann::json;

namespace {

const std::string kTransfer = wire::make_transfer_id("c1", "42", "n1");

std::string prefix_for(std::string_view path = "out/a.csv", std::uint64_t size = 1000) {
    return push::record_meta_prefix(kTransfer, wire::FileMeta{std::string(path), 3, size, 0644, 0});
}

// Encodes, checks the value is valid JSON with the two keys a plain consumer reads, and decodes it the sink's way.
json encode_and_parse(std::string_view line, std::string* sink_line = nullptr) {
    std::string out;
    push::encode_record_value(line, "1712345678.123456", prefix_for(), 90, "\n", out);
    json j = json::parse(out);  // throws (fails the test) on invalid JSON or invalid UTF-8
    EXPECT_TRUE(j.is_object());
    EXPECT_TRUE(j["timestamp"].is_number_float());
    EXPECT_DOUBLE_EQ(j["timestamp"].get<double>(), 1712345678.123456);
    EXPECT_TRUE(j["data"].is_string());
    EXPECT_LE(out.size(), push::max_record_value_bytes(line.size()));
    if (sink_line) {
        sink::RecordValue v;
        auto ok = sink::parse_record_value(out, v);
        EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
        *sink_line = v.line;
        EXPECT_EQ(v.timestamp, "1712345678.123456");
    }
    return j;
}

UniqueFd memfile(std::string_view content) {
    UniqueFd fd(::memfd_create("records-test", MFD_CLOEXEC));
    EXPECT_TRUE(fd);
    EXPECT_EQ(::write(fd.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
    return fd;
}

}  // namespace

TEST(RecordsEncoder, PlainAsciiLineIsDataVerbatim) {
    std::string back;
    json j = encode_and_parse("1,2024-01-01,3.5,label", &back);
    EXPECT_EQ(j["data"], "1,2024-01-01,3.5,label");
    EXPECT_FALSE(j.contains("data_b64"));
    EXPECT_EQ(back, "1,2024-01-01,3.5,label");
    EXPECT_EQ(j.size(), 3u);  // timestamp, data, ks
    EXPECT_EQ(j["ks"], json::parse(R"({"transfer":")" + kTransfer +
                                   R"(","file":3,"path":"out/a.csv","size":1000,"offset":90,"eol":"\n"})"));
}

TEST(RecordsEncoder, MetaSaysWhereTheLineGoes) {
    for (std::string eol : {"\n", "\r\n", ""}) {
        std::string out;
        push::encode_record_value("abc", "1.5", prefix_for("dir/\"q\"\xff.csv", 1003), 1000, eol, out);
        json j = json::parse(out);
        EXPECT_EQ(j["ks"]["eol"], eol);
        EXPECT_EQ(j["ks"]["path"], "dir/\"q\"\xEF\xBF\xBD.csv");  // display form
        sink::DecodedRecord d;
        auto ok = sink::decode_record_message(out, d);
        ASSERT_TRUE(ok) << ok.error().message;
        EXPECT_EQ(d.value.meta.transfer_id, kTransfer);
        EXPECT_EQ(d.value.meta.file, 3u);
        EXPECT_EQ(d.value.meta.size, 1003u);
        EXPECT_EQ(d.value.meta.offset, 1000u);
        EXPECT_EQ(d.bytes, "abc" + eol);
    }
}

TEST(RecordsEncoder, EmptyLine) {
    std::string back = "x";
    json j = encode_and_parse("", &back);
    EXPECT_EQ(j["data"], "");
    EXPECT_EQ(back, "");
}

TEST(RecordsEncoder, QuotesBackslashesAndEveryControlCharacterRoundTrip) {
    std::string line = "say \"hi\" \\ back/slash";
    for (int c = 0; c < 0x20; ++c) line.push_back(static_cast<char>(c));
    line.push_back('\x7f');
    std::string back;
    json j = encode_and_parse(line, &back);
    EXPECT_EQ(j["data"].get<std::string>(), line);
    EXPECT_FALSE(j.contains("data_b64"));
    EXPECT_EQ(back, line);
}

TEST(RecordsEncoder, ValidMultibyteUtf8IsKept) {
    std::string line = "Grüße, 日本語, emoji \xF0\x9F\x98\x80";
    std::string back;
    json j = encode_and_parse(line, &back);
    EXPECT_EQ(j["data"].get<std::string>(), line);
    EXPECT_FALSE(j.contains("data_b64"));
    EXPECT_EQ(back, line);
}

TEST(RecordsEncoder, InvalidUtf8GetsReplacementCharactersAndRawBytesInBase64) {
    // Latin-1 byte, a truncated sequence, an overlong encoding, a UTF-16 surrogate and a lone continuation byte.
    for (std::string line : {std::string("caf\xe9"), std::string("cut \xe6\x97"), std::string("over \xc0\xaf"),
                             std::string("sur \xed\xa0\x80"), std::string("\x80 lead")}) {
        std::string back;
        json j = encode_and_parse(line, &back);
        ASSERT_TRUE(j.contains("data_b64")) << line;
        EXPECT_EQ(j["data_b64"].get<std::string>(), text::base64_encode(line));
        EXPECT_NE(j["data"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
        EXPECT_EQ(back, line);  // the sink rebuilds the raw bytes
    }
}

TEST(RecordsEncoder, WorstCaseBoundHolds) {
    std::string line(1000, '\x01');
    line[500] = '\xff';
    std::string out;
    // The longest path, every byte doubled by escaping or tripled as invalid UTF-8.
    std::string path(wire::kMaxPathBytes, '\xff');
    push::encode_record_value(line, push::format_timestamp(1e10), prefix_for(path, ~0ull), ~0ull, "\r\n", out);
    EXPECT_LE(out.size(), push::max_record_value_bytes(line.size()));
    std::string meta = prefix_for(path, ~0ull);
    EXPECT_LE(meta.size() + 40, push::max_record_meta_bytes());
    EXPECT_TRUE(json::accept(out));
}

TEST(RecordsEncoder, TimestampHasMicroseconds) {
    EXPECT_EQ(push::format_timestamp(1712345678.25), "1712345678.25");
    EXPECT_EQ(push::format_timestamp(1712345678.1234561), "1712345678.123456");
    EXPECT_EQ(push::format_timestamp(1712345678.0), "1712345678.0");
}

TEST(RecordsLines, LineEndingsAreRecognised) {
    auto l = push::first_line("a,b\r\nc", false);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->text, "a,b");
    EXPECT_EQ(l->eol, "\r\n");
    l = push::first_line("x\ny", false);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->text, "x");
    EXPECT_EQ(l->eol, "\n");
    l = push::first_line("\n", false);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->text, "");
    EXPECT_EQ(l->size(), 1u);
    l = push::first_line("lone\rcr\n", false);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->text, "lone\rcr");
}

TEST(RecordsLines, LastLineWithoutEndingOnlyAtEof) {
    EXPECT_FALSE(push::first_line("partial", false));
    auto l = push::first_line("last", true);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->text, "last");
    EXPECT_EQ(l->eol, "");
    auto cr = push::first_line("ends with cr\r", true);
    ASSERT_TRUE(cr);
    EXPECT_EQ(cr->text, "ends with cr\r");  // a lone '\r' is data
    EXPECT_FALSE(push::first_line("", true));
}

TEST(RecordsClassify, TextFilesAreRecordsAndLinesCounted) {
    auto fd = memfile("a\r\n\nb\nlast");
    auto v = push::classify_text(fd.get(), 10, 100);
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->records) << v->reason;
    EXPECT_EQ(v->lines, 4u);
}

TEST(RecordsClassify, BinaryGoesToFileMode) {
    auto fd = memfile(std::string("abc\n\0def\n", 9));
    auto v = push::classify_text(fd.get(), 9, 100);
    ASSERT_TRUE(v);
    EXPECT_FALSE(v->records);
    EXPECT_NE(v->reason.find("NUL"), std::string::npos);
}

TEST(RecordsClassify, ANulAfterTheProbeDoesNotMatter) {
    std::string content(push::kTextProbeBytes + 10, 'x');
    for (std::size_t i = 50; i < content.size(); i += 50) content[i] = '\n';
    content[push::kTextProbeBytes + 5] = '\0';
    auto fd = memfile(content);
    auto v = push::classify_text(fd.get(), content.size(), 100);
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->records) << v->reason;
}

TEST(RecordsClassify, ALongLineGoesToFileModeWhereverItIs) {
    std::string ok = std::string(100, 'a') + "\n";
    auto at_limit = memfile(ok + ok);
    EXPECT_TRUE(push::classify_text(at_limit.get(), 202, 100)->records);
    // Beyond the limit, in the middle, at the end without an ending, and across the 1 MiB read blocks.
    std::string mid = ok + std::string(101, 'b') + "\n" + ok;
    auto m = memfile(mid);
    EXPECT_FALSE(push::classify_text(m.get(), mid.size(), 100)->records);
    std::string tail = ok + std::string(101, 'c');
    auto t = memfile(tail);
    EXPECT_FALSE(push::classify_text(t.get(), tail.size(), 100)->records);
    std::string big((1 << 20) + 300, 'd');
    big[(1 << 20) - 100] = '\n';
    big[(1 << 20) + 200] = '\n';  // a 299-byte line straddling the block boundary
    auto b = memfile(big);
    EXPECT_FALSE(push::classify_text(b.get(), big.size(), 250)->records);
    EXPECT_TRUE(push::classify_text(b.get(), big.size(), (1 << 20))->records);
}

TEST(RecordsClassify, EmptyFileGoesToFileMode) {
    auto fd = memfile("");
    auto v = push::classify_text(fd.get(), 0, 100);
    ASSERT_TRUE(v);
    EXPECT_FALSE(v->records);
}

TEST(RecordsDecoder, AcceptsWhatPlainProducersWrite) {
    sink::RecordValue v;
    // Another writer's spacing, key order, escapes (incl. a surrogate pair) and extra keys.
    ASSERT_TRUE(sink::parse_record_value(
        R"( { "extra": {"a": [1, 2.5e3, null, true]}, "data" : "x\u00e9\ud83d\ude00\/\"", "timestamp": 1.5 } )", v));
    EXPECT_EQ(v.line, "x\xC3\xA9\xF0\x9F\x98\x80/\"");
    EXPECT_EQ(v.timestamp, "1.5");
}

TEST(RecordsDecoder, RejectsMalformedValues) {
    sink::RecordValue v;
    for (const char* bad :
         {"", "[]", "{\"timestamp\":1}", "{\"data\":1}", "{\"data\":\"a\",\"data\":\"b\"}", "{\"data\":\"a\"} x",
          "{\"data\":\"\\ud800\"}", "{\"data\":\"a\",\"data_b64\":\"!!\"}", "{\"data\":\"tab\there\"}",
          "{\"data\":\"a\",\"timestamp\":\"now\"}", "{\"data\":\"\\x\"}", "{\"data\":\"a\"", "{\"data\":\"\xff\"}"})
        EXPECT_FALSE(sink::parse_record_value(bad, v)) << bad;
}

TEST(RecordsWire, RecordsAreTheMessagesWithoutHeaders) {
    const wire::Headers none;
    auto type = wire::message_type(none);
    ASSERT_TRUE(type);
    EXPECT_EQ(*type, wire::MessageType::record);
    EXPECT_FALSE(wire::decode_chunk(none));  // a record is not a chunk
    // The explicit form is accepted too; a version without a type, or a type without a version, is not a record.
    auto typed = wire::message_type({{"ks.v", "2"}, {"ks.type", "record"}});
    ASSERT_TRUE(typed);
    EXPECT_EQ(*typed, wire::MessageType::record);
    EXPECT_FALSE(wire::message_type({{"ks.v", "2"}}));
    EXPECT_FALSE(wire::message_type({{"ks.type", "record"}}));
    EXPECT_FALSE(wire::message_type({{"ks.v", "1"}, {"ks.type", "record"}}));  // version 1: unsigned, refused
}

TEST(RecordsWire, BadMetaIsRejected) {
    const std::string t = kTransfer;
    auto with_meta = [](const std::string& meta) { return R"({"timestamp":1.0,"data":"zz","ks":)" + meta + "}"; };
    const std::string good = R"({"transfer":")" + t + R"(","file":3,"path":"a","size":10,"offset":7,"eol":"\n"})";
    sink::DecodedRecord d;
    ASSERT_TRUE(sink::decode_record_message(with_meta(good), d));
    EXPECT_EQ(d.bytes, "zz\n");
    for (std::string bad :
         {std::string(R"({"timestamp":1.0,"data":"zz"})"),  // no "ks": a plain producer's record
          with_meta("[]"), with_meta("{}"),
          with_meta(R"({"transfer":"XYZ","file":3,"path":"a","size":10,"offset":7,"eol":"\n"})"),
          with_meta(R"({"transfer":"../../etc","file":3,"path":"a","size":10,"offset":7,"eol":"\n"})"),
          with_meta(R"({"transfer":")" + t + R"(","file":-3,"path":"a","size":10,"offset":7,"eol":"\n"})"),
          with_meta(R"({"transfer":")" + t + R"(","file":3,"path":"a","size":10,"offset":7.5,"eol":"\n"})"),
          with_meta(R"({"transfer":")" + t + R"(","file":3,"path":"a","size":10,"offset":11,"eol":"\n"})"),
          with_meta(R"({"transfer":")" + t + R"(","file":3,"path":"a","size":10,"offset":7,"eol":"\r"})"),
          with_meta(R"({"transfer":")" + t + R"(","file":3,"path":"a","size":10,"eol":"\n"})"),
          with_meta(R"({"transfer":")" + t + R"(","file":3,"file":4,"path":"a","size":10,"offset":7,"eol":"\n"})"),
          with_meta(R"({"transfer":")" + t + R"(","file":99999999999999999999,"size":10,"offset":7,"eol":"\n"})")})
        EXPECT_FALSE(sink::decode_record_message(bad, d)) << bad;
    // Unknown keys inside "ks" are skipped (a later producer may add some); "path" is optional for the sink.
    EXPECT_TRUE(sink::decode_record_message(
        with_meta(R"({"new":{"x":[1]},"transfer":")" + t + R"(","file":3,"size":10,"offset":7,"eol":"\n"})"), d));
}

TEST(RecordsWire, DecodedMessageIsLinePlusEnding) {
    sink::DecodedRecord d;
    std::string value;
    push::encode_record_value(std::string(8, 'z'), "1.0", prefix_for("a", 100), 90, "\r\n", value);
    ASSERT_TRUE(sink::decode_record_message(value, d));
    EXPECT_EQ(d.bytes, "zzzzzzzz\r\n");
    // A line without an ending must end the file.
    push::encode_record_value(std::string(8, 'z'), "1.0", prefix_for("a", 100), 90, "", value);
    EXPECT_FALSE(sink::decode_record_message(value, d));
    push::encode_record_value(std::string(8, 'z'), "1.0", prefix_for("a", 100), 92, "", value);
    EXPECT_TRUE(sink::decode_record_message(value, d));
    EXPECT_EQ(d.bytes, "zzzzzzzz");
}

namespace {

// A one-file manifest whose file was sent as records.
wire::Manifest records_manifest(std::uint64_t size) {
    wire::Manifest m;
    m.transfer_id = wire::make_transfer_id("c", "1", "n");
    m.job = {"1", "u", 1, 1, "n", "c", 1, std::nullopt};
    wire::FileEntry f;
    f.meta = {"a.csv", 0, size, 0644, 1};
    f.sha256 = std::string(64, 'a');
    f.chunks = 2;
    f.format = "records";
    m.files.push_back(f);
    return m;
}

}  // namespace

TEST(RecordsManifest, FormatIsWrittenAndReadAndOptional) {
    wire::Manifest m = records_manifest(3);
    wire::FileEntry f = m.files[0];
    f.meta = {"b.bin", 1, 3, 0644, 1};
    f.format.clear();
    m.files.push_back(f);
    auto text = wire::manifest_to_json(m);
    auto back = wire::parse_manifest(text);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->files[0].format, "records");
    EXPECT_EQ(back->files[1].format, "");
    EXPECT_FALSE(json::parse(text)["files"][1].contains("format"));
}

TEST(RecordsManifest, TimestampRunsRoundTripAndAreChecked) {
    wire::Manifest m = records_manifest(100);
    m.files[0].timestamps = {{0, "1712345678.000001"}, {40, "1712345679.5"}};
    const wire::FileEntry& f = m.files[0];
    auto text = wire::manifest_to_json(m);
    auto back = wire::parse_manifest(text);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->files[0].timestamps, f.timestamps);
    for (const char* bad : {R"([[1,"1.0"]])", R"([[0,"1.0"],[0,"2.0"]])", R"([[0,"1.0"],[100,"2.0"]])", R"([[0,1.0]])",
                            R"([[0,"now"]])", R"([[0,"1.0","x"]])", R"({"0":"1.0"})"}) {
        json j = json::parse(text);
        j["files"][0]["timestamps"] = json::parse(bad);
        EXPECT_FALSE(wire::parse_manifest(j.dump())) << bad;
    }
}

TEST(RecordsSender, TimestampRunsFollowResends) {
    push::TimestampRuns runs;
    push::note_timestamp(runs, 0, "1.0");
    push::note_timestamp(runs, 100, "1.0");  // same stamp: one run
    push::note_timestamp(runs, 200, "2.0");
    push::note_timestamp(runs, 300, "3.0");
    EXPECT_EQ(runs, (push::TimestampRuns{{0, "1.0"}, {200, "2.0"}, {300, "3.0"}}));
    push::note_timestamp(runs, 150, "4.0");  // a resend from 150 replaces what followed
    EXPECT_EQ(runs, (push::TimestampRuns{{0, "1.0"}, {150, "4.0"}}));
    push::note_timestamp(runs, 0, "5.0");
    EXPECT_EQ(runs, (push::TimestampRuns{{0, "5.0"}}));
}
