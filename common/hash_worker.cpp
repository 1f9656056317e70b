#include "hash_worker.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>

namespace ks {

Keep Keep::copy_of(std::string_view bytes, std::string_view& view) {
    char* p = static_cast<char*>(std::malloc(bytes.empty() ? 1 : bytes.size()));
    if (!p) throw std::bad_alloc();
    if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
    view = std::string_view(p, bytes.size());
    return Keep(p, [](void* q) { std::free(q); });
}

HashWorker::HashWorker(std::size_t max_queued_bytes) : max_queued_bytes_(max_queued_bytes) {}

HashWorker::~HashWorker() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    work_.notify_all();
    if (thread_.joinable()) thread_.join();
    // queue_ and done_ go with the object: their Keeps are released on this (the owner's) thread.
}

HashWorker::Id HashWorker::start() {
    std::lock_guard lock(mutex_);
    const Id id = next_id_++;
    auto d = std::make_unique<Digest>();
    d->hash.emplace();
    digests_.emplace(id, std::move(d));
    return id;
}

void HashWorker::add(Id id, std::uint64_t offset, std::string_view bytes, Keep keep, std::uint64_t tag) {
    std::unique_lock lock(mutex_);
    // Room first: the bound holds whatever the digest's state.
    finished_.wait(lock, [&] { return queued_bytes_ == 0 || queued_bytes_ + bytes.size() <= max_queued_bytes_; });
    auto it = digests_.find(id);
    if (it == digests_.end() || it->second->dropped) {
        // Forgotten meanwhile: nothing to hash, but the bytes still go back to their owner.
        done_.push_back(Done{tag, std::move(keep)});
        finished_.notify_all();
        return;
    }
    Digest& d = *it->second;
    if (d.ended || offset != d.next_offset) d.broken = true;
    d.next_offset = offset + bytes.size();
    enqueue(Job{id, bytes, std::move(keep), tag, false}, lock);
}

void HashWorker::end(Id id) {
    std::unique_lock lock(mutex_);
    auto it = digests_.find(id);
    if (it == digests_.end() || it->second->ended) return;
    it->second->ended = true;
    enqueue(Job{id, {}, Keep(), 0, true}, lock);
}

void HashWorker::enqueue(Job job, std::unique_lock<std::mutex>& lock) {
    ++digests_.at(job.id)->queued;
    queued_bytes_ += job.bytes.size();
    // A few KiB while the worker has nothing to do: waking it costs more than hashing them here (many small files
    // cost noticeably more CPU through the thread). The worker is idle, so this stays in order.
    if (queue_.empty() && in_progress_ == 0 && job.bytes.size() <= kHashHereBytes) {
        process(std::move(job), lock);
        return;
    }
    if (!thread_.joinable() && !inline_) {
        // The worker blocks every signal (it inherits the mask it is created with): SIGTERM and the like go to the
        // tool's own threads, whose waits they are meant to cut short.
        sigset_t all, before;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &before);
        try {
            thread_ = std::thread([this] { run(); });
        } catch (const std::system_error&) {
            inline_ = true;  // no thread to be had: hash here, as before the worker existed
        }
        pthread_sigmask(SIG_SETMASK, &before, nullptr);
    }
    if (inline_) {
        process(std::move(job), lock);
        return;
    }
    queue_.push_back(std::move(job));
    work_.notify_one();
}

void HashWorker::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        Job job = std::move(queue_.front());
        queue_.pop_front();
        process(std::move(job), lock);
    }
}

void HashWorker::process(Job job, std::unique_lock<std::mutex>& lock) {
    // The digest exists: a dropped one is forgotten only once its last queued job is finished (forget_if_done).
    Digest& d = *digests_.at(job.id);
    const bool skip = d.dropped || d.broken;
    ++in_progress_;
    lock.unlock();
    // Only this thread touches d.hash while the digest has queued jobs; the owner reads d.hex once it has none.
    std::string hex;
    if (!skip) {
        if (!job.bytes.empty()) d.hash->update(job.bytes.data(), job.bytes.size());
        if (job.last) hex = d.hash->finish_hex();
    }
    lock.lock();
    --in_progress_;
    --d.queued;
    queued_bytes_ -= job.bytes.size();
    if (job.last) {
        d.hex = std::move(hex);
        d.finished = true;
        d.hash.reset();
    } else {
        done_.push_back(Done{job.tag, std::move(job.keep)});
    }
    forget_if_done(job.id);
    finished_.notify_all();
}

void HashWorker::forget_if_done(Id id) {
    auto it = digests_.find(id);
    if (it != digests_.end() && it->second->dropped && it->second->queued == 0) digests_.erase(it);
}

std::optional<std::string> HashWorker::result(Id id) {
    end(id);
    std::unique_lock lock(mutex_);
    auto it = digests_.find(id);
    if (it == digests_.end() || it->second->dropped) return std::nullopt;
    Digest& d = *it->second;
    finished_.wait(lock, [&] { return d.queued == 0; });
    std::optional<std::string> out;
    if (!d.broken && d.finished) out = std::move(d.hex);
    digests_.erase(id);
    return out;
}

void HashWorker::drop(Id id) {
    std::lock_guard lock(mutex_);
    auto it = digests_.find(id);
    if (it == digests_.end()) return;
    it->second->dropped = true;
    forget_if_done(id);
}

std::vector<HashWorker::Done> HashWorker::collect(bool wait) {
    std::unique_lock lock(mutex_);
    if (wait) finished_.wait(lock, [&] { return !done_.empty() || (queue_.empty() && in_progress_ == 0); });
    return std::exchange(done_, {});
}

void HashWorker::wait_idle() {
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [&] { return queue_.empty() && in_progress_ == 0; });
}

std::size_t HashWorker::queued_bytes() const {
    std::lock_guard lock(mutex_);
    return queued_bytes_;
}

std::size_t HashWorker::digests() const {
    std::lock_guard lock(mutex_);
    return digests_.size();
}

}  // namespace ks
