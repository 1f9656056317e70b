#include "admission.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "transfer_plan.hpp"

namespace ks::sink {
namespace {

const std::string* header_value(const wire::Headers& headers, std::string_view name) {
    const std::string* found = nullptr;
    for (const auto& [k, v] : headers)
        if (k == name) found = &v;
    return found;
}

}  // namespace

std::optional<uid_t> passwd_uid(const std::string& user) {
    long sz = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(sz > 0 ? static_cast<std::size_t>(sz) : 16384);
    passwd pw{};
    passwd* found = nullptr;
    while (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) == ERANGE && buf.size() < (1u << 20))
        buf.resize(buf.size() * 2);
    if (!found) return std::nullopt;
    return pw.pw_uid;
}

Result<void> verify_signature(const AdmissionRules& rules, const ReceivedMessage& msg) {
    if (!rules.keys) return {};
    const std::string* sig = header_value(*msg.headers, wire::header::signature);
    const std::string key = wire::message_key(*msg.id);
    return auth::verify(*rules.keys, sig ? std::string_view(*sig) : std::string_view(),
                        {msg.type, msg.topic, key, msg.id->transfer_id, msg.part, msg.parts, msg.value});
}

Result<wire::TransferOpen> admit_open(const AdmissionRules& rules, const ReceivedMessage& msg) {
    if (auto ok = verify_signature(rules, msg); !ok) return fail("open message: " + ok.error().message);
    TRY_ASSIGN(auto open, wire::parse_open(msg.value));
    const wire::TransferIdentity& id = *msg.id;
    const wire::JobInfo& job = open.job;
    if (open.transfer_id != id.transfer_id || job.cluster != id.cluster || job.job_id != id.job_id ||
        job.node != id.node || job.user != id.user || job.instance != id.instance)
        return fail("open message: the job it names differs from its headers");
    TRY(check_identity(id));
    if (auto ok = wire::check_identity_names(job.cluster, job.job_id, job.node, job.user); !ok)
        return fail("open message: " + ok.error().message);
    if (rules.chown) {
        if (job.uid <= 0 || job.gid <= 0 || job.uid > 0xFFFFFFFE || job.gid > 0xFFFFFFFE)
            return fail("open message: uid " + std::to_string(job.uid) + " / gid " + std::to_string(job.gid) +
                        ": files are never given to root (or an invalid id) with --chown");
        auto uid = rules.lookup_uid(job.user);
        if (!uid) return fail("open message: user \"" + job.user + "\" is unknown on this host (--chown needs it)");
        if (static_cast<std::int64_t>(*uid) != job.uid)
            return fail("open message: user \"" + job.user + "\" has uid " + std::to_string(*uid) +
                        " on this host, but the transfer says " + std::to_string(job.uid));
    }
    return open;
}

Result<void> manifest_matches_open(const wire::Manifest& m, const wire::JobInfo& opened) {
    if (m.job.cluster != opened.cluster || m.job.job_id != opened.job_id || m.job.node != opened.node ||
        m.job.user != opened.user || m.job.uid != opened.uid || m.job.gid != opened.gid ||
        m.job.instance != opened.instance)
        return fail("manifest: the job it describes differs from the one the transfer was opened for");
    return {};
}

Result<void> StagingLedger::open(const std::string& user) {
    if (transfers_ >= limits_.max_transfers)
        return fail("the sink already has " + std::to_string(transfers_) +
                    " transfers in staging (stream.sink.max.transfers)");
    Usage& u = users_[user];
    if (u.transfers >= limits_.max_user_transfers)
        return fail("user \"" + user + "\" already has " + std::to_string(u.transfers) +
                    " transfers in staging (stream.sink.max.user.transfers)");
    ++u.transfers;
    ++transfers_;
    return {};
}

Result<void> StagingLedger::add_bytes(const std::string& user, std::uint64_t bytes) {
    Usage& u = users_[user];
    u.bytes += bytes;
    bytes_ += bytes;
    if (u.bytes > limits_.max_user_bytes)
        return fail("user \"" + user + "\" has more than " + std::to_string(limits_.max_user_bytes) +
                    " bytes in staging (stream.sink.max.user.staged.bytes)");
    return {};
}

void StagingLedger::adopt(const std::string& user) {
    ++users_[user].transfers;
    ++transfers_;
}

void StagingLedger::close(const std::string& user, std::uint64_t bytes) {
    auto it = users_.find(user);
    if (it == users_.end()) return;
    Usage& u = it->second;
    if (u.transfers > 0) --u.transfers, --transfers_;
    const std::uint64_t b = std::min(bytes, u.bytes);
    u.bytes -= b;
    bytes_ -= std::min(b, bytes_);
    if (u.transfers == 0 && u.bytes == 0) users_.erase(it);
}

}  // namespace ks::sink
