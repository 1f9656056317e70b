#include "sink_options.hpp"

#include <cmath>
#include <cstdlib>
#include <tuple>

#include "command_line.hpp"
#include "kafka.hpp"
#include "layout.hpp"
#include "static_membership.hpp"

namespace ks::sink {
namespace {

std::vector<std::string> split_commas(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        auto c = s.find(',');
        auto part = s.substr(0, c);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        if (!part.empty()) out.emplace_back(part);
        if (c == std::string_view::npos) break;
        s.remove_prefix(c + 1);
    }
    return out;
}

Result<double> parse_seconds(std::string_view text) {
    std::string s(text);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0)
        return fail("expected a number of seconds, got \"" + s + "\"");
    return v;
}

using Option = cli::Option<SinkArgs>;

// Every option: its names, value, what it sets and its help (sink_usage() lists them in this order).
const std::vector<Option>& options() {
    static const std::vector<Option> table = {
        {{"--config",
          {},
          "FILE",
          "config file (\"key = value\" lines; default " + std::string(kDefaultConfigPath) +
              " if it\n"
              "exists). Keys stream.* are the sink's own, all others are librdkafka properties."},
         cli::store<&SinkArgs::config_path>},
        {{"-X", {}, "key=value", "set one config key (overrides the file); repeatable"},
         cli::append<&SinkArgs::overrides, parse_override>},
        {{"--topic", {}, "TOPIC", "topic to consume; repeatable, or comma-separated (config: stream.topics)"},
         [](SinkArgs& a, std::string_view v) -> Result<void> {
             for (auto& t : split_commas(v)) a.topics.push_back(t);
             return {};
         }},
        {{"--topic-regex",
          {},
          "RE",
          "consume every topic matching the POSIX regular expression RE (config: stream.topic.regex)"},
         cli::store<&SinkArgs::topic_regex>},
        {{"--group", {}, "GROUP", "consumer group id (config: stream.group)"}, cli::store<&SinkArgs::group>},
        {{"--output", {}, "ROOT", "output root, must exist (config: stream.output)"}, cli::store<&SinkArgs::output>},
        {{"--layout",
          {},
          "TEMPLATE",
          "where files go under ROOT (config: stream.layout), default {user}/{job}/{node}/{path}\n"
          "variables: {user} {uid} {job} {node} {cluster} {transfer} {topic} {path};\n"
          "{path} (the file's path relative to the pushed directory) must be the last component.\n"
          "The leading components without {node} or {transfer} form the job directory, which holds\n"
          "_manifests/<node>.json (one per node transfer) and _SUCCESS (once all nodes are in);\n"
          "it must contain {job}."},
         cli::store<&SinkArgs::layout>},
        {{"--exit-when-idle",
          {},
          "SECS",
          "one-shot mode: exit 0 once no message arrived for SECS seconds and everything is\n"
          "committed (config: stream.exit.when.idle)"},
         cli::store<&SinkArgs::exit_when_idle, parse_seconds>},
        {{"--chown", {}, {}, "when running as root, give files and created directories the job's uid/gid"},
         cli::set_flag<&SinkArgs::chown>},
        {{"--records-timestamp-data",
          {},
          {},
          "for each file sent in records mode, also write FILE.timestamp_data: one line\n"
          "\"<timestamp>,<line>\" per line, what the classic kafka-python consumer writes\n"
          "(config: stream.records.timestamp.data)"},
         cli::set_flag<&SinkArgs::records_timestamp_data>},
        {{"--metrics-file",
          {},
          "FILE",
          "write Prometheus metrics to FILE (node_exporter textfile format, replaced atomically\n"
          "every stream.metrics.interval.ms) (config: stream.metrics.file)"},
         cli::store<&SinkArgs::metrics_file>},
        {{"--metrics-listen",
          {},
          "[HOST:]PORT",
          "serve Prometheus metrics on http://HOST:PORT/metrics; HOST is a numeric address,\n"
          "default 127.0.0.1 (config: stream.metrics.listen)"},
         cli::store<&SinkArgs::metrics_listen>},
        {{"--instance",
          {},
          "NAME",
          "this sink's name on this host, for its static group membership (group.instance.id\n"
          "kafka-stream-sink.<host>.<NAME>); default \"default\" (config: stream.instance)"},
         cli::store<&SinkArgs::instance>},
        {{"--verbose", "-v", {}, "debug messages"}, cli::set_flag<&SinkArgs::verbose>},
        {{"--help", "-h", {}, "this help;  --version  the version"}, cli::set_flag<&SinkArgs::help>},
        {{"--version", {}, {}, {}},  // listed on --help's line
         cli::set_flag<&SinkArgs::version>},
    };
    return table;
}

}  // namespace

