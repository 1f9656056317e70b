#include "size_limit.hpp"

#include <algorithm>

namespace ks::push {

std::string too_large_reason(std::uint64_t size, std::uint64_t limit) {
    return "too large: " + std::to_string(size) + " bytes, above stream.max.file.bytes=" + std::to_string(limit);
}

void apply_size_limit(WalkResult& walked, std::optional<std::uint64_t> limit) {
    if (!limit) return;
    auto too_big = [&](const WalkedFile& f) { return f.size > *limit; };
    for (const auto& f : walked.files)
        if (too_big(f)) walked.skipped.push_back({f.path, too_large_reason(f.size, *limit)});
    std::erase_if(walked.files, too_big);
}

}  // namespace ks::push
