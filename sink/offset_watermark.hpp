// The offset a partition may commit: the lowest offset whose effect is not yet durable.
//
// Messages of several transfers interleave in one partition, and each message becomes durable only when the sink
// next fsyncs its staging files (or immediately, for messages that need no disk write). Committing "lowest offset not
// yet durable" means a restart re-reads exactly the messages whose effect might be lost, and never skips one.
// Every flush makes everything processed durable, so only the lowest offset processed since then is kept (a set of
// all of them cost a tree node per message: millions between two flushes in records mode).
#pragma once
#include <cstdint>
#include <optional>

namespace ks::sink {

class OffsetWatermark {
public:
    // A message was processed; its effect is durable only after made_durable() / all_durable().
    void processed(std::int64_t offset);
    // A message whose effect needs no further flush (e.g. dropped as a duplicate of a finished transfer).
    void processed_durable(std::int64_t offset);
    // Everything processed so far is on disk (called after the flush).
    void all_durable();

    // The offset to commit (Kafka convention: the next message to read), if anything was processed.
    std::optional<std::int64_t> commit_point() const;
    // True when commit_point() is ahead of what was last committed.
    bool needs_commit() const;
    void committed(std::int64_t offset) { committed_ = offset; }
    // The offset last committed by this process, if any.
    std::optional<std::int64_t> last_committed() const {
        return committed_ < 0 ? std::nullopt : std::optional<std::int64_t>(committed_);
    }
    bool has_pending() const { return lowest_not_durable_.has_value(); }
    // The offset after the highest one processed, if any: where reading goes on.
    std::optional<std::int64_t> next_offset() const {
        return next_ < 0 ? std::nullopt : std::optional<std::int64_t>(next_);
    }

private:
    std::optional<std::int64_t> lowest_not_durable_;
    std::int64_t next_ = -1;  // highest processed offset + 1
    std::int64_t committed_ = -1;
};

}  // namespace ks::sink
