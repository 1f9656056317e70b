#include "producer_config.hpp"

#include <algorithm>

#include "record_encoder.hpp"

namespace ks::push {
namespace {

// Room librdkafka needs next to a chunk's payload: key, headers (path up to 4 KiB) and record overhead.
constexpr std::uint64_t kHeaderRoom = 16 * 1024;

}  // namespace

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

std::vector<kafka::Property> forced_kafka_properties() { return {{"enable.idempotence", "true"}, {"acks", "all"}}; }

Result<void> check_chunk_fits(std::uint64_t chunk_bytes, std::uint64_t message_max_bytes) {
    if (chunk_bytes + kHeaderRoom > message_max_bytes)
        return fail("stream.chunk.bytes=" + std::to_string(chunk_bytes) +
                    " does not fit librdkafka's message.max.bytes=" + std::to_string(message_max_bytes) +
                    " with room for headers; lower the chunk size or raise " +
                    "message.max.bytes (and the topic's max.message.bytes)");
    return {};
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
        if (max_record_value_bytes(mid) <= budget) lo = mid;
        else hi = mid - 1;
    }
    if (lo == 0)
        return fail("message.max.bytes=" + std::to_string(s.message_max_bytes) + " leaves no room for records");
    return lo;
}

std::size_t manifest_part_budget(std::uint64_t message_max_bytes) {
    return message_max_bytes > kHeaderRoom ? static_cast<std::size_t>(message_max_bytes - kHeaderRoom) : 0;
}

Result<std::vector<std::string>> manifest_messages(const wire::Manifest& manifest, std::uint64_t message_max_bytes) {
    auto parts = wire::manifest_parts_json(manifest, manifest_part_budget(message_max_bytes));
    if (!parts)
        return fail("manifest: " + parts.error().message + " (message.max.bytes=" + std::to_string(message_max_bytes) +
                    ")");
    return parts;
}

}  // namespace ks::push
