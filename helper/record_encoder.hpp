// Records mode: one line of a text file as the JSON value a plain consumer reads with json.loads:
//   {"timestamp":<seconds since the epoch, float>,"data":"<the line without its ending>"}
// A line that is not valid UTF-8 gets U+FFFD for each invalid byte in "data" and an extra key "data_b64" with the raw
// bytes (base64), so the sink can rebuild the line exactly while "data" stays valid JSON text.
//
// Hand-written because it runs once per line (millions per file): no allocation once `out` has grown.
#pragma once
#include <string>
#include <string_view>

namespace ks::push {

// "1712345678.123456": seconds with microseconds, the form Python's time.time() gives.
std::string format_timestamp(double seconds_since_epoch);

// Appends `raw` as the body of a JSON string (no quotes): '"' and '\' escaped, control characters as \u00XX
// (\n, \r, \t as such), valid UTF-8 copied, each invalid byte replaced by U+FFFD. Returns false when a byte was
// replaced (the line is not valid UTF-8).
bool append_json_string_body(std::string_view raw, std::string& out);

// Replaces `out` with the record value of `line` (which must not contain its line ending).
void encode_record_value(std::string_view line, std::string_view timestamp, std::string& out);

// The largest value encode_record_value can produce for a line of `line_bytes` bytes (every byte a control
// character, plus data_b64): lets the caller choose a line limit that always fits one Kafka message.
std::size_t max_record_value_bytes(std::size_t line_bytes, std::size_t timestamp_bytes = 32);

}  // namespace ks::push
