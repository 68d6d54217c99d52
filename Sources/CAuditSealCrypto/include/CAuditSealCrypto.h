// Shims over OpenSSL libcrypto: only what auditseal needs (SHA-256 through EVP, Ed25519 through
// EVP_PKEY, random bytes). Swift reaches libcrypto through these functions alone.
#ifndef C_AUDITSEAL_CRYPTO_H
#define C_AUDITSEAL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

typedef struct auditseal_sha256_ctx auditseal_sha256_ctx;
typedef struct auditseal_ed25519_key auditseal_ed25519_key;

/// Allocates a reusable SHA-256 context; NULL on failure.
auditseal_sha256_ctx *auditseal_sha256_new(void);
void auditseal_sha256_free(auditseal_sha256_ctx *ctx);
/// Hashes the concatenation of up to three byte ranges into out[32]. Returns 1 on success.
int auditseal_sha256_3(auditseal_sha256_ctx *ctx,
                       const void *a, size_t alen,
                       const void *b, size_t blen,
                       const void *c, size_t clen,
                       uint8_t out[32]);
/// Streaming interface: init / update / final. Each returns 1 on success.
int auditseal_sha256_init(auditseal_sha256_ctx *ctx);
int auditseal_sha256_update(auditseal_sha256_ctx *ctx, const void *data, size_t len);
int auditseal_sha256_final(auditseal_sha256_ctx *ctx, uint8_t out[32]);

/// Ed25519 key from a 32-byte seed (private) or 32-byte public key. NULL on failure.
auditseal_ed25519_key *auditseal_ed25519_from_seed(const uint8_t seed[32]);
auditseal_ed25519_key *auditseal_ed25519_from_public(const uint8_t pub[32]);
void auditseal_ed25519_free(auditseal_ed25519_key *key);
/// Writes the 32-byte public key. Returns 1 on success.
int auditseal_ed25519_public(const auditseal_ed25519_key *key, uint8_t out[32]);
/// Signs msg into sig[64]. Returns 1 on success.
int auditseal_ed25519_sign(const auditseal_ed25519_key *key, const void *msg, size_t len, uint8_t sig[64]);
/// Returns 1 when sig is a valid signature of msg, 0 when not, -1 on error.
int auditseal_ed25519_verify(const auditseal_ed25519_key *key, const void *msg, size_t len, const uint8_t sig[64]);

/// HMAC-SHA256 of data under key into out[32]. Returns 1 on success.
int auditseal_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, uint8_t out[32]);

/// MD5 of data into out[16] (only for S3's Content-MD5 integrity header). Returns 1 on success.
int auditseal_md5(const void *data, size_t len, uint8_t out[16]);

/// Fills buf with cryptographically secure random bytes. Returns 1 on success.
int auditseal_random_bytes(void *buf, size_t len);

#endif
