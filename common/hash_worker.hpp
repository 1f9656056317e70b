// SHA-256 off the caller's thread: a bounded queue of (digest, offset, bytes) that one thread hashes in order.
//
// The push and the sink each hashed every byte on the thread that also reads, writes and talks to librdkafka; with a
// worker, chunk N is hashed while chunk N+1 is read (push) or written (sink). The digest is the same (each digest's
// bytes are hashed in the order they were added), only where the work runs changes.
//
// Ownership: the caller hands each job's bytes over with a Keep that keeps them valid (a Kafka message, a malloc'd
// chunk, a string). The worker never releases a Keep: finished jobs come back through collect(), in the order they
// were added, and are released (or passed on, e.g. to librdkafka) on the caller's thread. So no librdkafka call and no
// free() of a caller's buffer ever happens on the worker's thread, and a buffer is never handed on while it is read.
//
// Bounded: add() waits while max_queued_bytes wait to be hashed (a job larger than that is accepted alone); finished
// jobs stay with the worker until the caller collects them. One thread, started at the first job it gets; a job of at
// most kHashHereBytes added while the worker is idle is hashed on the caller's thread (small files cost a wake-up
// each otherwise), and if the thread cannot be started, every job is (same results, no overlap).
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sha256.hpp"

namespace ks {

// Owns what keeps a job's bytes valid; `releaser` is called with `p` when the Keep is destroyed (on the owner's thread).
class Keep {
public:
    Keep() = default;
    Keep(void* p, void (*releaser)(void*)) : p_(p), release_(releaser) {}
    Keep(Keep&& o) noexcept : p_(std::exchange(o.p_, nullptr)), release_(o.release_) {}
    Keep& operator=(Keep&& o) noexcept {
        if (this != &o) {
            reset();
            p_ = std::exchange(o.p_, nullptr);
            release_ = o.release_;
        }
        return *this;
    }
    Keep(const Keep&) = delete;
    Keep& operator=(const Keep&) = delete;
    ~Keep() { reset(); }

    // Keeps a heap object until released.
    template <class T>
    static Keep owning(std::unique_ptr<T> object) {
        return Keep(object.release(), [](void* q) { delete static_cast<T*>(q); });
    }
    // A copy of `bytes` (malloc'd): for callers whose bytes do not outlive the call.
    static Keep copy_of(std::string_view bytes, std::string_view& view);

    void* get() const { return p_; }
    // Gives up ownership (the caller passes the object on).
    void* release() { return std::exchange(p_, nullptr); }
    void reset() {
        if (p_ && release_) release_(std::exchange(p_, nullptr));
    }

private:
    void* p_ = nullptr;
    void (*release_)(void*) = nullptr;
};

class HashWorker {
public:
    using Id = std::uint64_t;
    static constexpr std::size_t kHashHereBytes = 16u << 10;
    struct Done {
        std::uint64_t tag = 0;  // as given to add()
        Keep keep;
    };

    explicit HashWorker(std::size_t max_queued_bytes);
    // Stops the thread after the job it is hashing; Keeps of jobs not collected are released here.
    ~HashWorker();
    HashWorker(const HashWorker&) = delete;
    HashWorker& operator=(const HashWorker&) = delete;

    // A new digest, empty.
    Id start();
    // Queues `bytes` (valid as long as `keep` lives) to be hashed into `id` at `offset`: a digest's bytes must be added
    // in order from offset 0, else its result is nullopt. Waits while the queue is full. `tag` comes back with the job.
    void add(Id id, std::uint64_t offset, std::string_view bytes, Keep keep, std::uint64_t tag = 0);
    // No more bytes for `id`: the worker finishes the digest after its last queued bytes and frees its hashing state
    // (thousands of complete files can wait for their manifest with ~100 bytes each).
    void end(Id id);
    // Waits until everything queued for `id` is hashed; its hex digest (nullopt if its bytes did not follow each
    // other), and `id` is forgotten. Ends `id` if end() was not called.
    std::optional<std::string> result(Id id);
    // Forgets `id`; its queued bytes are not hashed (their jobs still come back through collect()).
    void drop(Id id);
    // Jobs finished (hashed, or dropped) since the last call, in the order they were added. With `wait`, waits until
    // at least one is finished if any is queued.
    std::vector<Done> collect(bool wait = false);
    // Waits until every queued job is finished (their Keeps are then all with collect()).
    void wait_idle();
    std::size_t queued_bytes() const;
    std::size_t digests() const;  // known digests (started and not forgotten), for tests

private:
    struct Digest {
        std::optional<Sha256> hash;  // freed once ended and hashed
        std::string hex;  // set when finished
        std::uint64_t next_offset = 0;  // bytes added so far
        std::size_t queued = 0;  // jobs of this digest not finished yet
        bool ended = false, finished = false, broken = false, dropped = false;
    };
    struct Job {
        Id id = 0;
        std::string_view bytes;
        Keep keep;
        std::uint64_t tag = 0;
        bool last = false;  // end(): finish the digest
    };

    void run();
    // Hashes one job (the worker's thread, or the caller's when no thread could be started). `lock` is held on entry
    // and on return, released while hashing.
    void process(Job job, std::unique_lock<std::mutex>& lock);
    void enqueue(Job job, std::unique_lock<std::mutex>& lock);
    void forget_if_done(Id id);

    const std::size_t max_queued_bytes_;
    mutable std::mutex mutex_;
    std::condition_variable work_;  // the worker waits for jobs
    std::condition_variable finished_;  // callers wait for room, results, collectable jobs
    std::deque<Job> queue_;
    std::vector<Done> done_;
    std::unordered_map<Id, std::unique_ptr<Digest>> digests_;
    std::size_t queued_bytes_ = 0;
    std::size_t in_progress_ = 0;  // jobs taken by the worker and not finished yet
    Id next_id_ = 1;
    bool stop_ = false;
    bool inline_ = false;  // no thread: hash on the caller's thread
    std::thread thread_;
};

}  // namespace ks
