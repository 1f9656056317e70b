// Prometheus' text exposition format (version 0.0.4) and the atomic file replacement node_exporter's textfile
// collector needs. Used by the sink's metrics (sink/metrics.hpp) and the drain's spool metrics
// (helper/spool_status.hpp).
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "histogram.hpp"
#include "result.hpp"

namespace ks {

// One exposition: HELP and TYPE once per family, then its samples (a family's samples must be added together).
// Every name gets `prefix` (e.g. "kafka_stream_sink_").
class Exposition {
public:
    using Labels = std::vector<std::pair<std::string, std::string>>;
    explicit Exposition(std::string prefix) : prefix_(std::move(prefix)) {}
    void counter(std::string_view name, std::string_view help, double value, const Labels& labels = {});
    void gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
    void histogram(std::string_view name, std::string_view help, const Histogram& h);
    const std::string& text() const { return text_; }

private:
    void family(std::string_view name, std::string_view help, std::string_view type);
    void sample(std::string_view name, const Labels& labels, double value);
    std::string prefix_;
    std::string text_;
    std::string family_;  // the family whose HELP/TYPE was written last
};

// A Prometheus sample value: integers exactly, others in the shortest form that reads back the same; NaN, +Inf, -Inf.
std::string format_sample_value(double v);

// Replaces the file at `path` with `text` through a temporary file in the same directory and rename(2), so a reader
// (node_exporter's textfile collector) sees the old or the new content, never a part. The temporary name starts
// with '.' and does not end in .prom, so the collector never reads it.
Result<void> replace_file(const std::string& path, std::string_view text);

}  // namespace ks
