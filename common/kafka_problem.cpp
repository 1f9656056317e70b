#include "kafka_problem.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <vector>

namespace ks::kafka {
namespace {

bool contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// A conf value of any length (kafka::conf_value stops at 1 KiB, a PEM certificate does not).
std::string conf_string(const rd_kafka_conf_t* conf, const char* key) {
    std::size_t size = 0;
    if (rd_kafka_conf_get(conf, key, nullptr, &size) != RD_KAFKA_CONF_OK || size == 0) return {};
    std::vector<char> buf(size);
    if (rd_kafka_conf_get(conf, key, buf.data(), &size) != RD_KAFKA_CONF_OK) return {};
    return std::string(buf.data());
}

// librdkafka's reason without the broker it names and the "(after 5ms in state ...)" tail: what OpenSSL or the
// broker said.
std::string core_of(std::string_view reason) {
    auto after = reason.rfind(" (after ");
    if (after != std::string_view::npos) reason = reason.substr(0, after);
    auto colon = reason.find(": ");
    if (colon != std::string_view::npos && contains(reason.substr(0, colon), "/")) reason = reason.substr(colon + 2);
    return std::string(reason);
}

std::string principal_of(const ClientSecurity& s) {
    if (s.protocol.starts_with("sasl"))
        return "User:" + (s.username.empty() ? std::string("<sasl.username>") : s.username);
    if (s.protocol == "ssl" && s.has_certificate) return "the principal of the client certificate" + s.certificate;
    return "User:ANONYMOUS";
}

std::string login_problem(std::string_view reason, const ClientSecurity& s) {
    if (contains(reason, "Unsupported SASL mechanism"))
        return "the broker does not offer SASL mechanism " + s.mechanism + " (" + core_of(reason) +
               "): check sasl.mechanism";
    std::string who = "Kafka refused the login of \"" + s.username + "\" (SASL " + s.mechanism + ")";
    if (!contains(reason, "Invalid username or password") && !contains(reason, "invalid credentials"))
        return who + ": " + core_of(reason);
    // Kafka 4 checks SCRAM's nonce as RFC 5802 says; librdkafka sent it wrongly until 2.6.1 (librdkafka #4895).
    if (s.mechanism.starts_with("SCRAM") && s.librdkafka_version < 0x020601ff)
        return who + ": wrong sasl.username or sasl.password, or a Kafka 4 broker, which refuses every SCRAM login " +
               "of librdkafka < 2.6.1 (this is " + rd_kafka_version_str() +
               "): use sasl.mechanism=PLAIN (over SASL_SSL) or mutual TLS";
    return who + ": wrong sasl.username or sasl.password";
}

std::string broker_certificate_problem(std::string_view x509, const ClientSecurity& s) {
    const std::string why = x509.empty() ? std::string() : " (" + std::string(x509) + ")";
    if (contains(x509, "ostname mismatch"))
        return "TLS: the broker's certificate is not valid for the host name used in bootstrap.servers=" + s.bootstrap +
               why + ": connect by a name (or address) that its subjectAltName lists";
    if (contains(x509, "has expired")) return "TLS: the broker's certificate has expired: renew it on the broker";
    if (contains(x509, "not yet valid"))
        return "TLS: the broker's certificate is not valid yet: check the clocks, or the certificate's dates";
    if (contains(x509, "issuer") || contains(x509, "self-signed") || contains(x509, "self signed"))
        return "TLS: the broker's certificate is not signed by a CA that this client trusts" + why +
               ": check ssl.ca.location (the CA that signed the brokers' certificates)";
    return "TLS: the broker's certificate could not be verified" + why +
           ": check ssl.ca.location, and that bootstrap.servers names the brokers as their certificates do";
}

// A TLS alert the broker sent about our certificate (bad certificate, certificate unknown, unknown CA, ...).
std::optional<std::string> client_certificate_problem(std::string_view reason, const ClientSecurity& s) {
    static constexpr std::string_view kAlerts[] = {
        "alert bad certificate",        "alert certificate unknown", "alert unknown ca",
        "alert certificate expired",    "alert certificate revoked", "alert certificate required",
        "alert unsupported certificate"};
    std::string_view alert;
    for (auto a : kAlerts)
        if (contains(reason, a)) alert = a.substr(6);
    if (alert.empty()) return std::nullopt;
    if (!s.has_certificate)
        return "TLS: the broker requires a client certificate (mutual TLS; it answered \"" + std::string(alert) +
               "\"): set ssl.certificate.location and ssl.key.location, or use the broker's SASL_SSL port";
    if (s.expired_on)
        return "TLS: this client's certificate" + s.certificate + " expired on " + *s.expired_on +
               " (the broker answered \"" + std::string(alert) + "\"): renew it";
    return "TLS: the broker rejected this client's certificate" + s.certificate + " (\"" + std::string(alert) +
           "\"): it is not signed by a CA that the broker trusts, or is expired or revoked";
}

}  // namespace

ClientSecurity client_security(const rd_kafka_conf_t* conf, Role role) {
    ClientSecurity s;
    s.role = role;
    s.protocol = lower(conf_string(conf, "security.protocol"));
    s.mechanism = conf_string(conf, "sasl.mechanisms");
    s.username = conf_string(conf, "sasl.username");
    s.bootstrap = conf_string(conf, "bootstrap.servers");
    if (role == Role::consumer) s.group = conf_string(conf, "group.id");
    s.librdkafka_version = rd_kafka_version();
    std::string location = conf_string(conf, "ssl.certificate.location");
    std::string pem = conf_string(conf, "ssl.certificate.pem");
    s.has_certificate = !location.empty() || !pem.empty() || !conf_string(conf, "ssl.keystore.location").empty();
    s.certificate = location.empty() ? std::string() : " " + location;
    if (pem.empty() && !location.empty()) {
        if (std::FILE* f = std::fopen(location.c_str(), "re")) {
            char buf[16384];
            pem.assign(buf, std::fread(buf, 1, sizeof buf, f));
            std::fclose(f);
        }
    }
    if (!pem.empty()) s.expired_on = certificate_expiry(pem);
    return s;
}

std::optional<std::string> certificate_expiry(std::string_view pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
    if (!in) return std::nullopt;
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr),
                                                     &X509_free);
    if (!cert) return std::nullopt;
    const ASN1_TIME* not_after = X509_get0_notAfter(cert.get());
    if (!not_after || X509_cmp_current_time(not_after) >= 0) return std::nullopt;
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), &BIO_free);
    if (!out || ASN1_TIME_print(out.get(), not_after) != 1) return "a date in the past";
    char* text = nullptr;
    long len = BIO_get_mem_data(out.get(), &text);
    return std::string(text, static_cast<std::size_t>(len));
}

