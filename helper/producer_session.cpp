#include "producer_session.hpp"

#include <algorithm>

#include "source_reading.hpp"

namespace ks::push {

int remaining_ms(Clock::time_point deadline) {
    if (deadline == Clock::time_point::max()) return 24 * 3600 * 1000;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<std::int64_t>(ms, 1, 24 * 3600 * 1000));
}

ProducerSession::ProducerSession(std::unique_ptr<Producer> first, ProducerFactory rebuild, SessionLimits limits,
                                 DeliveryHandler& handler, const Log& log)
    : producer_(std::move(first)), factory_(std::move(rebuild)), limits_(limits), handler_(handler), log_(log) {}

bool ProducerSession::stopping() const {
    return !failure_.empty() || Clock::now() >= limits_.deadline ||
           (limits_.interrupted != nullptr && *limits_.interrupted != 0);
}

void ProducerSession::stop(std::string why) {
    if (failure_.empty()) failure_ = std::move(why);
}

Attempt ProducerSession::refused(rd_kafka_resp_err_t err) {
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        // Wait for room: reports free it.
        if (!resending_) {
            service(20);
            return Attempt::retry;
        }
        handler_.on_reports(producer_->poll(20));
        return stopping() || !producer_->fatal_error().empty() ? Attempt::stopped : Attempt::retry;
    }
    const bool fatal = err == RD_KAFKA_RESP_ERR__FATAL || !producer_->fatal_error().empty();
    if (fatal && resending_) return Attempt::stopped;  // the next service() rebuilds once more
    if (fatal) {
        rebuild();
        return Attempt::retry;
    }
    stop("cannot produce to Kafka: " + producer_->explain(err));
    return Attempt::stopped;
}

void ProducerSession::service(int timeout_ms) {
    if (!producer_) return;  // a rebuild failed; the transfer has stopped
    handler_.on_reports(producer_->poll(timeout_ms));
    // A wrong password, a missing ACL, an untrusted certificate: waiting or rebuilding cannot help.
    if (failure_.empty() && !producer_->misconfiguration().empty()) stop(producer_->misconfiguration());
    if (failure_.empty() && !producer_->fatal_error().empty()) rebuild();
}

void ProducerSession::delivery_failed(rd_kafka_resp_err_t err) {
    if (is_purge_or_fatal(err) || !producer_ || !producer_->fatal_error().empty()) return;
    stop("delivery failed: " + producer_->explain(err));
}

void ProducerSession::abandon_outstanding() {
    if (!producer_) return;
    producer_->purge();
    handler_.on_reports(producer_->poll(0));
}

void ProducerSession::rebuild() {
    if (!producer_->misconfiguration().empty()) return stop(producer_->misconfiguration());
    std::string why = producer_->fatal_error();
    if (rebuilds_ >= limits_.max_producer_rebuilds) {
        stop("fatal producer error after " + std::to_string(rebuilds_) + " rebuilds: " + why);
        return;
    }
    log_.warning("fatal producer error (" + why + "); rebuilding the producer and resending what is not confirmed");
    abandon_outstanding();
    producer_.reset();
    auto next = factory_(remaining_ms(limits_.deadline));
    if (!next) {
        stop("cannot rebuild the producer: " + next.error().message);
        return;
    }
    producer_ = std::move(*next);
    ++rebuilds_;
    resending_ = true;
    handler_.on_rebuilt();
    resending_ = false;
}

}  // namespace ks::push
