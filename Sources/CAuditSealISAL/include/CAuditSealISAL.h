// Shims over ISA-L's igzip inflate (libisal): standard gzip, decoded about 3-4x faster than zlib
// here (Benchmarks/inflate.sh). Swift owns the state through these functions alone.
#ifndef C_AUDITSEAL_ISAL_H
#define C_AUDITSEAL_ISAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct auditseal_inflater auditseal_inflater;

/// A gzip inflater (header parsed, CRC-32 and size verified at each member's end). NULL on failure.
auditseal_inflater *auditseal_inflater_new(void);
void auditseal_inflater_free(auditseal_inflater *s);

/// One step: consumes input and produces output. *member_end is set to 1 when a gzip member ended
/// (its trailer checked) in this step; call auditseal_inflater_reset before reading the next one.
/// Returns 0 when fine, a negative ISA-L error code for corrupt data (-6: checksum mismatch).
int auditseal_inflater_step(auditseal_inflater *s,
                            const uint8_t *in, size_t inlen, size_t *consumed,
                            uint8_t *out, size_t outlen, size_t *produced,
                            int *member_end);
/// Prepares for a following gzip member.
void auditseal_inflater_reset(auditseal_inflater *s);

typedef struct auditseal_deflater auditseal_deflater;

/// A gzip deflater at ISA-L level 1-3. NULL on failure.
auditseal_deflater *auditseal_deflater_new(int level);
void auditseal_deflater_free(auditseal_deflater *s);
/// One step; finish != 0 ends the stream once all input is consumed (*done = 1 when the trailer is out).
/// Returns 0, or a negative ISA-L error code.
int auditseal_deflater_step(auditseal_deflater *s,
                            const uint8_t *in, size_t inlen, size_t *consumed,
                            uint8_t *out, size_t outlen, size_t *produced,
                            int finish, int *done);

#endif
