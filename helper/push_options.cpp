#include "push_options.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "record_encoder.hpp"

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
const char* const kKeyMaxLine = "stream.records.max.line.bytes";
const char* const kKeyMaxFile = "stream.max.file.bytes";
const char* const kKeyAuth = "stream.auth";
const char* const kKeyAuthKeyFile = "stream.auth.key.file";
const char* const kKeySpoolMax = "stream.spool.max.bytes";
const char* const kKeySpoolMinFree = "stream.spool.min.free.percent";
const char* const kKeyDrainUser = "stream.drain.user.seconds";

// Room librdkafka needs next to a chunk's payload: key, headers (path up to 4 KiB) and record overhead.
constexpr std::uint64_t kHeaderRoom = 16 * 1024;

Result<double> parse_seconds(std::string_view opt, const std::string& v) {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(d) || d <= 0 || d > 7 * 24 * 3600)
        return fail(std::string(opt) + ": expected a positive number of seconds, got \"" + v + "\"");
    return d;
}

Result<std::int64_t> parse_int(std::string_view opt, const std::string& v, std::int64_t min, std::int64_t max) {
    auto n = wire::parse_i64(v);
    if (!n || *n < min || *n > max)
        return fail(std::string(opt) + ": expected an integer between " + std::to_string(min) + " and " +
                    std::to_string(max) + ", got \"" + v + "\"");
    return *n;
}

std::optional<std::string> non_empty(const EnvLookup& env, const char* name) {
    auto v = env(name);
    if (v && v->empty()) return std::nullopt;
    return v;
}

}  // namespace

Result<CommandLine> parse_command_line(const std::vector<std::string>& args) {
    CommandLine cl;
    std::vector<std::string> positional;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        if (arg == "--") {
            positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
            break;
        }
        if (arg == "-h" || arg == "--help") { cl.help = true; continue; }
        if (arg == "--version") { cl.version = true; continue; }
        if (arg == "-v" || arg == "--verbose") { cl.verbose = true; continue; }
        if (arg.size() < 2 || arg[0] != '-') { positional.push_back(arg); continue; }
        std::string name = arg, value;
        bool inline_value = false;
        if (arg.starts_with("--")) {
            auto eq = arg.find('=');
            if (eq != std::string::npos) {
                name = arg.substr(0, eq);
                value = arg.substr(eq + 1);
                inline_value = true;
            }
        } else if (arg.starts_with("-X") && arg.size() > 2) {
            name = "-X";
            value = arg.substr(2);
            inline_value = true;
        }
        static const std::vector<std::string> kWithValue = {
            "-X", "--config", "--topic", "--cluster", "--job-id", "--job-instance", "--node", "--user", "--nodes", "--exit-code",
            "--include", "--exclude", "--timeout", "--spool", "--run-as", "--drain-spool", "--format",
            "--metrics-file"};
        bool known = false;
        for (const auto& k : kWithValue) known = known || k == name;
        if (!known) return fail("unknown option " + arg);
        if (!inline_value) {
            if (i + 1 >= args.size()) return fail(name + " needs a value");
            value = args[++i];
        }
        if (name == "-X") {
            TRY_ASSIGN(auto e, parse_override(value));
            cl.overrides.push_back(std::move(e));
        } else if (name == "--config") cl.config_path = value;
        else if (name == "--topic") cl.topic = value;
        else if (name == "--cluster") cl.cluster = value;
        else if (name == "--job-id") cl.job_id = value;
        else if (name == "--job-instance") cl.job_instance = value;
        else if (name == "--node") cl.node = value;
        else if (name == "--user") cl.user = value;
        else if (name == "--spool") cl.spool = value;
        else if (name == "--run-as") cl.run_as = value;
        else if (name == "--drain-spool") cl.drain_spool = value;
        else if (name == "--metrics-file") cl.metrics_file = value;
        else if (name == "--include") cl.includes.push_back(value);
        else if (name == "--format") {
            auto f = parse_send_format(value);
            if (!f) return fail("--format: " + f.error().message);
            cl.format = *f;
        }
        else if (name == "--exclude") cl.excludes.push_back(value);
        else if (name == "--nodes") {
            TRY_ASSIGN(auto n, parse_int(name, value, 1, 1'000'000));
            cl.nodes = static_cast<std::uint32_t>(n);
        } else if (name == "--exit-code") {
            TRY_ASSIGN(auto n, parse_int(name, value, -2147483648LL, 2147483647LL));
            cl.exit_code = static_cast<std::int32_t>(n);
        } else if (name == "--timeout") {
            TRY_ASSIGN(auto t, parse_seconds(name, value));
            cl.timeout = t;
        }
    }
    if (cl.help || cl.version) return cl;
    if (cl.drain_spool) {
        if (!positional.empty()) return fail("--drain-spool takes no DIR argument (got \"" + positional[0] + "\")");
        if (cl.drain_spool->empty()) return fail("--drain-spool needs a directory");
        for (const auto* o : {&cl.job_id, &cl.job_instance, &cl.node, &cl.user, &cl.cluster})
            if (*o) return fail("--drain-spool resends spooled transfers as they were: --job-id, --job-instance, "
                                "--node, --user and --cluster do not apply");
        if (!cl.topic.empty()) return fail("--drain-spool resends to the topic each spooled transfer names; drop --topic");
        return cl;
    }
    if (cl.metrics_file) return fail("--metrics-file goes with --drain-spool (the spool's metrics)");
    if (positional.size() != 1) return fail("expected exactly one DIR argument");
    cl.dir = positional[0];
    if (cl.dir.empty()) return fail("DIR is empty");
    if (cl.topic.empty()) return fail("--topic is required");
    if (!kafka::valid_topic_name(cl.topic))
        return fail("--topic \"" + cl.topic + "\": Kafka topic names are 1-249 characters of [A-Za-z0-9._-]");
    if (wire::is_companion_topic(cl.topic))
        return fail("--topic \"" + cl.topic + "\": names ending in " + std::string(wire::kCompanionSuffix) +
                    " are reserved for the companion topics of records mode");
    return cl;
}

