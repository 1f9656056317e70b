// Records mode's sender: each text file goes as one message per line (record_encoder.hpp), in order, with the key
// of the whole transfer (so one partition), through the transfer's idempotent producer; every message is confirmed
// exactly as in file mode.
//
// Memory is bounded whatever the number of lines: nothing is kept per message. A message's id packs the file's slot,
// the file's read attempt and the line's offset; per file we keep the count of unconfirmed messages and the lowest
// offset whose delivery failed. After a fatal idempotence error every unconfirmed message fails with a purge error,
// so the rebuilt producer resends the file from the lowest failed line (or from its start when a report is missing).
// The sink writes lines at their offsets, so duplicates are harmless to it; a plain consumer may see a line twice
// across such a rebuild (records mode is at-least-once for plain consumers).
//
// A file that is not text (text_lines.hpp) is left for file mode: the caller sends it with TransferSender, on the
// producer handed back by release_producer() once every record is confirmed (so the manifest comes after them).
#pragma once
#include <csignal>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hash_worker.hpp"
#include "kafka.hpp"
#include "log.hpp"
#include "producer.hpp"
#include "producer_session.hpp"
#include "result.hpp"
#include "transfer_sender.hpp"
#include "wire_format.hpp"

namespace ks::push {

struct RecordSettings {
    std::size_t max_line_bytes = 64 * 1024;
    std::size_t max_open_files = 64;
    int max_producer_rebuilds = 5;
    int max_file_attempts = 3;
    Clock::time_point deadline = Clock::time_point::max();
    const volatile std::sig_atomic_t* interrupted = nullptr;  // set by SIGTERM: stop as at the deadline
};

// Limits of the message id packing: beyond them a file goes in file mode.
inline constexpr std::uint64_t kRecordMaxFiles = 1ull << 20;
inline constexpr std::uint64_t kRecordMaxFileBytes = 1ull << 37;  // 128 GiB

// Runs of (first offset, timestamp) of a file's lines, in offset order (wire::FileEntry::timestamps).
using TimestampRuns = std::vector<std::pair<std::uint64_t, std::string>>;
// Notes that the lines from offset `from` on were (re)sent with `stamp`.
void note_timestamp(TimestampRuns& runs, std::uint64_t from, const std::string& stamp);

struct RecordOutcome {
    std::vector<FileResult> results;  // same order as the input; entry.format is "records" for files sent so
    std::vector<bool> file_mode;      // true: not text, left for file mode (its result is `not_started`)
};

class RecordSender final : private DeliveryHandler {
public:
    RecordSender(std::unique_ptr<Producer> first, ProducerFactory rebuild, wire::TransferIdentity id,
                 RecordSettings settings, const Log& log);
    ~RecordSender();
    RecordSender(const RecordSender&) = delete;
    RecordSender& operator=(const RecordSender&) = delete;

    // Sends every text file as records and waits until each is confirmed, the deadline passes or delivery fails.
    RecordOutcome send_files(std::vector<SourceFile> files);
    // The producer session, for the file-mode files and the manifest (null if a rebuild failed).
    std::unique_ptr<Producer> release_producer() { return session_.release(); }

    const std::string& failure() const { return session_.failure(); }
    int producer_rebuilds() const { return session_.rebuilds(); }
    std::uint64_t records_confirmed() const { return confirmed_; }
    // Fault-injection seam for tests: called after each accepted produce with the running count.
    void set_after_produce(std::function<void(rd_kafka_t*, std::uint64_t)> hook) {
        session_.set_after_produce(std::move(hook));
    }

private:
    struct FileState : SentFile {
        TimestampRuns stamps;     // which lines carried which timestamp (for the manifest)
        std::string meta_prefix;  // the record values' "ks" object up to the offset (record_meta_prefix)
        // `digest` is of [0, hashed_upto); `outstanding` counts this session's and attempt's unconfirmed records.
        std::uint64_t hashed_upto = 0;  // the digest covers [0, hashed_upto): the first pass over the file
        std::uint64_t lines = 0;  // lines in [0, hashed_upto)
        std::uint64_t read_pos = 0;  // next line to send
        std::uint64_t attempt = 0;  // bumped when the file changed and is read again
        std::uint64_t failed = 0;  // of the unconfirmed ones, reported failed (purged)
        std::uint64_t lowest_failed = std::numeric_limits<std::uint64_t>::max();
        bool file_mode = false;  // not text: left for file mode
    };
    enum class Pump { done, changed, stopped };
    enum class Produced { ok, rewound, stopped };

    void send_one(FileState& f);
    void drive(FileState& f);  // pumps until the file is read (and stable), skipped, or the transfer stops
    Pump pump(FileState& f);
    Produced produce_line(FileState& f, std::uint64_t offset);
    void resume_rewound();
    void on_reports(const std::vector<DeliveryReport>& reports) override;
    // Moves each unconfirmed file's read position back to what the failed producer may have lost.
    void on_rebuilt() override;
    void prepare_attempt(FileState& f);
    void skip_file(FileState& f, std::string reason) { open_.give_up(f, std::move(reason)); }
    void wait_all_confirmed();
    // A block buffer to read into: one the hashing worker is done with, or a new one.
    std::unique_ptr<std::string> take_block();
    // Takes back the blocks the hashing worker has finished.
    void recycle_blocks();

    wire::TransferIdentity id_;
    std::string key_;
    RecordSettings settings_;
    const Log& log_;
    std::vector<std::unique_ptr<FileState>> files_;
    std::size_t block_bytes_ = 0;
    std::vector<std::unique_ptr<std::string>> spare_blocks_;  // back from the hashing worker, for the next reads
    std::string value_;
    std::int64_t timestamp_ms_ = 0;  // of the block being sent: every record of it gets this Kafka timestamp
    std::uint64_t confirmed_ = 0;
    // The lines sent are hashed block by block on the worker's thread while this one encodes and produces the next
    // block; each block buffer goes with its job and comes back to spare_blocks_.
    HashWorker hasher_{kHashAheadBytes};
    OpenFiles open_{hasher_};
    ProducerSession session_;
};

}  // namespace ks::push
