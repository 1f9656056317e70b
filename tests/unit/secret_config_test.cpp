#include "secret_config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

using namespace ks;

namespace {

bool mentions(const Error& e, const std::string& what) { return e.message.find(what) != std::string::npos; }

// A file in a fresh directory, with the given mode; removed with the fixture.
class TempFile {
public:
    TempFile(const std::string& text, mode_t mode) {
        char tmpl[] = "/tmp/ks-secret-test.XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        path_ = dir_ + "/site.conf";
        std::ofstream(path_) << text;
        ::chmod(path_.c_str(), mode);
    }
    ~TempFile() {
        std::remove(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    const std::string& path() const { return path_; }

private:
    std::string dir_, path_;
};

}  // namespace

TEST(SecretConfig, KnowsWhichKeysAreSecrets) {
    for (auto k : {"sasl.password", "ssl.key.password", "ssl.key.pem", "ssl.keystore.password",
                   "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "some.future.password"})
        EXPECT_TRUE(is_secret_key(k)) << k;
    for (auto k : {"sasl.username", "ssl.key.location", "ssl.ca.location", "bootstrap.servers", "stream.auth.key.file"})
        EXPECT_FALSE(is_secret_key(k)) << k;
    std::vector<ConfigEntry> entries = {{"bootstrap.servers", "b:1", "f:1"}, {"sasl.password", "x", "f:2"}};
    ASSERT_NE(first_secret(entries), nullptr);
    EXPECT_EQ(first_secret(entries)->origin, "f:2");
    entries.pop_back();
    EXPECT_EQ(first_secret(entries), nullptr);
}

TEST(SecretConfig, OwnerAndModeLikeSsh) {
    ConfigEntry secret{"sasl.password", "hunter2", "/etc/k.conf:4"};
    // Root's file, root reading it: 0600 with a secret, 0644 without.
    EXPECT_TRUE(check_config_file_access("/etc/k.conf", 0, 0100600, 0, &secret));
    EXPECT_TRUE(check_config_file_access("/etc/k.conf", 0, 0100644, 0, nullptr));
    auto readable = check_config_file_access("/etc/k.conf", 0, 0100640, 0, &secret);
    ASSERT_FALSE(readable);
    EXPECT_TRUE(mentions(readable.error(), "sasl.password")) << readable.error().message;
    EXPECT_TRUE(mentions(readable.error(), "/etc/k.conf:4")) << readable.error().message;
    EXPECT_TRUE(mentions(readable.error(), "chmod 0600")) << readable.error().message;
    EXPECT_FALSE(mentions(readable.error(), "hunter2"));
    EXPECT_FALSE(check_config_file_access("/etc/k.conf", 0, 0100604, 0, &secret));
    // Writable by others: refused even without a secret (plugin.library.paths, another broker).
    auto writable = check_config_file_access("/etc/k.conf", 0, 0100664, 0, nullptr);
    ASSERT_FALSE(writable);
    EXPECT_TRUE(mentions(writable.error(), "chmod go-w")) << writable.error().message;
    EXPECT_FALSE(check_config_file_access("/etc/k.conf", 0, 0100646, 0, nullptr));
    // Someone else's file: refused; the user's own file (or root's) is fine for that user.
    auto foreign = check_config_file_access("/etc/k.conf", 1000, 0100600, 0, &secret);
    ASSERT_FALSE(foreign);
    EXPECT_TRUE(mentions(foreign.error(), "owned by uid 1000")) << foreign.error().message;
    EXPECT_TRUE(check_config_file_access("/home/a/k.conf", 1000, 0100600, 1000, &secret));
    EXPECT_TRUE(check_config_file_access("/etc/k.conf", 0, 0100644, 1000, nullptr));
    EXPECT_FALSE(check_config_file_access("/home/b/k.conf", 1001, 0100600, 1000, nullptr));
}

TEST(SecretConfig, ReadConfigFileAppliesTheRules) {
    TempFile open_secret("bootstrap.servers = b:1\nsasl.password = hunter2\n", 0644);
    auto refused = read_config_file(open_secret.path());
    ASSERT_FALSE(refused);
    EXPECT_TRUE(mentions(refused.error(), open_secret.path() + ":2")) << refused.error().message;
    EXPECT_FALSE(mentions(refused.error(), "hunter2"));
    TempFile closed_secret("sasl.password = hunter2\n", 0600);
    EXPECT_TRUE(read_config_file(closed_secret.path()));
    TempFile no_secret("bootstrap.servers = b:1\n", 0644);
    EXPECT_TRUE(read_config_file(no_secret.path()));
    TempFile group_writable("bootstrap.servers = b:1\n", 0664);
    EXPECT_FALSE(read_config_file(group_writable.path()));
}

TEST(SecretConfig, MalformedLinesAreQuotedWithoutTheirValue) {
    EXPECT_EQ(without_value("sasl.password hunter2"), "sasl.password ...");
    EXPECT_EQ(without_value("sasl.password"), "sasl.password");
    EXPECT_EQ(without_value("hunter2 x"), "hunter2 ...");
    EXPECT_EQ(without_value(" x"), "...");
    for (const char* line : {"sasl.password hunter2\n", "sasl.password: hunter2\n", "sasl.password: hunter2 = x\n"}) {
        auto r = parse_config(line, "/etc/k.conf");
        ASSERT_FALSE(r) << line;
        EXPECT_TRUE(mentions(r.error(), "/etc/k.conf:1")) << r.error().message;
        EXPECT_FALSE(mentions(r.error(), "hunter2")) << r.error().message;
    }
}

TEST(SecretConfig, SecretsAreRefusedOnTheCommandLine) {
    auto e = parse_override("sasl.password=hunter2");
    ASSERT_FALSE(e);
    EXPECT_TRUE(mentions(e.error(), "sasl.password")) << e.error().message;
    EXPECT_FALSE(mentions(e.error(), "hunter2"));
    EXPECT_FALSE(parse_override("ssl.key.pem=-----BEGIN"));
    EXPECT_TRUE(parse_override("sasl.username=ks-node"));
    auto malformed = parse_override("sasl.password:hunter2");
    ASSERT_FALSE(malformed);
    EXPECT_FALSE(mentions(malformed.error(), "hunter2")) << malformed.error().message;
}

TEST(SecretConfig, KeyAndCertificateFilesAreReadIntoTheConfiguration) {
    TempFile key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0600);
    TempFile cert("-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n", 0644);
    auto inlined = inline_tls_files({{"ssl.key.location", key.path(), "f:1"},
                                     {"ssl.certificate.location", cert.path(), "f:2"},
                                     {"ssl.ca.location", "/nonexistent/dir", "f:3"},
                                     {"sasl.username", "u", "f:4"}});
    ASSERT_TRUE(inlined) << inlined.error().message;
    EXPECT_EQ((*inlined)[0].key, "ssl.key.pem");
    EXPECT_NE((*inlined)[0].value.find("AAAA"), std::string::npos);
    EXPECT_EQ((*inlined)[0].origin, "f:1");
    EXPECT_EQ((*inlined)[1].key, "ssl.certificate.pem");
    EXPECT_EQ((*inlined)[2].key, "ssl.ca.location");  // not a file: librdkafka's to read
    EXPECT_EQ((*inlined)[3].key, "sasl.username");
    // A private key that others can read is refused, like ssh refuses one.
    TempFile open_key("-----BEGIN PRIVATE KEY-----\n", 0644);
    auto refused = inline_tls_files({{"ssl.key.location", open_key.path(), "f:1"}});
    ASSERT_FALSE(refused);
    EXPECT_TRUE(mentions(refused.error(), "chmod 0600")) << refused.error().message;
    EXPECT_FALSE(inline_tls_files({{"ssl.key.location", "/nonexistent/key.pem", "f:1"}}));
}
