#include "source_reading.hpp"

#include <unistd.h>

#include <cerrno>

namespace ks::push {

std::int64_t mtime_ns(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

bool same_content_stamp(const struct stat& a, const struct stat& b) {
    return a.st_size == b.st_size && mtime_ns(a) == mtime_ns(b);
}

ssize_t pread_full(int fd, char* buf, std::size_t len, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < len) {
        ssize_t n = ::pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

bool is_purge_or_fatal(rd_kafka_resp_err_t err) {
    return err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT ||
           err == RD_KAFKA_RESP_ERR__FATAL;
}

}  // namespace ks::push
