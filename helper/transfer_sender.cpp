#include "transfer_sender.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "source_reading.hpp"
#include "transfer_open.hpp"

namespace ks::push {
namespace {

constexpr std::size_t kManifestSlot = static_cast<std::size_t>(-1);

}  // namespace

struct TransferSender::Message {
    std::size_t file = kManifestSlot;  // slot in files_, or the manifest
    std::uint64_t offset = 0;
    std::uint32_t len = 0;
    bool delivered = false;
    bool superseded = false;  // belongs to an earlier read of a file that changed: its outcome no longer matters
    int generation = -1;      // producer session that last accepted it; -1 = never produced
};

struct TransferSender::FileState : SentFile {
    std::uint64_t chunks = 0;
    std::vector<std::uint64_t> messages;  // of the current read
};

TransferSender::TransferSender(std::unique_ptr<Producer> first, ProducerFactory rebuild, wire::TransferIdentity id,
                               SenderSettings settings, const Log& log)
    : id_(std::move(id)), key_(wire::message_key(id_)), settings_(settings), log_(log),
      session_(std::move(first), std::move(rebuild),
               SessionLimits{settings.max_producer_rebuilds, settings.deadline, settings.interrupted}, *this, log) {}

TransferSender::~TransferSender() {
    // Here, not in the session's destructor: the purge's reports come back to this sender's bookkeeping.
    if (session_.has_outstanding()) session_.abandon_outstanding();
}

std::vector<FileResult> TransferSender::send_files(std::vector<SourceFile> files) {
    files_ = sent_files<FileState>(std::move(files));
    for (auto& f : files_) {
        while (open_.count() >= settings_.max_open_files && !session_.stopping()) pump(50);
        if (session_.stopping()) break;
        send_one(*f);
        session_.service(0);
    }
    wait_all_confirmed();

    std::vector<FileResult> results;
    results.reserve(files_.size());
    for (auto& f : files_) {
        FileResult r = open_.result(*f);
        r.entry.sha256 = f->sha256;
        r.entry.chunks = f->chunks;
        results.push_back(std::move(r));
    }
    return results;
}

bool TransferSender::send_manifest(std::vector<std::string> parts) {
    if (session_.stopping() || parts.empty()) return false;
    manifest_parts_ = std::move(parts);
    const std::uint64_t first = messages_.size();
    for (std::size_t part = 0; part < manifest_parts_.size(); ++part) {
        std::uint64_t id = messages_.size();
        messages_.push_back(Message{});
        messages_[id].offset = part;  // for the manifest, the part index
        const std::string_view payload = manifest_parts_[part];
        if (!produce_message(id, [&](Producer& p) { return produce_copy(p, id, payload); })) break;
    }
    auto all_delivered = [&] {
        if (messages_.size() - first != manifest_parts_.size()) return false;
        for (std::uint64_t id = first; id < messages_.size(); ++id)
            if (!messages_[id].delivered) return false;
        return true;
    };
    return session_.wait_until(
        all_delivered, [&] { session_.service(100); }, "timed out waiting for the manifest's delivery reports");
}

void TransferSender::wait_all_confirmed() {
    session_.wait_until([&] { return open_.count() == 0; }, [&] { pump(100); },
                        "timed out before every chunk was confirmed");
}

void TransferSender::send_one(FileState& f) {
    auto opened = f.src.open();
    if (!opened) return skip_file(f, opened.error().message);
    f.opened = std::move(*opened);
    open_.start(f);
    for (int attempt = 1; attempt <= settings_.max_file_attempts; ++attempt) {
        f.meta.size = static_cast<std::uint64_t>(f.opened.st.st_size);
        f.meta.mode = f.src.recorded ? f.src.recorded->mode : f.opened.st.st_mode & 07777;
        f.meta.mtime_ns = f.src.recorded ? f.src.recorded->mtime_ns : mtime_ns(f.opened.st);
        switch (read_and_produce(f)) {
        case ReadOutcome::sent:
            f.read_done = true;
            open_.finish_if_confirmed(f);
            return;
        case ReadOutcome::io_error:
        case ReadOutcome::stopped:
            return;
        case ReadOutcome::changed:
            log_.info(f.meta.path + " changed while it was read; sending it again");
            supersede(f);
            if (::fstat(f.opened.fd.get(), &f.opened.st) != 0)
                return skip_file(f, std::string(skip_reason::unreadable_prefix) + std::strerror(errno));
            continue;
        }
    }
    skip_file(f, skip_reason::changed);
}

TransferSender::ReadOutcome TransferSender::read_and_produce(FileState& f) {
    // Each chunk goes to the hashing worker first and to librdkafka once it is hashed (produce_hashed): librdkafka
    // frees a buffer produced with RD_KAFKA_MSG_F_FREE whenever it is done with it, so the worker must never read a
    // buffer librdkafka already has. Handing it over only after hashing keeps one owner at a time and costs no copy;
    // the delay is one chunk's hashing, while librdkafka still sends the chunks queued before it. (A copy
    // for the hasher would cost the read's memory bandwidth again; a buffer freed by whichever of hasher and
    // delivery report finishes last would need produce without F_FREE and our own bookkeeping through purges and
    // producer rebuilds.)
    const std::uint64_t size = f.meta.size;
    const HashWorker::Id digest = hasher_.start();
    f.digest = digest;
    std::uint64_t offset = 0;
    std::uint64_t chunks = 0;
    do {
        auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(settings_.chunk_bytes, size - offset));
        OwnedPayload chunk = allocate_payload(len);
        if (!chunk) {
            session_.stop("out of memory for a " + std::to_string(len) + "-byte chunk");
            return ReadOutcome::stopped;
        }
        ssize_t n = pread_full(f.opened.fd.get(), chunk.get(), len, offset);
        if (n < 0) {
            skip_file(f, std::string(skip_reason::unreadable_prefix) + std::strerror(errno));
            return ReadOutcome::io_error;
        }
        if (static_cast<std::uint32_t>(n) < len) return ReadOutcome::changed;  // shrank under us
        if (after_read_) after_read_(++chunks_read_);
        std::uint64_t id = messages_.size();
        Message m;
        m.file = f.slot;
        m.offset = offset;
        m.len = len;
        messages_.push_back(m);
        f.messages.push_back(id);
        ++f.outstanding;
        const std::string_view bytes(chunk.get(), len);
        hasher_.add(digest, offset, bytes, Keep(chunk.release(), [](void* p) { OwnedPayload(static_cast<char*>(p)); }),
                    id);
        if (!produce_hashed(false)) return ReadOutcome::stopped;
        if (f.status != FileStatus::unconfirmed) return ReadOutcome::io_error;
        offset += len;
        ++chunks;
    } while (offset < size);
    hasher_.end(digest);
    struct stat after {};
    if (::fstat(f.opened.fd.get(), &after) != 0 || !same_content_stamp(after, f.opened.st)) return ReadOutcome::changed;
    f.chunks = chunks;
    return ReadOutcome::sent;
}

