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
