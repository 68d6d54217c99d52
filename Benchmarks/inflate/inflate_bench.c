// Inflate throughput of zlib, libdeflate and ISA-L on sealed segments (standard gzip files).
// Build and run: bash Benchmarks/inflate.sh DATA_DIR   (or: cc -O2 inflate_bench.c -lz -ldeflate -lisal)
// Each library decompresses every given file REPEAT times; the output is checked to be the same
// size and CRC-32 for all three. Prints MB/s of decompressed output and lines (events) per second.
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static uint8_t out[1 << 20];
static uint64_t lines, bytes; static uint32_t crc; static int checking;
static void sink(const uint8_t *p, size_t n) {
    bytes += n;
    if (!checking) return;  // timed runs only count bytes; one untimed run per library checks the output
    for (size_t i = 0; i < n; i++) lines += p[i] == '\n';
    crc = crc32(crc, p, n);
}

static int z_inflate(const uint8_t *in, size_t n) {
    z_stream s; memset(&s, 0, sizeof s);
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) return -1;
    s.next_in = (uint8_t *)in; s.avail_in = n;
    for (;;) {
        s.next_out = out; s.avail_out = sizeof out;
        int rc = inflate(&s, Z_NO_FLUSH);
        sink(out, sizeof out - s.avail_out);
        if (rc == Z_STREAM_END) { if (s.avail_in == 0) break; inflateReset(&s); continue; }
        if (rc != Z_OK) { inflateEnd(&s); return -1; }
    }
    inflateEnd(&s); return 0;
}

static uint8_t *big; static size_t bigcap;
static int d_inflate(struct libdeflate_decompressor *d, const uint8_t *in, size_t n) {
    size_t off = 0;
    while (off < n) {  // member by member; ISIZE (mod 2^32) sizes the buffer
        size_t need = 0, used = 0, got = 0;
        // The trailer of the last member gives the size of a one-member file; grow on demand otherwise.
        need = n - off >= 4 ? (in[n - 4] | in[n - 3] << 8 | in[n - 2] << 16 | (size_t)in[n - 1] << 24) : 1 << 20;
        if (need < 1 << 16) need = 1 << 16;
        for (;;) {
            if (bigcap < need) { big = realloc(big, need); bigcap = need; }
            enum libdeflate_result r = libdeflate_gzip_decompress_ex(d, in + off, n - off, big, bigcap, &used, &got);
            if (r == LIBDEFLATE_INSUFFICIENT_SPACE) { need = bigcap * 2; continue; }
            if (r != LIBDEFLATE_SUCCESS) return -1;
            break;
        }
        sink(big, got); off += used;
    }
    return 0;
}

