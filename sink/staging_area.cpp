#include "staging_area.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "safe_fs.hpp"

namespace ks::sink {
namespace {
// Bounds the digests kept for completed files (each ~100 bytes); beyond it finalization re-reads the staged file.
constexpr std::size_t kMaxKnownDigests = 200000;
// Write-out of a staged file is started every this many bytes written to it, and when its last byte arrived with at
// least kWritebackTailBytes not yet submitted (small files are left to flush()'s syncfs, which writes thousands of
// them in one journal commit).
constexpr std::size_t kWritebackStartBytes = 8u << 20;
constexpr std::size_t kWritebackTailBytes = 1u << 20;
// Bytes written and waiting for the hashing worker: about 8 chunks, each held in its Kafka message until hashed
// (within the sink's 128 MiB bound; enough that neither the writes nor the hashing wait for the other's jitter).
constexpr std::size_t kHashQueueBytes = 8u << 20;
// A file that arrives whole in one chunk this small is hashed at once: handing 4 KiB to the worker thread (a wake-up,
// a lock, a message kept) costs more than hashing it.
constexpr std::size_t kInlineHashBytes = 64u << 10;
}  // namespace

std::string staged_file_name(std::uint64_t index) { return "f" + std::to_string(index); }

StagingArea::StagingArea(UniqueFd dir, std::size_t max_open, SyncMode sync_mode)
    : dir_(std::move(dir)), max_open_(max_open), sync_mode_(sync_mode),
      hasher_(std::make_unique<HashWorker>(kHashQueueBytes)) {}

Result<StagingArea> StagingArea::open(int rootfd, std::size_t max_open_files, SyncMode sync_mode) {
    TRY_ASSIGN(auto dir, open_dir(rootfd, std::string(kStagingDirName), true));
    return StagingArea(std::move(dir), max_open_files < 1 ? 1 : max_open_files, sync_mode);
}

Result<UniqueFd> StagingArea::open_transfer_dir(const std::string& transfer, bool create) {
    bool existed = entry_exists(dir_.get(), transfer);
    auto d = open_dir(dir_.get(), transfer, create);
    if (d && !existed) staging_dir_dirty_ = true;
    return d;
}

Result<int> StagingArea::cached_transfer_dir(const std::string& transfer) {
    if (cached_dir_ && cached_dir_name_ == transfer) return cached_dir_.get();
    TRY_ASSIGN(cached_dir_, open_transfer_dir(transfer, true));
    cached_dir_name_ = transfer;
    return cached_dir_.get();
}

void StagingArea::forget_cached_dir() {
    cached_dir_.reset();
    cached_dir_name_.clear();
}

Result<StagingArea::OpenFile*> StagingArea::open_file(const Key& key) {
    if (auto it = files_.find(key); it != files_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return &it->second;
    }
    while (files_.size() >= max_open_) {
        auto victim = files_.find(lru_.back());
        TRY(close_file(victim, true));
    }
    TRY_ASSIGN(auto tdir, cached_transfer_dir(key.first));
    std::string name = staged_file_name(key.second);
    bool existed = false;
    UniqueFd fd(::openat(tdir, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd && errno == EEXIST) {
        existed = true;
        fd = UniqueFd(::openat(tdir, name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!fd) return fail_errno("open staged file " + key.first + "/" + name);
    if (!existed) dirs_to_sync_.insert(key.first);
    lru_.push_front(key);
    OpenFile f;
    f.fd = std::move(fd);
    // A file that existed before this process opened it has content we did not hash.
    f.hashing = !existed;
    f.lru = lru_.begin();
    return &files_.emplace(key, std::move(f)).first->second;
}

Result<void> StagingArea::close_file(std::map<Key, OpenFile>::iterator it, bool sync) {
    if (sync && it->second.dirty) {
        if (sync_mode_ == SyncMode::grouped) ++closed_unsynced_;  // flush() reaches it through syncfs
        else if (auto ok = datasync_fd(it->second.fd.get(), "staged file"); !ok) return ok;
    }
    stop_hashing(it->second);  // its running digest is lost: finalization reads the file back
    lru_.erase(it->second.lru);
    files_.erase(it);
    return {};
}

void StagingArea::start_writeback(OpenFile& file, std::size_t written, bool reached_end) {
#ifdef SYNC_FILE_RANGE_WRITE
    // The kernel starts writing dirty pages back only past dirty_background_ratio (GBs on a big node), so every
    // flush() used to write its whole commit.bytes while the sink waited. Asking for write-out as the data arrives
    // lets the device work while the sink consumes; flush() then waits only for the tail. Durability is unchanged
    // (flush() still fsyncs), so an error here is only a lost optimisation.
    file.unsubmitted_bytes += written;
    if (file.unsubmitted_bytes < (reached_end ? kWritebackTailBytes : kWritebackStartBytes)) return;
    file.unsubmitted_bytes = 0;
    (void)::sync_file_range(file.fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)file;
    (void)written;
    (void)reached_end;
#endif
}

Result<void> StagingArea::write_chunk(const std::string& transfer, std::uint64_t index, std::uint64_t offset,
                                      std::uint64_t declared_size, std::string_view data, bool& input_error,
                                      const std::function<Keep()>& take_data) {
    input_error = false;
    // What the worker has hashed (earlier Kafka messages) is released here, on the sink's thread; before this write's
    // bytes are handed over, so that they stay valid until the caller is done with this message.
    (void)hasher_->collect();
    Key key{transfer, index};
    auto f = open_file(key);
    if (!f) {
        // Something that is not a staged file of ours in its place (only root can put it there): the transfer is set
        // aside with it, rather than stopping the sink at every restart.
        input_error = errno == EISDIR || errno == ELOOP || errno == ENOTDIR || errno == EEXIST;
        return std::unexpected(f.error());
    }
    OpenFile& file = **f;
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::pwrite(file.fd.get(), data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            input_error = errno == EFBIG || errno == EINVAL;
            return fail_errno("write staged file " + transfer + "/" + staged_file_name(index));
        }
        done += static_cast<std::size_t>(n);
    }
    file.dirty = true;
    unflushed_bytes_ += data.size();
    forget_digest(key);
    partial_digests_.erase(key);
    start_writeback(file, data.size(), offset + data.size() == declared_size);
    hash_in_order(key, file, offset, declared_size, data, take_data);
    return {};
}

void StagingArea::hash_in_order(const Key& key, OpenFile& file, std::uint64_t offset, std::uint64_t declared_size,
                                std::string_view data, const std::function<Keep()>& take_data) {
    // Keep a running digest while the file's chunks arrive in order (a resend from offset 0 starts over):
    // finalization then need not read the file back, and the hashing overlaps the transfer. (It once stalled
    // librdkafka < 2.2's fetcher for a second per full prefetch queue; the sink now restarts the fetch, fetch_kick.hpp,
    // and many files or one large file reach _SUCCESS sooner than with a hash at finalization.)
    // The hashing runs on the worker's thread, from the bytes just written (the Kafka message is kept until they are
    // hashed): the sink's thread goes on writing and parsing while chunk N is hashed.
    if (offset == 0) {
        stop_hashing(file);
        file.hashed_upto = 0;
        file.hashing = true;
    }
    if (!file.hashing || offset != file.hashed_upto) {
        stop_hashing(file);
        return;
    }
    const bool complete = offset + data.size() == declared_size;
    if (offset == 0 && complete && data.size() <= kInlineHashBytes) {
        file.hashing = false;
        if (digests_.size() < kMaxKnownDigests) digests_[key] = Digest{declared_size, sha256_hex(data), std::nullopt};
        return;
    }
    if (!file.digest) file.digest = hasher_->start();
    std::string_view view = data;
    Keep keep = take_data ? take_data() : Keep();
    if (!keep.get()) keep = Keep::copy_of(data, view);
    hasher_->add(*file.digest, offset, view, std::move(keep));
    file.hashed_upto += data.size();
    // Complete and written in order: remember the digest until the file changes again.
    if (complete) {
        file.hashing = false;
        const HashWorker::Id id = *std::exchange(file.digest, std::nullopt);
        hasher_->end(id);
        if (digests_.size() < kMaxKnownDigests) digests_[key] = Digest{declared_size, {}, id};
        else hasher_->drop(id);
    }
}

void StagingArea::stop_hashing(OpenFile& file) {
    file.hashing = false;
    if (file.digest) hasher_->drop(*std::exchange(file.digest, std::nullopt));
}

void StagingArea::forget_digest(const Key& key) {
    if (auto it = digests_.find(key); it != digests_.end()) forget_digest(it);
}

void StagingArea::forget_digest(std::map<Key, Digest>::iterator it) {
    if (it->second.pending) hasher_->drop(*it->second.pending);
    digests_.erase(it);
}

std::optional<std::string> StagingArea::known_digest(const std::string& transfer, std::uint64_t index,
                                                     std::uint64_t size) {
    auto it = digests_.find(Key{transfer, index});
    if (it == digests_.end() || it->second.size != size) return std::nullopt;
    if (it->second.pending) {
        // Verification waits here for the worker: a file is still renamed only after its digest was checked.
        auto hex = hasher_->result(*std::exchange(it->second.pending, std::nullopt));
        if (!hex) {
            digests_.erase(it);
            return std::nullopt;
        }
        it->second.hex = std::move(*hex);
    }
    return it->second.hex;
}

Result<std::optional<std::string>> StagingArea::digest_by_reading(const std::string& transfer, std::uint64_t index,
                                                                  int fd, std::uint64_t size, std::uint64_t& budget) {
    Key key{transfer, index};
    auto it = partial_digests_.find(key);
    if (it == partial_digests_.end() || it->second.size != size) {
        partial_digests_.erase(key);
        it = partial_digests_.emplace(key, PartialDigest{size, 0, Sha256()}).first;
    }
    auto done = sha256_slice(fd, size, it->second.hash, it->second.pos, budget);
    if (!done) {
        partial_digests_.erase(it);
        return std::unexpected(done.error());
    }
    if (!*done) return std::optional<std::string>{};
    std::string hex = it->second.hash.finish_hex();
    partial_digests_.erase(it);
    return std::optional<std::string>{std::move(hex)};
}

void StagingArea::release(const std::string& transfer, std::uint64_t index) {
    Key key{transfer, index};
    forget_digest(key);
    partial_digests_.erase(key);
    if (auto it = files_.find(key); it != files_.end()) (void)close_file(it, false);
}

void StagingArea::release_transfer(const std::string& transfer) {
    for (auto it = files_.lower_bound(Key{transfer, 0}); it != files_.end() && it->first.first == transfer;)
        it = (stop_hashing(it->second), lru_.erase(it->second.lru), files_.erase(it));
    for (auto it = digests_.lower_bound(Key{transfer, 0}); it != digests_.end() && it->first.first == transfer;)
        it = (it->second.pending ? hasher_->drop(*it->second.pending) : void(), digests_.erase(it));
    for (auto it = partial_digests_.lower_bound(Key{transfer, 0});
         it != partial_digests_.end() && it->first.first == transfer;)
        it = partial_digests_.erase(it);
    dirs_to_sync_.erase(transfer);
    if (cached_dir_name_ == transfer) forget_cached_dir();
}

void StagingArea::settle() {
    hasher_->wait_idle();
    (void)hasher_->collect();
}

Result<void> StagingArea::flush() {
    (void)hasher_->collect();  // payloads hashed since the last write (an idle sink keeps none for long)
    // Another sink sharing ROOT may move a transfer's directory away meanwhile: reopen it by name after each flush.
    forget_cached_dir();
    std::size_t dirty = closed_unsynced_ + dirs_to_sync_.size() + (staging_dir_dirty_ ? 1 : 0);
    for (const auto& [key, file] : files_) dirty += file.dirty ? 1 : 0;
    SyncBatch batch(dir_.get(), sync_mode_, dirty);
    if (closed_unsynced_ > 0) TRY(batch.add_without_fd(std::to_string(closed_unsynced_) + " staged file(s)"));
    for (auto& [key, file] : files_) {
        if (!file.dirty) continue;
        if (auto ok = batch.add(file.fd.get(), "staged file " + key.first + "/" + staged_file_name(key.second), true);
            !ok)
            return ok;
    }
    if (!batch.grouped()) {  // syncfs covers the directories too
        for (const auto& t : dirs_to_sync_) {
            auto d = open_dir(dir_.get(), t, false);
            if (!d) continue;  // moved away meanwhile (finalized or quarantined)
            TRY(fsync_fd(d->get(), "staging directory " + t));
        }
        if (staging_dir_dirty_) TRY(fsync_fd(dir_.get(), "staging directory"));
    } else if (!dirs_to_sync_.empty() || staging_dir_dirty_) {
        TRY(batch.add_without_fd("staging directories"));
    }
    TRY(batch.commit());
    for (auto& [key, file] : files_) file.dirty = false;
    closed_unsynced_ = 0;
    dirs_to_sync_.clear();
    staging_dir_dirty_ = false;
    unflushed_bytes_ = 0;
    return {};
}

}  // namespace ks::sink
