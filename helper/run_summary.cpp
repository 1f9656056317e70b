#include "run_summary.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "push_contract.hpp"

namespace ks::push {
namespace {

double rounded(double seconds) { return std::round(seconds * 1000) / 1000; }

// Paths and ids are bytes: invalid UTF-8 is replaced rather than making the line unprintable.
std::string dump(const nlohmann::ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

std::string push_summary_json(const PushSummary& s) {
    nlohmann::ordered_json j;
    j["summary"] = "push";
    j["status"] = s.status;
    j["exit_code"] = s.exit_code;
    j["transfer"] = s.transfer;
    j["topic"] = s.topic;
    j["files"] = s.files;
    j["bytes"] = s.bytes;
    j["skipped"] = s.skipped;
    j["seconds"] = rounded(s.seconds);
    j["spooled_files"] = s.spooled_files;
    j["spool_entry"] = s.spool_entry ? nlohmann::ordered_json(*s.spool_entry) : nlohmann::ordered_json(nullptr);
    return dump(j);
}

std::string drain_summary_json(const DrainSummary& s) {
    nlohmann::ordered_json j;
    j["summary"] = "drain";
    j["status"] = s.exit_code == exit_code::delivered ? "drained" : "entries remain";
    j["exit_code"] = s.exit_code;
    j["spool"] = s.spool;
    j["seconds"] = rounded(s.seconds);
    j["entries_before"] = s.before.entries;
    j["entries_drained"] = s.before.entries > s.after.entries ? s.before.entries - s.after.entries : 0;
    j["entries_remaining"] = s.after.entries;
    j["bytes_remaining"] = s.after.bytes;
    j["oldest_remaining_age_seconds"] = rounded(oldest_age_seconds(s.after, s.now));
    return dump(j);
}

void print_summary_line(const std::string& json) {
    std::string line = json + "\n";
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
}

}  // namespace ks::push
