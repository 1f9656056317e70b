// Moves a staged transfer into its final place once every file is complete and verified.
//
// Every file's staged size and SHA-256 are checked against the manifest first; then each gets its mode (masked to
// 0777), owner and mtime, all are made durable (one syncfs where reliable, else an fsync each: sync_batch.hpp), then
// renamed into the layout (directories created one component at a time, never through a symlink), and the
// directories that gained entries are made durable. Then the node manifest (<job dir>/_manifests/<node>.json), the job's _SUCCESS once all its nodes are in
// (O_EXCL: written once even by several sinks sharing ROOT), ROOT/.done/<transfer>, and the staging is removed.
//
// Idempotent: after a crash at any point, running it again completes the same tree (a file already renamed and
// matching the manifest counts as placed).
#pragma once
#include <cstdint>
#include <string>

#include "result.hpp"
#include "staging_area.hpp"
#include "transfer_plan.hpp"

namespace ks::sink {

inline constexpr std::string_view kDoneDirName = ".done";

struct FinalizeResult {
    enum class Kind { done, waiting, rejected };
    Kind kind = Kind::waiting;
    std::string reason;  // why waiting or rejected
    std::size_t files = 0;
    std::uint64_t bytes = 0;
    bool job_complete = false;  // this call wrote the job's _SUCCESS
    bool call_again = false;  // waiting only because its hashing budget ran out: try again at the next flush
};

// Bytes of staged files that one finalization attempt reads back to hash (files that were not hashed as their
// chunks arrived): a few tenths of a second, so a terabyte-sized file never keeps the sink from polling Kafka.
inline constexpr std::uint64_t kFinalizeHashBudget = 512ull << 20;

struct FinalizeTarget {
    int rootfd = -1;
    int done_dirfd = -1;
    bool chown = false;  // give files and created directories the job's uid/gid
    std::uint64_t hash_budget = kFinalizeHashBudget;
};

// Errors are host failures (I/O, disk full); problems caused by the input (a path component that is a file or a
// symlink, ...) give Kind::rejected.
Result<FinalizeResult> finalize_transfer(const FinalizeTarget& target, StagingArea& staging,
                                         const std::string& transfer, const TransferPlan& plan,
                                         const std::string& manifest_json);

// Crash-test hook (documented as such): when KS_SINK_CRASH_AT names this point, the process _exit()s there.
void crash_point(const char* name);

}  // namespace ks::sink
