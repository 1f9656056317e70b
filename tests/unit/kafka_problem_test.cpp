// The classification of librdkafka's errors. The reasons are librdkafka 2.0.2's texts as a Kafka 4.1 broker of the
// harness produced them (tests/integration/secure_misconfig.sh makes each case happen for real).
#include "kafka_problem.hpp"

#include <gtest/gtest.h>

using namespace ks::kafka;

namespace {

SecurityMonitor::Clock::time_point fake_now;
SecurityMonitor::Clock::time_point read_fake_now() { return fake_now; }

ClientSecurity sasl_client(std::string mechanism = "PLAIN") {
    ClientSecurity s;
    s.protocol = "sasl_ssl";
    s.mechanism = std::move(mechanism);
    s.username = "ks-node";
    s.bootstrap = "127.0.0.1:29330";
    s.librdkafka_version = 0x020002ff;
    return s;
}

ClientSecurity mtls_client() {
    ClientSecurity s;
    s.protocol = "ssl";
    s.bootstrap = "127.0.0.1:29340";
    s.has_certificate = true;
    s.certificate = " /etc/kafka-stream/node.pem";
    return s;
}

bool has(const std::optional<Problem>& p, const std::string& what) {
    return p && p->message.find(what) != std::string::npos;
}

constexpr const char* kWrongPassword =
    "sasl_ssl://127.0.0.1:29330/bootstrap: SASL authentication error: Authentication failed: Invalid username or "
    "password (after 308ms in state AUTH_REQ)";
constexpr const char* kScram =
    "sasl_ssl://127.0.0.1:29330/bootstrap: SASL authentication error: Authentication failed during authentication "
    "due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 321ms in state AUTH_REQ)";
constexpr const char* kVerifyFailed =
    "sasl_ssl://127.0.0.1:29330/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify "
    "failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA "
    "certificates are installed (install ca-certificates package) (after 13ms in state SSL_HANDSHAKE)";
constexpr const char* kPlainOnTls =
    "127.0.0.1:29330/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect "
    "security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10 (see "
    "api.version.request) (after 5ms in state APIVERSION_QUERY)";
constexpr const char* kTlsOnPlain =
    "sasl_ssl://127.0.0.1:29310/bootstrap: SSL handshake failed: error:0A000126:SSL routines::unexpected eof while "
    "reading (after 6ms in state SSL_HANDSHAKE)";
constexpr const char* kCertificateUnknown =
    "ssl://127.0.0.1:29340/bootstrap: Receive failed: error:0A000416:SSL routines::sslv3 alert certificate unknown: "
    "SSL alert number 46 (after 1ms in state APIVERSION_QUERY)";
constexpr const char* kBadCertificate =
    "ssl://127.0.0.1:29340/bootstrap: Receive failed: error:0A000412:SSL routines::sslv3 alert bad certificate: SSL "
    "alert number 42 (after 2ms in state APIVERSION_QUERY)";

}  // namespace

TEST(KafkaProblem, RefusedLogin) {
    auto p = classify_error(RD_KAFKA_RESP_ERR__AUTHENTICATION, kWrongPassword, sasl_client());
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->definitive);
    EXPECT_TRUE(has(p, "\"ks-node\" (SASL PLAIN): wrong sasl.username or sasl.password")) << p->message;
    EXPECT_FALSE(has(p, "2.6.1"));
    // SCRAM from a librdkafka before 2.6.1: Kafka 4 refuses it whatever the password, and the message says so.
    auto scram = classify_error(RD_KAFKA_RESP_ERR__AUTHENTICATION, kScram, sasl_client("SCRAM-SHA-512"));
    EXPECT_TRUE(has(scram, "librdkafka < 2.6.1")) << scram->message;
    auto fixed_client = sasl_client("SCRAM-SHA-512");
    fixed_client.librdkafka_version = 0x020a00ff;
    EXPECT_FALSE(has(classify_error(RD_KAFKA_RESP_ERR__AUTHENTICATION, kScram, fixed_client), "2.6.1"));
}