const std::vector<std::string>& own_config_keys() {
    static const std::vector<std::string> keys = {
        kKeyChunk,   kKeyTimeout, kKeySpool,   kKeyCluster,     kKeyOpenFiles,   kKeyRebuilds, kKeyAttempts,
        kKeyFormat,  kKeyMaxLine, kKeyMaxFile, kKeyAuth,        kKeyAuthKeyFile, kKeySpoolMax, kKeySpoolMinFree,
        kKeyDrainUser};
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
        if (*drain_user <= 0) return fail(split.own.at(kKeyDrainUser).origin + ": " + kKeyDrainUser + " must be positive");
        s.drain_user_seconds = *drain_user;
    }
    return s;
}

std::vector<kafka::Property> default_kafka_properties(const Settings& s) {
    // Socket and metadata timeouts below the run's budget so a dead broker is noticed within --timeout.
    auto budget_ms = static_cast<long long>(s.timeout_seconds * 1000);
    auto socket_ms = std::to_string(std::clamp<long long>(budget_ms / 2, 1000, 60000));
    // Records repeat their keys and "ks" object on every line: lz4 shrinks them several-fold and made records mode
    // faster end to end; consumers decompress it (kafka-python with python3-lz4). Batches of up to 100,000 records
    // instead of librdkafka's 10,000 are faster again for the same data.
    // File chunks are mostly incompressible results: no compression unless the site asks for it.
    const bool records = s.format == SendFormat::records;
    std::vector<kafka::Property> props = {{"linger.ms", "20"},
                                          {"compression.type", records ? "lz4" : "none"},
                                          {"queue.buffering.max.kbytes", "32768"},
                                          {"socket.timeout.ms", socket_ms},
                                          {"socket.connection.setup.timeout.ms", socket_ms},
                                          {"reconnect.backoff.max.ms", "2000"},
                                          {"client.id", "kafka-stream-push"}};
    if (records) props.push_back({"batch.num.messages", "100000"});
    if (!records) {
        // librdkafka 2.0.2's idempotent producer allows 5 *messages* in flight per partition; when that limit binds
        // while its request queue is empty, the broker thread polls with a zero timeout until a reply comes: a busy
        // loop (strace shows tens of polls per request). One chunk per batch and one request fewer on the wire than
        // that limit make the connection's limit bind first, and the thread sleeps instead (a fraction of the polls,
        // and less CPU per byte sent).
        props.push_back({"batch.size", std::to_string(s.chunk_bytes)});
        props.push_back({"max.in.flight.requests.per.connection", "4"});
    }
    return props;
}

std::vector<kafka::Property> forced_kafka_properties() {
    return {{"enable.idempotence", "true"}, {"acks", "all"}};
}

Result<void> check_chunk_fits(std::uint64_t chunk_bytes, std::uint64_t message_max_bytes) {
    if (chunk_bytes + kHeaderRoom > message_max_bytes)
        return fail("stream.chunk.bytes=" + std::to_string(chunk_bytes) + " does not fit librdkafka's message.max.bytes=" +
                    std::to_string(message_max_bytes) + " with room for headers; lower the chunk size or raise " +
                    "message.max.bytes (and the topic's max.message.bytes)");
    return {};
}

