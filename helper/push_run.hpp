// The two things kafka-stream-push does, end to end: push a directory, or drain the spool. Each returns an exit
// code (push_contract.hpp) and logs why; main() only parses arguments and builds the configuration.
#pragma once
#include <librdkafka/rdkafka.h>

#include <csignal>

#include "log.hpp"
#include "push_options.hpp"
#include "transfer_sender.hpp"

namespace ks::push {

// What main() prepared: the signing keys (null with stream.auth=none) and the flag SIGTERM sets (the epilog's
// timeout): the senders then stop, and what is not confirmed is spooled.
struct RunContext {
    const auth::KeyRing* keys = nullptr;
    const volatile std::sig_atomic_t* interrupted = nullptr;
};

// Sends cl.dir: config and producer first (as the caller, possibly root), then --run-as drops privileges, then the
// walk, the chunks, the manifest; on timeout or failure, what is not confirmed goes to the spool.
int run_push(const CommandLine& cl, const Settings& settings, const rd_kafka_conf_t* conf, const RunContext& ctx,
             const Log& log);

// Resends every complete spool entry under cl.drain_spool and removes each one once all its messages are confirmed.
// As root, each SPOOL/<uid> directory is drained by a child process running as that directory's owner.
int run_drain(const CommandLine& cl, const Settings& settings, const rd_kafka_conf_t* conf, const RunContext& ctx,
              const Log& log);

// message.timeout.ms for a session that must finish by `deadline`: what is left, minus a margin for the reports.
int message_timeout_for(Clock::time_point deadline);

// "kafka-stream-push: sent N files, B bytes, S skipped in T s (X MB/s)" (without the transfer and topic).
std::string summary_counts(std::uint64_t files, std::uint64_t bytes, std::uint64_t skipped, double seconds);

}  // namespace ks::push
