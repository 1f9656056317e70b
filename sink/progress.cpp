#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace ks::sink {

std::string format_progress(const SinkStats& s, double bytes_per_second) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "%llu msgs, %.1f MB (%.1f MB/s), %llu finalized, %llu quarantined",
                  static_cast<unsigned long long>(s.messages), static_cast<double>(s.bytes) / 1e6,
                  bytes_per_second / 1e6, static_cast<unsigned long long>(s.finalized_transfers),
                  static_cast<unsigned long long>(s.quarantined));
    return buf;
}

void ProgressDisplay::update(const SinkStats& stats, double now) {
    if (!enabled_ || now - last_draw_ < 1.0) return;
    double rate = last_draw_ > 0 ? static_cast<double>(stats.bytes - last_bytes_) / (now - last_draw_) : 0;
    last_draw_ = now;
    last_bytes_ = stats.bytes;
    std::string line = "\r\033[K" + format_progress(stats, rate);
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

void ProgressDisplay::finish() {
    if (!enabled_ || last_draw_ == 0) return;
    (void)!::write(STDERR_FILENO, "\r\033[K", 4);
}

}  // namespace ks::sink
