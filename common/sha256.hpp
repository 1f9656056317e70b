// Streaming SHA-256 (OpenSSL EVP), so files are hashed chunk by chunk, never loaded whole.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace ks {

class Sha256 {
public:
    Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    Sha256(Sha256&&) noexcept = default;
    Sha256& operator=(Sha256&&) noexcept = default;

    void update(const void* data, std::size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    // Lowercase hex digest; the object is reset and can be reused.
    std::string finish_hex();

private:
    struct Free {
        void operator()(EVP_MD_CTX* ctx) const;
    };
    std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

std::string sha256_hex(std::string_view data);

}  // namespace ks
