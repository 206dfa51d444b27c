/* Zarr's byte codecs over the standard libraries (see codec.h). */
#include "io/codec.h"

#include <blosc.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static lp_status bad(lp_ctx *ctx, const char *where, const char *what) {
    return lpi_error(ctx, LP_ERR_FORMAT, "%s: %s", where, what);
}

static int cfg_int(const json_t *cfg, const char *k, int dflt) {
    const json_t *v = cfg ? json_object_get(cfg, k) : NULL;
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

lp_status lpi_codec_from_json(lp_ctx *ctx, const char *where, const json_t *j, lpi_codec *c) {
    memset(c, 0, sizeof *c);
    const char *name = json_string_value(json_object_get(j, "name"));
    const json_t *cfg = json_object_get(j, "configuration");
    if (!name) return bad(ctx, where, "a codec needs a 'name'");
    char msg[160];
    if (!strcmp(name, "gzip")) {
        c->kind = LPI_CODEC_GZIP;
        c->level = cfg_int(cfg, "level", 5);
    } else if (!strcmp(name, "zstd")) {
        c->kind = LPI_CODEC_ZSTD;
        c->level = cfg_int(cfg, "level", 0);
        c->checksum = json_is_true(json_object_get(cfg, "checksum"));
    } else if (!strcmp(name, "blosc")) {
        c->kind = LPI_CODEC_BLOSC;
        const char *cn = json_string_value(json_object_get(cfg, "cname"));
        snprintf(c->cname, sizeof c->cname, "%s", cn ? cn : "lz4");
        c->level = cfg_int(cfg, "clevel", 5);
        const char *sh = json_string_value(json_object_get(cfg, "shuffle"));
        c->shuffle = !sh || !strcmp(sh, "noshuffle") ? 0 : !strcmp(sh, "shuffle") ? 1 : !strcmp(sh, "bitshuffle") ? 2 : -1;
        if (c->shuffle < 0) return bad(ctx, where, "blosc 'shuffle' must be noshuffle, shuffle or bitshuffle");
        c->typesize = cfg_int(cfg, "typesize", 1);
        c->blocksize = cfg_int(cfg, "blocksize", 0);
    } else if (!strcmp(name, "crc32c")) {
        c->kind = LPI_CODEC_CRC32C;
    } else {
        snprintf(msg, sizeof msg, "codec '%.40s' is not supported (supported: bytes, transpose, gzip, zstd, blosc, "
                 "crc32c, sharding_indexed)", name);
        return bad(ctx, where, msg);
    }
    return LP_OK;
}

json_t *lpi_codec_to_json(const lpi_codec *c) {
    static const char *const shuf[] = {"noshuffle", "shuffle", "bitshuffle"};
    switch (c->kind) {
    case LPI_CODEC_GZIP: return json_pack("{s:s,s:{s:i}}", "name", "gzip", "configuration", "level", c->level);
    case LPI_CODEC_ZSTD:
        return json_pack("{s:s,s:{s:i,s:b}}", "name", "zstd", "configuration", "level", c->level, "checksum", c->checksum);
    case LPI_CODEC_BLOSC:
        return json_pack("{s:s,s:{s:s,s:i,s:s,s:i,s:i}}", "name", "blosc", "configuration", "cname", c->cname, "clevel",
                         c->level, "shuffle", shuf[c->shuffle], "typesize", c->typesize, "blocksize", c->blocksize);
    default: return json_pack("{s:s}", "name", "crc32c");
    }
}

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Zarr's crc32c codec stores it. The
 * table is filled once: entry i is i shifted through the polynomial 8 times. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t lpi_crc32c(const void *data, size_t n) {
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static lp_status grow(lp_ctx *ctx, char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return LP_OK;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    char *b = lp_realloc(*buf, c);
    if (!b) return lpi_nomem(ctx);
    *buf = b;
    *cap = c;
    return LP_OK;
}

static lp_status gz_decode(lp_ctx *ctx, const char *where, const void *in, size_t n, size_t max, void **out, size_t *on) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 32 + MAX_WBITS) != Z_OK) return lpi_nomem(ctx); /* gzip or zlib header */
    char *buf = NULL;
    size_t cap = 0, len = 0;
    lp_status st = LP_OK;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if ((st = grow(ctx, &buf, &cap, len + 65536 < max + 1 ? len + 65536 : max + 1))) break;
        if (len >= cap) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: gzip data inflates past %zu bytes", where, max); break; }
        z.next_out = (Bytef *)buf + len;
        z.avail_out = (uInt)(cap - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: corrupt gzip data", where); break; }
        if (rc == Z_BUF_ERROR && z.avail_in == 0) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: truncated gzip data", where); break; }
        if (len > max) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: gzip data inflates past %zu bytes", where, max); break; }
    }
    inflateEnd(&z);
    if (st) { lp_free(buf); return st; }
    *out = buf;
    *on = len;
    return LP_OK;
}

