// Sends the chunks of a list of files and then a manifest through one transfer's idempotent producer, with every
// message tracked until its delivery report.
//
//  - Each chunk is read with pread into its own buffer, which librdkafka takes over without a copy; memory is still
//    bounded by queue.buffering.max.kbytes (plus kHashAheadBytes read ahead) whatever the file sizes. The digest is
//    computed from the bytes sent, by a HashWorker thread (hash_worker.hpp) while this one reads the next chunks and
//    librdkafka sends the previous ones; a chunk is handed to librdkafka once it is hashed (see read_and_produce).
//  - A file whose size or mtime changed while it was read is sent again (bounded attempts), then reported skipped.
//  - A file stays open until all its chunks are confirmed, so a fatal idempotence error can be survived: the producer
//    is rebuilt and every message without a successful report is re-read (pread) and produced again.
//  - At most `max_open_files` files are open; beyond that the sender waits for confirmations.
//  - Any other failed delivery report, or the deadline, stops the transfer; the caller then spools what is not
//    confirmed (FileResult::status).
#pragma once
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hash_worker.hpp"
#include "log.hpp"
#include "producer.hpp"
#include "producer_session.hpp"
#include "result.hpp"
#include "safe_walk.hpp"
#include "sent_file.hpp"
#include "unique_fd.hpp"
#include "wire_format.hpp"

namespace ks::push {

// Chunks read and waiting to be hashed, or hashed and waiting to be produced: about 8 chunks beside librdkafka's queue.
inline constexpr std::size_t kHashAheadBytes = 8u << 20;

struct SenderSettings {
    std::uint64_t chunk_bytes = wire::kDefaultChunkBytes;
    std::size_t max_open_files = 64;
    int max_producer_rebuilds = 5;
    int max_file_attempts = 3;
    Clock::time_point deadline = Clock::time_point::max();
    const volatile std::sig_atomic_t* interrupted = nullptr;  // set by SIGTERM: stop as at the deadline
    const class MessageSigner* signer = nullptr;  // signs the manifest (transfer_open.hpp)
};

class TransferSender final : private DeliveryHandler {
public:
    TransferSender(std::unique_ptr<Producer> first, ProducerFactory rebuild, wire::TransferIdentity id,
                   SenderSettings settings, const Log& log);
    ~TransferSender();
    TransferSender(const TransferSender&) = delete;
    TransferSender& operator=(const TransferSender&) = delete;

    // Sends all chunks of all files (in order) and waits until each is confirmed, the deadline passes or delivery
    // fails. The results are in the same order as `files`.
    std::vector<FileResult> send_files(std::vector<SourceFile> files);
    // Produces the manifest's parts (wire::manifest_parts_json) and waits for every report. Call only when every
    // file is confirmed or skipped.
    bool send_manifest(std::vector<std::string> parts);

    // Why the transfer stopped (empty when it did not).
    const std::string& failure() const { return session_.failure(); }
    int producer_rebuilds() const { return session_.rebuilds(); }
    std::uint64_t messages_confirmed() const { return confirmed_messages_; }
    // Fault-injection seam for tests: called after each accepted produce with the running count.
    void set_after_produce(std::function<void(rd_kafka_t*, std::uint64_t)> hook) {
        session_.set_after_produce(std::move(hook));
    }
    // Test seam: called after each chunk is read, with the running count of chunks read (chunks are produced later,
    // once hashed: a change to a file "while it is read" is made here).
    void set_after_read(std::function<void(std::uint64_t)> hook) { after_read_ = std::move(hook); }

private:
    struct FileState;
    struct Message;
    enum class ReadOutcome { sent, changed, io_error, stopped };

    void send_one(FileState& f);
    ReadOutcome read_and_produce(FileState& f);
    // Produces the chunks the hashing worker has finished, in the order they were read (with `wait`, waits for one if
    // any is being hashed). false once the transfer stops.
    bool produce_hashed(bool wait);
    // Moves the transfer on while waiting (for room, for confirmations): hashed chunks are produced as soon as they
    // are ready; only when none is left does it wait up to `timeout_ms` for delivery reports.
    void pump(int timeout_ms);
    // Queues message `id` through `produce(Producer&)` (retrying as the session says) and notes the generation.
    template <class Produce>
    bool produce_message(std::uint64_t id, Produce&& produce);
    // Queues message `id` with a copy of `payload` (the manifest's parts, and chunks re-read for a resend).
    rd_kafka_resp_err_t produce_copy(Producer& producer, std::uint64_t id, std::string_view payload);
    wire::Headers headers_for(const Message& m) const;
    void on_reports(const std::vector<DeliveryReport>& reports) override;
    // Resends every message the failed producer accepted and nobody confirmed (chunks re-read with pread).
    void on_rebuilt() override;
    void supersede(FileState& f);
    void skip_file(FileState& f, std::string reason);
    void wait_all_confirmed();

    wire::TransferIdentity id_;
    std::string key_;
    SenderSettings settings_;
    const Log& log_;
    std::vector<std::unique_ptr<FileState>> files_;
    std::vector<Message> messages_;
    std::vector<std::string> manifest_parts_;
    std::uint64_t confirmed_messages_ = 0;
    std::function<void(std::uint64_t)> after_read_;
    std::uint64_t chunks_read_ = 0;
    HashWorker hasher_{kHashAheadBytes};
    OpenFiles open_{hasher_};
    ProducerSession session_;
};

}  // namespace ks::push
