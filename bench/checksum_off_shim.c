/* LD_PRELOAD shim for one benchmark row only: EVP_DigestUpdate that hashes nothing. The push under it does everything
 * but its SHA-256 (its manifests then carry the digest of nothing; that topic is deleted unread), which shows how much
 * of the gap to kcat is the checksum. bench/run builds it with cc; the tools themselves are never changed. */
#include <stddef.h>

typedef struct evp_md_ctx_st EVP_MD_CTX;

int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *data, size_t count) {
    (void)ctx;
    (void)data;
    (void)count;
    return 1;
}
