#include "record_sender.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "record_encoder.hpp"
#include "text_lines.hpp"

#include "source_reading.hpp"

namespace ks::push {
namespace {

constexpr int kOffsetBits = 37;
constexpr int kAttemptBits = 7;
constexpr std::uint64_t kOffsetMask = (1ull << kOffsetBits) - 1;
constexpr std::uint64_t kAttemptMask = (1ull << kAttemptBits) - 1;

std::uint64_t pack_id(std::size_t slot, std::uint64_t attempt, std::uint64_t offset) {
    return (static_cast<std::uint64_t>(slot) << (kOffsetBits + kAttemptBits)) |
           ((attempt & kAttemptMask) << kOffsetBits) | (offset & kOffsetMask);
}

double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

void note_timestamp(TimestampRuns& runs, std::uint64_t from, const std::string& stamp) {
    // A resend from `from` on replaces what was noted for those offsets: the sink keeps the last write too.
    while (!runs.empty() && runs.back().first >= from) runs.pop_back();
    if (runs.empty() || runs.back().second != stamp) runs.emplace_back(from, stamp);
}

RecordSender::RecordSender(std::unique_ptr<Producer> first, ProducerFactory rebuild, wire::TransferIdentity id,
                           RecordSettings settings, const Log& log)
    : id_(std::move(id)), key_(wire::message_key(id_)), settings_(settings), log_(log),
      session_(std::move(first), std::move(rebuild),
               SessionLimits{settings.max_producer_rebuilds, settings.deadline, settings.interrupted}, *this, log) {}

RecordSender::~RecordSender() {
    // Here, not in the session's destructor: the purge's reports come back to this sender's bookkeeping.
    if (session_.has_outstanding()) session_.abandon_outstanding();
}

RecordOutcome RecordSender::send_files(std::vector<SourceFile> files) {
    files_ = sent_files<FileState>(std::move(files));
    // Any line (at most max_line_bytes plus its ending) fits in a block that starts where the line starts.
    block_bytes_ = std::max<std::size_t>(1 << 20, 2 * settings_.max_line_bytes + 2);
    for (auto& f : files_) {
        while (open_.count() >= settings_.max_open_files && !session_.stopping()) {
            session_.service(50);
            resume_rewound();
        }
        if (session_.stopping()) break;
        send_one(*f);
        session_.service(0);
        resume_rewound();
    }
    wait_all_confirmed();

    RecordOutcome out;
    for (auto& f : files_) {
        FileResult r = open_.result(*f);
        if (f->status == FileStatus::confirmed) {
            r.entry.sha256 = f->sha256;
            r.entry.chunks = f->lines;
            r.entry.format = std::string(wire::kFormatRecords);
            r.entry.timestamps = std::move(f->stamps);
        }
        out.results.push_back(std::move(r));
        out.file_mode.push_back(f->file_mode);
    }
    return out;
}

void RecordSender::send_one(FileState& f) {
    auto opened = f.src.open();
    if (!opened) return skip_file(f, opened.error().message);
    f.opened = std::move(*opened);
    const auto size = static_cast<std::uint64_t>(f.opened.st.st_size);
    std::string why;
    if (f.slot >= kRecordMaxFiles) why = "more than " + std::to_string(kRecordMaxFiles) + " files";
    else if (size >= kRecordMaxFileBytes) why = "larger than " + std::to_string(kRecordMaxFileBytes) + " bytes";
    if (why.empty()) {
        auto verdict = classify_text(f.opened.fd.get(), size, settings_.max_line_bytes);
        if (!verdict) return skip_file(f, std::string(skip_reason::unreadable_prefix) + verdict.error().message);
        if (!verdict->records) why = verdict->reason;
    }
    if (!why.empty()) {
        log_.debug(f.meta.path + ": sent in file mode (" + why + ")");
        f.file_mode = true;
        f.opened.fd.reset();
        return;
    }
    open_.start(f);
    prepare_attempt(f);
    drive(f);
}

void RecordSender::prepare_attempt(FileState& f) {
    f.meta.size = static_cast<std::uint64_t>(f.opened.st.st_size);
    f.meta.mode = f.src.recorded ? f.src.recorded->mode : f.opened.st.st_mode & 07777;
    f.meta.mtime_ns = f.src.recorded ? f.src.recorded->mtime_ns : mtime_ns(f.opened.st);
    f.meta_prefix = record_meta_prefix(id_.transfer_id, f.meta);
    if (f.digest) hasher_.drop(*f.digest);
    f.digest = hasher_.start();
    f.sha256.clear();
    f.stamps.clear();
    f.hashed_upto = f.lines = f.read_pos = f.outstanding = f.failed = 0;
    f.lowest_failed = std::numeric_limits<std::uint64_t>::max();
    f.read_done = false;
}

void RecordSender::drive(FileState& f) {
    while (f.status == FileStatus::unconfirmed) {
        Pump outcome = pump(f);
        if (outcome == Pump::stopped) return;
        struct stat now {};
        if (::fstat(f.opened.fd.get(), &now) != 0)
            return skip_file(f, std::string(skip_reason::unreadable_prefix) + std::strerror(errno));
        if (outcome == Pump::done && same_content_stamp(now, f.opened.st) && f.hashed_upto == f.meta.size) {
            hasher_.end(*f.digest);  // its digest is taken when every line is confirmed
            f.read_done = true;
            open_.finish_if_confirmed(f);
            return;
        }
        if (f.attempt + 1 >= static_cast<std::uint64_t>(settings_.max_file_attempts))
            return skip_file(f, skip_reason::changed);
        log_.info(f.meta.path + " changed while it was read; sending it again");
        f.opened.st = now;
        ++f.attempt;  // reports of the earlier read are ignored from now on
        prepare_attempt(f);
    }
}

RecordSender::Pump RecordSender::pump(FileState& f) {
    const std::uint64_t size = f.meta.size;
    while (f.read_pos < size) {
        if (session_.stopping()) return Pump::stopped;
        recycle_blocks();
        std::unique_ptr<std::string> block = take_block();
        const std::uint64_t base = f.read_pos;
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(block->size(), size - base));
        ssize_t n = pread_full(f.opened.fd.get(), block->data(), want, base);
        if (n < 0) {
            skip_file(f, std::string(skip_reason::unreadable_prefix) + std::strerror(errno));
            return Pump::stopped;
        }
        if (static_cast<std::size_t>(n) < want) return Pump::changed;  // shrank under us
        const bool at_eof = base + want == size;
        const double read_at = wall_seconds();
        const std::string timestamp = format_timestamp(read_at);
        timestamp_ms_ = std::llround(read_at * 1000);  // the records' Kafka timestamp: the same instant
        note_timestamp(f.stamps, base, timestamp);
        const std::string_view view(block->data(), want);
        const int generation = session_.generation();
        // The lines of this block that extend the digest (the first pass over them) are [hash_from, hash_to): they
        // follow each other, since a rewind only ever moves back to lines already hashed.
        std::size_t hash_from = 0, hash_to = 0;
        // The digest is of the bytes that were sent: the lines produced are handed to the worker with the block, on
        // every way out of this block.
        auto hand_over_hashed = [&] {
            if (hash_to > hash_from && f.digest)
                hasher_.add(*f.digest, base + hash_from, view.substr(hash_from, hash_to - hash_from),
                            Keep::owning(std::move(block)));
            else spare_blocks_.push_back(std::move(block));
        };
        std::size_t pos = 0;
        while (auto line = first_line(view.substr(pos), at_eof)) {
            if (line->text.size() + (line->eol.size() == 2 ? 1 : 0) > settings_.max_line_bytes) {
                hand_over_hashed();
                return Pump::changed;
            }
            const std::uint64_t offset = base + pos;
            encode_record_value(line->text, timestamp, f.meta_prefix, offset, line->eol, value_);
            Produced p = produce_line(f, offset);
            if (p == Produced::stopped) {
                hand_over_hashed();
                return Pump::stopped;
            }
            if (p == Produced::rewound) break;  // the rebuild moved f.read_pos back: read from there
            if (offset == f.hashed_upto) {  // first pass
                if (hash_to == hash_from) hash_from = pos;
                hash_to = pos + line->size();
                f.hashed_upto += line->size();
                ++f.lines;
            }
            pos += line->size();
            f.read_pos = base + pos;
        }
        hand_over_hashed();
        if (pos == 0 && generation == session_.generation())
            return Pump::changed;  // no line end where the scan saw one
    }
    return Pump::done;
}

std::unique_ptr<std::string> RecordSender::take_block() {
    if (spare_blocks_.empty()) return std::make_unique<std::string>(block_bytes_, '\0');
    auto block = std::move(spare_blocks_.back());
    spare_blocks_.pop_back();
    return block;
}

void RecordSender::recycle_blocks() {
    for (HashWorker::Done& done : hasher_.collect())
        spare_blocks_.emplace_back(static_cast<std::string*>(done.keep.release()));
}

RecordSender::Produced RecordSender::produce_line(FileState& f, std::uint64_t offset) {
    const std::uint64_t id = pack_id(f.slot, f.attempt, offset);
    const int generation = session_.generation();
    auto produce = [&](Producer& p) { return p.produce_record(id, key_, value_, timestamp_ms_); };
    // The deadline is checked per block read (pump) and while waiting for room below, not per line: reading the
    // clock for each of millions of lines was a tenth of the push's CPU time.
    for (bool first = true; session_.failure().empty() && (first || !session_.stopping()); first = false) {
        switch (session_.attempt(produce)) {
        case Attempt::accepted:
            ++f.outstanding;
            return Produced::ok;
        case Attempt::stopped:
            return Produced::stopped;
        case Attempt::retry:
            break;
        }
        if (f.status != FileStatus::unconfirmed) return Produced::stopped;
        if (generation != session_.generation()) return Produced::rewound;
    }
    return Produced::stopped;
}

void RecordSender::resume_rewound() {
    for (auto& f : files_)
        if (!session_.stopping() && f->status == FileStatus::unconfirmed && !f->read_done) drive(*f);
}

void RecordSender::on_reports(const std::vector<DeliveryReport>& reports) {
    for (const auto& r : reports) {
        const std::uint64_t slot = r.id >> (kOffsetBits + kAttemptBits);
        if (slot >= files_.size()) continue;
        FileState& f = *files_[slot];
        if (f.status != FileStatus::unconfirmed || ((r.id >> kOffsetBits) & kAttemptMask) != (f.attempt & kAttemptMask))
            continue;  // an earlier read of a file that changed, or a file already given up
        if (!r.err) {
            ++confirmed_;
            if (f.outstanding > 0) --f.outstanding;
            open_.finish_if_confirmed(f);
            continue;
        }
        ++f.failed;
        f.lowest_failed = std::min(f.lowest_failed, r.id & kOffsetMask);
        session_.delivery_failed(r.err);
    }
}

void RecordSender::on_rebuilt() {
    for (auto& f : files_) {
        if (f->status != FileStatus::unconfirmed) continue;
        if (f->outstanding > 0) {
            // Every unconfirmed line failed with a report: resend from the lowest; a report is missing: from the start.
            const std::uint64_t from = f->failed >= f->outstanding ? f->lowest_failed : 0;
            f->read_pos = std::min(f->read_pos, from);
            f->read_done = false;
        }
        f->outstanding = f->failed = 0;
        f->lowest_failed = std::numeric_limits<std::uint64_t>::max();
    }
}

void RecordSender::wait_all_confirmed() {
    auto step = [&] {
        session_.service(100);
        resume_rewound();
    };
    session_.wait_until([&] { return open_.count() == 0; }, step, "timed out before every record was confirmed");
}

}  // namespace ks::push
