#include "record_encoder.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "wire_format.hpp"

namespace ks::push {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Bytes that can be copied as they are: printable ASCII except '"' and '\'.
constexpr std::array<bool, 256> plain_table() {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x7f; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    t[0x7f] = true;  // DEL is not a control character for JSON
    return t;
}
constexpr auto kPlain = plain_table();

// Length of the valid UTF-8 sequence starting at s[i] (2..4), or 0 if it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
    } else return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

}  // namespace

std::string format_timestamp(double seconds) {
    // Microseconds, written the shortest way that reads back to the same double: what Python's json.dumps and
    // str() print, so the sink's timestamp,data lines equal the ones a Python consumer writes.
    const double rounded = std::round(seconds * 1e6) / 1e6;
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, rounded);
    if (ec != std::errc()) return "0.0";
    std::string out(buf, end);
    if (out.find_first_of(".eE") == std::string::npos) out += ".0";  // stays a float for json.loads
    return out;
}

bool append_json_string_body(std::string_view raw, std::string& out) {
    bool valid = true;
    std::size_t i = 0;
    const std::size_t n = raw.size();
    while (i < n) {
        std::size_t run = i;
        while (run < n && kPlain[static_cast<unsigned char>(raw[run])]) ++run;
        out.append(raw.data() + i, run - i);
        i = run;
        if (i >= n) break;
        auto c = static_cast<unsigned char>(raw[i]);
        if (c >= 0x80) {
            if (std::size_t len = utf8_sequence(raw, i)) {
                out.append(raw.data() + i, len);
                i += len;
            } else {
                out.append(kReplacement);
                valid = false;
                ++i;
            }
            continue;
        }
        switch (c) {
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        default: {
            const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
            out.append(esc, sizeof esc);
        }
        }
        ++i;
    }
    return valid;
}

std::string record_meta_prefix(std::string_view transfer_id, const wire::FileMeta& file) {
    namespace k = wire::record_key;
    std::string out;
    out.reserve(128 + file.path.size());
    auto key = [&out](std::string_view name) {
        out.push_back('"');
        out.append(name);
        out.append("\":");
    };
    out.push_back(',');
    key(k::meta);
    out.push_back('{');
    key(k::transfer);
    out.push_back('"');
    out.append(transfer_id);  // lowercase hex
    out.append("\",");
    key(k::file);
    out.append(std::to_string(file.index));
    out.push_back(',');
    key(k::path);
    out.push_back('"');
    append_json_string_body(file.path, out);
    out.append("\",");
    key(k::size);
    out.append(std::to_string(file.size));
    out.push_back(',');
    key(k::offset);
    return out;
}

std::size_t max_record_meta_bytes() {
    // Fixed text and numbers, plus the path: '"' and '\' double, an invalid byte becomes 3 bytes.
    return 160 + 3 * wire::kMaxPathBytes;
}

void encode_record_value(std::string_view line, std::string_view timestamp, std::string_view meta_prefix,
                         std::uint64_t offset, std::string_view eol, std::string& out) {
    out.clear();
    out.append("{\"timestamp\":");
    out.append(timestamp);
    out.append(",\"data\":\"");
    const bool valid = append_json_string_body(line, out);
    out.push_back('"');
    if (!valid) {
        out.append(",\"data_b64\":\"");
        out.append(text::base64_encode(line));
        out.push_back('"');
    }
    out.append(meta_prefix);
    char num[24];
    auto [end, ec] = std::to_chars(num, num + sizeof num, offset);
    (void)ec;  // 24 digits hold any uint64
    out.append(num, end);
    out.append(eol == "\r\n" ? ",\"eol\":\"\\r\\n\"}}" : eol == "\n" ? ",\"eol\":\"\\n\"}}" : ",\"eol\":\"\"}}");
}

std::size_t max_record_value_bytes(std::size_t line_bytes, std::size_t timestamp_bytes) {
    const std::size_t frame = 60 + timestamp_bytes;  // keys, quotes, braces, offset, eol
    return frame + max_record_meta_bytes() + 6 * line_bytes + (line_bytes + 2) / 3 * 4;
}

}  // namespace ks::push
