// Records mode, sink side: a record message back into the bytes of its line.
//
// The value is untrusted JSON (anything may produce to the topic), parsed strictly by hand because it runs once per
// line: one object; "data" a string (required); "data_b64" (optional) the raw line in base64, which wins over "data"
// (it is present exactly when the line was not valid UTF-8); "timestamp" a number when present; "ks" the object that
// says where the line goes (wire_headers.hpp, record_key); other keys are ignored. The line's bytes plus its ending
// ("ks.eol") are written at "ks.offset" like a chunk's payload.
#pragma once
#include <string>
#include <string_view>

#include "result.hpp"
#include "wire_format.hpp"

namespace ks::sink {

struct RecordMeta {
    std::string transfer_id;
    std::uint64_t file = 0;    // index in the transfer
    std::uint64_t size = 0;    // the file's size
    std::uint64_t offset = 0;  // of the line's first byte
    std::string eol;           // "\n", "\r\n" or ""
};

struct RecordValue {
    std::string line;       // raw bytes of the line, without its ending
    std::string timestamp;  // the number's JSON text, empty when absent
    bool has_meta = false;
    RecordMeta meta;
};

// Parses a record value into `out` (reusing its buffers).
Result<void> parse_record_value(std::string_view json, RecordValue& out);

struct DecodedRecord {
    RecordValue value;
    std::string bytes;  // line + ending: what goes at value.meta.offset
};

// A record message's value (its headers said ks.type=record): requires "ks"; the caller still checks the bytes
// against the file's size.
Result<void> decode_record_message(std::string_view value, DecodedRecord& out);

}  // namespace ks::sink
