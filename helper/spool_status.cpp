#include "spool_status.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "prometheus_text.hpp"
#include "spool.hpp"
#include "unique_fd.hpp"

namespace ks::push {
namespace {

void add_entry(int entry_fd, const struct stat& json, SpoolStatus& s) {
    ++s.entries;
    for (const auto& [name, st] : visible_entries(entry_fd))  // transfer.json, its signature, ...
        if (S_ISREG(st.st_mode)) s.bytes += static_cast<std::uint64_t>(st.st_size);
    const double mtime = static_cast<double>(json.st_mtim.tv_sec) + json.st_mtim.tv_nsec / 1e9;
    if (s.oldest_mtime == 0 || mtime < s.oldest_mtime) s.oldest_mtime = mtime;
    auto data = open_dir_at(entry_fd, "data");
    if (!data) return;
    for (const auto& [name, st] : visible_entries(data->get()))
        if (S_ISREG(st.st_mode)) s.bytes += static_cast<std::uint64_t>(st.st_size);
}

// Every complete entry directly below `dir_fd`; true if there was at least one.
bool scan_entries(int dir_fd, SpoolStatus& s) {
    bool any = false;
    for (const auto& [name, st] : visible_entries(dir_fd)) {
        if (!S_ISDIR(st.st_mode)) continue;
        auto e = open_dir_at(dir_fd, name);
        struct stat json {};
        if (!e || !is_complete_entry(e->get(), &json)) continue;
        add_entry(e->get(), json, s);
        any = true;
    }
    return any;
}

}  // namespace

SpoolStatus scan_spool(const std::string& path) {
    SpoolStatus s;
    UniqueFd top(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!top) return s;
    struct stat json {};
    if (is_complete_entry(top.get(), &json)) {  // one entry
        add_entry(top.get(), json, s);
        return s;
    }
    if (scan_entries(top.get(), s)) return s;  // one user's directory
    for (const auto& [name, st] : visible_entries(top.get())) {  // the spool root
        if (!S_ISDIR(st.st_mode)) continue;
        if (auto user = open_dir_at(top.get(), name)) scan_entries(user->get(), s);
    }
    return s;
}

double oldest_age_seconds(const SpoolStatus& s, double now) {
    return s.entries == 0 ? 0.0 : std::max(0.0, now - s.oldest_mtime);
}

std::string spool_metrics(const std::string& path, const SpoolStatus& s, double now) {
    Exposition e("kafka_stream_spool_");
    const Exposition::Labels spool = {{"spool", path}};
    e.gauge("entries", "Spooled transfers waiting to be sent again (complete entries).", static_cast<double>(s.entries),
            spool);
    e.gauge("bytes", "Bytes of the spooled entries (their data, transfer.json and signature).",
            static_cast<double>(s.bytes), spool);
    e.gauge("oldest_entry_age_seconds", "Age of the oldest spooled entry; 0 when the spool is empty.",
            oldest_age_seconds(s, now), spool);
    e.gauge("last_drain_timestamp_seconds", "When the last drain of this spool ended, in seconds since the epoch.", now,
            spool);
    return e.text();
}

}  // namespace ks::push