bool is_authorization_error(rd_kafka_resp_err_t err) {
    return err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
           err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
           err == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

std::string explain_error(rd_kafka_resp_err_t err, std::string_view resource, const ClientSecurity& s) {
    const std::string who = principal_of(s);
    if (resource.empty() && err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) resource = s.group;
    const std::string name = resource.empty() ? std::string() : " " + std::string(resource);
    switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        if (s.role == Role::producer)
            return "Kafka denies " + who + " writing to topic" + name +
                   " (Topic authorization failed): the ACLs must " +
                   "allow it Write and Describe on the topic, and the topic must exist (or the ACLs allow Create)";
        return "Kafka denies " + who + " reading topic" + name + " (Topic authorization failed): the ACLs must allow " +
               "it Read and Describe on the topic";
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        return "Kafka denies " + who + " the consumer group" + name + " (Group authorization failed): the ACLs must " +
               "allow it Read on the group";
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return "Kafka denies " + who + " an idempotent producer (Cluster authorization failed): the ACLs must allow " +
               "it Write on the topic";
    default:
        return rd_kafka_err2str(err);
    }
}

std::optional<Problem> classify_error(rd_kafka_resp_err_t err, std::string_view reason, const ClientSecurity& s,
                                      std::string_view x509_reason) {
    if (is_authorization_error(err)) return Problem{explain_error(err, {}, s), true};
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || contains(reason, "SASL authentication error"))
        return Problem{login_problem(reason, s), true};
    if (contains(reason, "certificate verify failed")) return Problem{broker_certificate_problem(x509_reason, s), true};
    if (auto p = client_certificate_problem(reason, s)) return Problem{*p, true};
    if (contains(reason, "incorrect security.protocol configuration (connecting to a SSL listener?)"))
        return Problem{"the broker's port speaks TLS, but security.protocol=" + s.protocol +
                           ": use security.protocol=SASL_SSL (or SSL for mutual TLS) with ssl.ca.location",
                       false};
    if (contains(reason, "SSL handshake failed") &&
        (contains(reason, "unexpected eof") || contains(reason, "wrong version number") ||
         contains(reason, "packet length too long") || contains(reason, "record layer failure")))
        return Problem{"TLS handshake failed (" + core_of(reason) + "): the broker's port does not seem to speak " +
                           "TLS; check the ports in bootstrap.servers=" + s.bootstrap +
                           " against security.protocol=" + s.protocol,
                       false};
    return std::nullopt;
}

void SecurityMonitor::error_event(rd_kafka_resp_err_t err, std::string_view reason) {
    std::lock_guard lock(mutex_);
    auto p = classify_error(err, reason, security_, x509_reason_);
    if (!p || !verdict_.empty()) return;
    if (p->definitive) {
        verdict_ = p->message;
    } else if (ambiguous_.empty() && !delivered_ && contains(reason, "/bootstrap")) {
        ambiguous_ = p->message;
        ambiguous_since_ = now_();
        any_ambiguous_ = true;
    }
}

void SecurityMonitor::progress() {
    if (!delivered_.load(std::memory_order_relaxed)) delivered_ = true;
    if (!any_ambiguous_.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(mutex_);
    ambiguous_.clear();
    any_ambiguous_ = false;
}

int SecurityMonitor::verify_certificate(const int* x509_error, char* errstr, std::size_t errstr_size) {
    if (*x509_error == X509_V_OK) return 1;
    const char* why = X509_verify_cert_error_string(*x509_error);
    {
        std::lock_guard lock(mutex_);
        x509_reason_ = why;
    }
    std::snprintf(errstr, errstr_size, "%s", why);
    return 0;
}

std::string SecurityMonitor::verdict() const {
    std::lock_guard lock(mutex_);
    if (verdict_.empty() && !ambiguous_.empty() && now_() - ambiguous_since_ >= kPatience) return ambiguous_;
    return verdict_;
}

}  // namespace ks::kafka
