// Records mode: how a file is cut into lines, and whether it is sent as records at all.
//
// A line ends at '\n'; "\r\n" is recognised as one ending, a lone '\r' stays in the line. A last line without an
// ending is a line too (ending ""). A file is sent as records only if it is not empty (an empty file has no line to
// carry it), looks like text (no NUL byte in its first 64 KiB) and has no line longer than the limit (counting a '\r'
// before its '\n'), so every record fits one Kafka message. Otherwise it is sent in file mode (chunks); the manifest
// says which way each file went.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "result.hpp"

namespace ks::push {

inline constexpr std::size_t kTextProbeBytes = 64 * 1024;

struct Line {
    std::string_view text;  // without its ending
    std::string_view eol;   // "\n", "\r\n" or "" (only for a last line at the end of the file)
    std::size_t size() const { return text.size() + eol.size(); }
};

// The first line of `block`. Without a '\n' in `block`: the whole block as a last line when `at_eof`, else nullopt
// (the line continues past the block). An empty block has no line.
std::optional<Line> first_line(std::string_view block, bool at_eof);

struct TextVerdict {
    bool records = false;
    std::string reason;  // why not, for the log
    std::uint64_t lines = 0;
};

// Reads the first `size` bytes of `fd` (pread, the offset is not moved) and decides records or file mode.
Result<TextVerdict> classify_text(int fd, std::uint64_t size, std::size_t max_line_bytes);

}  // namespace ks::push
