// ROOT/.staging/<transfer id>/f<file index>: where chunks are written before a file is complete.
//
// Chunks are written with pwrite at their offset, so out-of-order and repeated chunks are harmless (the last write of
// an offset wins). Open files are kept in a small LRU (bounded descriptors); a file written strictly in order from
// offset 0 is hashed on the fly, so finalization need not re-read it: by a HashWorker thread (hash_worker.hpp), which
// hashes chunk N while chunk N+1 is written and the next fetch is parsed, from the bytes that were written (the Kafka
// message is kept until then); verification before the rename waits for that digest. Write-out of a large file starts
// while its chunks arrive. flush() makes every write since the previous flush durable (fsync of files and of
// directories that gained entries): only then may offsets be committed.
// Where syncfs() is reliable (sync_batch.hpp), a file leaving the LRU is closed without fsync and flush() syncs the
// file system once: with thousands of small files that is one journal commit instead of one per file.
#pragma once
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "hash_worker.hpp"
#include "result.hpp"
#include "sha256.hpp"
#include "sync_batch.hpp"
#include "unique_fd.hpp"

namespace ks::sink {

inline constexpr std::string_view kStagingDirName = ".staging";
inline constexpr std::string_view kStagedManifestName = "manifest.json";
// Parts of a manifest that came in several messages: "manifest.part.<index>", merged into manifest.json when complete.
inline constexpr std::string_view kStagedManifestPartPrefix = "manifest.part.";
inline constexpr std::string_view kStagedTopicName = "topic";

std::string staged_file_name(std::uint64_t index);

class StagingArea {
public:
    static Result<StagingArea> open(int rootfd, std::size_t max_open_files, SyncMode sync_mode);

    int dir() const { return dir_.get(); }
    Result<UniqueFd> open_transfer_dir(const std::string& transfer, bool create);

    // Writes `data` at `offset` of file `index` of `transfer`. The caller has checked offset + size <= declared size.
    // Errors are host failures (disk full, I/O error) except EFBIG/EINVAL, and something else than a staged file in
    // its place (a directory, a link), reported as input errors by `input_error`.
    // `take_data`, if given, hands over what keeps `data` valid (the Kafka message) when the bytes are to be hashed
    // after this call returns (it is released at a later call, flush() or settle(), never during this one); without
    // it they are copied for the hashing worker.
    Result<void> write_chunk(const std::string& transfer, std::uint64_t index, std::uint64_t offset,
                             std::uint64_t declared_size, std::string_view data, bool& input_error,
                             const std::function<Keep()>& take_data = {});
    // The digest of the first `size` bytes if the file was written contiguously from 0 to exactly `size` (waits for
    // the hashing worker to finish that file).
    std::optional<std::string> known_digest(const std::string& transfer, std::uint64_t index, std::uint64_t size);
    // The digest of a staged file that was not hashed on the way (chunks out of order, or staged by an earlier
    // process), read through `fd` at most `budget` bytes per call (budget is decreased), resuming where the last call
    // stopped: a huge file never holds the poll loop for long. nullopt until the first `size` bytes are all read.
    // Any write to the file starts it over.
    Result<std::optional<std::string>> digest_by_reading(const std::string& transfer, std::uint64_t index, int fd,
                                                         std::uint64_t size, std::uint64_t& budget);
    // Closes the descriptor of one staged file (it is about to be renamed) and forgets its digest.
    void release(const std::string& transfer, std::uint64_t index);
    // Closes all descriptors of a transfer (it is finalized, quarantined or moved aside).
    void release_transfer(const std::string& transfer);

    // fsync every file written and every directory that gained entries since the last flush.
    Result<void> flush();
    // Waits until the hashing worker has hashed every byte given to it and releases what kept those bytes (Kafka
    // messages): the consumer calls it before its handle is destroyed. Digests are kept.
    void settle();
    std::uint64_t unflushed_bytes() const { return unflushed_bytes_; }
    std::size_t open_files() const { return files_.size(); }
    SyncMode sync_mode() const { return sync_mode_; }
    // Closes the cached descriptor of the directory chunks were last written to (another sink sharing ROOT may have
    // moved it): after a rebalance.
    void forget_directories() { forget_cached_dir(); }

private:
    using Key = std::pair<std::string, std::uint64_t>;
    struct OpenFile {
        UniqueFd fd;
        std::optional<HashWorker::Id> digest;  // the running digest of [0, hashed_upto), in the hashing worker
        std::uint64_t hashed_upto = 0;
        bool hashing = true;  // false once a chunk arrived out of order (the digest will be computed by reading)
        bool dirty = false;
        std::size_t unsubmitted_bytes = 0;  // written since write-out was last started
        std::list<Key>::iterator lru;
    };
    struct Digest {
        std::uint64_t size = 0;
        std::string hex;
        std::optional<HashWorker::Id> pending;  // still in the hashing worker: hex is not known yet
    };
    struct PartialDigest {  // digest_by_reading's progress
        std::uint64_t size = 0;
        std::uint64_t pos = 0;
        Sha256 hash;
    };

    StagingArea(UniqueFd dir, std::size_t max_open, SyncMode sync_mode);
    Result<OpenFile*> open_file(const Key& key);
    // The transfer's directory, created if needed; the last one used stays open (chunks of a transfer come in runs).
    Result<int> cached_transfer_dir(const std::string& transfer);
    void forget_cached_dir();
    Result<void> close_file(std::map<Key, OpenFile>::iterator it, bool sync);
    void start_writeback(OpenFile& file, std::size_t written, bool reached_end);
    // Hashing of `file` in order, from the bytes of one write; `take_data` as in write_chunk.
    void hash_in_order(const Key& key, OpenFile& file, std::uint64_t offset, std::uint64_t declared_size,
                       std::string_view data, const std::function<Keep()>& take_data);
    void stop_hashing(OpenFile& file);
    void forget_digest(const Key& key);
    void forget_digest(std::map<Key, Digest>::iterator it);

    UniqueFd dir_;
    std::size_t max_open_;
    SyncMode sync_mode_;
    std::string cached_dir_name_;
    UniqueFd cached_dir_;
    std::map<Key, OpenFile> files_;
    std::list<Key> lru_;  // most recently used first
    std::map<Key, Digest> digests_;
    std::map<Key, PartialDigest> partial_digests_;
    std::unique_ptr<HashWorker> hasher_;  // behind a pointer: the StagingArea moves, the worker's thread stays
    std::set<std::string> dirs_to_sync_;
    bool staging_dir_dirty_ = false;
    std::size_t closed_unsynced_ = 0;  // files written and closed since the last flush, not yet fsynced
    std::uint64_t unflushed_bytes_ = 0;
};

}  // namespace ks::sink
