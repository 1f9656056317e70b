#include "safe_path.hpp"

#include <cstdio>

namespace ks::sink {

Result<void> check_component(std::string_view name) {
    if (name.empty()) return fail("empty name component");
    if (name == "." || name == "..") return fail("\"" + std::string(name) + "\" component");
    if (name.size() > kMaxComponentBytes)
        return fail("name component longer than " + std::to_string(kMaxComponentBytes) + " bytes");
    for (char c : name) {
        auto b = static_cast<unsigned char>(c);
        if (c == '/') return fail("'/' in a name component");
        if (b == 0) return fail("NUL byte in a name");
        if (b < 0x20 || b == 0x7f) return fail("control character in a name");
    }
    return {};
}

Result<std::vector<std::string>> split_relative_path(std::string_view path) {
    if (path.empty()) return fail("empty path");
    if (path.front() == '/') return fail("absolute path \"" + printable(path) + "\"");
    if (path.size() > kMaxRelativePathBytes)
        return fail("path longer than " + std::to_string(kMaxRelativePathBytes) + " bytes");
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        auto slash = path.find('/', start);
        std::string_view part =
            path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (auto ok = check_component(part); !ok)
            return fail("path \"" + printable(path) + "\": " + ok.error().message);
        if (parts.size() == kMaxComponents)
            return fail("path with more than " + std::to_string(kMaxComponents) + " components");
        parts.emplace_back(part);
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return parts;
}

std::string printable(std::string_view bytes, std::size_t max) {
    std::string out;
    std::size_t n = bytes.size() < max ? bytes.size() : max;
    for (std::size_t i = 0; i < n; ++i) {
        auto b = static_cast<unsigned char>(bytes[i]);
        if (b < 0x20 || b >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", b);
            out += buf;
        } else {
            out.push_back(static_cast<char>(b));
        }
    }
    if (n < bytes.size()) out += "...";
    return out;
}

}  // namespace ks::sink
