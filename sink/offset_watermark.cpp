#include "offset_watermark.hpp"

#include <algorithm>

namespace ks::sink {

void OffsetWatermark::processed(std::int64_t offset) {
    if (!lowest_not_durable_ || offset < *lowest_not_durable_) lowest_not_durable_ = offset;
    next_ = std::max(next_, offset + 1);
}

void OffsetWatermark::processed_durable(std::int64_t offset) { next_ = std::max(next_, offset + 1); }

void OffsetWatermark::all_durable() { lowest_not_durable_.reset(); }

std::optional<std::int64_t> OffsetWatermark::commit_point() const {
    if (next_ < 0) return std::nullopt;
    if (lowest_not_durable_) return *lowest_not_durable_;
    return next_;
}

bool OffsetWatermark::needs_commit() const {
    auto p = commit_point();
    return p && *p > committed_;
}

}  // namespace ks::sink
