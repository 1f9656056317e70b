// Checks a received manifest against its message identity and the layout, before anything is placed:
// where each file will go, and why the whole transfer must be refused otherwise.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "layout.hpp"
#include "result.hpp"
#include "wire_format.hpp"

namespace ks::sink {

struct Limits {
    std::uint64_t max_file_bytes = 1ull << 40;  // 1 TiB
    std::uint64_t max_files = 1000000;          // files per transfer (and largest file index + 1)
};

struct PlannedFile {
    std::uint64_t index = 0;
    std::uint64_t size = 0;
    std::uint32_t mode = 0644;
    std::int64_t mtime_ns = 0;
    std::string sha256;
    std::string path;                     // as sent (for messages)
    std::vector<std::string> target;      // components below ROOT
};

struct TransferPlan {
    LayoutVars vars;
    wire::JobInfo job;
    std::vector<std::string> job_dir;     // components below ROOT
    std::string node_manifest_name;       // "<node>.json" in <job dir>/_manifests/
    std::vector<PlannedFile> files;
    std::uint64_t total_bytes = 0;
};

LayoutVars layout_vars(const wire::JobInfo& job, const std::string& transfer_id, const std::string& topic);

// Refuses: identity fields that differ from the message headers, a transfer id that is not the one derived from
// (cluster, job, node), unsafe paths or layout values, two files with one target, a file that is also used as a
// directory, too many files, sizes above the limit.
Result<TransferPlan> plan_transfer(const wire::Manifest& manifest, const wire::TransferIdentity& id,
                                   const std::string& topic, const Layout& layout, const Limits& limits);

// Checks a chunk header on its own (before any byte is written).
// Within the limits, and [offset, offset + payload_bytes) inside the declared size (chunks and records).
Result<void> check_range(std::uint64_t index, std::uint64_t size, std::uint64_t offset, std::size_t payload_bytes,
                         const Limits& limits);
Result<void> check_chunk(const wire::ChunkHeader& chunk, std::size_t payload_bytes, const Limits& limits);
// The transfer id must be the one derived from the identity, so a message cannot write into another node's transfer,
// and the names must be safe directory names (wire::valid_identity_name).
Result<void> check_identity(const wire::TransferIdentity& id);

}  // namespace ks::sink
