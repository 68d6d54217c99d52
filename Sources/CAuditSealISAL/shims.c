#include "CAuditSealISAL.h"
#include <isa-l/igzip_lib.h>
#include <stdlib.h>

struct auditseal_inflater { struct inflate_state state; };

auditseal_inflater *auditseal_inflater_new(void) {
    auditseal_inflater *s = malloc(sizeof *s);
    if (!s) return NULL;
    auditseal_inflater_reset(s);
    return s;
}

void auditseal_inflater_free(auditseal_inflater *s) { free(s); }

void auditseal_inflater_reset(auditseal_inflater *s) {
    isal_inflate_init(&s->state);
    s->state.crc_flag = ISAL_GZIP;
}

int auditseal_inflater_step(auditseal_inflater *s, const uint8_t *in, size_t inlen, size_t *consumed,
                            uint8_t *out, size_t outlen, size_t *produced, int *member_end) {
    // ISA-L counts in 32 bits: feed at most 1 GiB at a time.
    uint32_t in32 = inlen > (1u << 30) ? (1u << 30) : (uint32_t)inlen;
    uint32_t out32 = outlen > (1u << 30) ? (1u << 30) : (uint32_t)outlen;
    s->state.next_in = (uint8_t *)in;
    s->state.avail_in = in32;
    s->state.next_out = out;
    s->state.avail_out = out32;
    int rc = isal_inflate(&s->state);
    *consumed = in32 - s->state.avail_in;
    *produced = out32 - s->state.avail_out;
    *member_end = s->state.block_state == ISAL_BLOCK_FINISH;
    return rc < 0 ? rc : 0;
}

struct auditseal_deflater { struct isal_zstream z; uint8_t *level_buf; };

auditseal_deflater *auditseal_deflater_new(int level) {
    if (level < 1 || level > 3) return NULL;
    auditseal_deflater *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    uint32_t size = level == 1 ? ISAL_DEF_LVL1_DEFAULT : level == 2 ? ISAL_DEF_LVL2_DEFAULT : ISAL_DEF_LVL3_DEFAULT;
    s->level_buf = malloc(size);
    if (!s->level_buf) { free(s); return NULL; }
    isal_deflate_init(&s->z);
    s->z.gzip_flag = IGZIP_GZIP;
    s->z.level = level;
    s->z.level_buf = s->level_buf;
    s->z.level_buf_size = size;
    s->z.flush = NO_FLUSH;
    return s;
}

void auditseal_deflater_free(auditseal_deflater *s) {
    if (!s) return;
    free(s->level_buf);
    free(s);
}

int auditseal_deflater_step(auditseal_deflater *s, const uint8_t *in, size_t inlen, size_t *consumed,
                            uint8_t *out, size_t outlen, size_t *produced, int finish, int *done) {
    uint32_t in32 = inlen > (1u << 30) ? (1u << 30) : (uint32_t)inlen;
    uint32_t out32 = outlen > (1u << 30) ? (1u << 30) : (uint32_t)outlen;
    s->z.next_in = (uint8_t *)in;
    s->z.avail_in = in32;
    s->z.end_of_stream = finish && in32 == inlen;
    s->z.next_out = out;
    s->z.avail_out = out32;
    int rc = isal_deflate(&s->z);
    *consumed = in32 - s->z.avail_in;
    *produced = out32 - s->z.avail_out;
    *done = s->z.internal_state.state == ZSTATE_END;
    return rc < 0 ? rc : 0;
}
