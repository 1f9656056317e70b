// The "timestamp,data" form of a file that came in records mode: one line "<timestamp>,<line>\n" per line of the
// rebuilt file (the line without its ending), which is what the classic kafka-python pipeline's consumer writes.
// The timestamps are the ones the lines carried, from the manifest's runs (wire::FileEntry::timestamps).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "log.hpp"
#include "result.hpp"

namespace ks::sink {

using TimestampRuns = std::vector<std::pair<std::uint64_t, std::string>>;

// Reads `size` bytes of `src_fd` from offset 0 and writes the form to `out_fd` (from its current position).
// Line endings: "\n" and "\r\n" end a line (as the sender split them); a last line without one still gets a line.
Result<void> write_timestamp_data(int src_fd, std::uint64_t size, const TimestampRuns& runs, int out_fd);

}  // namespace ks::sink

// --- With `--records-timestamp-data`: the form as an extra output file beside each records-mode file -------------

#include "staging_area.hpp"
#include "transfer_plan.hpp"

namespace ks::sink {

inline constexpr std::string_view kTimestampDataSuffix = ".timestamp_data";
// Staged index of the form of file `index` (above any index a manifest may use, see plan_transfer's limits).
inline constexpr std::uint64_t kTimestampDataIndexBase = 1ull << 62;

// For each records-mode file of `manifest` whose bytes are staged complete and verified (or already in place after a
// crash), stages its timestamp,data form (written, fsynced, renamed into staging) and adds it to `plan` as one more
// file "<path>.timestamp_data" with the source's mode and mtime, so the finalizer places it like the others.
// A source still incomplete is left alone (the finalizer waits for it); a name taken by a file of the job, skipped.
Result<void> plan_timestamp_data(int rootfd, StagingArea& staging, const std::string& transfer,
                                 const wire::Manifest& manifest, TransferPlan& plan, const Log& log);

}  // namespace ks::sink
