// The delivery core every sender shares (transfer_sender.hpp, record_sender.hpp, and any later one): one transfer's
// idempotent producer and what keeps it delivering. It produces with a wait for room in the queue, serves delivery
// reports, rebuilds the producer after a fatal (idempotence) error, stops at the deadline, on SIGTERM or at the first
// failure (and keeps that reason), and waits until the sender's messages are confirmed.
//
// The sender keeps only its own bookkeeping (which message is which, what to resend) and hears of reports and rebuilds
// through DeliveryHandler. Producing is a template over the sender's own produce call, so the hot path (millions of
// records) costs no std::function, copy or allocation per message.
#pragma once
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "log.hpp"
#include "producer.hpp"
#include "result.hpp"

namespace ks::push {

using Clock = std::chrono::steady_clock;

// Builds a fresh producer session whose messages time out after `message_timeout_ms`.
using ProducerFactory = std::function<Result<std::unique_ptr<Producer>>(int message_timeout_ms)>;

// Milliseconds left before `deadline`, at least 1.
int remaining_ms(Clock::time_point deadline);

struct SessionLimits {
    int max_producer_rebuilds = 5;
    Clock::time_point deadline = Clock::time_point::max();
    const volatile std::sig_atomic_t* interrupted = nullptr;  // set by SIGTERM: stop as at the deadline
};

// What a sender does when the session hears from librdkafka.
class DeliveryHandler {
public:
    // Delivery reports from one poll (the sender's ids; failed ones go on to ProducerSession::delivery_failed).
    virtual void on_reports(const std::vector<DeliveryReport>& reports) = 0;
    // A fresh producer replaced the failed one, whose queued and in-flight messages were purged and reported: resend
    // what is not confirmed now (ProducerSession::resend), or arrange to.
    virtual void on_rebuilt() = 0;

protected:
    ~DeliveryHandler() = default;
};

// What became of one try to produce a message.
enum class Attempt {
    accepted,  // queued in librdkafka
    retry,  // not queued: the queue was full (reports were served meanwhile) or the producer was rebuilt
    stopped,  // not queued, and this message should not be tried again now (the transfer stopped, or see resend)
};

class ProducerSession {
public:
    ProducerSession(std::unique_ptr<Producer> first, ProducerFactory rebuild, SessionLimits limits,
                    DeliveryHandler& handler, const Log& log);
    ProducerSession(const ProducerSession&) = delete;
    ProducerSession& operator=(const ProducerSession&) = delete;

    // The transfer must stop: a failure, the deadline, or SIGTERM.
    bool stopping() const;
    // Stops the transfer; the first reason is the one kept.
    void stop(std::string why);
    // Why the transfer stopped (empty when it did not).
    const std::string& failure() const { return failure_; }
    int rebuilds() const { return rebuilds_; }
    // Which producer is current: a message accepted under an earlier generation was purged by a rebuild.
    int generation() const { return rebuilds_; }
    bool has_outstanding() const { return producer_ && producer_->outstanding() > 0; }

    // One try of `produce(Producer&)`, which queues one message and returns librdkafka's error. A full queue is waited
    // out for a moment, a fatal error rebuilds the producer (retry); any other error stops the transfer.
    template <class Produce>
    Attempt attempt(Produce&& produce);
    // Tries until the message is queued (true) or the transfer stops (false; checked before every try).
    template <class Produce>
    bool produce(Produce&& produce) {
        while (!stopping())
            if (Attempt a = attempt(produce); a != Attempt::retry) return a == Attempt::accepted;
        return false;
    }
    // Produces again, from DeliveryHandler::on_rebuilt, a message the last producer lost. A full queue is waited out
    // by polling only, and a fatal error ends the resend (false) instead of rebuilding: a rebuild inside a rebuild
    // would resend the same messages twice; the next service() rebuilds once more.
    template <class Produce>
    bool resend(Produce&& produce) {
        while (true)
            if (Attempt a = attempt(produce); a != Attempt::retry) return a == Attempt::accepted;
    }

    // Serves delivery reports for up to `timeout_ms`; stops on a misconfiguration, rebuilds after a fatal error.
    void service(int timeout_ms);
    // A delivery report with an error: purged or failed by a fatal error means "not stored as far as we know" and a
    // rebuild or the spool takes care of it; anything else stops the transfer.
    void delivery_failed(rd_kafka_resp_err_t err);
    // Runs `step` (which serves the session) until `done()` or the transfer stops. Not done: stops with `why` and
    // fails whatever is queued or in flight, since waiting longer would break the time bound (the caller spools it).
    template <class Done, class Step>
    bool wait_until(Done&& done, Step&& step, std::string_view why) {
        while (!done() && !stopping()) step();
        if (done()) return true;
        stop(std::string(why));
        abandon_outstanding();
        return false;
    }
    // Fails what is queued or in flight now; the purge's reports go to the handler.
    void abandon_outstanding();
    // The producer, for whoever sends next on the same session (null if a rebuild failed).
    std::unique_ptr<Producer> release() { return std::move(producer_); }

    // Fault-injection seam for tests: called after each accepted produce (not resends) with the running count.
    void set_after_produce(std::function<void(rd_kafka_t*, std::uint64_t)> hook) { after_produce_ = std::move(hook); }

private:
    // The cold path of attempt(): what to do about a message librdkafka refused with `err`.
    Attempt refused(rd_kafka_resp_err_t err);
    void rebuild();

    std::unique_ptr<Producer> producer_;
    ProducerFactory factory_;
    SessionLimits limits_;
    DeliveryHandler& handler_;
    const Log& log_;
    int rebuilds_ = 0;
    bool resending_ = false;  // inside DeliveryHandler::on_rebuilt
    std::uint64_t produced_ = 0;
    std::string failure_;
    std::function<void(rd_kafka_t*, std::uint64_t)> after_produce_;
};

template <class Produce>
Attempt ProducerSession::attempt(Produce&& produce) {
    const rd_kafka_resp_err_t err = produce(*producer_);
    if (!err) [[likely]] {
        ++produced_;
        if (after_produce_ && !resending_) after_produce_(producer_->handle(), produced_);
        return Attempt::accepted;
    }
    return refused(err);
}

}  // namespace ks::push
