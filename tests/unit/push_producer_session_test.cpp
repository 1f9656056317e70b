// ProducerSession, the delivery core under both senders, against librdkafka's mock cluster: a full queue is waited
// out, a fatal error rebuilds the producer and the handler resends, the rebuild limit, a failing factory, the deadline,
// SIGTERM, and a delivery that fails for good each stop the transfer with their own reason.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <string>
#include <vector>

#include "../../helper/producer_session.hpp"
#include "kafka_mock.hpp"

using namespace ks;
using namespace ks::push;
using namespace ks::push::mock;

namespace {

constexpr std::int16_t kApiKeyProduce = 0;  // Kafka protocol ApiKey

// A sender reduced to its bookkeeping: message i carries payload "message i"; what is not confirmed after a rebuild
// is resent at once, as TransferSender does.
class Messages final : public DeliveryHandler {
public:
    explicit Messages(std::size_t count) : confirmed_(count, false) {}
    void attach(ProducerSession& s) { session_ = &s; }
    // How message `id` is produced, for ProducerSession::produce / resend.
    auto produce(std::uint64_t id) {
        return [this, id](Producer& p) {
            const std::string payload = "message " + std::to_string(id);
            return p.produce_record(id, "key", payload, 0);
        };
    }

    void on_reports(const std::vector<DeliveryReport>& reports) override {
        for (const auto& r : reports) {
            ++reports_;
            if (r.err) {
                ++failed_reports_;
                session_->delivery_failed(r.err);
            } else if (r.id < confirmed_.size()) {
                confirmed_[r.id] = true;
            }
        }
    }
    void on_rebuilt() override {
        ++rebuilt_;
        for (std::uint64_t id = 0; id < produced_.size(); ++id)
            if (!confirmed_[id] && !session_->resend(produce(id))) return;
    }

    // Produces messages [0, count) in order; false once the session stops.
    bool produce_all() {
        for (std::uint64_t id = 0; id < confirmed_.size(); ++id) {
            if (!session_->produce(produce(id))) return false;
            produced_.push_back(id);
        }
        return true;
    }
    bool all_confirmed() const {
        for (bool c : confirmed_)
            if (!c) return false;
        return true;
    }
    int rebuilt() const { return rebuilt_; }
    int failed_reports() const { return failed_reports_; }

private:
    ProducerSession* session_ = nullptr;
    std::vector<bool> confirmed_;
    std::vector<std::uint64_t> produced_;
    int reports_ = 0;
    int failed_reports_ = 0;
    int rebuilt_ = 0;
};

// The topic's messages by payload, read back from the mock cluster.
std::map<std::string, int> topic_payloads(const MockCluster& mock, const std::string& topic) {
    char err[256];
    kafka::ConfPtr conf(rd_kafka_conf_new());
    rd_kafka_conf_set(conf.get(), "bootstrap.servers", mock.bootstraps().c_str(), err, sizeof err);
    rd_kafka_conf_set(conf.get(), "group.id", "verify", err, sizeof err);
    kafka::HandlePtr c(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), err, sizeof err));
    kafka::PartitionListPtr parts(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c.get(), parts.get());
    std::map<std::string, int> out;
    for (int idle = 0; idle < 20; ++idle) {
        kafka::MessagePtr m(rd_kafka_consumer_poll(c.get(), 100));
        if (!m || m->err) continue;
        idle = 0;
        ++out[std::string(static_cast<const char*>(m->payload), m->len)];
    }
    rd_kafka_consumer_close(c.get());
    return out;
}

