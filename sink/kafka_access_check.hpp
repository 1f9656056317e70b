// Before the sink starts: can it log in, does TLS verify, may it read its topics and use its consumer group?
//
// A consumer that cannot works retries for ever and logs librdkafka's errors; an admin who got the password, the
// certificate or the ACLs wrong should instead see the sink refuse to start with one line that says what to fix
// (kafka_problem.hpp). A Kafka that does not answer within the budget is no verdict: the sink then starts and waits
// for it, as it always did (a broker may well be down while the sink restarts).
#pragma once
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "log.hpp"
#include "result.hpp"

namespace ks::sink {

struct AccessTarget {
    std::vector<std::string> topics;  // named topics (checked: Describe); empty with a regular expression
    std::string group;                // checked: the group's committed offsets may be read
};

Result<void> check_kafka_access(const std::vector<ConfigEntry>& kafka_properties, const AccessTarget& target,
                                const Log& log, std::chrono::milliseconds budget = std::chrono::seconds(10));

// For a running consumer: the error message `m` as the one line to stop with, when it is one that the configuration
// causes (a refused login, an untrusted certificate, a missing ACL for a topic or for `group`); nothing otherwise.
std::optional<std::string> configuration_error(rd_kafka_t* rk, const rd_kafka_message_t* m, const std::string& group);

}  // namespace ks::sink
