// The transfer signature (common/signature.hpp): HMAC known answers, the signed material, key files and rotation.
#include "signature.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace ks;
using namespace ks::auth;

namespace {

std::string hex_bytes(std::size_t n, int start = 0) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        unsigned char b = static_cast<unsigned char>(start + static_cast<int>(i));
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

KeyRing ring_of(const std::string& text) {
    auto r = KeyRing::parse(text, "keys");
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return *r;
}

const SignedFields kFields{"open", "t-topic", "c/42/n1", "0123456789abcdef0123456789abcdef", 0, 1, R"({"x":1})"};

}  // namespace

TEST(Signature, HmacSha256KnownAnswers) {
    // RFC 4231, test cases 1 and 2.
    EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signature, SignedMaterialIsLengthPrefixedUnderADomainTag) {
    EXPECT_EQ(signed_material(kFields), std::string("ks-sig-v2") + "4:open" + "7:t-topic" + "7:c/42/n1" +
                                            "32:0123456789abcdef0123456789abcdef" + "1:0" + "1:1" + "7:{\"x\":1}");
    // Moving bytes from one field to the next changes the material (no ambiguity between fields).
    SignedFields shifted = kFields;
    shifted.topic = "t-topi";
    shifted.key = "cc/42/n1";
    EXPECT_NE(signed_material(shifted), signed_material(kFields));
}

TEST(Signature, KnownAnswerSharedWithThePythonTestProducers) {
    // tests/tools/kswire.py, test_vector(): an independent implementation must agree byte for byte.
    auto ring = ring_of("k1 " + hex_bytes(32) + "\n");
    EXPECT_EQ(sign(ring.signing_key(), kFields), "k1:0d140c42f00034d37d7cf7169ed23f5990e4a74fa1cef2f292a781e89200f5bf");
}

TEST(Signature, EveryFieldIsCovered) {
    auto ring = ring_of("k1 " + hex_bytes(32) + "\n");
    const std::string sig = sign(ring.signing_key(), kFields);
    ASSERT_TRUE(verify(ring, sig, kFields));
    auto changed = [&](auto mutate) {
        SignedFields f = kFields;
        std::string storage;
        mutate(f, storage);
        return !verify(ring, sig, f);
    };
    EXPECT_TRUE(changed([](SignedFields& f, std::string&) { f.type = "manifest"; }));
    EXPECT_TRUE(changed([](SignedFields& f, std::string&) { f.topic = "other-topic"; }));
    EXPECT_TRUE(changed([](SignedFields& f, std::string&) { f.key = "c/43/n1"; }));
    EXPECT_TRUE(changed([](SignedFields& f, std::string&) { f.transfer = "ffffffffffffffffffffffffffffffff"; }));
    EXPECT_TRUE(changed([](SignedFields& f, std::string&) { f.part = 1; }));
    EXPECT_TRUE(changed([](SignedFields& f, std::string&) { f.parts = 2; }));
    EXPECT_TRUE(changed([](SignedFields& f, std::string& s) {
        s = R"({"x":2})";
        f.value = s;
    }));
}

TEST(Signature, VerifySaysWhy) {
    auto ring = ring_of("k1 " + hex_bytes(32) + "\n");
    auto other = ring_of("k1 " + hex_bytes(32, 1) + "\n");
    auto why = [&](std::string_view sig) {
        auto r = verify(ring, sig, kFields);
        return r ? std::string("ok") : r.error().message;
    };
    EXPECT_NE(why("").find("not signed"), std::string::npos);
    EXPECT_NE(why("k1:abc").find("malformed"), std::string::npos);
    EXPECT_NE(why("nokey").find("malformed"), std::string::npos);
    EXPECT_NE(why("k9:" + std::string(64, '0')).find("not in this host's key file"), std::string::npos);
    // The same key id with another secret (a user who made up her own key file): refused.
    EXPECT_NE(why(sign(other.signing_key(), kFields)).find("bad signature"), std::string::npos);
    EXPECT_NE(why("k1:" + std::string(64, '0')).find("bad signature"), std::string::npos);
}

TEST(Signature, RotationFirstKeySignsEveryKeyVerifies) {
    // Step 1 of a rotation: sinks accept old and new; step 2: nodes sign with the new one (first in their file).
    auto old_ring = ring_of("old " + hex_bytes(32) + "\n");
    auto sink_ring = ring_of("# keys\nnew " + hex_bytes(32, 7) + "\nold " + hex_bytes(32) + "\n\n");
    auto new_ring = ring_of("new " + hex_bytes(32, 7) + "\n");
    EXPECT_EQ(sink_ring.size(), 2u);
    EXPECT_EQ(sink_ring.signing_key().id, "new");
    EXPECT_TRUE(verify(sink_ring, sign(old_ring.signing_key(), kFields), kFields));
    EXPECT_TRUE(verify(sink_ring, sign(new_ring.signing_key(), kFields), kFields));
    // Step 3: the old key is gone from the sinks; what it signs is refused.
    EXPECT_FALSE(verify(new_ring, sign(old_ring.signing_key(), kFields), kFields));
}

TEST(Signature, KeyFileSyntaxErrorsNameTheLineNeverTheSecret) {
    const std::string secret = hex_bytes(32);
    auto error_of = [](const std::string& text) {
        auto r = KeyRing::parse(text, "/etc/ks.key");
        return r ? std::string("ok") : r.error().message;
    };
    EXPECT_EQ(error_of(""), "/etc/ks.key: no key in the file");
    EXPECT_EQ(error_of("# only a comment\n"), "/etc/ks.key: no key in the file");
    std::string e = error_of("k1 " + secret.substr(0, 40) + "\n");
    EXPECT_NE(e.find("/etc/ks.key:1:"), std::string::npos) << e;
    EXPECT_EQ(e.find(secret.substr(0, 40)), std::string::npos) << e;
    e = error_of("\nk1 " + secret.substr(0, 62) + "zz\n");
    EXPECT_NE(e.find("/etc/ks.key:2: the secret of key \"k1\" is not hexadecimal"), std::string::npos) << e;
    EXPECT_NE(error_of(secret + "\n").find("expected"), std::string::npos);
    EXPECT_NE(error_of("bad/id " + secret + "\n").find("key id"), std::string::npos);
    EXPECT_NE(error_of("k1 " + secret + "\nk1 " + secret + "\n").find("appears twice"), std::string::npos);
}

TEST(Signature, KeyFileMustBeTheOwnersAlone) {
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("ks-key-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    fs::path key = dir / "auth.key";
    std::ofstream(key) << "k1 " << hex_bytes(32) << "\n";
    const unsigned me = ::geteuid();
    ::chmod(key.c_str(), 0644);
    auto r = KeyRing::load(key, me);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("permissions 0644 are too open"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos);
    ::chmod(key.c_str(), 0640);
    EXPECT_FALSE(KeyRing::load(key, me));
    ::chmod(key.c_str(), 0600);
    ASSERT_TRUE(KeyRing::load(key, me));
    r = KeyRing::load(key, me + 1);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("belongs to uid"), std::string::npos);
    // A symbolic link is refused even when it points at a good key file.
    fs::create_symlink(key, dir / "link.key");
    r = KeyRing::load(dir / "link.key", me);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("symbolic link"), std::string::npos) << r.error().message;
    r = KeyRing::load(dir / "missing.key", me);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("cannot read the signing key"), std::string::npos);
    fs::remove_all(dir);
}
