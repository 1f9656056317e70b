// Records mode: one line of a text file as the JSON value a plain consumer reads with json.loads:
//   {"timestamp":<seconds since the epoch, float>,"data":"<the line without its ending>","ks":{...}}
// ("ks": what the sink needs to rebuild the file, see wire_headers.hpp, record_key).
// A line that is not valid UTF-8 gets U+FFFD for each invalid byte in "data" and an extra key "data_b64" with the raw
// bytes (base64), so the sink can rebuild the line exactly while "data" stays valid JSON text.
//
// Hand-written because it runs once per line (millions per file): no allocation once `out` has grown.
#pragma once
#include <string>
#include <string_view>

#include "wire_format.hpp"

namespace ks::push {

// "1712345678.123456": seconds with microseconds, printed as Python prints a float ("1712345678.25", "5.0").
std::string format_timestamp(double seconds_since_epoch);

// Appends `raw` as the body of a JSON string (no quotes): '"' and '\' escaped, control characters as \u00XX
// (\n, \r, \t as such), valid UTF-8 copied, each invalid byte replaced by U+FFFD. Returns false when a byte was
// replaced (the line is not valid UTF-8).
bool append_json_string_body(std::string_view raw, std::string& out);

// The end of every record value of one file up to the offset's digits (the same for all its lines):
//   ,"ks":{"transfer":"<id>","file":3,"path":"out/a.csv","size":100,"offset":
// The path is JSON-escaped, invalid UTF-8 bytes replaced by U+FFFD (display only: the sink uses the manifest's path).
std::string record_meta_prefix(std::string_view transfer_id, const wire::FileMeta& file);
// At most this long for any path of at most wire::kMaxPathBytes (the push skips names with control characters).
std::size_t max_record_meta_bytes();

// Replaces `out` with the record value of `line` (which must not contain its line ending); `eol` is the ending that
// followed it ("\n", "\r\n" or "").
void encode_record_value(std::string_view line, std::string_view timestamp, std::string_view meta_prefix,
                         std::uint64_t offset, std::string_view eol, std::string& out);

// The largest value encode_record_value can produce for a line of `line_bytes` bytes (every byte a control
// character, plus data_b64) and the largest meta: lets the caller choose a line limit that always fits one message.
std::size_t max_record_value_bytes(std::size_t line_bytes, std::size_t timestamp_bytes = 32);

}  // namespace ks::push
