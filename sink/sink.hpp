// The sink's core, without Kafka: takes one message at a time, admits transfers by their verified open message
// (admission.hpp), stages their chunks, finalizes them when their manifest arrives, quarantines bad input, and says
// which messages still need a flush before their offset may be committed. main() and the consumer loop feed it; the
// unit tests drive it directly. No message content stops it: only a fault of the host (its output root unusable)
// is returned as an error.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "admission.hpp"
#include "finalizer.hpp"
#include "histogram.hpp"
#include "layout.hpp"
#include "log.hpp"
#include "record_decoder.hpp"
#include "result.hpp"
#include "staging_area.hpp"
#include "sync_batch.hpp"
#include "transfer_plan.hpp"
#include "unique_fd.hpp"
#include "wire_format.hpp"

namespace ks::sink {

inline constexpr std::string_view kQuarantineDirName = ".quarantine";
inline constexpr std::string_view kStaleDirName = ".stale";
inline constexpr std::string_view kQuarantineLogName = "messages.log";
// The staged open message of a transfer: its presence means the transfer was admitted.
inline constexpr std::string_view kStagedOpenName = "open.json";

struct SinkSettings {
    std::string root;
    Layout layout;
    Limits limits;
    bool chown = false;
    double stale_seconds = 7 * 24 * 3600.0;
    std::size_t max_open_files = 64;
    std::function<double()> clock;  // wall-clock seconds (compared with directory mtimes); default: real time
    // How staged and finalized files are made durable; default: grouped where syncfs() is reliable (sync_batch.hpp).
    std::optional<SyncMode> sync_mode;
    bool records_timestamp_data = false;  // also write "<file>.timestamp_data" for records-mode files
    std::optional<auth::KeyRing> keys;  // the site's keys; none: stream.auth=none (nothing is verified)
    UidLookup lookup_uid = passwd_uid;  // with chown: the uid of a user name on this host
    // Bounds on staging; max_user_bytes 0: half of the output root's file system.
    StagingLedger::Limits staging_limits = {100000, 10000, 0};
    double keep_seconds = 30 * 24 * 3600.0;  // .stale and .quarantine entries older than this are removed
    std::uint64_t quarantine_log_bytes = 64ull << 20;  // messages.log is rotated (one old copy) beyond this
    std::uint64_t max_record_bytes = 16ull << 20;  // a longer records-mode line sets its transfer aside
    std::uint64_t finalize_hash_budget = kFinalizeHashBudget;  // bytes read back per finalization attempt
};

struct IncomingMessage {
    std::string_view topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    const wire::Headers* headers = nullptr;
    std::string_view payload;
    // Records mode: a record of a transfer whose open message has not been read yet may be deferred (its open message
    // is on the companion topic, which may lag behind). Set once the caller knows the open message cannot be behind
    // any more: the record is then dropped like any message of a transfer that was never opened.
    bool last_chance = false;
    // Hands over what keeps `payload` valid (the Kafka message), for bytes hashed after handle() returns; empty: the
    // payload is copied where that is needed (staging_area.hpp).
    std::function<Keep()> take_payload = {};
};

// What became of a message.
enum class Handled {
    done,  // taken (staged, set aside or dropped): its offset may be committed once flushed
    deferred,  // a record whose transfer is not open yet: hand it again later (the consumer seeks back to it)
};

struct SinkStats {
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
    std::uint64_t finalized_transfers = 0;
    std::uint64_t finalized_files = 0;
    std::uint64_t quarantined = 0;
    std::uint64_t dropped = 0;  // messages of finished or quarantined transfers
    std::uint64_t unadmitted = 0;  // messages of transfers without a verified open message (dropped)
    std::uint64_t deferred = 0;  // records handed back because their transfer was not open yet
    std::uint64_t finalized_bytes = 0;
    std::uint64_t quarantined_transfers = 0;  // of `quarantined`, whole transfers (the others are single messages)
    std::uint64_t stale_transfers = 0;
    Histogram sync_seconds;  // Sink::flush() making staged data durable before offsets are committed
    Histogram finalize_seconds;  // verifying, syncing and placing one transfer that completed
};

class Sink {
public:
    static Result<Sink> open(SinkSettings settings, const Log& log);

    // Never fails because of the message's content (bad input is quarantined); an error is a host failure.
    Result<Handled> handle(const IncomingMessage& msg);
    // Makes everything handled so far durable, then retries transfers whose manifest is in and which got new data.
    Result<void> flush();
    // Releases every payload still kept for hashing (after hashing it): before the Kafka handle goes.
    void settle() { staging_.settle(); }
    std::uint64_t unflushed_bytes() const { return staging_.unflushed_bytes(); }
    // Startup: finalizes transfers whose manifest was staged before a crash.
    Result<void> recover();
    // Moves staged transfers without progress for stale_seconds to ROOT/.stale/, removes .stale and .quarantine
    // entries older than keep_seconds.
    Result<void> sweep_stale();
    // Forgets cached transfer states (another instance may have finished some): after a rebalance.
    void forget_cached_states();
    const SinkStats& stats() const { return stats_; }
    const StagingLedger& ledger() const { return ledger_; }

private:
    enum class State { active, done, quarantined };
    struct Transfer {
        State state = State::active;
        double first_seen = 0;
        double last_progress = 0;
        bool manifest_staged = false;
        bool retry = false;  // got data after its manifest: try to finalize at the next flush
        std::uint64_t expected_bytes = 0;  // from its staged manifest: the bytes of all its files
        std::string waiting;  // why the last finalization attempt waited: the reason given if it goes stale
        std::optional<wire::JobInfo> job;  // from its verified open message: the transfer is admitted
        std::uint64_t staged_bytes = 0;  // counted in the ledger for job->user
        std::uint32_t parts = 0;  // manifest parts expected, and those staged so far
        std::set<std::uint32_t> parts_staged;
    };