static int i_inflate(const uint8_t *in, size_t n) {
    static struct inflate_state st;
    isal_inflate_init(&st); st.crc_flag = ISAL_GZIP;
    st.next_in = (uint8_t *)in; st.avail_in = n;
    for (;;) {
        st.next_out = out; st.avail_out = sizeof out;
        int rc = isal_inflate(&st);
        if (rc != ISAL_DECOMP_OK) return -1;
        sink(out, sizeof out - st.avail_out);
        if (st.block_state == ISAL_BLOCK_FINISH) {
            if (st.avail_in == 0) break;
            uint8_t *next = st.next_in; uint32_t left = st.avail_in;
            isal_inflate_reset(&st); st.crc_flag = ISAL_GZIP; st.next_in = next; st.avail_in = left;
        } else if (st.avail_in == 0 && st.avail_out != 0) return -1;  // truncated
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: inflate_bench REPEAT FILE.gz...\n"); return 2; }
    int repeat = atoi(argv[1]);
    int files = argc - 2;
    uint8_t **data = calloc(files, sizeof *data); size_t *size = calloc(files, sizeof *size); size_t total = 0;
    for (int f = 0; f < files; f++) {
        FILE *fp = fopen(argv[f + 2], "rb"); fseek(fp, 0, SEEK_END); size[f] = ftell(fp); rewind(fp);
        data[f] = malloc(size[f]); if (fread(data[f], 1, size[f], fp) != size[f]) return 1; fclose(fp); total += size[f];
    }
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    const char *names[3] = {"zlib", "libdeflate", "isa-l"};
    uint32_t crcs[3]; uint64_t sizes[3]; double zlibRate = 0;
    for (int lib = 0; lib < 3; lib++) {
        double best = 1e9;
        uint64_t counted = 0;
        for (int r = -1; r < repeat; r++) {
            checking = r < 0;
            lines = bytes = 0; crc = crc32(0, NULL, 0);
            double t = now();
            for (int f = 0; f < files; f++) {
                int rc = lib == 0 ? z_inflate(data[f], size[f]) : lib == 1 ? d_inflate(d, data[f], size[f]) : i_inflate(data[f], size[f]);
                if (rc) { fprintf(stderr, "%s failed on %s\n", names[lib], argv[f + 2]); return 1; }
            }
            double e = now() - t;
            if (r < 0) { counted = lines; crcs[lib] = crc; } else if (e < best) best = e;
        }
        lines = counted;
        sizes[lib] = bytes;
        double mbs = bytes / best / 1e6;
        if (lib == 0) zlibRate = mbs;
        printf("%-11s %8.0f MB/s  %10.0f lines/s  %.2fx zlib  (%llu bytes, %llu lines from %zu compressed)\n", names[lib], mbs,
               lines / best, mbs / zlibRate, (unsigned long long)bytes, (unsigned long long)lines, total);
    }
    if (crcs[0] != crcs[1] || crcs[0] != crcs[2] || sizes[0] != sizes[1] || sizes[0] != sizes[2]) { fprintf(stderr, "outputs differ\n"); return 1; }

    // Sealing: compress the same lines at level 1 (the receiver's) with each library.
    int cfiles = files < 4 ? files : 4;
    uint8_t **plain = calloc(cfiles, sizeof *plain); size_t *plen = calloc(cfiles, sizeof *plen); size_t ptotal = 0;
    for (int f = 0; f < cfiles; f++) {
        size_t cap = 1 << 20, len = 0; uint8_t *buf = malloc(cap);
        z_stream zs; memset(&zs, 0, sizeof zs); inflateInit2(&zs, 16 + MAX_WBITS);
        zs.next_in = data[f]; zs.avail_in = size[f];
        for (;;) {
            if (len == cap) { cap *= 2; buf = realloc(buf, cap); }
            zs.next_out = buf + len; zs.avail_out = cap - len;
            int rc = inflate(&zs, Z_NO_FLUSH); len = cap - zs.avail_out;
            if (rc == Z_STREAM_END) { if (zs.avail_in == 0) break; inflateReset(&zs); continue; }
            if (rc != Z_OK && rc != Z_BUF_ERROR) return 1;
        }
        inflateEnd(&zs); plain[f] = buf; plen[f] = len; ptotal += len;
    }
    size_t ocap = 0; for (int f = 0; f < cfiles; f++) if (plen[f] + (plen[f] >> 3) + 1024 > ocap) ocap = plen[f] + (plen[f] >> 3) + 1024;
    uint8_t *obuf = malloc(ocap);
    struct libdeflate_compressor *lc = libdeflate_alloc_compressor(1);
    uint8_t *lvl = malloc(ISAL_DEF_LVL1_DEFAULT);
    for (int lib = 0; lib < 3; lib++) {
        double best = 1e9; size_t outTotal = 0;
        for (int r = 0; r < repeat; r++) {
            outTotal = 0; double t = now();
            for (int f = 0; f < cfiles; f++) {
                if (lib == 0) {
                    z_stream zs; memset(&zs, 0, sizeof zs); deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
                    zs.next_in = plain[f]; zs.avail_in = plen[f]; zs.next_out = obuf; zs.avail_out = ocap;
                    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) return 1;
                    outTotal += ocap - zs.avail_out; deflateEnd(&zs);
                } else if (lib == 1) {
                    size_t n = libdeflate_gzip_compress(lc, plain[f], plen[f], obuf, ocap); if (!n) return 1; outTotal += n;
                } else {
                    struct isal_zstream z; isal_deflate_init(&z);
                    z.gzip_flag = IGZIP_GZIP; z.level = 1; z.level_buf = lvl; z.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
                    z.end_of_stream = 1; z.flush = NO_FLUSH; z.next_in = plain[f]; z.avail_in = plen[f]; z.next_out = obuf; z.avail_out = ocap;
                    if (isal_deflate(&z) != COMP_OK || z.internal_state.state != ZSTATE_END) return 1;
                    outTotal += z.total_out;
                }
            }
            double e = now() - t; if (e < best) best = e;
        }
        printf("level 1 %-11s %6.0f MB/s  %.2fx smaller  (%zu -> %zu bytes)\n", names[lib], ptotal / best / 1e6, (double)ptotal / outTotal, ptotal, outTotal);
    }
    return 0;
}
