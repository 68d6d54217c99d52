// Shims over zlib for gzip streams. Swift owns the z_stream through these functions alone.
#ifndef C_AUDITSEAL_ZLIB_H
#define C_AUDITSEAL_ZLIB_H

#include <stddef.h>
#include <stdint.h>

typedef struct auditseal_zstream auditseal_zstream;

/// A gzip compressor at the given level (0-9). NULL on failure.
auditseal_zstream *auditseal_gzip_deflater(int level);
/// A decompressor for gzip (and zlib) streams. NULL on failure.
auditseal_zstream *auditseal_gzip_inflater(void);
void auditseal_zstream_free(auditseal_zstream *s);

/// Runs one deflate/inflate step. in/out advance by *consumed / *produced.
/// finish != 0 finishes the deflate stream. Returns zlib's code (Z_OK 0, Z_STREAM_END 1, Z_BUF_ERROR -5, ...).
int auditseal_zstream_step(auditseal_zstream *s,
                           const uint8_t *in, size_t inlen, size_t *consumed,
                           uint8_t *out, size_t outlen, size_t *produced,
                           int finish);
/// Resets an inflater so a following gzip member can be read. Returns zlib's code.
int auditseal_zstream_reset(auditseal_zstream *s);
/// CRC-32 (ISO-HDLC, as in gzip) of a buffer, continuing from crc.
uint32_t auditseal_crc32(uint32_t crc, const uint8_t *buf, size_t len);

#endif
