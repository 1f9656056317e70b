#include "prometheus_text.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

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
    const std::string tmp = dir + "/." + base + "." + std::to_string(::getpid()) + ".tmp";
    ::unlink(tmp.c_str());  // left by an earlier process with the same pid
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) return fail("create " + tmp + ": " + std::strerror(errno));
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const std::string err = "write " + tmp + ": " + std::strerror(errno);
            ::unlink(tmp.c_str());
            return fail(err);
        }
        done += static_cast<std::size_t>(n);
    }
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string err = "rename " + tmp + " to " + path + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return fail(err);
    }
    return {};
}

}  // namespace ks
