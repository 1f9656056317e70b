#include "push_settings.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <limits>

#include "wire_headers.hpp"

namespace ks::push {
namespace {

const char* const kKeyChunk = "stream.chunk.bytes";
const char* const kKeyTimeout = "stream.timeout";
const char* const kKeySpool = "stream.spool";
const char* const kKeyCluster = "stream.cluster";
const char* const kKeyOpenFiles = "stream.max.open.files";
const char* const kKeyRebuilds = "stream.max.producer.rebuilds";
const char* const kKeyAttempts = "stream.max.file.attempts";
const char* const kKeyFormat = "stream.format";
const char* const kKeyMaxFile = "stream.max.file.bytes";
const char* const kKeyAuth = "stream.auth";
const char* const kKeyAuthKeyFile = "stream.auth.key.file";
const char* const kKeySpoolMax = "stream.spool.max.bytes";
const char* const kKeySpoolMinFree = "stream.spool.min.free.percent";
const char* const kKeyDrainUser = "stream.drain.user.seconds";

}  // namespace

const std::vector<std::string>& own_config_keys() {
    static const std::vector<std::string> keys = {
        kKeyChunk,   kKeyTimeout, kKeySpool, kKeyCluster,     kKeyOpenFiles, kKeyRebuilds,     kKeyAttempts, kKeyFormat,
        kKeyMaxLine, kKeyMaxFile, kKeyAuth,  kKeyAuthKeyFile, kKeySpoolMax,  kKeySpoolMinFree, kKeyDrainUser};
    return keys;
}

std::size_t default_max_open_files(std::uint64_t fd_soft_limit) {
    constexpr std::uint64_t kWanted = 1024, kReserve = 64, kFloor = 16;  // reserve: librdkafka's sockets, pipes, logs
    std::uint64_t room = fd_soft_limit > kReserve + kFloor ? fd_soft_limit - kReserve : kFloor;
    return static_cast<std::size_t>(std::min(kWanted, room));
}

std::uint64_t raise_fd_limit() {
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : static_cast<std::uint64_t>(rl.rlim_cur);
}

Result<Settings> resolve_settings(const std::vector<ConfigEntry>& entries, const CommandLine& cl) {
    TRY_ASSIGN(auto split, split_config(entries, own_config_keys()));
    Settings s;
    s.kafka = split.kafka;
    s.max_open_files = default_max_open_files(raise_fd_limit());
    TRY_ASSIGN(auto chunk, get_u64(split, kKeyChunk, 1024, wire::kMaxChunkBytes));
    if (chunk) s.chunk_bytes = *chunk;
    TRY_ASSIGN(auto timeout, get_seconds(split, kKeyTimeout));
    if (timeout) {
        if (*timeout <= 0) return fail(split.own.at(kKeyTimeout).origin + ": " + kKeyTimeout + " must be positive");
        s.timeout_seconds = *timeout;
    }
    if (cl.timeout) s.timeout_seconds = *cl.timeout;
    if (auto spool = get_string(split, kKeySpool)) {
        if (spool->empty() || spool->front() != '/')
            return fail(split.own.at(kKeySpool).origin + ": " + kKeySpool + " must be an absolute path");
        s.spool_dir = *spool;
    }
    if (cl.spool) s.spool_dir = *cl.spool;
    s.cluster = get_string(split, kKeyCluster);
    TRY_ASSIGN(auto open_files, get_u64(split, kKeyOpenFiles, 1, 100000));
    if (open_files) s.max_open_files = *open_files;
    TRY_ASSIGN(auto rebuilds, get_u64(split, kKeyRebuilds, 0, 100));
    if (rebuilds) s.max_producer_rebuilds = static_cast<int>(*rebuilds);
    TRY_ASSIGN(auto attempts, get_u64(split, kKeyAttempts, 1, 100));
    if (attempts) s.max_file_attempts = static_cast<int>(*attempts);
    if (auto format = get_string(split, kKeyFormat)) {
        auto f = parse_send_format(*format);
        if (!f) return fail(split.own.at(kKeyFormat).origin + ": " + kKeyFormat + ": " + f.error().message);
        s.format = *f;
    }
    if (cl.format) s.format = *cl.format;
    TRY_ASSIGN(auto max_line, get_u64(split, kKeyMaxLine, 1, wire::kMaxChunkBytes));
    s.records_max_line_bytes = max_line;
    TRY_ASSIGN(auto max_file, get_u64(split, kKeyMaxFile, 1, std::numeric_limits<std::uint64_t>::max()));
    s.max_file_bytes = max_file;
    if (auto auth = get_string(split, kKeyAuth)) {
        if (*auth != "hmac" && *auth != "none")
            return fail(split.own.at(kKeyAuth).origin + ": " + kKeyAuth + ": expected \"hmac\" or \"none\", got \"" +
                        *auth + "\"");
        s.authenticate = *auth == "hmac";
    }
    if (auto key = get_string(split, kKeyAuthKeyFile)) {
        if (key->empty() || key->front() != '/')
            return fail(split.own.at(kKeyAuthKeyFile).origin + ": " + kKeyAuthKeyFile + " must be an absolute path");
        s.auth_key_file = *key;
    }
    TRY_ASSIGN(auto spool_max, get_u64(split, kKeySpoolMax, 0, std::numeric_limits<std::uint64_t>::max()));
    if (spool_max) s.spool_max_bytes = *spool_max;
    TRY_ASSIGN(auto min_free, get_u64(split, kKeySpoolMinFree, 0, 99));
    if (min_free) s.spool_min_free_percent = static_cast<unsigned>(*min_free);
    TRY_ASSIGN(auto drain_user, get_seconds(split, kKeyDrainUser));
    if (drain_user) {
        if (*drain_user <= 0)
            return fail(split.own.at(kKeyDrainUser).origin + ": " + kKeyDrainUser + " must be positive");
        s.drain_user_seconds = *drain_user;
    }
    return s;
}

}  // namespace ks::push
