#include "offset_watermark.hpp"

#include <algorithm>

namespace ks::sink {

void OffsetWatermark::processed(std::int64_t offset) {
    not_durable_.insert(offset);
    next_ = std::max(next_, offset + 1);
}

void OffsetWatermark::processed_durable(std::int64_t offset) { next_ = std::max(next_, offset + 1); }

void OffsetWatermark::made_durable(std::int64_t offset) { not_durable_.erase(offset); }

void OffsetWatermark::all_durable() { not_durable_.clear(); }

std::optional<std::int64_t> OffsetWatermark::commit_point() const {
    if (next_ < 0) return std::nullopt;
    if (!not_durable_.empty()) return *not_durable_.begin();
    return next_;
}

bool OffsetWatermark::needs_commit() const {
    auto p = commit_point();
    return p && *p > committed_;
}

}  // namespace ks::sink
