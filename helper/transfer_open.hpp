// The first message of every transfer, and the signatures of the messages that speak for the job.
//
// Before any chunk or record, the sender produces a signed "open" message (manifest_json.hpp, TransferOpen) and waits
// for its delivery report: the sink stages nothing for a transfer whose open it has not verified, and since all of a
// transfer's messages share a partition, the open is always read before them.
#pragma once
#include <csignal>
#include <string>
#include <string_view>

#include "log.hpp"
#include "producer.hpp"
#include "result.hpp"
#include "signature.hpp"
#include "transfer_sender.hpp"
#include "wire_format.hpp"

namespace ks::push {

// Signs the open and manifest messages of a transfer produced to `topic` (the companion topic in records mode), and
// its spool entry (no signature with stream.auth=none: key == null).
class MessageSigner {
public:
    MessageSigner(const auth::Key* key, std::string topic) : key_(key), topic_(std::move(topic)) {}
    // Adds ks.sig for a message of `type` ("open" or "manifest") with this value, key and manifest part.
    void sign(wire::Headers& headers, std::string_view type, const wire::TransferIdentity& id, std::string_view value,
              std::uint32_t part = 0, std::uint32_t parts = 1) const;
    // The "spool" signature of a spool entry's transfer.json (spool.hpp) for the user's `topic`; empty without a key.
    std::string sign_spool_entry(const wire::TransferIdentity& id, std::string_view topic,
                                 std::string_view entry_json) const;
    bool signs() const { return key_ != nullptr; }

private:
    const auth::Key* key_;
    std::string topic_;
};

// Produces the signed open message of `job`'s transfer and waits (until `deadline`, or until `*interrupted` is set)
// for its delivery report.
Result<void> open_transfer(Producer& producer, const wire::JobInfo& job, const wire::TransferIdentity& id,
                           const MessageSigner& signer, Clock::time_point deadline,
                           const volatile std::sig_atomic_t* interrupted);

}  // namespace ks::push