struct Fixture {
    explicit Fixture(const std::string& topic_name, std::vector<kafka::Property> extra = {}) : topic(topic_name) {
        EXPECT_EQ(rd_kafka_mock_topic_create(mock.get(), topic.c_str(), 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
        producer = std::make_unique<MockProducer>(mock, topic, extra);
    }
    SessionLimits limits(int max_rebuilds = 5) const {
        return SessionLimits{max_rebuilds, Clock::now() + std::chrono::seconds(60), nullptr};
    }
    MockCluster mock;
    std::string topic;
    std::unique_ptr<MockProducer> producer;
};

bool wait_all(ProducerSession& session, const Messages& m) {
    return session.wait_until([&] { return m.all_confirmed(); }, [&] { session.service(100); },
                              "timed out before every message was confirmed");
}

}  // namespace

TEST(ProducerSession, AFullQueueIsWaitedOutAndEveryMessageIsConfirmed) {
    // librdkafka takes two messages at a time: most produces meet a full queue first.
    Fixture fx("session-small-queue", {{"queue.buffering.max.messages", "2"}});
    Messages m(200);
    ProducerSession session(std::move(*fx.producer->first), fx.producer->again, fx.limits(), m, fx.producer->log);
    m.attach(session);
    std::uint64_t accepted = 0;
    session.set_after_produce([&](rd_kafka_t*, std::uint64_t n) { accepted = n; });
    ASSERT_TRUE(m.produce_all());
    EXPECT_EQ(accepted, 200u);
    ASSERT_TRUE(wait_all(session, m)) << session.failure();
    EXPECT_TRUE(session.failure().empty()) << session.failure();
    EXPECT_FALSE(session.has_outstanding());
    EXPECT_EQ(session.rebuilds(), 0);
    auto got = topic_payloads(fx.mock, fx.topic);
    EXPECT_EQ(got.size(), 200u);
}

TEST(ProducerSession, AFatalErrorRebuildsTheProducerAndTheHandlerResends) {
    Fixture fx("session-fatal", {{"linger.ms", "5"}});
    Messages m(100);
    ProducerSession session(std::move(*fx.producer->first), fx.producer->again, fx.limits(), m, fx.producer->log);
    m.attach(session);
    session.set_after_produce([&](rd_kafka_t* rk, std::uint64_t n) {
        if (n == 40) rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected");
    });
    EXPECT_EQ(session.generation(), 0);
    ASSERT_TRUE(m.produce_all()) << session.failure();
    ASSERT_TRUE(wait_all(session, m)) << session.failure();
    EXPECT_EQ(session.rebuilds(), 1);
    EXPECT_EQ(session.generation(), 1);
    EXPECT_EQ(m.rebuilt(), 1);
    auto got = topic_payloads(fx.mock, fx.topic);
    for (int id = 0; id < 100; ++id) EXPECT_GE(got["message " + std::to_string(id)], 1) << id;
}

TEST(ProducerSession, PastTheRebuildLimitAFatalErrorStopsTheTransfer) {
    Fixture fx("session-no-rebuilds");
    Messages m(20);
    ProducerSession session(std::move(*fx.producer->first), fx.producer->again, fx.limits(0), m, fx.producer->log);
    m.attach(session);
    session.set_after_produce([&](rd_kafka_t* rk, std::uint64_t n) {
        if (n == 5) rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected");
    });
    EXPECT_FALSE(m.produce_all() && wait_all(session, m));
    EXPECT_TRUE(session.stopping());
    EXPECT_EQ(session.failure().rfind("fatal producer error after 0 rebuilds: ", 0), 0u) << session.failure();
    EXPECT_NE(session.failure().find("injected"), std::string::npos) << session.failure();
    EXPECT_EQ(m.rebuilt(), 0);
}

TEST(ProducerSession, AFactoryThatFailsStopsTheTransferAndLeavesNoProducer) {
    Fixture fx("session-factory-fails");
    Messages m(20);
    ProducerFactory broken = [](int) -> Result<std::unique_ptr<Producer>> { return fail("no config any more"); };
    ProducerSession session(std::move(*fx.producer->first), broken, fx.limits(), m, fx.producer->log);
    m.attach(session);
    session.set_after_produce([&](rd_kafka_t* rk, std::uint64_t n) {
        if (n == 5) rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected");
    });
    EXPECT_FALSE(m.produce_all() && wait_all(session, m));
    EXPECT_EQ(session.failure(), "cannot rebuild the producer: no config any more");
    session.service(0);  // harmless without a producer
    EXPECT_EQ(session.release(), nullptr);
}

TEST(ProducerSession, ADeliveryThatFailsForGoodStopsWithItsReason) {
    Fixture fx("session-rejected");
    // Not retriable: the first Produce request's messages fail with this error.
    rd_kafka_mock_push_request_errors(fx.mock.get(), kApiKeyProduce, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    Messages m(3);
    ProducerSession session(std::move(*fx.producer->first), fx.producer->again, fx.limits(), m, fx.producer->log);
    m.attach(session);
    ASSERT_TRUE(m.produce_all());
    EXPECT_FALSE(wait_all(session, m));
    EXPECT_GE(m.failed_reports(), 1);
    EXPECT_EQ(session.failure().rfind("delivery failed: ", 0), 0u) << session.failure();
}

TEST(ProducerSession, PurgedReportsDoNotStopTheTransfer) {
    Fixture fx("session-purged");
    Messages m(1);
    ProducerSession session(std::move(*fx.producer->first), fx.producer->again, fx.limits(), m, fx.producer->log);
    m.attach(session);
    session.delivery_failed(RD_KAFKA_RESP_ERR__PURGE_QUEUE);
    session.delivery_failed(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT);
    EXPECT_TRUE(session.failure().empty()) << session.failure();
    EXPECT_FALSE(session.stopping());
}

TEST(ProducerSession, TheDeadlineStopsBeforeAnythingIsProducedAndTheFirstReasonIsKept) {
    Fixture fx("session-deadline");
    Messages m(5);
    SessionLimits past{5, Clock::now() - std::chrono::seconds(1), nullptr};
    ProducerSession session(std::move(*fx.producer->first), fx.producer->again, past, m, fx.producer->log);
    m.attach(session);
    std::uint64_t accepted = 0;
    session.set_after_produce([&](rd_kafka_t*, std::uint64_t n) { accepted = n; });
    EXPECT_TRUE(session.stopping());
    EXPECT_TRUE(session.failure().empty());  // the deadline is no failure by itself: the caller names it
    EXPECT_FALSE(m.produce_all());
    EXPECT_EQ(accepted, 0u);
    EXPECT_FALSE(wait_all(session, m));
    EXPECT_EQ(session.failure(), "timed out before every message was confirmed");
    session.stop("a later reason");
    EXPECT_EQ(session.failure(), "timed out before every message was confirmed");
}

TEST(ProducerSession, SigtermStopsLikeTheDeadline) {
    Fixture fx("session-sigterm");
    Messages m(5);
    volatile std::sig_atomic_t interrupted = 0;
    SessionLimits limits = fx.limits();
    limits.interrupted = &interrupted;
    ProducerSession session(std::move(*fx.producer->first), fx.producer->again, limits, m, fx.producer->log);
    m.attach(session);
    EXPECT_FALSE(session.stopping());
    interrupted = 1;
    EXPECT_TRUE(session.stopping());
    EXPECT_FALSE(m.produce_all());
}