TEST(KafkaProblem, BrokerCertificateByOpenSslReason) {
    auto s = sasl_client();
    EXPECT_TRUE(
        has(classify_error(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed, s, "self-signed certificate in certificate chain"),
            "not signed by a CA that this client trusts"));
    EXPECT_TRUE(has(classify_error(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed, s, "unable to get local issuer certificate"),
                    "check ssl.ca.location"));
    auto host = classify_error(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed, s, "hostname mismatch");
    EXPECT_TRUE(has(host, "not valid for the host name used in bootstrap.servers=127.0.0.1:29330")) << host->message;
    EXPECT_TRUE(host->definitive);
    EXPECT_TRUE(
        has(classify_error(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed, s, "certificate has expired"), "has expired"));
    EXPECT_TRUE(has(classify_error(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed, s), "could not be verified"));
}

TEST(KafkaProblem, ClientCertificateRejected) {
    auto s = mtls_client();
    auto p = classify_error(RD_KAFKA_RESP_ERR__TRANSPORT, kCertificateUnknown, s);
    EXPECT_TRUE(has(p, "rejected this client's certificate /etc/kafka-stream/node.pem")) << p->message;
    EXPECT_TRUE(p->definitive);
    s.expired_on = "Jan  2 00:00:00 2020 GMT";
    EXPECT_TRUE(has(classify_error(RD_KAFKA_RESP_ERR__TRANSPORT, kCertificateUnknown, s), "expired on Jan  2"));
    s.has_certificate = false;
    EXPECT_TRUE(has(classify_error(RD_KAFKA_RESP_ERR__TRANSPORT, kBadCertificate, s), "requires a client certificate"));
}