bool TransferSender::produce_hashed(bool wait) {
    for (HashWorker::Done& done : hasher_.collect(wait)) {
        const std::uint64_t id = done.tag;
        const Message& m = messages_[id];
        // Of a read that was given up (the file changed or was skipped): its buffer is simply freed.
        if (m.superseded || files_[m.file]->status != FileStatus::unconfirmed) continue;
        OwnedPayload chunk(static_cast<char*>(done.keep.release()));
        const std::size_t len = m.len;
        auto hand_over = [&](Producer& p) { return p.produce(id, key_, chunk, len, headers_for(messages_[id])); };
        if (!produce_message(id, hand_over)) return false;
    }
    return true;
}

void TransferSender::pump(int timeout_ms) {
    if (hasher_.queued_bytes() > 0) {
        if (produce_hashed(true)) session_.service(0);
        return;
    }
    if (produce_hashed(false)) session_.service(timeout_ms);
}

template <class Produce>
bool TransferSender::produce_message(std::uint64_t id, Produce&& produce) {
    if (!session_.produce(produce)) return false;
    messages_[id].generation = session_.generation();
    return true;
}

rd_kafka_resp_err_t TransferSender::produce_copy(Producer& producer, std::uint64_t id, std::string_view payload) {
    return producer.produce(id, key_, payload, headers_for(messages_[id]));
}

wire::Headers TransferSender::headers_for(const Message& m) const {
    if (m.file == kManifestSlot) {
        const auto part = static_cast<std::uint32_t>(m.offset);
        const auto parts = static_cast<std::uint32_t>(manifest_parts_.size());
        wire::Headers h = wire::encode_manifest_headers(id_, part, parts);
        if (settings_.signer) settings_.signer->sign(h, "manifest", id_, manifest_parts_[m.offset], part, parts);
        return h;
    }
    wire::ChunkHeader h;
    h.id = id_;
    h.file = files_[m.file]->meta;
    h.offset = m.offset;
    return wire::encode_chunk(h);
}

void TransferSender::on_reports(const std::vector<DeliveryReport>& reports) {
    for (const auto& r : reports) {
        if (r.id >= messages_.size()) continue;
        Message& m = messages_[r.id];
        if (!r.err) {
            if (m.delivered) continue;  // a duplicate report after a resend
            m.delivered = true;
            ++confirmed_messages_;
            if (m.file != kManifestSlot && !m.superseded) {
                FileState& f = *files_[m.file];
                --f.outstanding;
                open_.finish_if_confirmed(f);
            }
            continue;
        }
        if (m.superseded || m.delivered) continue;  // its outcome no longer matters
        session_.delivery_failed(r.err);
    }
}

void TransferSender::on_rebuilt() {
    const int generation = session_.generation();
    // A file that changed since it was read can no longer be resent consistently with its digest.
    for (auto& f : files_) {
        if (f->status != FileStatus::unconfirmed || !f->read_done) continue;
        struct stat now {};
        if (::fstat(f->opened.fd.get(), &now) != 0 || !same_content_stamp(now, f->opened.st))
            skip_file(*f, skip_reason::changed);
    }
    std::string buf;
    for (std::uint64_t id = 0; id < messages_.size(); ++id) {
        Message& m = messages_[id];
        if (m.delivered || m.superseded || m.generation < 0 || m.generation == generation) continue;
        std::string_view payload;
        if (m.file == kManifestSlot) {
            payload = manifest_parts_[m.offset];
        } else {
            FileState& f = *files_[m.file];
            if (f.status != FileStatus::unconfirmed) continue;
            buf.resize(m.len);
            ssize_t n = pread_full(f.opened.fd.get(), buf.data(), m.len, m.offset);
            if (n != static_cast<ssize_t>(m.len)) {
                skip_file(f, skip_reason::changed);
                continue;
            }
            payload = std::string_view(buf.data(), m.len);
        }
        if (!session_.resend([&](Producer& p) { return produce_copy(p, id, payload); })) return;
        m.generation = generation;
    }
}

void TransferSender::supersede(FileState& f) {
    if (f.digest) hasher_.drop(*std::exchange(f.digest, std::nullopt));
    for (auto id : f.messages) messages_[id].superseded = true;
    f.messages.clear();
    f.outstanding = 0;
    f.read_done = false;
}

void TransferSender::skip_file(FileState& f, std::string reason) {
    supersede(f);
    open_.give_up(f, std::move(reason));
    f.chunks = 0;
}

}  // namespace ks::push
