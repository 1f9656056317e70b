#include "record_decoder.hpp"

#include <cstdint>

namespace ks::sink {
namespace {

class Parser {
public:
    explicit Parser(std::string_view text) : s_(text) {}

    void skip_ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool eat(char c) {
        skip_ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool at_end() {
        skip_ws();
        return i_ == s_.size();
    }
    char peek() {
        skip_ws();
        return i_ < s_.size() ? s_[i_] : '\0';
    }

    // A JSON string (the opening quote is next), decoded to UTF-8 into `out`.
    Result<void> string(std::string& out) {
        out.clear();
        if (!eat('"')) return fail("expected a string");
        unsigned char seen = 0;  // OR of every byte: ASCII-only strings need no UTF-8 check
        while (true) {
            std::size_t run = i_;
            while (run < s_.size() && s_[run] != '"' && s_[run] != '\\' && static_cast<unsigned char>(s_[run]) >= 0x20)
                seen |= static_cast<unsigned char>(s_[run++]);
            out.append(s_.data() + i_, run - i_);
            i_ = run;
            if (i_ >= s_.size()) return fail("unterminated string");
            char c = s_[i_++];
            if (c == '"') break;
            if (c != '\\') return fail("control character in a string");
            if (i_ >= s_.size()) return fail("unterminated escape");
            char e = s_[i_++];
            switch (e) {
            case '"':
                out.push_back('"');
                break;
            case '\\':
                out.push_back('\\');
                break;
            case '/':
                out.push_back('/');
                break;
            case 'b':
                out.push_back('\b');
                break;
            case 'f':
                out.push_back('\f');
                break;
            case 'n':
                out.push_back('\n');
                break;
            case 'r':
                out.push_back('\r');
                break;
            case 't':
                out.push_back('\t');
                break;
            case 'u': {
                TRY_ASSIGN(auto cp, hex4());
                std::uint32_t code = cp;
                if (code >= 0xD800 && code <= 0xDBFF) {
                    if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') return fail("lone surrogate");
                    i_ += 2;
                    TRY_ASSIGN(auto low, hex4());
                    if (low < 0xDC00 || low > 0xDFFF) return fail("lone surrogate");
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                } else if (code >= 0xDC00 && code <= 0xDFFF) {
                    return fail("lone surrogate");
                }
                put_utf8(code, out);
                break;
            }
            default:
                return fail("invalid escape");
            }
        }
        // \u escapes are encoded correctly by put_utf8; raw bytes >= 0x80 must form valid UTF-8.
        if ((seen & 0x80) && !text::is_valid_utf8(out)) return fail("string is not valid UTF-8");
        return {};
    }

    // A JSON number; its text goes to `out`.
    Result<void> number(std::string& out) {
        skip_ws();
        std::size_t start = i_;
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        std::size_t int_start = i_;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        if (i_ == int_start || (s_[int_start] == '0' && i_ - int_start > 1)) return fail("malformed number");
        if (i_ < s_.size() && s_[i_] == '.') {
            std::size_t frac = ++i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            if (i_ == frac) return fail("malformed number");
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            std::size_t exp = i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            if (i_ == exp) return fail("malformed number");
        }
        out.assign(s_.substr(start, i_ - start));
        return {};
    }

    // Any JSON value, checked and skipped (an extra key a future producer may add).
    Result<void> skip_value(int depth = 0) {
        if (depth > 32) return fail("nested too deeply");
        char c = peek();
        std::string scratch;
        if (c == '"') return string(scratch);
        if (c == '-' || (c >= '0' && c <= '9')) return number(scratch);
        for (std::string_view word : {"true", "false", "null"})
            if (s_.substr(i_, word.size()) == word) {
                i_ += word.size();
                return {};
            }
        if (c == '[' || c == '{') {
            const bool object = c == '{';
            ++i_;
            if (eat(object ? '}' : ']')) return {};
            do {
                if (object) {
                    TRY(string(scratch));
                    if (!eat(':')) return fail("expected ':'");
                }
                TRY(skip_value(depth + 1));
            } while (eat(','));
            if (!eat(object ? '}' : ']')) return fail("unterminated array or object");
            return {};
        }
        return fail("unexpected character");
    }

private:
    Result<std::uint32_t> hex4() {
        if (i_ + 4 > s_.size()) return fail("truncated \\u escape");
        std::uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            char h = s_[i_++];
            v <<= 4;
            if (h >= '0' && h <= '9') v |= static_cast<std::uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') v |= static_cast<std::uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v |= static_cast<std::uint32_t>(h - 'A' + 10);
            else return fail("invalid \\u escape");
        }
        return v;
    }
    static void put_utf8(std::uint32_t cp, std::string& out) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

}  // namespace

namespace {

Result<std::uint64_t> unsigned_number(Parser& p) {
    std::string text;
    char c = p.peek();
    if (c < '0' || c > '9') return fail("not an unsigned integer");
    TRY(p.number(text));
    return text::parse_u64(text);  // rejects fractions and exponents
}

// The "ks" object: every known key required once; unknown keys skipped (a later producer may add some).
Result<void> parse_meta(Parser& p, RecordMeta& m) {
    namespace k = wire::record_key;
    if (!p.eat('{')) return fail("\"ks\" is not an object");
    bool transfer = false, file = false, path = false, size = false, offset = false, eol = false;
    std::string key, text;
    if (!p.eat('}')) {
        do {
            TRY(p.string(key));
            if (!p.eat(':')) return fail("expected ':'");
            bool* seen = key == k::transfer ? &transfer
                         : key == k::file   ? &file
                         : key == k::path   ? &path
                         : key == k::size   ? &size
                         : key == k::offset ? &offset
                         : key == k::eol    ? &eol
                                            : nullptr;
            if (seen && *seen) return fail("duplicate key \"ks." + key + "\"");
            if (seen) *seen = true;
            if (key == k::transfer || key == k::path || key == k::eol) {
                if (p.peek() != '"') return fail("\"ks." + key + "\" is not a string");
                std::string& into = key == k::transfer ? m.transfer_id : key == k::eol ? m.eol : text;
                TRY(p.string(into));
            } else if (key == k::file || key == k::size || key == k::offset) {
                auto n = unsigned_number(p);
                if (!n) return fail("\"ks." + key + "\": " + n.error().message);
                (key == k::file ? m.file : key == k::size ? m.size : m.offset) = *n;
            } else if (auto ok = p.skip_value(); !ok) {
                return ok;
            }
        } while (p.eat(','));
        if (!p.eat('}')) return fail("\"ks\": expected ',' or '}'");
    }
    for (auto [have, name] :
         {std::pair{transfer, k::transfer}, {file, k::file}, {size, k::size}, {offset, k::offset}, {eol, k::eol}})
        if (!have) return fail("missing \"ks." + std::string(name) + "\"");
    if (!wire::valid_transfer_id(m.transfer_id)) return fail("\"ks.transfer\" is not a transfer id");
    if (m.eol != "\n" && m.eol != "\r\n" && !m.eol.empty())
        return fail("\"ks.eol\" is not \"\\n\", \"\\r\\n\" or empty");
    if (m.offset > m.size) return fail("\"ks.offset\" beyond \"ks.size\"");
    return {};
}

}  // namespace

Result<void> parse_record_value(std::string_view json, RecordValue& out) {
    namespace k = wire::record_key;
    out.line.clear();
    out.timestamp.clear();
    out.has_meta = false;
    out.meta.transfer_id.clear();
    Parser p(json);
    auto bad = [](const std::string& why) { return fail("record value: " + why); };
    if (!p.eat('{')) return bad("not a JSON object");
    bool have_data = false, have_b64 = false, have_ts = false;
    std::string key, b64;
    if (!p.eat('}')) {
        do {
            if (auto k2 = p.string(key); !k2) return bad(k2.error().message);
            if (!p.eat(':')) return bad("expected ':'");
            bool* seen = key == k::data        ? &have_data
                         : key == k::data_b64  ? &have_b64
                         : key == k::timestamp ? &have_ts
                         : key == k::meta      ? &out.has_meta
                                               : nullptr;
            if (seen && *seen) return bad("duplicate key \"" + key + "\"");
            if (seen) *seen = true;
            Result<void> v;
            if (key == k::data) {
                if (p.peek() != '"') return bad("\"data\" is not a string");
                v = p.string(out.line);
            } else if (key == k::data_b64) {
                if (p.peek() != '"') return bad("\"data_b64\" is not a string");
                v = p.string(b64);
            } else if (key == k::timestamp) {
                char c = p.peek();
                if (c != '-' && (c < '0' || c > '9')) return bad("\"timestamp\" is not a number");
                v = p.number(out.timestamp);
            } else if (key == k::meta) {
                v = parse_meta(p, out.meta);
            } else {
                v = p.skip_value();
            }
            if (!v) return bad(v.error().message);
        } while (p.eat(','));
        if (!p.eat('}')) return bad("expected ',' or '}'");
    }
    if (!p.at_end()) return bad("trailing characters after the object");
    if (!have_data) return bad("missing \"data\"");
    if (have_b64) {
        auto raw = text::base64_decode(b64);
        if (!raw) return bad("\"data_b64\": " + raw.error().message);
        out.line = std::move(*raw);
    }
    return {};
}

Result<void> decode_record_message(std::string_view value, DecodedRecord& out) {
    TRY(parse_record_value(value, out.value));
    if (!out.value.has_meta) return fail("record value: missing \"ks\" (not written by kafka-stream-push)");
    const RecordMeta& m = out.value.meta;
    if (out.value.line.find('\n') != std::string::npos) return fail("record: the line contains a line feed");
    if (m.eol.empty() && out.value.line.size() != m.size - m.offset)
        return fail("record: a line without an ending that is not the end of the file");
    out.bytes.assign(out.value.line);
    out.bytes.append(m.eol);
    return {};
}

}  // namespace ks::sink
