// The "timestamp,data" form of a file that came in records mode: one line "<timestamp>,<line>\n" per line of the
// rebuilt file (the line without its ending), which is what the classic kafka-python pipeline's consumer writes.
// The timestamps are the ones the lines carried, from the manifest's runs (wire::FileEntry::timestamps).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "result.hpp"

namespace ks::sink {

using TimestampRuns = std::vector<std::pair<std::uint64_t, std::string>>;

// Reads `size` bytes of `src_fd` from offset 0 and writes the form to `out_fd` (from its current position).
// Line endings: "\n" and "\r\n" end a line (as the sender split them); a last line without one still gets a line.
Result<void> write_timestamp_data(int src_fd, std::uint64_t size, const TimestampRuns& runs, int out_fd);

}  // namespace ks::sink
