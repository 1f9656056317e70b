// One source file on its way through a sender: where it comes from (SourceFile), what every sender keeps for it while
// it is sent (SentFile, which each sender extends with its own bookkeeping), what became of it (FileResult), and the
// files a sender holds open (OpenFiles).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hash_worker.hpp"
#include "result.hpp"
#include "safe_walk.hpp"
#include "unique_fd.hpp"
#include "wire_format.hpp"

namespace ks::push {

struct SourceFile {
    std::string path;          // relative path on the wire
    std::uint64_t index = 0;   // file index in the transfer
    std::function<Result<OpenedFile>()> open;  // error message = skip reason
    // Mode and mtime recorded earlier (a spooled copy has its own): sent instead of the opened file's.
    std::optional<wire::FileMeta> recorded;
};

enum class FileStatus {
    confirmed,    // every chunk has a successful delivery report; `entry` is final
    skipped,      // not sent; `skip_reason` says why
    unconfirmed,  // started but not every chunk confirmed; `fd` may still be open for spooling
    not_started,  // never opened (the transfer stopped first)
};

struct FileResult {
    FileStatus status = FileStatus::not_started;
    wire::FileEntry entry;      // meta, and sha256/chunks when the whole file was read
    std::string skip_reason;
    UniqueFd fd;                // open descriptor of an unconfirmed file, if it is still open
};

struct SentFile {
    std::size_t slot = 0;  // position in the sender's list
    SourceFile src;
    OpenedFile opened;
    wire::FileMeta meta;
    std::optional<HashWorker::Id> digest;  // of the current read, in the hashing worker
    std::string sha256;
    std::uint64_t outstanding = 0;  // messages of the current read produced and not yet confirmed
    bool read_done = false;
    FileStatus status = FileStatus::not_started;
    std::string skip_reason;
};

// A sender's files (File extends SentFile), one per source in the same order, none started.
template <class File>
std::vector<std::unique_ptr<File>> sent_files(std::vector<SourceFile> sources) {
    std::vector<std::unique_ptr<File>> files;
    files.reserve(sources.size());
    for (auto& s : sources) {
        auto f = std::make_unique<File>();
        f->meta.path = s.path;
        f->meta.index = s.index;
        f->slot = files.size();
        f->src = std::move(s);
        files.push_back(std::move(f));
    }
    return files;
}

// The files a sender holds open: each from its first read until every message is confirmed (a producer rebuild may
// re-read it) or it is given up. The senders bound how many.
class OpenFiles {
public:
    explicit OpenFiles(HashWorker& hasher) : hasher_(hasher) {}
    std::size_t count() const { return open_; }
    // `f` is open and being sent.
    void start(SentFile& f);
    // Once `f` is read whole and every message is confirmed: takes its digest and closes it, confirmed.
    void finish_if_confirmed(SentFile& f);
    // Gives `f` up: closed, its digest dropped, skipped for `reason`.
    void give_up(SentFile& f, std::string reason);
    // What became of `f`, without the sender's own fields: status, meta, skip reason, and the descriptor of an
    // unconfirmed file (for the spool). A file read whole but not confirmed keeps the digest of what was read.
    FileResult result(SentFile& f);

private:
    HashWorker& hasher_;
    std::size_t open_ = 0;
};

}  // namespace ks::push
