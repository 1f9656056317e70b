// librdkafka's mock cluster (in process, no broker needed) and an idempotent producer session on it, for the unit
// tests of the push's delivery (producer_session, transfer_sender, record_sender).
#pragma once
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "../../helper/producer_session.hpp"
#include "kafka.hpp"
#include "log.hpp"

namespace ks::push::mock {

class MockCluster {
public:
    MockCluster() {
        char err[256];
        kafka::ConfPtr conf(rd_kafka_conf_new());
        rd_kafka_conf_set(conf.get(), "log_level", "0", err, sizeof err);
        rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof err));
        mc_ = rd_kafka_mock_cluster_new(rk_.get(), 1);
    }
    ~MockCluster() {
        if (mc_) rd_kafka_mock_cluster_destroy(mc_);
    }
    rd_kafka_mock_cluster_t* get() const { return mc_; }
    std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc_); }

private:
    kafka::HandlePtr rk_;
    rd_kafka_mock_cluster_t* mc_ = nullptr;
};

// An idempotent producer session on the mock cluster (properties added to the defaults) and the factory that rebuilds
// it after a fatal error.
struct MockProducer {
    MockProducer(const MockCluster& mock, const std::string& topic, const std::vector<kafka::Property>& extra)
        : conf(rd_kafka_conf_new()), log("push-mock-test", LogLevel::error) {
        char err[256];
        std::vector<kafka::Property> properties = {
            {"bootstrap.servers", mock.bootstraps()}, {"enable.idempotence", "true"}, {"log_level", "0"}};
        properties.insert(properties.end(), extra.begin(), extra.end());
        for (const auto& [k, v] : properties)
            EXPECT_EQ(rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err), RD_KAFKA_CONF_OK) << err;
        first = Producer::create(conf.get(), topic, 30000, log);
        EXPECT_TRUE(first) << first.error().message;
        again = [this, topic](int ms) { return Producer::create(conf.get(), topic, ms, log); };
    }
    MockProducer(const MockProducer&) = delete;
    kafka::ConfPtr conf;
    Log log;
    Result<std::unique_ptr<Producer>> first;
    ProducerFactory again;
};

}  // namespace ks::push::mock
