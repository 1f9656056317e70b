// The site's cap on the size of one file (stream.max.file.bytes): a larger file is not sent but recorded in the
// manifest's "skipped" list with the reason, so a stray core dump or a sparse 100 GiB file cannot flood Kafka.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "safe_walk.hpp"

namespace ks::push {

// "too large: N bytes, above stream.max.file.bytes=M" (a stable prefix: admins grep for it).
std::string too_large_reason(std::uint64_t size, std::uint64_t limit);

// Moves every file of `walked` larger than `limit` to its skip list (no limit: nothing changes). Order is kept.
void apply_size_limit(WalkResult& walked, std::optional<std::uint64_t> limit);

}  // namespace ks::push