static lp_status gz_encode(lp_ctx *ctx, const lpi_codec *c, const void *in, size_t n, void **out, size_t *on) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, c->level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return lpi_nomem(ctx);
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    char *buf = lp_malloc(cap);
    if (!buf) { deflateEnd(&z); return lpi_nomem(ctx); }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) { lp_free(buf); return lpi_error(ctx, LP_ERR_INTERNAL, "gzip compression failed"); }
    *out = buf;
    *on = len;
    return LP_OK;
}

static lp_status zstd_decode(lp_ctx *ctx, const char *where, const void *in, size_t n, size_t max, void **out, size_t *on) {
    unsigned long long want = ZSTD_getFrameContentSize(in, n);
    if (want == ZSTD_CONTENTSIZE_ERROR) return lpi_error(ctx, LP_ERR_FORMAT, "%s: not zstd data", where);
    if (want != ZSTD_CONTENTSIZE_UNKNOWN && want > max)
        return lpi_error(ctx, LP_ERR_FORMAT, "%s: zstd frame of %llu bytes exceeds %zu", where, want, max);
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds) return lpi_nomem(ctx);
    char *buf = NULL;
    size_t cap = 0, len = 0;
    lp_status st = LP_OK;
    ZSTD_inBuffer ib = {in, n, 0};
    size_t rc = 1;
    while (rc != 0) {
        size_t target = want != ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)want + 1 : len + (1 << 20);
        if (target > max + 1) target = max + 1;
        if ((st = grow(ctx, &buf, &cap, target > len ? target : len + 1))) break;
        ZSTD_outBuffer ob = {buf, cap < max + 1 ? cap : max + 1, len};
        rc = ZSTD_decompressStream(ds, &ob, &ib);
        len = ob.pos;
        if (ZSTD_isError(rc)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: corrupt zstd data (%s)", where, ZSTD_getErrorName(rc)); break; }
        if (len > max) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: zstd data decompresses past %zu bytes", where, max); break; }
        if (rc != 0 && ib.pos == ib.size && ob.pos < ob.size) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: truncated zstd data", where); break; }
    }
    ZSTD_freeDStream(ds);
    if (st) { lp_free(buf); return st; }
    *out = buf;
    *on = len;
    return LP_OK;
}

static lp_status zstd_encode(lp_ctx *ctx, const lpi_codec *c, const void *in, size_t n, void **out, size_t *on) {
    size_t cap = ZSTD_compressBound(n);
    char *buf = lp_malloc(cap ? cap : 1);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    if (!buf || !cc) { lp_free(buf); ZSTD_freeCCtx(cc); return lpi_nomem(ctx); }
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, c->level);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, c->checksum);
    size_t rc = ZSTD_compress2(cc, buf, cap, in, n); /* writes the content size into the frame */
    ZSTD_freeCCtx(cc);
    if (ZSTD_isError(rc)) { lp_free(buf); return lpi_error(ctx, LP_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(rc)); }
    *out = buf;
    *on = rc;
    return LP_OK;
}