std::string sink_usage() {
    return R"(Usage: kafka-stream-sink [--config FILE] [-X key=value]... (--topic TOPIC... | --topic-regex RE)
                         --group GROUP --output ROOT [--layout TEMPLATE] [--exit-when-idle SECONDS] [--chown]
                         [--records-timestamp-data] [--metrics-file FILE] [--metrics-listen [HOST:]PORT]
                         [--instance NAME]

Consumes kafka-stream transfers (written by kafka-stream-push at the end of Slurm jobs), rebuilds every file bit for
bit and persists it under ROOT, exactly once, crash-safe. Runs as a consumer-group service; several instances (also on
several machines sharing ROOT) split the partitions.

Options:
)" + cli::help<SinkArgs>(options(), 25) +
           R"(
Config keys (stream.*): stream.topics, stream.topic.regex, stream.group, stream.output, stream.layout,
  stream.exit.when.idle, stream.chown (true/false), stream.records.timestamp.data (true/false),
  stream.commit.interval.ms (default 2000),
  stream.commit.bytes (fsync+commit after this many staged bytes, default 67108864),
  stream.stale.seconds (staged transfers without progress are moved to ROOT/.stale, default 604800),
  stream.max.file.bytes (default 1099511627776), stream.max.files (files per transfer, default 1000000),
  stream.max.open.files (staging descriptors kept open, default 256),
  stream.auth (hmac: only transfers signed with a key of stream.auth.key.file are accepted, the default;
  none: nothing is verified, for a site whose every producer is trusted: said loudly at start),
  stream.auth.key.file (default /etc/kafka-stream.key: "<key id> <hex secret>" lines, owned by the sink's user,
  mode 0600; every key in it is accepted),
  stream.sink.max.transfers (transfers in staging, default 100000),
  stream.sink.max.user.transfers (transfers in staging per user, default 10000),
  stream.sink.max.user.staged.bytes (bytes in staging per user, default half the output file system),
  stream.sink.keep.seconds (.stale and .quarantine entries are removed after this, default 2592000),
  stream.max.record.bytes (longest records-mode line, default 16777216),
  stream.metrics.file, stream.metrics.listen, stream.metrics.interval.ms (default 10000),
  stream.instance, stream.static.membership (true/false, default true: a restarted sink gets its partitions back
  at once; a stopped one keeps them until session.timeout.ms),
  stream.stop.timeout.ms (SIGTERM to exit, whatever Kafka's state, default 10000).
  A transfer past a staging limit, or that does not fit in the file system, is set aside in .quarantine with its
  reason (without its staged data); no message makes the sink stop.
  librdkafka defaults: auto.offset.reset=earliest, queued.max.messages.kbytes=16384 (and fetch.queue.backoff.ms=10
  from librdkafka 2.2); enforced: enable.auto.commit=false, enable.auto.offset.store=false.

Under ROOT: .staging/ (incomplete transfers), .done/ (finished transfer ids), .quarantine/ (refused input, with a
reason file per transfer and messages.log for single messages), .stale/ (transfers that stopped progressing).

With $NOTIFY_SOCKET set (systemd Type=notify) it sends READY=1, a STATUS= line, STOPPING=1, and WATCHDOG=1 at half
of $WATCHDOG_USEC.

Exit status: 0 success (SIGTERM/SIGINT or idle), 1 runtime failure, 2 usage or configuration error.
Test hook: KS_SINK_CRASH_AT=<point> makes the process _exit(137) at a named point of finalization
(before-place, after-first-rename, after-place, after-node-manifest, after-success, after-done); for crash tests only.
)";
}

Result<SinkArgs> parse_sink_args(const std::vector<std::string_view>& args) {
    SinkArgs a;
    TRY_ASSIGN(auto positional, cli::parse<SinkArgs>(options(), args, a));
    if (!positional.empty()) return fail("unexpected argument \"" + positional[0] + "\": the sink takes options only");
    return a;
}

