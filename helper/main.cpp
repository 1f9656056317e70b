// kafka-stream-push: sends a job's files to Kafka (see usage_text() and kafka-stream-push(1)).
// main() only parses arguments, builds the configuration and turns errors into messages and exit codes.
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "config.hpp"
#include "push_contract.hpp"
#include "kafka.hpp"
#include "log.hpp"
#include "push_options.hpp"
#include "push_run.hpp"
#include "secret_config.hpp"
#include "stop_signal.hpp"

namespace {

using namespace ks;
using namespace ks::push;

// Site file (explicit, else the default one if present) followed by -X overrides; key and certificate files are read
// now, while we may still be root (a later producer runs as the job's user: a rebuild, the drain's per-user child).
Result<std::vector<ConfigEntry>> config_entries(const CommandLine& cl) {
    std::vector<ConfigEntry> entries;
    std::string path = cl.config_path.value_or(kDefaultConfigPath);
    if (cl.config_path || ::access(path.c_str(), F_OK) == 0) {
        TRY_ASSIGN(entries, read_config_file(path));
    }
    entries.insert(entries.end(), cl.overrides.begin(), cl.overrides.end());
    return inline_tls_files(std::move(entries));
}

int run(int argc, char** argv, Log& log) {
    auto cl = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
    if (!cl) return log.error(cl.error().message + " (see --help)"), exit_code::usage;
    if (cl->help) return std::fputs(usage_text().c_str(), stdout), exit_code::delivered;
    if (cl->version) {
        std::printf("kafka-stream-push (slurm-kafka-stream), wire format %d, librdkafka %s\n", wire::kVersion,
                    rd_kafka_version_str());
        return exit_code::delivered;
    }
    if (cl->verbose) log.set_threshold(LogLevel::debug);
    auto entries = config_entries(*cl);
    if (!entries) return log.error(entries.error().message), exit_code::usage;
    auto settings = resolve_settings(*entries, *cl);
    if (!settings) return log.error(settings.error().message), exit_code::usage;
    auto conf = kafka::make_conf(default_kafka_properties(*settings), settings->kafka, forced_kafka_properties());
    if (!conf) return log.error(conf.error().message), exit_code::usage;
    if (kafka::conf_value(conf->get(), "bootstrap.servers").empty())
        return log.error("no Kafka brokers: set bootstrap.servers in the config file or with -X"), exit_code::usage;
    auto max_bytes = text::parse_u64(kafka::conf_value(conf->get(), "message.max.bytes"));
    if (!max_bytes) return log.error("cannot read message.max.bytes back from librdkafka"), exit_code::usage;
    if (auto fits = check_chunk_fits(settings->chunk_bytes, *max_bytes); !fits)
        return log.error(fits.error().message), exit_code::usage;
    settings->message_max_bytes = *max_bytes;
    // The signing key, read while we may still be root; with stream.auth=none there is none.
    std::optional<auth::KeyRing> keys;
    if (settings->authenticate) {
        auto ring = auth::KeyRing::load(settings->auth_key_file, ::geteuid());
        if (!ring)
            return log.error(ring.error().message +
                             "; set stream.auth=none to send unsigned transfers (a sink that "
                             "authenticates sets them aside)"),
                   exit_code::usage;
        keys = std::move(*ring);
    }
    install_stop_signal();  // SIGTERM (the epilog's timeout) stops the senders: what is not confirmed is spooled
    RunContext ctx{keys ? &*keys : nullptr, &stop_requested()};
    if (cl->drain_spool) return run_drain(*cl, *settings, conf->get(), ctx, log);
    return run_push(*cl, *settings, conf->get(), ctx, log);
}

}  // namespace

int main(int argc, char** argv) {
    ks::Log log("kafka-stream-push");
    // Never dumpable or traceable by the job's user once we run as her: this process holds the site's key.
    (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    try {
        return run(argc, argv, log);
    } catch (const std::exception& e) {
        log.error(std::string("internal error: ") + e.what());
    } catch (...) {
        log.error("internal error");
    }
    return ks::push::exit_code::internal;
}
