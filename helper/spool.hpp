// The spool: what a run could not get confirmed, saved on the node so --drain-spool can resend the same transfer.
//
// Layout: SPOOL/<uid>/<transfer id>/
//   transfer.json   topic, key, identity, the complete manifest, the indexes of the files to resend, written LAST
//   transfer.sig    the node's signature of transfer.json (signature.hpp, type "spool"): the directory belongs to
//                   the job's user, who can change anything in it, so the drain resends only what a node signed
//   data/<index>    a copy of each file that was not fully confirmed (synced to disk before transfer.json exists)
// An entry is built in SPOOL/<uid>/.<transfer id>.partial-<pid> and renamed into place only when complete, so a
// crash never leaves something that looks like a complete entry. Names starting with '.' are never drained.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <vector>

#include "fs_ops.hpp"
#include "result.hpp"
#include "unique_fd.hpp"
#include "wire_format.hpp"

namespace ks::push {

inline constexpr const char* kSpoolEntryFile = "transfer.json";
inline constexpr const char* kSpoolSignatureFile = "transfer.sig";
inline constexpr int kSpoolFormat = 1;

struct SpoolEntry {
    std::string topic;                  // the user's topic
    bool records = false;               // a records-mode transfer: all but its records go to the companion topic
    wire::TransferIdentity id;
    wire::Manifest manifest;            // complete: every file (sent or to resend) and every skip
    std::vector<std::uint64_t> resend;  // file indexes whose data is in data/<index>
};

std::string spool_entry_to_json(const SpoolEntry& entry);
// Strict: unknown format, missing fields, a resend index the manifest does not list, a transfer id that does not
// match the identity are errors.
Result<SpoolEntry> parse_spool_entry(std::string_view json);

// As root, before dropping privileges: makes SPOOL (0755, root) and SPOOL/<uid> (0700, owned by uid:gid) exist.
// Refuses a SPOOL/<uid> that is a symlink or belongs to another uid.
Result<void> prepare_user_spool(const std::string& spool_root, uid_t uid, gid_t gid);

struct SpooledCopy {
    std::uint64_t size = 0;
    std::string sha256;
};

// How much one user's spool directory may hold: at most `max_bytes` (0: a quarter of the file system), and a copy
// never leaves less than `min_free_percent` of the file system free. Bytes are counted as allocated, so a sparse
// file counts (and is copied) as its data only.
struct SpoolLimits {
    std::uint64_t max_bytes = 0;
    unsigned min_free_percent = 5;
};

struct SpoolError {
    std::string message;
    bool full = false;  // the file did not fit (limits above); the entry can still be committed without it
};

// Builds one entry; commit() makes it visible. Destroying an uncommitted writer removes the partial directory.
class SpoolWriter {
public:
    // Creates SPOOL/<uid>/ if it does not exist yet (running as that user) and the partial entry directory.
    static Result<SpoolWriter> begin(const std::string& spool_root, uid_t uid, const std::string& transfer_id,
                                     SpoolLimits limits = {});
    SpoolWriter(SpoolWriter&&) noexcept;
    SpoolWriter& operator=(SpoolWriter&&) = delete;
    ~SpoolWriter();

    // Copies the whole content of `fd` (from offset 0 to EOF; holes stay holes) to data/<index> and returns what was
    // copied; commit() makes the copies durable before the entry exists.
    std::expected<SpooledCopy, SpoolError> add_file(std::uint64_t index, int fd);
    // Writes transfer.sig (the signature `sign` returns for the entry's JSON; none if it returns ""), transfer.json
    // (temp file, fsync, rename), then renames the entry into place, replacing an older entry of the same transfer.
    // Returns the entry's final path.
    Result<std::string> commit(const SpoolEntry& entry, const std::function<std::string(std::string_view)>& sign = {});

private:
    SpoolWriter() = default;
    std::string user_dir_;
    std::string partial_name_;
    std::string final_name_;
    UniqueFd user_fd_;
    UniqueFd entry_fd_;
    UniqueFd data_fd_;
    SpoolLimits limits_;
    std::uint64_t used_ = 0;  // bytes allocated in SPOOL/<uid> (all entries)
    bool committed_ = false;
};

// Removes a spool entry directory (its data/ files, transfer.json, then itself) relative to `parent_fd`.
Result<void> remove_entry(int parent_fd, const std::string& name);

// Removes what interrupted runs left in a SPOOL/<uid> directory: ".<id>.partial-<pid>" and ".<id>.old-<pid>"
// entries whose process is gone, or older than a day. Returns how many were removed.
std::size_t remove_interrupted_entries(int user_dir_fd);

// True if `entry_fd` holds a complete entry: its transfer.json is a regular file (whose lstat `json` receives).
bool is_complete_entry(int entry_fd, struct stat* json = nullptr);

// What the drain and the spool's metrics look at in a spool directory: the names not starting with '.' (not partial
// or superseded entries), sorted, with their lstat; none when the directory cannot be read.
std::vector<DirEntry> visible_entries(int dir_fd);

// Bytes allocated under a directory (not following links).
std::uint64_t allocated_bytes(int dir_fd);

}  // namespace ks::push