static lp_status blosc_decode(lp_ctx *ctx, const char *where, const void *in, size_t n, size_t max, void **out,
                              size_t *on) {
    size_t nbytes = 0, cbytes = 0, bsize = 0;
    if (n < BLOSC_MIN_HEADER_LENGTH) return lpi_error(ctx, LP_ERR_FORMAT, "%s: truncated blosc data", where);
    blosc_cbuffer_sizes(in, &nbytes, &cbytes, &bsize);
    if (cbytes != n) return lpi_error(ctx, LP_ERR_FORMAT, "%s: blosc header says %zu bytes, the chunk has %zu", where, cbytes, n);
    if (nbytes > max) return lpi_error(ctx, LP_ERR_FORMAT, "%s: blosc data of %zu bytes exceeds %zu", where, nbytes, max);
    char *buf = lp_malloc(nbytes ? nbytes : 1);
    if (!buf) return lpi_nomem(ctx);
    int r = nbytes ? blosc_decompress_ctx(in, buf, nbytes, 1) : 0;
    if (r < 0 || (size_t)r != nbytes) { lp_free(buf); return lpi_error(ctx, LP_ERR_FORMAT, "%s: corrupt blosc data", where); }
    *out = buf;
    *on = nbytes;
    return LP_OK;
}

static lp_status blosc_encode(lp_ctx *ctx, const lpi_codec *c, const void *in, size_t n, void **out, size_t *on) {
    size_t cap = n + BLOSC_MAX_OVERHEAD;
    char *buf = lp_malloc(cap);
    if (!buf) return lpi_nomem(ctx);
    int r = blosc_compress_ctx(c->level, c->shuffle, (size_t)(c->typesize > 0 ? c->typesize : 1), n, in, buf, cap,
                               c->cname, (size_t)c->blocksize, 1);
    if (r <= 0) { lp_free(buf); return lpi_error(ctx, LP_ERR_VALUE, "blosc: cannot compress with '%s'", c->cname); }
    *out = buf;
    *on = (size_t)r;
    return LP_OK;
}

lp_status lpi_codec_decode(lp_ctx *ctx, const char *where, const lpi_codec *c, const void *in, size_t n, size_t max,
                           void **out, size_t *out_n) {
    *out = NULL;
    *out_n = 0;
    switch (c->kind) {
    case LPI_CODEC_GZIP: return gz_decode(ctx, where, in, n, max, out, out_n);
    case LPI_CODEC_ZSTD: return zstd_decode(ctx, where, in, n, max, out, out_n);
    case LPI_CODEC_BLOSC: return blosc_decode(ctx, where, in, n, max, out, out_n);
    default: {
        if (n < 4) return lpi_error(ctx, LP_ERR_FORMAT, "%s: shorter than its crc32c checksum", where);
        const unsigned char *p = (const unsigned char *)in + n - 4;
        uint32_t want = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (lpi_crc32c(in, n - 4) != want) return lpi_error(ctx, LP_ERR_FORMAT, "%s: crc32c checksum mismatch", where);
        if (!(*out = lp_malloc(n - 4 ? n - 4 : 1))) return lpi_nomem(ctx);
        memcpy(*out, in, n - 4);
        *out_n = n - 4;
        return LP_OK;
    }
    }
}

lp_status lpi_codec_encode(lp_ctx *ctx, const char *where, const lpi_codec *c, const void *in, size_t n, void **out,
                           size_t *out_n) {
    (void)where;
    *out = NULL;
    switch (c->kind) {
    case LPI_CODEC_GZIP: return gz_encode(ctx, c, in, n, out, out_n);
    case LPI_CODEC_ZSTD: return zstd_encode(ctx, c, in, n, out, out_n);
    case LPI_CODEC_BLOSC: return blosc_encode(ctx, c, in, n, out, out_n);
    default: {
        unsigned char *b = lp_malloc(n + 4);
        if (!b) return lpi_nomem(ctx);
        memcpy(b, in, n);
        uint32_t v = lpi_crc32c(in, n);
        for (int i = 0; i < 4; i++) b[n + i] = (unsigned char)(v >> (8 * i));
        *out = b;
        *out_n = n + 4;
        return LP_OK;
    }
    }
}
