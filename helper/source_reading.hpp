// Small pieces both senders (file chunks and text records) use to read a source file and judge delivery reports.
#pragma once
#include <librdkafka/rdkafka.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace ks::push {

std::int64_t mtime_ns(const struct stat& st);
// Same size and mtime: the file has not changed since `a` was taken (what change detection relies on).
bool same_content_stamp(const struct stat& a, const struct stat& b);
// Reads exactly `len` bytes unless the file ends first; returns the count, or -1 with errno set.
ssize_t pread_full(int fd, char* buf, std::size_t len, std::uint64_t offset);
// A report that says "not stored as far as we know" because of a purge or a fatal error: a rebuild resends it.
bool is_purge_or_fatal(rd_kafka_resp_err_t err);

}  // namespace ks::push
