// Which Kafka topics a user may stream to: Kafka's own naming rules plus the site's topics= regex.
// Checked at submission (sbatch/srun/salloc), so a bad topic fails at once instead of at job end.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace ks::plugin {

// Kafka's rules: 1-249 characters from [A-Za-z0-9._-], and not "." or "..".
Result<void> check_kafka_topic_name(std::string_view topic);

// Escapes every metacharacter of a POSIX extended regular expression so that `text` matches only itself.
std::string regex_escape(std::string_view text);

// Replaces %u with the escaped user name and %% with %; any other %x is an error (a typo in the site's policy).
Result<std::string> expand_topic_policy(std::string_view policy, std::string_view user);

// Kafka's rules, then (if `policy` is not empty) the whole topic must match the expanded policy, a POSIX extended
// regular expression.
Result<void> check_topic(std::string_view topic, std::string_view policy, std::string_view user);

// srun --kafka-stream inside an existing allocation: the transfer happens when the job ends, so only the job's own
// option counts. `job_topic` is the job's (empty if the job did not ask); fails unless it equals `topic`.
Result<void> check_step_topic(std::string_view topic, std::string_view job_id, std::string_view job_topic);

// --kafka-stream-include=GLOB[,GLOB...]: the comma-separated globs, none empty.
Result<std::vector<std::string>> parse_include_list(std::string_view list);

}  // namespace ks::plugin
