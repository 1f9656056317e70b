#include "log.hpp"

#include <unistd.h>

namespace ks {

void Log::write(LogLevel level, std::string_view msg) const {
    if (level < threshold_) return;
    static constexpr std::string_view kNames[] = {"debug", "info", "warning", "error"};
    std::string line;
    line.reserve(program_.size() + msg.size() + 16);
    line.append(program_).append(": ").append(kNames[static_cast<int>(level)]).append(": ").append(msg);
    line.push_back('\n');
    // One write(2) per line so lines from concurrent processes sharing a log never interleave.
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0) break;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace ks