    Sink(SinkSettings settings, const Log& log, UniqueFd root, StagingArea staging, UniqueFd quarantine, UniqueFd stale,
         UniqueFd done, UniqueFd qlog, StagingLedger ledger)
        : settings_(std::move(settings)), log_(&log), root_(std::move(root)), staging_(std::move(staging)),
          quarantine_(std::move(quarantine)), stale_(std::move(stale)), done_(std::move(done)), qlog_(std::move(qlog)),
          ledger_(std::move(ledger)) {}

    double now() const { return settings_.clock(); }
    // Built on use: the Sink moves, and the rules point into its settings.
    AdmissionRules rules() const {
        return {settings_.keys ? &*settings_.keys : nullptr, settings_.chown, settings_.lookup_uid};
    }
    // The transfer's state, cached or read from ROOT (.done, .quarantine, its staged open message); null when the
    // sink knows nothing of it (never opened): such ids are not cached, so forged ones cannot fill memory.
    Transfer* find_transfer(const std::string& id);
    Result<void> handle_open(const IncomingMessage& msg, const wire::TransferIdentity& id);
    // A message of a transfer that was never opened: dropped, with a line in the quarantine log.
    Result<void> drop_unadmitted(const IncomingMessage& msg, const std::string& id);
    // Bytes written to staging for `t`: counted; a user past the limit has the transfer set aside.
    Result<void> account_staged(const std::string& id, Transfer& t, std::uint64_t bytes, const IncomingMessage* msg);
    // A staging write failed: a full file system or quota sets the transfer aside (its staged data removed); any
    // other error is the host's.
    Result<void> staging_write_failed(const std::string& id, Transfer& t, const IncomingMessage* msg, const Error& e,
                                      int err);
    // Transfer `t` left staging (finalized, quarantined, moved aside): release what the ledger counted for it.
    void release(Transfer& t);
    Result<void> handle_chunk(const IncomingMessage& msg, const wire::TransferIdentity& id, Transfer& t);
    // Records mode: the line's bytes and ending are staged at its offset, exactly like a chunk's payload. Consecutive
    // lines of one file are gathered and written together (one pwrite per line was most of the sink's time).
    Result<Handled> handle_record(const IncomingMessage& msg);
    // An open, chunk or manifest message (headers say which).
    Result<void> handle_headed(const IncomingMessage& msg, const wire::Headers& headers,
                               const Result<wire::MessageType>& type);
    // A record that is not deferred: staged, set aside or dropped. `found` is its transfer, if the sink knows it.
    Result<void> take_record(const IncomingMessage& msg, const Result<void>& decoded, Transfer* found);
    // Writes the gathered lines; called before anything that reads, moves or syncs staged files.
    Result<void> write_pending_records();
    Result<void> handle_manifest(const IncomingMessage& msg, const wire::TransferIdentity& id, Transfer& t);
    Result<void> replay_of_done(const IncomingMessage& msg, const wire::TransferIdentity& id);
    // Loads the staged manifest of `id` and finalizes it if complete.
    Result<void> try_finalize(const std::string& id, Transfer& t);
    Result<void> quarantine_message(const IncomingMessage& msg, const std::string& reason);
    // Sets a transfer aside in ROOT/.quarantine/<id>/ with the reason; with `drop_data`, without its staged data
    // (it did not fit: keeping it would keep the file system full).
    Result<void> quarantine_transfer(const std::string& id, Transfer& t, const IncomingMessage* msg,
                                     const std::string& reason, bool drop_data = false);
    // Removes .stale and .quarantine entries older than keep_seconds; rotates messages.log.
    Result<void> prune_set_aside();

    SinkSettings settings_;
    const Log* log_;
    UniqueFd root_;
    StagingArea staging_;
    UniqueFd quarantine_;
    UniqueFd stale_;
    UniqueFd done_;
    UniqueFd qlog_;
    bool qlog_dirty_ = false;
    std::uint64_t qlog_bytes_ = 0;
    // At most kWarningsPerMinute quarantined-message warnings a minute in the log (each is in messages.log).
    double warn_window_start_ = 0;
    std::uint64_t warnings_in_window_ = 0, warnings_suppressed_ = 0;
    StagingLedger ledger_;
    std::map<std::string, Transfer> transfers_;
    SinkStats stats_;
    DecodedRecord record_;  // reused for every record (no allocation per line once grown)
    struct PendingRecords {
        std::string transfer;  // empty: nothing gathered
        std::uint64_t file = 0, size = 0, offset = 0;
        std::string bytes;  // consecutive lines starting at `offset`
    } pending_;
};

}  // namespace ks::sink
