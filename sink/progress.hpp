// The live progress line shown when stderr is a terminal (never in logs: it is rewritten in place).
#pragma once
#include <string>

#include "sink.hpp"

namespace ks::sink {

// One line, e.g. "1234 msgs, 56.7 MB (12.3 MB/s), 3 finalized, 1 pending, 0 quarantined".
std::string format_progress(const SinkStats& stats, double bytes_per_second);

class ProgressDisplay {
public:
    explicit ProgressDisplay(bool enabled) : enabled_(enabled) {}
    // Redraws at most once per second.
    void update(const SinkStats& stats, double now);
    // Clears the line (before exiting).
    void finish();

private:
    bool enabled_;
    double last_draw_ = 0;
    std::uint64_t last_bytes_ = 0;
};

}  // namespace ks::sink
