// Who may stage what at the sink (docs/security.md).
//
// A transfer exists for the sink only once its open message was verified: signed with a key of this site (unless
// stream.auth=none), for the identity its headers claim, with names that can only ever be directory names inside
// its own job's tree, and (with --chown) a user that resolves to the signed uid, never root. Chunks and records of a
// transfer that was not opened are dropped, so a forged transfer never gets a byte of staging space. Its manifest
// must be signed too and agree with the open message. What is staged is bounded per user and in all.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "result.hpp"
#include "signature.hpp"
#include "wire_format.hpp"

namespace ks::sink {

// Looks a user name up in the passwd database: its uid, or nullopt.
using UidLookup = std::function<std::optional<uid_t>(const std::string& user)>;
std::optional<uid_t> passwd_uid(const std::string& user);

struct AdmissionRules {
    const auth::KeyRing* keys = nullptr;  // null: stream.auth=none, nothing is verified
    bool chown = false;                   // files are given to the job's user: the uid must be right, and not 0
    UidLookup lookup_uid = passwd_uid;
};

// The signed fields of an open or manifest message as the sink received it.
struct ReceivedMessage {
    std::string_view type;  // "open" or "manifest"
    std::string_view topic;
    const wire::TransferIdentity* id = nullptr;
    const wire::Headers* headers = nullptr;
    std::string_view value;
    std::uint32_t part = 0;
    std::uint32_t parts = 1;
};

// The signature (ks.sig) of an open or manifest message.
Result<void> verify_signature(const AdmissionRules& rules, const ReceivedMessage& msg);

// An open message: signature, JSON, the same identity as its headers, safe names, and the chown rules.
Result<wire::TransferOpen> admit_open(const AdmissionRules& rules, const ReceivedMessage& msg);

// A manifest (one part) must describe the job its transfer was opened for, uid and gid included.
Result<void> manifest_matches_open(const wire::Manifest& manifest, const wire::JobInfo& opened);

// Staged transfers and bytes per user, against the limits; what is released when a transfer leaves staging.
class StagingLedger {
public:
    struct Limits {
        std::size_t max_transfers = 100000;       // active transfers in all
        std::size_t max_user_transfers = 10000;   // active transfers of one user
        std::uint64_t max_user_bytes = 1ull << 40;  // bytes staged for one user
    };
    explicit StagingLedger(Limits limits) : limits_(limits) {}

    // A new transfer of `user`; fails (nothing counted) when a limit would be passed.
    Result<void> open(const std::string& user);
    // `bytes` more staged for `user`; fails once the user's total passes the limit (the bytes are counted).
    Result<void> add_bytes(const std::string& user, std::uint64_t bytes);
    // A transfer of `user` that is in staging already (found there after a restart): counted, not judged.
    void adopt(const std::string& user);
    // A transfer of `user` left staging with `bytes` staged.
    void close(const std::string& user, std::uint64_t bytes);

    std::size_t transfers() const { return transfers_; }
    std::uint64_t bytes() const { return bytes_; }
    const Limits& limits() const { return limits_; }

private:
    struct Usage {
        std::size_t transfers = 0;
        std::uint64_t bytes = 0;
    };
    Limits limits_;
    std::map<std::string, Usage> users_;
    std::size_t transfers_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace ks::sink
