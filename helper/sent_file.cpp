#include "sent_file.hpp"

namespace ks::push {

void OpenFiles::start(SentFile& f) {
    f.status = FileStatus::unconfirmed;
    ++open_;
}

void OpenFiles::finish_if_confirmed(SentFile& f) {
    if (f.status != FileStatus::unconfirmed || !f.read_done || f.outstanding != 0) return;
    // Every message was hashed before or as it was produced: the digest is ready, or a moment away.
    auto digest = f.digest ? hasher_.result(*std::exchange(f.digest, std::nullopt)) : std::nullopt;
    if (!digest) return give_up(f, skip_reason::changed);  // cannot happen: a file is hashed in order
    f.sha256 = std::move(*digest);
    f.status = FileStatus::confirmed;
    f.opened.fd.reset();
    --open_;
}

void OpenFiles::give_up(SentFile& f, std::string reason) {
    if (f.status == FileStatus::unconfirmed) --open_;
    if (f.digest) hasher_.drop(*std::exchange(f.digest, std::nullopt));
    f.status = FileStatus::skipped;
    f.skip_reason = std::move(reason);
    f.opened.fd.reset();
    f.sha256.clear();
}

FileResult OpenFiles::result(SentFile& f) {
    if (f.digest && f.read_done && f.sha256.empty()) f.sha256 = hasher_.result(*f.digest).value_or("");
    FileResult r;
    r.status = f.status;
    r.entry.meta = f.meta;
    r.skip_reason = f.skip_reason;
    if (f.status == FileStatus::unconfirmed) r.fd = std::move(f.opened.fd);
    return r;
}

}  // namespace ks::push
