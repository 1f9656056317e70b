// The JSON values of the open and manifest messages (see ARCHITECTURE.md, "Wire format"): the job, the files and
// what was skipped, and the split of a large manifest into parts and their merge.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "companion_topic.hpp"  // kFormatRecords
#include "result.hpp"
#include "wire_headers.hpp"

namespace ks::wire {

// A manifest larger than one message is split into parts, each a complete JSON object with a subset of the entries.
inline constexpr std::uint32_t kMaxManifestParts = 65536;

struct FileEntry {
    FileMeta meta;
    std::string sha256;  // lowercase hex
    std::uint64_t chunks = 0;   // chunk messages (for a file sent as records: its record messages)
    std::string format = {};    // "" = chunks; "records" = sent as one record message per line
    // Records: the "timestamp" of the lines, as runs: from each run's offset on (to the next run), the lines carried
    // that timestamp (the sender stamps each block it reads). Lets the sink write the "timestamp,data" form.
    std::vector<std::pair<std::uint64_t, std::string>> timestamps = {};
};

struct SkipEntry {
    std::string path;
    std::string reason;
};

struct JobInfo {
    std::string job_id;
    std::string user;
    std::int64_t uid = -1;
    std::int64_t gid = -1;
    std::string node;
    std::string cluster;
    std::uint32_t nodes = 1;  // number of nodes in the job
    std::optional<std::int32_t> exit_code;  // when known
    std::string instance = {};  // see TransferIdentity::instance
};

struct Manifest {
    int version = kVersion;
    std::string transfer_id;
    std::uint32_t part = 0;  // this part's index, when the manifest is split over several messages
    std::uint32_t parts = 1;  // number of parts
    JobInfo job;
    std::uint64_t chunk_bytes = kDefaultChunkBytes;
    std::vector<FileEntry> files;
    std::vector<SkipEntry> skipped;
    std::uint64_t total_bytes() const;
};

// The first message of every transfer: who sends it, for which job. The sink stages nothing of a transfer before its
// open message was verified (signature.hpp), so a forged transfer never gets a byte of staging space.
struct TransferOpen {
    int version = kVersion;
    std::string transfer_id;
    JobInfo job;
};
// {"version":2,"transfer_id":"...","job":{...as in the manifest...}}
std::string open_to_json(const TransferOpen& open);
Result<TransferOpen> parse_open(std::string_view json);
// The identity a job's messages carry in their headers.
TransferIdentity identity_of(const JobInfo& job, const std::string& transfer_id);

// JSON. Paths that are valid UTF-8 go in "path"; others in "path_b64" (base64 of the raw bytes).
std::string manifest_to_json(const Manifest& manifest);
// Strict: unknown version, missing or mistyped fields, duplicate file indexes are errors.
Result<Manifest> parse_manifest(std::string_view json);

// Splits a manifest into parts whose JSON is at most `max_bytes` each (one part when it fits). Fails only when a
// single entry cannot fit.
Result<std::vector<std::string>> manifest_parts_json(const Manifest& manifest, std::size_t max_bytes);
// Joins parts (in any order) into one manifest; fails unless parts 0..n-1 are all present exactly once and agree on
// the transfer, the job and the chunk size, or when file indexes repeat across parts.
Result<Manifest> merge_manifest_parts(std::vector<Manifest> parts);

}  // namespace ks::wire
