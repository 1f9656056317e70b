// A Prometheus-style histogram of durations in seconds: fixed bucket bounds, a count per bucket, sum and count.
// The sink keeps two in SinkStats (observed by its core, rendered by sink/metrics.cpp); no allocation per
// observation.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace ks {

class Histogram {
public:
    // Upper bounds (seconds) of the buckets before +Inf: from a 1 ms fsync of a small file to minutes of finalizing
    // a very large transfer.
    static constexpr std::array<double, 14> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25,  0.5,    1,     2.5,  5,     10,   60};

    void observe(double seconds) {
        std::size_t i = 0;
        while (i < kBounds.size() && seconds > kBounds[i]) ++i;
        ++buckets_[i];
        ++count_;
        sum_ += seconds;
    }
    // Observations <= kBounds[i] (i < kBounds.size()), or all of them (i == kBounds.size(), the +Inf bucket).
    std::uint64_t cumulative(std::size_t i) const {
        std::uint64_t n = 0;
        for (std::size_t k = 0; k <= i && k < buckets_.size(); ++k) n += buckets_[k];
        return n;
    }
    std::uint64_t count() const { return count_; }
    double sum() const { return sum_; }

private:
    std::array<std::uint64_t, kBounds.size() + 1> buckets_{};
    std::uint64_t count_ = 0;
    double sum_ = 0;
};

}  // namespace ks