Result<SendFormat> parse_send_format(std::string_view text) {
    if (text == kFormatFiles) return SendFormat::files;
    if (text == kFormatRecords) return SendFormat::records;
    return fail("expected \"files\" or \"records\", got \"" + std::string(text) + "\"");
}

Result<std::size_t> records_line_limit(const Settings& s) {
    const std::uint64_t budget = s.message_max_bytes > kHeaderRoom ? s.message_max_bytes - kHeaderRoom : 0;
    if (s.records_max_line_bytes) {
        if (max_record_value_bytes(*s.records_max_line_bytes) > budget)
            return fail(std::string(kKeyMaxLine) + "=" + std::to_string(*s.records_max_line_bytes) +
                        ": a record of such a line may not fit librdkafka's message.max.bytes=" +
                        std::to_string(s.message_max_bytes) + " (escaping can make it 7.4 times larger); lower it " +
                        "or raise message.max.bytes (and the topic's max.message.bytes)");
        return static_cast<std::size_t>(*s.records_max_line_bytes);
    }
    // The largest line whose worst-case record fits (max_record_value_bytes grows 22/3 bytes per line byte).
    std::size_t lo = 0, hi = static_cast<std::size_t>(budget);
    while (lo < hi) {
        std::size_t mid = lo + (hi - lo + 1) / 2;
        if (max_record_value_bytes(mid) <= budget) lo = mid; else hi = mid - 1;
    }
    if (lo == 0) return fail("message.max.bytes=" + std::to_string(s.message_max_bytes) + " leaves no room for records");
    return lo;
}

std::size_t manifest_part_budget(std::uint64_t message_max_bytes) {
    return message_max_bytes > kHeaderRoom ? static_cast<std::size_t>(message_max_bytes - kHeaderRoom) : 0;
}

Result<std::vector<std::string>> manifest_messages(const wire::Manifest& manifest, std::uint64_t message_max_bytes) {
    auto parts = wire::manifest_parts_json(manifest, manifest_part_budget(message_max_bytes));
    if (!parts) return fail("manifest: " + parts.error().message + " (message.max.bytes=" +
                            std::to_string(message_max_bytes) + ")");
    return parts;
}

Result<wire::JobInfo> resolve_job(const CommandLine& cl, const Settings& s, const EnvLookup& env,
                                  const JobDefaults& d) {
    wire::JobInfo j;
    j.cluster = cl.cluster ? *cl.cluster : s.cluster ? *s.cluster : non_empty(env, "SLURM_CLUSTER_NAME").value_or("default");
    j.job_id = cl.job_id ? *cl.job_id : non_empty(env, "SLURM_JOB_ID").value_or(d.adhoc_job_id);
    j.node = cl.node ? *cl.node : non_empty(env, "SLURMD_NODENAME").value_or(d.hostname);
    j.user = cl.user ? *cl.user : d.user_name;
    j.uid = d.uid;
    j.gid = d.gid;
    // They become Kafka headers, the "cluster/job/node" key and, at the sink, directory names.
    TRY(wire::check_identity_names(j.cluster, j.job_id, j.node, j.user));
    if (cl.nodes) {
        j.nodes = *cl.nodes;
    } else if (auto n = non_empty(env, "SLURM_JOB_NUM_NODES")) {
        auto v = wire::parse_u64(*n);
        if (!v || *v == 0 || *v > 1'000'000) return fail("SLURM_JOB_NUM_NODES=\"" + *n + "\" is not a node count");
        j.nodes = static_cast<std::uint32_t>(*v);
    }
    j.exit_code = cl.exit_code ? cl.exit_code : exit_code_from_slurm(env);
    if (cl.job_instance) {
        if (!valid_job_instance(*cl.job_instance))
            return fail("--job-instance: expected " + std::string(kJobInstanceRule) + ", got \"" + *cl.job_instance + "\"");
        j.instance = *cl.job_instance;
    }
    return j;
}

wire::TransferIdentity identity_of(const wire::JobInfo& job) {
    return wire::identity_of(job, wire::make_transfer_id(job.cluster, job.job_id, job.node, job.instance));
}

