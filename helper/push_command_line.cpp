#include "push_command_line.hpp"

#include <cmath>
#include <cstdlib>

#include "companion_topic.hpp"
#include "kafka.hpp"
#include "push_contract.hpp"
#include "text_codec.hpp"

namespace ks::push {
namespace {

Result<double> parse_seconds(std::string_view opt, const std::string& v) {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(d) || d <= 0 || d > 7 * 24 * 3600)
        return fail(std::string(opt) + ": expected a positive number of seconds, got \"" + v + "\"");
    return d;
}

Result<std::int64_t> parse_int(std::string_view opt, const std::string& v, std::int64_t min, std::int64_t max) {
    auto n = text::parse_i64(v);
    if (!n || *n < min || *n > max)
        return fail(std::string(opt) + ": expected an integer between " + std::to_string(min) + " and " +
                    std::to_string(max) + ", got \"" + v + "\"");
    return *n;
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

Result<SendFormat> parse_send_format(std::string_view text) {
    if (text == kFormatFiles) return SendFormat::files;
    if (text == wire::kFormatRecords) return SendFormat::records;
    return fail("expected \"files\" or \"records\", got \"" + std::string(text) + "\"");
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
