#include "text_codec.hpp"

#include <charconv>
#include <cstdint>
#include <string>

namespace ks::text {

bool is_valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n;
        std::uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else return false;
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view raw) {
    std::string out;
    out.reserve((raw.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < raw.size(); i += 3) {
        std::uint32_t v = (std::uint8_t(raw[i]) << 16) | (std::uint8_t(raw[i + 1]) << 8) | std::uint8_t(raw[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out.push_back(kB64[(v >> s) & 63]);
    }
    if (i < raw.size()) {
        std::uint32_t v = std::uint8_t(raw[i]) << 16;
        if (i + 1 < raw.size()) v |= std::uint8_t(raw[i + 1]) << 8;
        out.push_back(kB64[(v >> 18) & 63]);
        out.push_back(kB64[(v >> 12) & 63]);
        out.push_back(i + 1 < raw.size() ? kB64[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

Result<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return fail("base64: length is not a multiple of 4");
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        std::uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            char c = text[i + k];
            int d;
            if (c == '=' && i + 4 == text.size() && k >= 2) {
                d = 0;
                ++pad;
            } else if (pad) return fail("base64: data after padding");
            else {
                const char* p = c ? std::char_traits<char>::find(kB64, 64, c) : nullptr;
                if (!p) return fail("base64: invalid character");
                d = int(p - kB64);
            }
            v = (v << 6) | std::uint32_t(d);
        }
        out.push_back(char((v >> 16) & 0xFF));
        if (pad < 2) out.push_back(char((v >> 8) & 0xFF));
        if (pad < 1) out.push_back(char(v & 0xFF));
    }
    return out;
}

namespace {

template <class T>
Result<T> parse_decimal(std::string_view text) {
    T v = 0;
    if (text.empty() || text.size() > 20)
        return fail("not a decimal number: \"" + std::string(text.substr(0, 32)) + "\"");
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size())
        return fail("not a decimal number: \"" + std::string(text.substr(0, 32)) + "\"");
    return v;
}

}  // namespace

Result<std::uint64_t> parse_u64(std::string_view text) { return parse_decimal<std::uint64_t>(text); }

Result<std::int64_t> parse_i64(std::string_view text) { return parse_decimal<std::int64_t>(text); }

}  // namespace ks::text
