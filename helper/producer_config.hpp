// The push's producer: the librdkafka properties it sets (by default or forced), and what fits one message of
// librdkafka's message.max.bytes: a chunk, a record's line, a manifest part.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kafka.hpp"
#include "manifest_json.hpp"
#include "push_settings.hpp"
#include "result.hpp"

namespace ks::push {

// librdkafka properties: ours by default (the site may override), and those correctness depends on (forced).
std::vector<kafka::Property> default_kafka_properties(const Settings& s);
std::vector<kafka::Property> forced_kafka_properties();
// Fails when librdkafka's message.max.bytes leaves no room for a chunk plus its headers.
Result<void> check_chunk_fits(std::uint64_t chunk_bytes, std::uint64_t message_max_bytes);
// Records mode's line limit: the configured one, or by default the longest line whose record (in the worst case of
// escaping) still fits one message. Fails when the configured limit cannot fit.
Result<std::size_t> records_line_limit(const Settings& s);
// The largest manifest part (JSON bytes) that fits one message with its headers.
std::size_t manifest_part_budget(std::uint64_t message_max_bytes);
// The manifest as the parts to send; fails only when a single entry cannot fit one message.
Result<std::vector<std::string>> manifest_messages(const wire::Manifest& manifest, std::uint64_t message_max_bytes);

}  // namespace ks::push
