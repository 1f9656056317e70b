#include "text_lines.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ks::push {
namespace {

TextVerdict too_long(TextVerdict v, std::size_t max_line_bytes) {
    v.reason = "a line longer than " + std::to_string(max_line_bytes) + " bytes";
    return v;
}

}  // namespace

std::optional<Line> first_line(std::string_view block, bool at_eof) {
    if (block.empty()) return std::nullopt;
    const void* nl = std::memchr(block.data(), '\n', block.size());
    if (!nl) {
        if (!at_eof) return std::nullopt;
        return Line{block, {}};
    }
    auto end = static_cast<std::size_t>(static_cast<const char*>(nl) - block.data());
    if (end > 0 && block[end - 1] == '\r') return Line{block.substr(0, end - 1), block.substr(end - 1, 2)};
    return Line{block.substr(0, end), block.substr(end, 1)};
}

Result<TextVerdict> classify_text(int fd, std::uint64_t size, std::size_t max_line_bytes) {
    TextVerdict v;
    if (size == 0) {
        v.reason = "empty";
        return v;
    }
    std::vector<char> buf(1 << 20);
    std::uint64_t offset = 0;
    std::uint64_t line_start = 0;  // offset of the first byte of the current line
    while (offset < size) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - offset));
        ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string("read: ") + std::strerror(errno));
        if (n == 0) break;  // shrank: the sender notices the change
        const auto got = static_cast<std::size_t>(n);
        if (offset < kTextProbeBytes) {
            std::size_t probe = static_cast<std::size_t>(std::min<std::uint64_t>(got, kTextProbeBytes - offset));
            if (std::memchr(buf.data(), '\0', probe)) {
                v.reason = "binary (a NUL byte in the first 64 KiB)";
                return v;
            }
        }
        const char* p = buf.data();
        const char* end = p + got;
        while (const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
            std::uint64_t nl_at = offset + static_cast<std::uint64_t>(static_cast<const char*>(nl) - buf.data());
            if (nl_at - line_start > max_line_bytes) return too_long(v, max_line_bytes);
            line_start = nl_at + 1;
            ++v.lines;
            p = static_cast<const char*>(nl) + 1;
        }
        offset += got;
        if (offset - line_start > max_line_bytes) return too_long(v, max_line_bytes);  // the open line already is
    }
    if (line_start < offset) ++v.lines;  // a last line without an ending
    v.records = true;
    return v;
}

}  // namespace ks::push
