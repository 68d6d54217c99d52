#include "CAuditSealZlib.h"

#include <stdlib.h>
#include <limits.h>
#include <zlib.h>

struct auditseal_zstream {
    z_stream z;
    int deflating;
};

auditseal_zstream *auditseal_gzip_deflater(int level) {
    auditseal_zstream *s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    // windowBits 15 + 16: a gzip wrapper rather than zlib's.
    if (deflateInit2(&s->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(s);
        return NULL;
    }
    s->deflating = 1;
    return s;
}

auditseal_zstream *auditseal_gzip_inflater(void) {
    auditseal_zstream *s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    // windowBits 15 + 32: detect gzip or zlib headers.
    if (inflateInit2(&s->z, 15 + 32) != Z_OK) {
        free(s);
        return NULL;
    }
    return s;
}

void auditseal_zstream_free(auditseal_zstream *s) {
    if (s == NULL) return;
    if (s->deflating) deflateEnd(&s->z); else inflateEnd(&s->z);
    free(s);
}

int auditseal_zstream_step(auditseal_zstream *s,
                           const uint8_t *in, size_t inlen, size_t *consumed,
                           uint8_t *out, size_t outlen, size_t *produced,
                           int finish) {
    uInt inChunk = inlen > UINT_MAX ? UINT_MAX : (uInt)inlen;
    uInt outChunk = outlen > UINT_MAX ? UINT_MAX : (uInt)outlen;
    s->z.next_in = (Bytef *)in;
    s->z.avail_in = inChunk;
    s->z.next_out = out;
    s->z.avail_out = outChunk;
    int rc = s->deflating ? deflate(&s->z, finish ? Z_FINISH : Z_NO_FLUSH) : inflate(&s->z, Z_NO_FLUSH);
    *consumed = inChunk - s->z.avail_in;
    *produced = outChunk - s->z.avail_out;
    return rc;
}

int auditseal_zstream_reset(auditseal_zstream *s) {
    return s->deflating ? deflateReset(&s->z) : inflateReset(&s->z);
}

uint32_t auditseal_crc32(uint32_t crc, const uint8_t *buf, size_t len) {
    while (len > 0) {
        uInt chunk = len > UINT_MAX ? UINT_MAX : (uInt)len;
        crc = (uint32_t)crc32(crc, buf, chunk);
        buf += chunk;
        len -= chunk;
    }
    return crc;
}
