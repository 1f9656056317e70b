#include "timestamp_data.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace ks::sink {
namespace {

constexpr std::size_t kBlock = 1 << 20;

Result<void> write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string("write the timestamp,data form: ") + std::strerror(errno));
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

}  // namespace

Result<void> write_timestamp_data(int src_fd, std::uint64_t size, const TimestampRuns& runs, int out_fd) {
    std::string block(kBlock, '\0');
    std::string line;  // the current line so far (it may span blocks)
    std::string out;
    std::size_t run = 0;
    std::uint64_t line_start = 0;
    auto emit = [&](std::uint64_t next_start) -> Result<void> {
        while (run + 1 < runs.size() && runs[run + 1].first <= line_start) ++run;
        if (!line.empty() && line.back() == '\r') line.pop_back();  // "\r\n" ends the line
        out.append(runs.empty() ? std::string_view() : std::string_view(runs[run].second));
        out.push_back(',');
        out.append(line);
        out.push_back('\n');
        line.clear();
        line_start = next_start;
        if (out.size() >= kBlock) {
            if (auto ok = write_all(out_fd, out); !ok) return ok;
            out.clear();
        }
        return {};
    };
    for (std::uint64_t pos = 0; pos < size;) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, size - pos));
        ssize_t n = ::pread(src_fd, block.data(), want, static_cast<off_t>(pos));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string("read the rebuilt file: ") + std::strerror(errno));
        if (n == 0) return fail("the rebuilt file is shorter than its manifest says");
        std::string_view view(block.data(), static_cast<std::size_t>(n));
        while (!view.empty()) {
            const std::size_t nl = view.find('\n');
            if (nl == std::string_view::npos) {
                line.append(view);
                break;
            }
            line.append(view.substr(0, nl));
            const std::uint64_t consumed = static_cast<std::uint64_t>(view.data() - block.data()) + nl + 1;
            if (auto ok = emit(pos + consumed); !ok) return ok;
            view.remove_prefix(nl + 1);
        }
        pos += static_cast<std::uint64_t>(n);
    }
    if (line_start < size)
        if (auto ok = emit(size); !ok) return ok;
    return write_all(out_fd, out);
}

}  // namespace ks::sink
