// The wire format's messages and their Kafka headers (see ARCHITECTURE.md, "Wire format"): the version, the transfer
// identity and the message key, and the codec of the open, chunk and manifest headers.
//
// One node's transfer = an open message, chunk messages (file data, headers describe file and offset), then the
// manifest (JSON, manifest_json.hpp). All messages of a transfer carry the same key, so they land in one partition,
// in order.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.hpp"

namespace ks::wire {

// 2: transfers start with an "open" message and their open and manifest messages carry a signature (ks.sig).
inline constexpr int kVersion = 2;
// Default chunk payload: well below the broker's and librdkafka's default 1,000,000-byte message limit,
// leaving room for headers and record overhead.
inline constexpr std::uint64_t kDefaultChunkBytes = 960 * 1024;
inline constexpr std::uint64_t kMaxChunkBytes = 64ull * 1024 * 1024;
inline constexpr std::size_t kMaxPathBytes = 4096;

namespace header {
inline constexpr std::string_view version = "ks.v";         // "2" (kVersion)
inline constexpr std::string_view type = "ks.type";         // "open" | "chunk" | "manifest" | "record"
inline constexpr std::string_view transfer = "ks.transfer"; // transfer id, 32 lowercase hex digits
inline constexpr std::string_view cluster = "ks.cluster";
inline constexpr std::string_view job = "ks.job";
inline constexpr std::string_view node = "ks.node";
inline constexpr std::string_view user = "ks.user";
inline constexpr std::string_view instance = "ks.instance"; // optional: the job instance (see TransferIdentity)
inline constexpr std::string_view path = "ks.path";         // relative path, raw bytes (not necessarily UTF-8)
inline constexpr std::string_view file = "ks.file";         // file index in the transfer (decimal)
inline constexpr std::string_view size = "ks.size";         // file size in bytes (decimal)
inline constexpr std::string_view mode = "ks.mode";         // permission bits (octal, e.g. "644")
inline constexpr std::string_view mtime = "ks.mtime";       // modification time, nanoseconds since the epoch
inline constexpr std::string_view offset = "ks.offset";     // byte offset of this chunk in the file
inline constexpr std::string_view part = "ks.part";         // manifest part index (0-based)
inline constexpr std::string_view parts = "ks.parts";       // number of manifest parts of the transfer
inline constexpr std::string_view signature = "ks.sig";  // open and manifest: "<key id>:<hex HMAC>" (signature.hpp)
}  // namespace header

// Kafka headers as an ordered list of (name, value); values are raw bytes.
using Headers = std::vector<std::pair<std::string, std::string>>;

enum class MessageType { open, chunk, manifest, record };

// What identifies one node's transfer of one job.
struct TransferIdentity {
    std::string cluster;
    std::string job_id;
    std::string node;
    std::string user;
    std::string transfer_id;  // stable across retries and spool replays
    // Distinguishes two jobs with the same id (Slurm's job ids restart after a controller state loss and wrap at
    // MaxJobId): a random value the plugin draws once per job at submission. Empty for ad-hoc runs.
    std::string instance = {};
};

// Deterministic: the same (cluster, job, node) always gives the same id, so a replay is recognised as the same transfer.
std::string make_transfer_id(std::string_view cluster, std::string_view job_id, std::string_view node,
                             std::string_view instance = {});
// 32 lowercase hex digits, the form make_transfer_id returns.
bool valid_transfer_id(std::string_view s);
// A user, job, node or cluster name as the sink accepts it, since such values become directory names: 1-128 bytes of
// [A-Za-z0-9._@+-] (and '_'), starting with a letter, a digit or '_' (never '.', so never ".staging" or "..").
bool valid_identity_name(std::string_view s);
// Which identity value breaks that rule, as an error naming it; empty cluster is allowed (ad-hoc runs).
Result<void> check_identity_names(const std::string& cluster, const std::string& job, const std::string& node,
                                  const std::string& user);
// Message key: "<cluster>/<job>/<node>"; one node's messages share a partition, the nodes of a job spread out.
std::string message_key(const TransferIdentity& id);

struct FileMeta {
    std::string path;  // relative, '/'-separated, raw bytes
    std::uint64_t index = 0;
    std::uint64_t size = 0;
    std::uint32_t mode = 0644;
    std::int64_t mtime_ns = 0;
};

struct ChunkHeader {
    TransferIdentity id;
    FileMeta file;
    std::uint64_t offset = 0;
};

// A record (records mode): one line of a text file. No headers at all (librdkafka allocates per header and per
// message: even two headers per line were a third of the push's CPU), which is also how it is told from chunks and
// manifests. Everything is in the JSON value, beside the "timestamp" and "data" keys a plain consumer reads, under one
// extra key "ks" (helper/record_encoder.hpp):
//   {"timestamp":1712345678.123456,"data":"a,b","ks":{"transfer":"<id>","file":3,"path":"out/a.csv","size":100,
//    "offset":90,"eol":"\r\n"}}
// "path" is for people reading the topic (invalid UTF-8 bytes shown as U+FFFD); the sink takes paths from the manifest.
namespace record_key {
inline constexpr std::string_view timestamp = "timestamp";
inline constexpr std::string_view data = "data";
inline constexpr std::string_view data_b64 = "data_b64";  // the raw line in base64, present when it is not UTF-8
inline constexpr std::string_view meta = "ks";
inline constexpr std::string_view transfer = "transfer";
inline constexpr std::string_view file = "file";
inline constexpr std::string_view path = "path";
inline constexpr std::string_view size = "size";
inline constexpr std::string_view offset = "offset";
inline constexpr std::string_view eol = "eol";
}  // namespace record_key

Headers encode_chunk(const ChunkHeader& chunk);
Headers encode_manifest_headers(const TransferIdentity& id, std::uint32_t part = 0, std::uint32_t parts = 1);
Headers encode_open_headers(const TransferIdentity& id);

// Reads ks.v and ks.type; fails on a missing or unknown version or type. A message without either is a record
// (records carry no headers; ks.type=record with ks.v is accepted too).
Result<MessageType> message_type(const Headers& headers);
// Strict: every field present, numbers in range, offset <= size. Does not judge the path (the sink sanitizes it).
Result<ChunkHeader> decode_chunk(const Headers& headers);
Result<TransferIdentity> decode_identity(const Headers& headers);

}  // namespace ks::wire
