// Judging untrusted names before they touch the file system.
//
// Every path in a message is attacker-controlled. POSIX names are bytes, so non-ASCII UTF-8 and even invalid UTF-8
// are accepted; what is rejected is anything that could escape ROOT, confuse tools, or exceed kernel limits.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace ks::sink {

inline constexpr std::size_t kMaxComponentBytes = 255;   // NAME_MAX on Linux file systems
inline constexpr std::size_t kMaxRelativePathBytes = 4096; // PATH_MAX
inline constexpr std::size_t kMaxComponents = 256;

// One file-name component: non-empty, not "." or "..", no '/', no NUL or control bytes (0x01-0x1f, 0x7f),
// at most 255 bytes.
Result<void> check_component(std::string_view name);

// A relative '/'-separated path: not empty, not absolute, no empty components ("a//b", trailing '/'),
// every component valid, at most 4096 bytes and 256 components. Returns the components.
Result<std::vector<std::string>> split_relative_path(std::string_view path);

// Printable form of untrusted bytes for log lines: control and non-ASCII bytes are escaped as \xNN,
// and the result is cut after `max` input bytes.
std::string printable(std::string_view bytes, std::size_t max = 200);

}  // namespace ks::sink