std::optional<std::int32_t> exit_code_from_slurm(const EnvLookup& env) {
    if (auto two = non_empty(env, "SLURM_JOB_EXIT_CODE2")) {
        auto colon = two->find(':');
        if (colon != std::string::npos) {
            auto code = wire::parse_u64(two->substr(0, colon));
            auto sig = wire::parse_u64(two->substr(colon + 1));
            if (code && sig && *code < 256 && *sig < 128)
                return static_cast<std::int32_t>(*sig ? 128 + *sig : *code);
        }
    }
    if (auto raw = non_empty(env, "SLURM_JOB_EXIT_CODE")) return exit_code_from_wait_status(*raw);
    return std::nullopt;
}

std::string usage_text() {
    return R"(Usage: kafka-stream-push [OPTION]... --topic TOPIC DIR
       kafka-stream-push [--config FILE] [-X key=value]... [--timeout SECONDS] --drain-spool SPOOLDIR

Sends the regular files under DIR to the Kafka topic TOPIC (chunks with headers, then a JSON manifest listing every
file with its size and SHA-256 and every skipped entry with the reason), so kafka-stream-sink can rebuild them bit
for bit. Symlinks are never followed, FIFOs, sockets and devices are skipped and recorded.

Options:
  --config FILE        site configuration (key=value lines; default /etc/kafka-stream.conf if it exists)
  -X key=value         set a configuration key (a librdkafka property or a stream.* key); overrides FILE
  --topic TOPIC        Kafka topic to send to (required, except with --drain-spool)
  --cluster NAME       cluster name (default: stream.cluster, $SLURM_CLUSTER_NAME, "default")
  --job-id ID          job id (default: $SLURM_JOB_ID, else "adhoc-<epoch>-<pid>")
  --job-instance STR   distinguishes this job from an earlier one with the same id (the plugin passes a value it
                       draws once per job at submission); part of the transfer id
  --node NAME          node name (default: $SLURMD_NODENAME, else the short host name)
  --user NAME          user name recorded in the transfer (default: the name of the uid the files are read as)
  --nodes N            number of nodes of the job, for the manifest (default: $SLURM_JOB_NUM_NODES, else 1)
  --exit-code N        the job's exit code, for the manifest (default: from $SLURM_JOB_EXIT_CODE2 or
                       $SLURM_JOB_EXIT_CODE; absent if unknown)
  --include GLOB       send only files matching GLOB (repeatable; any match is enough)
  --exclude GLOB       never send files or walk directories matching GLOB (repeatable; wins over --include)
                       GLOB without '/' matches the file name at any depth; with '/', the path relative to DIR,
                       where '*' stays within one component and a "**" component spans any number of them
  --timeout SECONDS    cap on the time spent sending (default: stream.timeout, else 300); what is not confirmed
                       by then is spooled
  --format FORMAT      "files" (default: stream.format, else files): every file as checksummed chunks; or
                       "records": each text file as one JSON message per line, {"timestamp":<float seconds>,
                       "data":"<the line>"}, for plain consumers (Spark, Flink, Python); other files as chunks
  --spool DIR          spool directory (default: stream.spool, else /var/spool/kafka-stream); entries go to
                       DIR/<uid>/<transfer id>/
  --run-as UID:GID     (root only) read the configuration and connect as root, then drop to UID:GID for good
                       before anything under DIR is opened
  --drain-spool DIR    resend spooled transfers: DIR is the spool root, one DIR/<uid> directory or one entry;
                       only entries a node signed for the directory's owner are sent; an entry is removed only
                       after all its messages are confirmed
  --metrics-file FILE  with --drain-spool: after the drain, write the spool's entries, bytes and oldest entry's
                       age as Prometheus metrics to FILE (node_exporter textfile format, replaced atomically)
  -v, --verbose        log librdkafka's and our debug messages
  -h, --help           show this help
  --version            show the version and wire format version

Exit status:
  0  every message was confirmed by Kafka (with --drain-spool: every entry drained)
  1  internal error
  2  usage or configuration error (the signing key unreadable, or readable by others, included); nothing was
     read or sent
  3  not (fully) delivered, but what was not confirmed is saved in the spool: run --drain-spool later
  4  not delivered and NOT spooled (e.g. the spool is not writable or full, or privileges could not be dropped)

At the end one summary line is printed on stderr:
  kafka-stream-push: sent N files, B bytes, S skipped in T s (X MB/s), transfer ID to TOPIC
Transfers are signed with the first key of stream.auth.key.file (default /etc/kafka-stream.key, root-only): only a
node can speak for a job (stream.auth=none sends unsigned transfers, which an authenticating sink drops).
SIGTERM stops sending; what is not confirmed is spooled (exit 3).
See kafka-stream-push(1) for the configuration keys.
)";
}

}  // namespace ks::push
