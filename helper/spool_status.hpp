// What waits in a spool, for the drain's summary and its node_exporter textfile (--metrics-file with
// --drain-spool): complete entries, their bytes, and the oldest one's age, so a site can alert on a spool that is not
// draining. Partial entries (names starting with '.') are not counted, as the drain does not send them.
#pragma once
#include <cstdint>
#include <string>

#include "result.hpp"

namespace ks::push {

struct SpoolStatus {
    std::uint64_t entries = 0;
    std::uint64_t bytes = 0;     // every file of every entry: transfer.json, its signature, data/*
    double oldest_mtime = 0;     // of the oldest entry's transfer.json (when it was spooled); 0 when empty
};

// `path` as --drain-spool takes it: the spool root, one SPOOL/<uid> directory, or one entry. Directories it cannot
// read are left out.
SpoolStatus scan_spool(const std::string& path);

double oldest_age_seconds(const SpoolStatus& s, double now);

// kafka_stream_spool_entries, _bytes, _oldest_entry_age_seconds and _last_drain_timestamp_seconds, labelled with
// the spool's path.
std::string spool_metrics(const std::string& path, const SpoolStatus& s, double now);

}  // namespace ks::push
