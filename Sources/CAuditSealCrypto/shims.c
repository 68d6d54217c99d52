#include "CAuditSealCrypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>

struct auditseal_sha256_ctx {
    EVP_MD_CTX *md;
};

struct auditseal_ed25519_key {
    EVP_PKEY *pkey;
};

static const EVP_MD *fetched_sha256 = NULL;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void) {
    EVP_MD *fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
    fetched_sha256 = fetched != NULL ? fetched : EVP_sha256();
}

static const EVP_MD *sha256_md(void) {
    // Fetched once: an explicit fetch avoids the implicit provider lookup on every init.
    pthread_once(&fetch_once, fetch_sha256);
    return fetched_sha256;
}

auditseal_sha256_ctx *auditseal_sha256_new(void) {
    auditseal_sha256_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) return NULL;
    ctx->md = EVP_MD_CTX_new();
    if (ctx->md == NULL) { free(ctx); return NULL; }
    return ctx;
}

void auditseal_sha256_free(auditseal_sha256_ctx *ctx) {
    if (ctx == NULL) return;
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}

int auditseal_sha256_init(auditseal_sha256_ctx *ctx) {
    return EVP_DigestInit_ex(ctx->md, sha256_md(), NULL);
}

int auditseal_sha256_update(auditseal_sha256_ctx *ctx, const void *data, size_t len) {
    if (len == 0) return 1;
    return EVP_DigestUpdate(ctx->md, data, len);
}

int auditseal_sha256_final(auditseal_sha256_ctx *ctx, uint8_t out[32]) {
    unsigned int n = 0;
    return EVP_DigestFinal_ex(ctx->md, out, &n) == 1 && n == 32;
}

int auditseal_sha256_3(auditseal_sha256_ctx *ctx,
                       const void *a, size_t alen,
                       const void *b, size_t blen,
                       const void *c, size_t clen,
                       uint8_t out[32]) {
    if (!auditseal_sha256_init(ctx)) return 0;
    if (!auditseal_sha256_update(ctx, a, alen)) return 0;
    if (!auditseal_sha256_update(ctx, b, blen)) return 0;
    if (!auditseal_sha256_update(ctx, c, clen)) return 0;
    return auditseal_sha256_final(ctx, out);
}

auditseal_ed25519_key *auditseal_ed25519_from_seed(const uint8_t seed[32]) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (pkey == NULL) return NULL;
    auditseal_ed25519_key *key = calloc(1, sizeof(*key));
    if (key == NULL) { EVP_PKEY_free(pkey); return NULL; }
    key->pkey = pkey;
    return key;
}

auditseal_ed25519_key *auditseal_ed25519_from_public(const uint8_t pub[32]) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    if (pkey == NULL) return NULL;
    auditseal_ed25519_key *key = calloc(1, sizeof(*key));
    if (key == NULL) { EVP_PKEY_free(pkey); return NULL; }
    key->pkey = pkey;
    return key;
}

void auditseal_ed25519_free(auditseal_ed25519_key *key) {
    if (key == NULL) return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

int auditseal_ed25519_public(const auditseal_ed25519_key *key, uint8_t out[32]) {
    size_t len = 32;
    return EVP_PKEY_get_raw_public_key(key->pkey, out, &len) == 1 && len == 32;
}

int auditseal_ed25519_sign(const auditseal_ed25519_key *key, const void *msg, size_t len, uint8_t sig[64]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return 0;
    size_t siglen = 64;
    int ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) == 1
          && EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1
          && siglen == 64;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int auditseal_ed25519_verify(const auditseal_ed25519_key *key, const void *msg, size_t len, const uint8_t sig[64]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return -1;
    int result = -1;
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) == 1) {
        result = EVP_DigestVerify(ctx, sig, 64, msg, len) == 1 ? 1 : 0;
    }
    EVP_MD_CTX_free(ctx);
    return result;
}

int auditseal_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, uint8_t out[32]) {
    size_t outlen = 0;
    unsigned char *r = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data, len, out, 32, &outlen);
    return r != NULL && outlen == 32;
}

int auditseal_md5(const void *data, size_t len, uint8_t out[16]) {
    unsigned int outlen = 0;
    return EVP_Digest(data, len, out, &outlen, EVP_md5(), NULL) == 1 && outlen == 16;
}

int auditseal_random_bytes(void *buf, size_t len) {
    return RAND_bytes(buf, (int)len);
}
