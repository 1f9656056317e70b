// The one machine-readable line a push or a drain prints on standard output when it ends (its human summary goes to
// standard error): a JSON object, so scripts and log collectors need no parsing of prose. Fields are documented in
// kafka-stream-push(1), DIAGNOSTICS.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "spool_status.hpp"

namespace ks::push {

struct PushSummary {
    std::string status;  // "delivered", "spooled" or "lost"
    int exit_code = 0;
    std::string transfer;
    std::string topic;
    std::uint64_t files = 0;  // confirmed
    std::uint64_t bytes = 0;
    std::uint64_t skipped = 0;
    double seconds = 0;
    std::uint64_t spooled_files = 0;
    std::optional<std::string> spool_entry;
};

struct DrainSummary {
    std::string spool;
    int exit_code = 0;
    double seconds = 0;
    SpoolStatus before;
    SpoolStatus after;
    double now = 0;  // wall clock, for the age of the oldest entry left
};

// {"summary":"push","status":...,"exit_code":...,"transfer":...,"topic":...,"files":...,"bytes":...,
//  "skipped":...,"seconds":...,"spooled_files":...,"spool_entry":...|null}
std::string push_summary_json(const PushSummary& s);
// {"summary":"drain","status":"drained"|"entries remain","exit_code":...,"spool":...,"seconds":...,
//  "entries_before":...,"entries_drained":...,"entries_remaining":...,"bytes_remaining":...,
//  "oldest_remaining_age_seconds":...}
std::string drain_summary_json(const DrainSummary& s);
// Writes one line to standard output and flushes it.
void print_summary_line(const std::string& json);

}  // namespace ks::push
