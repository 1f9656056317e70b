// Records mode, sink side: a record message back into the bytes of its line.
//
// The value is untrusted JSON (anything may produce to the topic), parsed strictly by hand because it runs once per
// line: one object; "data" a string (required); "data_b64" (optional) the raw line in base64, which wins over "data"
// (it is present exactly when the line was not valid UTF-8); "timestamp" a number when present; other keys are
// ignored. The line's bytes plus its ending (header ks.eol) are written at ks.offset like a chunk's payload.
#pragma once
#include <string>
#include <string_view>

#include "result.hpp"
#include "wire_format.hpp"

namespace ks::sink {

struct RecordValue {
    std::string line;       // raw bytes of the line, without its ending
    std::string timestamp;  // the number's JSON text, empty when absent
};

// Parses a record value into `out` (reusing its buffers).
Result<void> parse_record_value(std::string_view json, RecordValue& out);

struct DecodedRecord {
    wire::RecordHeader header;
    RecordValue value;
    std::string bytes;  // line + ending: what goes at header.chunk.offset
};

// Headers (wire::decode_record) and value together; the caller still checks the bytes against the file's size.
Result<void> decode_record_message(const wire::Headers& headers, std::string_view value, DecodedRecord& out);

}  // namespace ks::sink
