// librdkafka before 2.2.0 stops fetching a partition once its prefetch queue holds queued.min.messages messages or
// queued.max.messages.kbytes, and looks at the partition again only on its broker thread's one-second timer
// (upstream #2879; 2.2.0 added fetch.queue.backoff.ms). The sink empties such a queue in a fraction of that second and
// then waits: in records mode (200,000 records per full queue) it waited most of the time, and large files lost
// much of their speed. FetchKick says when the queue has run dry after at least half a full queue's worth arrived
// since it last ran dry, i.e. when the fetcher has probably stopped; the caller then seeks each partition to the next
// offset it has not seen, which makes librdkafka fetch at once and skips nothing.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ks::sink {

class FetchKick {
public:
    // The consumer's queued.min.messages and queued.max.messages.kbytes (in bytes).
    FetchKick(std::uint64_t queue_messages, std::uint64_t queue_bytes)
        : messages_limit_(queue_messages / 2), bytes_limit_(queue_bytes / 2) {}

    // A message of `bytes` was taken from the queue.
    void consumed(std::size_t bytes) {
        ++messages_;
        bytes_ += bytes;
    }
    // `queued`: messages in the consumer queue now. True (and counting starts over) when the fetch should be kicked.
    bool ran_dry(std::size_t queued) {
        if (queued != 0) return false;
        const bool kick = messages_ >= messages_limit_ || bytes_ >= bytes_limit_;
        messages_ = bytes_ = 0;
        return kick;
    }

private:
    std::uint64_t messages_limit_;
    std::uint64_t bytes_limit_;
    std::uint64_t messages_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace ks::sink
