// The Sink's records path: a record message (one line of a text file, its identity in its JSON value) is checked,
// gathered with the lines that follow it in the same file, and written to staging in runs (sink.hpp).
#include "sink.hpp"

#include "safe_path.hpp"

namespace ks::sink {
namespace {

// Consecutive record bytes gathered before one write (records of a 1 GiB CSV are ~20 million lines).
constexpr std::size_t kPendingRecordBytes = 1 << 20;

}  // namespace

Result<Handled> Sink::handle_record(const IncomingMessage& msg) {
    auto decoded = decode_record_message(msg.payload, record_);
    const RecordMeta& where = record_.value.meta;
    const std::string id = where.transfer_id;
    Transfer* found = decoded || wire::valid_transfer_id(id) ? find_transfer(id) : nullptr;
    if (!found && !msg.last_chance && wire::valid_transfer_id(id)) {
        // Its open message is on the companion topic, which may not have been read as far yet.
        ++stats_.deferred;
        return Handled::deferred;
    }
    ++stats_.messages;
    stats_.bytes += msg.payload.size();
    TRY(take_record(msg, decoded, found));
    return Handled::done;
}

Result<void> Sink::take_record(const IncomingMessage& msg, const Result<void>& decoded, Transfer* found) {
    const RecordMeta& where = record_.value.meta;
    // No valid transfer id: only this message can be set aside (the id names directories).
    if (!decoded && !wire::valid_transfer_id(where.transfer_id))
        return quarantine_message(msg, "no ks.type header, and not a record: " + decoded.error().message);
    const std::string id = where.transfer_id;
    if (!found) return drop_unadmitted(msg, id);
    Transfer& t = *found;
    if (t.state != State::active) {
        ++stats_.dropped;
        return {};
    }
    if (!t.job) return drop_unadmitted(msg, id);
    if (!decoded) return quarantine_transfer(id, t, &msg, decoded.error().message);
    if (record_.bytes.size() > settings_.max_record_bytes)
        return quarantine_transfer(
            id, t, &msg,
            "record: a line of " + std::to_string(record_.bytes.size()) + " bytes, above stream.max.record.bytes");
    if (auto ok = check_range(where.file, where.size, where.offset, record_.bytes.size(), settings_.limits); !ok)
        return quarantine_transfer(id, t, &msg, "record: " + ok.error().message);
    const bool follows = pending_.transfer == id && pending_.file == where.file && pending_.size == where.size &&
                         pending_.offset + pending_.bytes.size() == where.offset;
    if (!follows || pending_.bytes.size() >= kPendingRecordBytes) {
        TRY(write_pending_records());
        if (t.state != State::active) return {};  // the lines before it did not fit
        pending_.transfer = id;
        pending_.file = where.file;
        pending_.size = where.size;
        pending_.offset = where.offset;
        t.last_progress = now();  // per run of lines, not per line: reading the clock costs more than a line
    }
    pending_.bytes.append(record_.bytes);
    if (!t.manifest_staged) return {};
    t.retry = true;
    // Records mode: the manifest travels on the companion topic and is often read before the last records. Once the
    // bytes staged and gathered reach what it promises, finalize now rather than at the next flush (once: bytes sent
    // twice count twice, and later records then wait for the flush like any data after the manifest).
    const std::uint64_t have = t.staged_bytes + pending_.bytes.size();
    if (have < t.expected_bytes || have - record_.bytes.size() >= t.expected_bytes) return {};
    TRY(write_pending_records());
    if (t.state != State::active) return {};
    return try_finalize(id, t);
}

Result<void> Sink::write_pending_records() {
    if (pending_.transfer.empty()) return {};
    const std::string id = std::exchange(pending_.transfer, {});
    bool input_error = false;
    // The gathered lines are handed to the hashing worker as they are (no copy) if they need hashing; the next lines
    // are gathered in a new buffer.
    auto gathered = std::make_unique<std::string>(std::move(pending_.bytes));
    const std::uint64_t written = gathered->size();
    auto ok = staging_.write_chunk(id, pending_.file, pending_.offset, pending_.size, *gathered, input_error,
                                   [&gathered] { return Keep::owning(std::move(gathered)); });
    const int err = errno;
    if (gathered) pending_.bytes = std::move(*gathered);  // not handed over: its capacity is reused
    pending_.bytes.clear();
    if (pending_.bytes.capacity() < kPendingRecordBytes) pending_.bytes.reserve(kPendingRecordBytes + (64u << 10));
    Transfer* t = find_transfer(id);
    if (!t || !t->job) return ok;  // cannot happen: records are gathered only for admitted transfers
    if (!ok && input_error) return quarantine_transfer(id, *t, nullptr, "records: " + ok.error().message);
    if (!ok) return staging_write_failed(id, *t, nullptr, ok.error(), err);
    return account_staged(id, *t, written, nullptr);
}

}  // namespace ks::sink