const std::vector<std::string>& sink_config_keys() {
    static const std::vector<std::string> keys = {"stream.topics",
                                                  "stream.topic.regex",
                                                  "stream.group",
                                                  "stream.output",
                                                  "stream.layout",
                                                  "stream.exit.when.idle",
                                                  "stream.chown",
                                                  "stream.records.timestamp.data",
                                                  "stream.commit.interval.ms",
                                                  "stream.commit.bytes",
                                                  "stream.stale.seconds",
                                                  "stream.max.file.bytes",
                                                  "stream.max.files",
                                                  "stream.max.open.files",
                                                  "stream.auth",
                                                  "stream.auth.key.file",
                                                  "stream.sink.max.transfers",
                                                  "stream.sink.max.user.transfers",
                                                  "stream.sink.max.user.staged.bytes",
                                                  "stream.sink.keep.seconds",
                                                  "stream.max.record.bytes",
                                                  "stream.metrics.file",
                                                  "stream.metrics.listen",
                                                  "stream.metrics.interval.ms",
                                                  "stream.instance",
                                                  "stream.static.membership",
                                                  "stream.stop.timeout.ms"};
    return keys;
}

namespace {

// What to read and where to put it: topics (or a pattern), group, output root and layout.
Result<void> resolve_source_and_output(const SinkArgs& args, const SplitConfig& split, SinkConfig& c) {
    c.topics = args.topics;
    if (c.topics.empty())
        if (auto t = get_string(split, "stream.topics")) c.topics = split_commas(*t);
    std::string regex = args.topic_regex ? *args.topic_regex : get_string(split, "stream.topic.regex").value_or("");
    if (c.topics.empty() == regex.empty()) return fail("give either --topic or --topic-regex (exactly one of them)");
    for (const auto& t : c.topics)
        if (!kafka::valid_topic_name(t)) return fail("invalid topic name \"" + t + "\"");
    if (!regex.empty()) c.topic_regex = regex.starts_with("^") ? regex : "^" + regex;

    c.group = args.group ? *args.group : get_string(split, "stream.group").value_or("");
    if (c.group.empty()) return fail("--group is required (or stream.group in the config)");
    c.output = args.output ? *args.output : get_string(split, "stream.output").value_or("");
    if (c.output.empty()) return fail("--output is required (or stream.output in the config)");
    c.layout = args.layout ? *args.layout : get_string(split, "stream.layout").value_or(std::string(kDefaultLayout));
    TRY(Layout::parse(c.layout));
    return {};
}

// Options that are also flags: one-shot mode, chown, the timestamp_data files.
Result<void> resolve_modes(const SinkArgs& args, const SplitConfig& split, SinkConfig& c) {
    if (args.exit_when_idle) {
        c.exit_when_idle = args.exit_when_idle;
    } else {
        TRY_ASSIGN(auto idle, get_seconds(split, "stream.exit.when.idle"));
        c.exit_when_idle = idle;
    }
    TRY_ASSIGN(auto chown, get_bool(split, "stream.chown"));
    c.chown = args.chown || chown.value_or(false);
    TRY_ASSIGN(auto tsdata, get_bool(split, "stream.records.timestamp.data"));
    c.records_timestamp_data = args.records_timestamp_data || tsdata.value_or(false);
    return {};
}

// Commits, staging and admission limits, authentication: config keys only.
Result<void> resolve_limits(const SplitConfig& split, SinkConfig& c) {
    TRY_ASSIGN(auto interval, get_u64(split, "stream.commit.interval.ms", 10, 3600000));
    if (interval) c.commit_interval_s = static_cast<double>(*interval) / 1000.0;
    TRY_ASSIGN(auto bytes, get_u64(split, "stream.commit.bytes", 1, 1ull << 40));
    if (bytes) c.commit_bytes = *bytes;
    TRY_ASSIGN(auto stale, get_seconds(split, "stream.stale.seconds"));
    if (stale) c.stale_seconds = *stale;
    TRY_ASSIGN(auto max_file, get_u64(split, "stream.max.file.bytes", 1, 1ull << 50));
    if (max_file) c.limits.max_file_bytes = *max_file;
    TRY_ASSIGN(auto max_files, get_u64(split, "stream.max.files", 1, 100000000));
    if (max_files) c.limits.max_files = *max_files;
    TRY_ASSIGN(auto max_open, get_u64(split, "stream.max.open.files", 1, 65536));
    if (max_open) c.max_open_files = static_cast<std::size_t>(*max_open);
    if (auto auth = get_string(split, "stream.auth")) {
        if (*auth != "hmac" && *auth != "none")
            return fail(split.own.at("stream.auth").origin + ": stream.auth: expected \"hmac\" or \"none\", got \"" +
                        *auth + "\"");
        c.authenticate = *auth == "hmac";
    }
    if (auto key = get_string(split, "stream.auth.key.file")) {
        if (key->empty() || key->front() != '/')
            return fail(split.own.at("stream.auth.key.file").origin +
                        ": stream.auth.key.file must be an absolute path");
        c.auth_key_file = *key;
    }
    for (auto [key, field, max] :
         {std::tuple{"stream.sink.max.transfers", &c.staging_limits.max_transfers, 100000000ull},
          std::tuple{"stream.sink.max.user.transfers", &c.staging_limits.max_user_transfers, 100000000ull}}) {
        TRY_ASSIGN(auto v, get_u64(split, key, 1, max));
        if (v) *field = static_cast<std::size_t>(*v);
    }
    TRY_ASSIGN(auto user_bytes,
               get_u64(split, "stream.sink.max.user.staged.bytes", 1, std::numeric_limits<std::uint64_t>::max()));
    if (user_bytes) c.staging_limits.max_user_bytes = *user_bytes;
    TRY_ASSIGN(auto keep, get_seconds(split, "stream.sink.keep.seconds"));
    if (keep) c.keep_seconds = *keep;
    TRY_ASSIGN(auto record, get_u64(split, "stream.max.record.bytes", 1, 1ull << 32));
    if (record) c.max_record_bytes = *record;
    return {};
}

// Around the consumer loop: metrics, the static member's name, the stop budget.
Result<void> resolve_service(const SinkArgs& args, const SplitConfig& split, SinkConfig& c) {
    c.metrics_file = args.metrics_file ? *args.metrics_file : get_string(split, "stream.metrics.file").value_or("");
    std::string listen =
        args.metrics_listen ? *args.metrics_listen : get_string(split, "stream.metrics.listen").value_or("");
    if (!listen.empty()) {
        TRY_ASSIGN(auto address, parse_listen_address(listen));
        c.metrics_listen = address;
    }
    TRY_ASSIGN(auto metrics_interval, get_u64(split, "stream.metrics.interval.ms", 100, 3600000));
    if (metrics_interval) c.metrics_interval_s = static_cast<double>(*metrics_interval) / 1000.0;
    c.instance = args.instance ? *args.instance : get_string(split, "stream.instance").value_or(c.instance);
    TRY(check_instance_name(c.instance));
    TRY_ASSIGN(auto static_membership, get_bool(split, "stream.static.membership"));
    c.static_membership = static_membership.value_or(true);
    TRY_ASSIGN(auto stop_timeout, get_u64(split, "stream.stop.timeout.ms", 1000, 3600000));
    if (stop_timeout) c.stop_timeout_s = static_cast<double>(*stop_timeout) / 1000.0;
    return {};
}

}  // namespace

Result<SinkConfig> resolve_sink_config(const SinkArgs& args, const std::vector<ConfigEntry>& file_entries) {
    std::vector<ConfigEntry> entries = file_entries;
    entries.insert(entries.end(), args.overrides.begin(), args.overrides.end());
    TRY_ASSIGN(auto split, split_config(entries, sink_config_keys()));
    SinkConfig c;
    c.kafka = split.kafka;
    bool has_brokers = false;
    for (const auto& e : c.kafka)
        has_brokers = has_brokers || e.key == "bootstrap.servers" || e.key == "metadata.broker.list";
    if (!has_brokers)
        return fail(
            "no Kafka brokers: set bootstrap.servers in the config file or with -X bootstrap.servers=HOST:PORT");
    TRY(resolve_source_and_output(args, split, c));
    TRY(resolve_modes(args, split, c));
    TRY(resolve_limits(split, c));
    TRY(resolve_service(args, split, c));
    return c;
}

}  // namespace ks::sink
