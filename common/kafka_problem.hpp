// What an admin configured wrong for a secured Kafka (credentials, ACLs, certificates, protocol), told in one line.
//
// librdkafka retries a refused login or a failed TLS handshake until message.timeout.ms, and its errors speak of
// brokers and OpenSSL. The push must instead give up at once (its data is spooled, not lost) and say what to fix;
// the sink must refuse to start. The classification reads librdkafka 2.0.2's error codes and texts (captured from a
// real broker: tests/unit/kafka_problem_test.cpp); an unrecognised error is no verdict, and the tools go on retrying.
#pragma once
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace ks::kafka {

enum class Role { producer, consumer };

// How the client was configured (no secrets), for the messages.
struct ClientSecurity {
    Role role = Role::producer;
    std::string protocol;   // security.protocol, lower case: plaintext, ssl, sasl_plaintext, sasl_ssl
    std::string mechanism;  // sasl.mechanisms
    std::string username;   // sasl.username
    std::string bootstrap;  // bootstrap.servers
    std::string group;      // group.id (a consumer's)
    bool has_certificate = false;            // a client certificate (mutual TLS) is configured
    std::string certificate;                 // " <its file>", or empty when it is given inline
    std::optional<std::string> expired_on;   // set when that certificate's notAfter has passed
    int librdkafka_version = 0;              // rd_kafka_version()
};
ClientSecurity client_security(const rd_kafka_conf_t* conf, Role role);

// "2020-01-02 00:00:00 GMT" if the first certificate in `pem` has expired, nothing otherwise (or if unreadable).
std::optional<std::string> certificate_expiry(std::string_view pem);

struct Problem {
    std::string message;
    // true: the configuration cannot work (give up at once); false: it may also be a broker going down or starting,
    // so it counts only once it repeats.
    bool definitive = false;
};

// One error event (error callback, or a consumer's error message): librdkafka's code and text, and OpenSSL's reason
// for rejecting the broker's certificate if the certificate callback recorded one.
std::optional<Problem> classify_error(rd_kafka_resp_err_t err, std::string_view reason, const ClientSecurity& s,
                                      std::string_view x509_reason = {});

// The error of a delivery report, a consumer message or a metadata entry: an authorization error in words (which
// principal, which ACL), anything else as librdkafka's text. `resource` is the topic (or group) concerned.
std::string explain_error(rd_kafka_resp_err_t err, std::string_view resource, const ClientSecurity& s);
bool is_authorization_error(rd_kafka_resp_err_t err);

// Collects the problems of one client handle and decides when to give up: at once on a definitive problem; on an
// ambiguous one when, kPatience after it was first seen, nothing has been delivered since (librdkafka reports an
// identical connection error only once per 30 s, so counting repeats would take a minute). An ambiguous problem
// counts only on a bootstrap connection of a client that has delivered nothing yet: a wrong protocol never gets
// further, while a broker killed during a transfer has been seen to look like one (a disconnection while
// requesting ApiVersion). Thread-safe (the certificate callback runs on librdkafka's threads).
class SecurityMonitor {
public:
    using Clock = std::chrono::steady_clock;
    using Now = Clock::time_point (*)();  // a seam for tests
    static constexpr std::chrono::seconds kPatience{5};
    explicit SecurityMonitor(ClientSecurity security, Now now = &Clock::now)
        : security_(std::move(security)), now_(now) {}

    void error_event(rd_kafka_resp_err_t err, std::string_view reason);
    // Something was delivered (or fetched): an ambiguous problem seen before was a passing one.
    void progress();
    // librdkafka's certificate callback: OpenSSL's decision unchanged (1 iff *x509_error is X509_V_OK), its reason kept.
    int verify_certificate(const int* x509_error, char* errstr, std::size_t errstr_size);
    // Non-empty once the client cannot work as configured: the one line to give up with.
    std::string verdict() const;
    const ClientSecurity& security() const { return security_; }

private:
    const ClientSecurity security_;
    const Now now_;
    mutable std::mutex mutex_;
    std::string x509_reason_;
    std::string ambiguous_;  // the ambiguous problem seen first since the last progress, and when
    Clock::time_point ambiguous_since_;
    std::atomic<bool> any_ambiguous_{false};  // progress() is called for every delivery report: no lock when false
    std::atomic<bool> delivered_{false};  // progress() was called once
    std::string verdict_;
};

// librdkafka certificate callback for a conf whose opaque is an `Owner` holding its monitor in `Member`; installed
// only when the protocol uses TLS (librdkafka without TLS support refuses the callback).
template <class Owner, SecurityMonitor Owner::*Member>
int verify_certificate_cb(rd_kafka_t*, const char*, int32_t, int* x509_error, int, const char*, size_t, char* errstr,
                          size_t errstr_size, void* opaque) {
    return (static_cast<Owner*>(opaque)->*Member).verify_certificate(x509_error, errstr, errstr_size);
}
template <class Owner, SecurityMonitor Owner::*Member>
void install_certificate_callback(rd_kafka_conf_t* conf, const ClientSecurity& s) {
    if (s.protocol == "ssl" || s.protocol == "sasl_ssl")
        rd_kafka_conf_set_ssl_cert_verify_cb(conf, &verify_certificate_cb<Owner, Member>);
}

}  // namespace ks::kafka
