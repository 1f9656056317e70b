#include "push_command_line.hpp"

#include <array>
#include <cmath>
#include <cstdlib>

#include "command_line.hpp"
#include "companion_topic.hpp"
#include "kafka.hpp"
#include "push_contract.hpp"
#include "text_codec.hpp"

namespace ks::push {
namespace {

Result<double> parse_seconds(std::string_view v) {
    std::string s(v);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(d) || d <= 0 || d > 7 * 24 * 3600)
        return fail("expected a positive number of seconds, got \"" + s + "\"");
    return d;
}

Result<std::int64_t> parse_int(std::string_view v, std::int64_t min, std::int64_t max) {
    auto n = text::parse_i64(v);
    if (!n || *n < min || *n > max)
        return fail("expected an integer between " + std::to_string(min) + " and " + std::to_string(max) + ", got \"" +
                    std::string(v) + "\"");
    return *n;
}

Result<std::uint32_t> parse_nodes(std::string_view v) {
    TRY_ASSIGN(auto n, parse_int(v, 1, 1'000'000));
    return static_cast<std::uint32_t>(n);
}

Result<std::int32_t> parse_exit_code(std::string_view v) {
    TRY_ASSIGN(auto n, parse_int(v, -2147483648LL, 2147483647LL));
    return static_cast<std::int32_t>(n);
}

using Option = cli::Option<CommandLine>;

// Every option: its names, value, what it sets and its help (usage_text() lists them in this order).
const std::vector<Option>& options() {
    static const std::vector<Option> table = {
        {{"--config", {}, "FILE", "site configuration (key=value lines; default /etc/kafka-stream.conf if it exists)"},
         cli::store<&CommandLine::config_path>},
        {{"-X", {}, "key=value", "set a configuration key (a librdkafka property or a stream.* key); overrides FILE"},
         cli::append<&CommandLine::overrides, parse_override>},
        {{"--topic", {}, "TOPIC", "Kafka topic to send to (required, except with --drain-spool)"},
         cli::store<&CommandLine::topic>},
        {{"--cluster", {}, "NAME", "cluster name (default: stream.cluster, $SLURM_CLUSTER_NAME, \"default\")"},
         cli::store<&CommandLine::cluster>},
        {{"--job-id", {}, "ID", "job id (default: $SLURM_JOB_ID, else \"adhoc-<epoch>-<pid>\")"},
         cli::store<&CommandLine::job_id>},
        {{"--job-instance",
          {},
          "STR",
          "distinguishes this job from an earlier one with the same id (the plugin passes a value it\n"
          "draws once per job at submission); part of the transfer id"},
         cli::store<&CommandLine::job_instance>},
        {{"--node", {}, "NAME", "node name (default: $SLURMD_NODENAME, else the short host name)"},
         cli::store<&CommandLine::node>},
        {{"--user",
          {},
          "NAME",
          "user name recorded in the transfer (default: the name of the uid the files are read as)"},
         cli::store<&CommandLine::user>},
        {{"--nodes", {}, "N", "number of nodes of the job, for the manifest (default: $SLURM_JOB_NUM_NODES, else 1)"},
         cli::store<&CommandLine::nodes, parse_nodes>},
        {{"--exit-code",
          {},
          "N",
          "the job's exit code, for the manifest (default: from $SLURM_JOB_EXIT_CODE2 or\n"
          "$SLURM_JOB_EXIT_CODE; absent if unknown)"},
         cli::store<&CommandLine::exit_code, parse_exit_code>},
        {{"--include", {}, "GLOB", "send only files matching GLOB (repeatable; any match is enough)"},
         cli::append<&CommandLine::includes>},
        {{"--exclude",
          {},
          "GLOB",
          "never send files or walk directories matching GLOB (repeatable; wins over --include)\n"
          "GLOB without '/' matches the file name at any depth; with '/', the path relative to DIR,\n"
          "where '*' stays within one component and a \"**\" component spans any number of them"},
         cli::append<&CommandLine::excludes>},
        {{"--timeout",
          {},
          "SECONDS",
          "cap on the time spent sending (default: stream.timeout, else 300); what is not confirmed\n"
          "by then is spooled"},
         cli::store<&CommandLine::timeout, parse_seconds>},
        {{"--format",
          {},
          "FORMAT",
          "\"files\" (default: stream.format, else files): every file as checksummed chunks; or\n"
          "\"records\": each text file as one JSON message per line, {\"timestamp\":<float seconds>,\n"
          "\"data\":\"<the line>\"}, for plain consumers (Spark, Flink, Python); other files as chunks"},
         cli::store<&CommandLine::format, parse_send_format>},
        {{"--spool",
          {},
          "DIR",
          "spool directory (default: stream.spool, else /var/spool/kafka-stream); entries go to\n"
          "DIR/<uid>/<transfer id>/"},
         cli::store<&CommandLine::spool>},
        {{"--run-as",
          {},
          "UID:GID",
          "(root only) read the configuration and connect as root, then drop to UID:GID for good\n"
          "before anything under DIR is opened"},
         cli::store<&CommandLine::run_as>},
        {{"--drain-spool",
          {},
          "DIR",
          "resend spooled transfers: DIR is the spool root, one DIR/<uid> directory or one entry;\n"
          "only entries a node signed for the directory's owner are sent; an entry is removed only\n"
          "after all its messages are confirmed"},
         cli::store<&CommandLine::drain_spool>},
        {{"--metrics-file",
          {},
          "FILE",
          "with --drain-spool: after the drain, write the spool's entries, bytes and oldest entry's\n"
          "age as Prometheus metrics to FILE (node_exporter textfile format, replaced atomically)"},
         cli::store<&CommandLine::metrics_file>},
        {{"--verbose", "-v", {}, "log librdkafka's and our debug messages"}, cli::set_flag<&CommandLine::verbose>},
        {{"--help", "-h", {}, "show this help"}, cli::set_flag<&CommandLine::help>},
        {{"--version", {}, {}, "show the version and wire format version"}, cli::set_flag<&CommandLine::version>},
    };
    return table;
}

// --drain-spool resends what the spool holds as it was: no DIR and no job identity.
Result<CommandLine> check_drain(CommandLine cl, const std::vector<std::string>& positional) {
    if (!positional.empty()) return fail("--drain-spool takes no DIR argument (got \"" + positional[0] + "\")");
    if (cl.drain_spool->empty()) return fail("--drain-spool needs a directory");
    for (const auto* o : {&cl.job_id, &cl.job_instance, &cl.node, &cl.user, &cl.cluster})
        if (*o)
            return fail(
                "--drain-spool resends spooled transfers as they were: --job-id, --job-instance, "
                "--node, --user and --cluster do not apply");
    if (!cl.topic.empty()) return fail("--drain-spool resends to the topic each spooled transfer names; drop --topic");
    return cl;
}

// A push: one DIR and a topic the job may name.
Result<CommandLine> check_push(CommandLine cl, const std::vector<std::string>& positional) {
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

}  // namespace

Result<CommandLine> parse_command_line(const std::vector<std::string>& args) {
    CommandLine cl;
    TRY_ASSIGN(auto positional,
               cli::parse<CommandLine>(options(), std::vector<std::string_view>(args.begin(), args.end()), cl));
    if (cl.help || cl.version) return cl;
    if (cl.drain_spool) return check_drain(std::move(cl), positional);
    return check_push(std::move(cl), positional);
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
)" + cli::help<CommandLine>(options(), 23) +
           R"(
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