TEST(KafkaProblem, WrongProtocolForThePortIsAmbiguous) {
    ClientSecurity plain;
    plain.protocol = "plaintext";
    auto p = classify_error(RD_KAFKA_RESP_ERR__TRANSPORT, kPlainOnTls, plain);
    EXPECT_TRUE(has(p, "speaks TLS, but security.protocol=plaintext")) << p->message;
    EXPECT_FALSE(p->definitive);
    auto t = classify_error(RD_KAFKA_RESP_ERR__SSL, kTlsOnPlain, sasl_client());
    EXPECT_TRUE(has(t, "does not seem to speak TLS")) << t->message;
    EXPECT_FALSE(t->definitive);
    // A broker that is down is no configuration problem.
    EXPECT_FALSE(classify_error(RD_KAFKA_RESP_ERR__TRANSPORT,
                                "127.0.0.1:29310/bootstrap: Connect to ipv4#127.0.0.1:29310 failed: Connection refused "
                                "(after 0ms in state CONNECT)",
                                plain));
    EXPECT_FALSE(classify_error(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down", plain));
}

TEST(KafkaProblem, AuthorizationNamesPrincipalAndAcl) {
    auto s = sasl_client();
    std::string w = explain_error(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "zz-noacl", s);
    EXPECT_NE(w.find("User:ks-node writing to topic zz-noacl"), std::string::npos) << w;
    EXPECT_NE(w.find("Write and Describe"), std::string::npos) << w;
    s.role = Role::consumer;
    s.group = "ks-sink";
    std::string r = explain_error(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "zz-noacl", s);
    EXPECT_NE(r.find("Read and Describe"), std::string::npos) << r;
    std::string g = explain_error(RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, {}, s);
    EXPECT_NE(g.find("consumer group ks-sink"), std::string::npos) << g;
    EXPECT_TRUE(classify_error(RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED, "Failed to acquire idempotence PID", s)
                    ->definitive);
    EXPECT_EQ(explain_error(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "t", s),
              rd_kafka_err2str(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
    EXPECT_NE(explain_error(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "t", mtls_client())
                  .find("the principal of the client certificate /etc/kafka-stream/node.pem"),
              std::string::npos);
}

TEST(KafkaProblem, MonitorGivesUpAtOnceOrWhenAnAmbiguousProblemLasts) {
    SecurityMonitor definitive(sasl_client());
    definitive.error_event(RD_KAFKA_RESP_ERR__TRANSPORT, "Connect to ipv4#127.0.0.1:29330 failed: Connection refused");
    EXPECT_EQ(definitive.verdict(), "");
    definitive.error_event(RD_KAFKA_RESP_ERR__AUTHENTICATION, kWrongPassword);
    EXPECT_NE(definitive.verdict().find("wrong sasl.username"), std::string::npos);

    // An ambiguous problem on a bootstrap connection, nothing delivered, that lasts: the verdict.
    SecurityMonitor lasting(sasl_client(), &read_fake_now);
    lasting.error_event(RD_KAFKA_RESP_ERR__SSL, kTlsOnPlain);
    fake_now += SecurityMonitor::kPatience - std::chrono::milliseconds(1);
    EXPECT_EQ(lasting.verdict(), "");
    lasting.error_event(RD_KAFKA_RESP_ERR__SSL, kTlsOnPlain);  // a repeat does not restart the wait
    fake_now += std::chrono::milliseconds(1);
    EXPECT_NE(lasting.verdict().find("does not seem to speak TLS"), std::string::npos);

    // Followed by a delivery, it is forgotten; once something was delivered, it no longer counts (a broker killed
    // during a transfer: its leader's connection looked like a wrong protocol once).
    SecurityMonitor passing(sasl_client(), &read_fake_now);
    passing.error_event(RD_KAFKA_RESP_ERR__SSL, kTlsOnPlain);
    passing.progress();
    fake_now += SecurityMonitor::kPatience * 2;
    EXPECT_EQ(passing.verdict(), "");
    passing.error_event(RD_KAFKA_RESP_ERR__SSL, kTlsOnPlain);
    fake_now += SecurityMonitor::kPatience * 2;
    EXPECT_EQ(passing.verdict(), "");

    // Not on a bootstrap connection: the client had got metadata, so the protocol was right.
    SecurityMonitor known_broker(sasl_client(), &read_fake_now);
    known_broker.error_event(
        RD_KAFKA_RESP_ERR__TRANSPORT,
        "127.0.0.1:29710/1: Disconnected while requesting ApiVersion: might be caused by incorrect "
        "security.protocol configuration (connecting to a SSL listener?) or broker version is < "
        "0.10 (see api.version.request) (after 1ms in state APIVERSION_QUERY)");
    fake_now += SecurityMonitor::kPatience * 2;
    EXPECT_EQ(known_broker.verdict(), "");
}

TEST(KafkaProblem, CertificateCallbackKeepsOpenSslDecision) {
    SecurityMonitor m(sasl_client());
    char errstr[256] = "";
    int ok = 0;  // X509_V_OK
    EXPECT_EQ(m.verify_certificate(&ok, errstr, sizeof errstr), 1);
    int mismatch = 62;  // X509_V_ERR_HOSTNAME_MISMATCH
    EXPECT_EQ(m.verify_certificate(&mismatch, errstr, sizeof errstr), 0);
    EXPECT_STREQ(errstr, "hostname mismatch");
    m.error_event(RD_KAFKA_RESP_ERR__SSL, kVerifyFailed);
    EXPECT_NE(m.verdict().find("not valid for the host name"), std::string::npos) << m.verdict();
}

TEST(KafkaProblem, CertificateExpiry) {
    EXPECT_FALSE(certificate_expiry("not a certificate"));
    // CN=expired, self-signed, valid 2020-01-01 .. 2020-01-02 (openssl ca -selfsign -startdate/-enddate).
    const char* expired = R"(-----BEGIN CERTIFICATE-----
MIIBCzCBswICIAAwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHZXhwaXJlZDAeFw0y
MDAxMDEwMDAwMDBaFw0yMDAxMDIwMDAwMDBaMBIxEDAOBgNVBAMMB2V4cGlyZWQw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT5N29Knvh8ajD3KOhokSknYrFOF8g3
n2AyuGnf4r5e3isar2y+pm5ufiDFbK8xRc/NTurghbpiCeeJLjfRKpXyMAoGCCqG
SM49BAMCA0cAMEQCIQDvBeGY4ErJRUB0NbkbyPZm/trJf+J0zauDQRkBbEPojQIf
d4U3IWPLOvejJttuik24BS9rJjNOigToQoIUw1sLUA==
-----END CERTIFICATE-----
)";
    auto when = certificate_expiry(expired);
    ASSERT_TRUE(when);
    EXPECT_NE(when->find("2020"), std::string::npos) << *when;
}
