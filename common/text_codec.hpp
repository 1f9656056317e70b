// Text codecs that the wire format, config parsing and the command lines share: UTF-8 validation, base64 (paths and
// record lines that are not UTF-8) and strict decimal numbers (header values, config values, command-line numbers).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "result.hpp"

namespace ks::text {

bool is_valid_utf8(std::string_view s);
std::string base64_encode(std::string_view raw);
Result<std::string> base64_decode(std::string_view text);
// Decimal digits only (and a leading '-' for parse_i64), at most 20 characters, in range; else an error quoting it.
Result<std::uint64_t> parse_u64(std::string_view text);
Result<std::int64_t> parse_i64(std::string_view text);

}  // namespace ks::text
