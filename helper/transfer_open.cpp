#include "transfer_open.hpp"

namespace ks::push {

void MessageSigner::sign(wire::Headers& headers, std::string_view type, const wire::TransferIdentity& id,
                         std::string_view value, std::uint32_t part, std::uint32_t parts) const {
    if (!key_) return;
    const std::string key = wire::message_key(id);
    headers.emplace_back(wire::header::signature,
                         auth::sign(*key_, {type, topic_, key, id.transfer_id, part, parts, value}));
}

std::string MessageSigner::sign_spool_entry(const wire::TransferIdentity& id, std::string_view topic,
                                            std::string_view entry_json) const {
    if (!key_) return {};
    const std::string key = wire::message_key(id);
    return auth::sign(*key_, {"spool", topic, key, id.transfer_id, 0, 1, entry_json});
}

Result<void> open_transfer(Producer& producer, const wire::JobInfo& job, const wire::TransferIdentity& id,
                           const MessageSigner& signer, Clock::time_point deadline,
                           const volatile std::sig_atomic_t* interrupted) {
    auto stopped = [&] { return Clock::now() >= deadline || (interrupted && *interrupted); };
    const std::string value = wire::open_to_json(wire::TransferOpen{wire::kVersion, id.transfer_id, job});
    wire::Headers headers = wire::encode_open_headers(id);
    signer.sign(headers, "open", id, value);
    const std::string key = wire::message_key(id);
    constexpr std::uint64_t kOpenId = 0;
    while (true) {
        rd_kafka_resp_err_t err = producer.produce(kOpenId, key, value, headers);
        if (!err) break;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || stopped())
            return fail("cannot produce the transfer's open message: " + producer.explain(err));
        producer.poll(20);
    }
    while (!stopped()) {
        for (const auto& r : producer.poll(50)) {
            if (r.id != kOpenId) continue;
            if (!r.err) return {};
            // A wrong password, a missing ACL, an untrusted certificate (kafka_problem.hpp) says more than the
            // report's error, which may just be the purge that followed a fatal error.
            if (std::string why = producer.misconfiguration(); !why.empty()) return fail(why);
            return fail("the transfer's open message was not delivered: " + producer.explain(r.err));
        }
        // The same before any report: waiting cannot help.
        if (std::string why = producer.misconfiguration(); !why.empty()) return fail(why);
        if (std::string fatal = producer.fatal_error(); !fatal.empty())
            return fail("fatal producer error before the transfer started: " + fatal);
    }
    producer.purge();
    producer.poll(0);
    return fail(interrupted && *interrupted
                    ? "interrupted before the transfer's open message was confirmed"
                    : "timed out waiting for the delivery report of the transfer's open message");
}

}  // namespace ks::push
