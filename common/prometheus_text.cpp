#include "prometheus_text.hpp"

#include <fcntl.h>

#include <charconv>
#include <cmath>

#include "fs_ops.hpp"
#include "unique_fd.hpp"

namespace ks {
namespace {

std::string escape_label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

}  // namespace

std::string format_sample_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    auto [end, ec] = std::abs(v) < 1e15 && v == std::trunc(v)
                         ? std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v))
                         : std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : "NaN";
}

void Exposition::family(std::string_view name, std::string_view help, std::string_view type) {
    if (family_ == name) return;
    family_ = name;
    text_ += "# HELP " + prefix_ + std::string(name) + " " + std::string(help) + "\n";
    text_ += "# TYPE " + prefix_ + std::string(name) + " " + std::string(type) + "\n";
}

void Exposition::sample(std::string_view name, const Labels& labels, double value) {
    text_ += prefix_;
    text_ += name;
    if (!labels.empty()) {
        text_ += '{';
        for (std::size_t i = 0; i < labels.size(); ++i) {
            if (i) text_ += ',';
            text_ += labels[i].first + "=\"" + escape_label(labels[i].second) + "\"";
        }
        text_ += '}';
    }
    text_ += ' ' + format_sample_value(value) + '\n';
}

void Exposition::counter(std::string_view name, std::string_view help, double value, const Labels& labels) {
    family(name, help, "counter");
    sample(name, labels, value);
}

void Exposition::gauge(std::string_view name, std::string_view help, double value, const Labels& labels) {
    family(name, help, "gauge");
    sample(name, labels, value);
}

void Exposition::histogram(std::string_view name, std::string_view help, const Histogram& h) {
    family(name, help, "histogram");
    const std::string n(name);
    for (std::size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
        std::string le = i < Histogram::kBounds.size() ? format_sample_value(Histogram::kBounds[i]) : "+Inf";
        sample(n + "_bucket", {{"le", le}}, static_cast<double>(h.cumulative(i)));
    }
    sample(n + "_sum", {}, h.sum());
    sample(n + "_count", {}, static_cast<double>(h.count()));
}

Result<void> replace_file(const std::string& path, std::string_view text) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.empty()) return fail(path + ": not a file name");
    UniqueFd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd) return fail_errno(dir);
    // Not durable: it is rewritten every few seconds, and after a crash a stale or missing textfile is harmless.
    if (auto ok = write_file_atomic(dirfd.get(), dirfd.get(), base, text, {.mode = 0644, .durable = false}); !ok)
        return fail(path + ": " + ok.error().message);
    return {};
}

}  // namespace ks
