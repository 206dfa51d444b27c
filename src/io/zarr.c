/* Zarr v3 arrays (see zarr.h).
 *
 * Reading a selection walks the chunks it touches. A chunk (an object under its key) is
 * decoded by its codec chain: the byte codecs undone in reverse, then the bytes codec (byte
 * order), then the transposes, which are not performed but folded into the strides the
 * elements are copied with. A chunk that does not exist reads as the fill value. When the
 * chain has no compression, only the byte ranges of the selected elements are read from the
 * chunk object (the .npy reader's selections). A sharded array (sharding_indexed) stores
 * shards whose index (at the end or the start) says where each inner chunk's bytes are:
 * the index is read with one ranged request, then each needed inner chunk with another.
 *
 * Metadata and chunks come from users and other machines: sizes are checked before anything
 * is allocated, a decoded chunk must have exactly its expected size, and every failure names
 * the array and the chunk. */
#include "io/zarr.h"
#include "io/codec.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define ZARR_META_MAX ((size_t)1 << 20)
#define ZARR_CHUNK_MAX ((uint64_t)1 << 30)   /* decoded bytes of one chunk */
#define MAX_BB 8

typedef struct zshard zshard;

/* A codec chain. */
typedef struct zchain {
    int perm[LP_MAX_NDIM];     /* composed transpose: encoded axis i holds decoded axis perm[i] */
    bool big;                  /* bytes codec: big-endian */
    int nbb;
    lpi_codec bb[MAX_BB];      /* bytes -> bytes, in encoding order */
    zshard *shard;             /* the array -> bytes codec is sharding_indexed */
} zchain;

struct zshard {
    int64_t inner[LP_MAX_NDIM];
    zchain chain;              /* of the inner chunks */
    zchain index;              /* of the index */
    bool at_start;
};

struct lpi_zarr {
    char *url;
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    int64_t chunk[LP_MAX_NDIM];
    char sep;
    bool v2keys;               /* chunk_key_encoding "v2": no "c" prefix */
    lpi_raw fill;              /* raw bits in dtype */
    zchain chain;
};

static lp_status fmt(lp_ctx *ctx, const char *url, const char *what) {
    return lpi_error(ctx, LP_ERR_FORMAT, "%s: zarr.json: %s", url, what);
}

/* ---- metadata ---- */

static lp_status parse_chain(lp_ctx *ctx, const char *url, const json_t *codecs, int nd, const int64_t *cshape,
                             lp_dtype dt, zchain *c, int depth);

static lp_status parse_shard(lp_ctx *ctx, const char *url, const json_t *cfg, int nd, const int64_t *cshape,
                             lp_dtype dt, zchain *c, int depth) {
    if (depth > 0) return fmt(ctx, url, "nested sharding is not supported");
    zshard *s = lp_calloc(1, sizeof *s);
    if (!s) return lpi_nomem(ctx);
    c->shard = s;
    const json_t *inner = json_object_get(cfg, "chunk_shape");
    if (!json_is_array(inner) || json_array_size(inner) != (size_t)nd) return fmt(ctx, url, "sharding needs an inner 'chunk_shape'");
    for (int i = 0; i < nd; i++) {
        const json_t *v = json_array_get(inner, (size_t)i);
        s->inner[i] = json_is_integer(v) ? json_integer_value(v) : 0;
        if (s->inner[i] <= 0 || cshape[i] % s->inner[i]) return fmt(ctx, url, "inner chunks must divide the shard shape");
    }
    const char *loc = json_string_value(json_object_get(cfg, "index_location"));
    s->at_start = loc && !strcmp(loc, "start");
    lp_status st = parse_chain(ctx, url, json_object_get(cfg, "codecs"), nd, s->inner, dt, &s->chain, depth + 1);
    if (st) return st;
    int64_t ishape[LP_MAX_NDIM + 1];
    for (int i = 0; i < nd; i++) ishape[i] = cshape[i] / s->inner[i];
    ishape[nd] = 2;
    const json_t *ic = json_object_get(cfg, "index_codecs");
    if (!ic) { /* the default: little-endian offsets and sizes, with a crc32c */
        s->index.nbb = 1;
        s->index.bb[0].kind = LPI_CODEC_CRC32C;
        for (int i = 0; i <= nd && i < LP_MAX_NDIM; i++) s->index.perm[i] = i;
        return LP_OK;
    }
    if (nd + 1 > LP_MAX_NDIM) return fmt(ctx, url, "too many dimensions for a shard index");
    if ((st = parse_chain(ctx, url, ic, nd + 1, ishape, LP_INT64, &s->index, depth + 1))) return st;
    for (int i = 0; i < s->index.nbb; i++)
        if (s->index.bb[i].kind != LPI_CODEC_CRC32C) return fmt(ctx, url, "a shard index may only have bytes and crc32c codecs");
    if (s->index.shard) return fmt(ctx, url, "a shard index cannot be sharded");
    return LP_OK;
}

static lp_status parse_chain(lp_ctx *ctx, const char *url, const json_t *codecs, int nd, const int64_t *cshape,
                             lp_dtype dt, zchain *c, int depth) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < nd; i++) c->perm[i] = i;
    if (!json_is_array(codecs) || json_array_size(codecs) == 0) return fmt(ctx, url, "'codecs' must be a non-empty list");
    bool have_ab = false;
    char where[300];
    snprintf(where, sizeof where, "%s: zarr.json", url);
    for (size_t k = 0; k < json_array_size(codecs); k++) {
        const json_t *j = json_array_get(codecs, k);
        const char *name = json_string_value(json_object_get(j, "name"));
        const json_t *cfg = json_object_get(j, "configuration");
        if (!name) return fmt(ctx, url, "a codec needs a 'name'");
        lp_status st;
        if (!strcmp(name, "transpose")) {
            if (have_ab) return fmt(ctx, url, "'transpose' must come before the bytes codec");
            const json_t *o = json_object_get(cfg, "order");
            if (!json_is_array(o) || json_array_size(o) != (size_t)nd) return fmt(ctx, url, "transpose 'order' must list every axis");
            int ord[LP_MAX_NDIM], seen = 0;
            for (int i = 0; i < nd; i++) {
                const json_t *v = json_array_get(o, (size_t)i);
                int64_t x = json_is_integer(v) ? json_integer_value(v) : -1;
                if (x < 0 || x >= nd || (seen & (1 << x))) return fmt(ctx, url, "transpose 'order' must be a permutation");
                seen |= 1 << x;
                ord[i] = (int)x;
            }
            int np[LP_MAX_NDIM];
            for (int i = 0; i < nd; i++) np[i] = c->perm[ord[i]];
            memcpy(c->perm, np, sizeof np);
        } else if (!strcmp(name, "bytes")) {
            if (have_ab) return fmt(ctx, url, "more than one array -> bytes codec");
            have_ab = true;
            const char *e = json_string_value(json_object_get(cfg, "endian"));
            if (e && strcmp(e, "little") && strcmp(e, "big")) return fmt(ctx, url, "bytes 'endian' must be little or big");
            if (!e && lp_dtype_size(dt) > 1) return fmt(ctx, url, "the bytes codec needs an 'endian'");
            c->big = e && !strcmp(e, "big");
        } else if (!strcmp(name, "sharding_indexed")) {
            if (have_ab) return fmt(ctx, url, "more than one array -> bytes codec");
            have_ab = true;
            if ((st = parse_shard(ctx, url, cfg, nd, cshape, dt, c, depth))) return st;
        } else {
            if (!have_ab) return fmt(ctx, url, "compressors come after the bytes codec");
            if (c->nbb == MAX_BB) return fmt(ctx, url, "too many codecs");
            if ((st = lpi_codec_from_json(ctx, where, j, &c->bb[c->nbb]))) return st;
            c->nbb++;
        }
    }
    if (!have_ab) return fmt(ctx, url, "no bytes codec");
    return LP_OK;
}

static void chain_free(zchain *c) {
    if (!c->shard) return;
    chain_free(&c->shard->chain);
    chain_free(&c->shard->index);
    lp_free(c->shard);
    c->shard = NULL;
}

/* a float fill value: a number or one of Zarr's strings for NaN and the infinities */
static bool fill_float(const json_t *f, double *d) {
    const char *s = json_string_value(f);
    if (json_is_number(f)) *d = json_number_value(f);
    else if (s && !strcmp(s, "NaN")) *d = NAN;
    else if (s && !strcmp(s, "Infinity")) *d = INFINITY;
    else if (s && !strcmp(s, "-Infinity")) *d = -INFINITY;
    else return false;
    return true;
}
static lp_status parse_fill(lp_ctx *ctx, const char *url, const json_t *f, lp_dtype dt, lpi_raw *out) {
    lp_scalar v;
    if (lpi_dtype_is_complex(dt) && json_is_array(f)) { /* Zarr v3: [real, imaginary] */
        double re, im;
        if (json_array_size(f) != 2 || !fill_float(json_array_get(f, 0), &re) || !fill_float(json_array_get(f, 1), &im))
            return fmt(ctx, url, "invalid 'fill_value'");
        *out = lpi_scalar_bits(lp_scalar_c(re, im), dt);
        return LP_OK;
    }
    if (json_is_boolean(f)) v = lp_scalar_b(json_is_true(f));
    else if (json_is_integer(f)) v = lp_scalar_i(json_integer_value(f));
    else if (json_is_real(f)) v = lp_scalar_f(json_real_value(f));
    else if (json_is_string(f)) {
        const char *s = json_string_value(f);
        if (!strcmp(s, "NaN")) v = lp_scalar_f(NAN);
        else if (!strcmp(s, "Infinity")) v = lp_scalar_f(INFINITY);
        else if (!strcmp(s, "-Infinity")) v = lp_scalar_f(-INFINITY);
        else if (!strncmp(s, "0x", 2) && lp_dtype_size(dt) <= 8 && strlen(s) == 2 + 2 * lp_dtype_size(dt)) {
            uint64_t b = 0;
            for (const char *p = s + 2; *p; p++) {
                int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 :
                        *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
                if (d < 0) return fmt(ctx, url, "invalid 'fill_value'");
                b = b << 4 | (uint64_t)d;
            }
            out->w[0] = b;
            out->w[1] = 0;
            return LP_OK;
        } else return fmt(ctx, url, "invalid 'fill_value'");
    } else if (json_is_null(f)) v = lp_scalar_i(0);
    else return fmt(ctx, url, "invalid 'fill_value'");
    *out = lpi_scalar_bits(v, dt);
    return LP_OK;
}

lp_status lpi_zarr_open(lp_ctx *ctx, const char *fullurl, lpi_zarr **out) {
    *out = NULL;
    char name[4200];
    const char *url = lpi_loc_redact(fullurl, name, sizeof name); /* for messages */
    char *mu = lpi_loc_join(fullurl, "zarr.json");
    if (!mu) return lpi_nomem(ctx);
    void *text;
    size_t n;
    lp_status st = lpi_io_get(ctx, mu, ZARR_META_MAX, &text, &n, NULL);
    lp_free(mu);
    if (st == LP_ERR_NOTFOUND) return lpi_error(ctx, LP_ERR_NOTFOUND, "%s: no zarr.json (not a Zarr v3 array)", url);
    if (st) return st;
    json_error_t je;
    json_t *m = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    lp_free(text);
    if (!m) return lpi_error(ctx, LP_ERR_FORMAT, "%s: zarr.json: invalid JSON at line %d: %s", url, je.line, je.text);
    lpi_zarr *z = lp_calloc(1, sizeof *z);
    if (!z || !(z->url = lp_strdup(fullurl))) { lp_free(z); json_decref(m); return lpi_nomem(ctx); }
    st = LP_OK;
    const json_t *shape = json_object_get(m, "shape"), *grid = json_object_get(m, "chunk_grid");
    const json_t *cs = json_object_get(json_object_get(grid, "configuration"), "chunk_shape");
    const char *nt = json_string_value(json_object_get(m, "node_type"));
    const char *dts = json_string_value(json_object_get(m, "data_type"));
    if (json_integer_value(json_object_get(m, "zarr_format")) != 3) st = fmt(ctx, url, "'zarr_format' is not 3 (Zarr v2 arrays are not supported)");
    else if (!nt || strcmp(nt, "array")) st = fmt(ctx, url, "not an array (node_type)");
    else if (!json_is_array(shape) || json_array_size(shape) > LP_MAX_NDIM) st = fmt(ctx, url, "'shape' must be a list of at most 8 sizes");
    else if (!dts || !lp_dtype_from_name(dts, &z->dtype) || strcmp(lp_dtype_name(z->dtype), dts)) {
        char msg[200];
        snprintf(msg, sizeof msg, "data type '%.40s' is not supported", dts ? dts : "?");
        st = fmt(ctx, url, msg);
    } else if (strcmp(json_string_value(json_object_get(grid, "name")) ? json_string_value(json_object_get(grid, "name")) : "", "regular"))
        st = fmt(ctx, url, "only the 'regular' chunk grid is supported");
    else if (!json_is_array(cs) || json_array_size(cs) != json_array_size(shape)) st = fmt(ctx, url, "'chunk_shape' must have one size per axis");
    if (!st) {
        z->ndim = (int)json_array_size(shape);
        uint64_t cb = lp_dtype_size(z->dtype);
        for (int i = 0; i < z->ndim && !st; i++) {
            const json_t *a = json_array_get(shape, (size_t)i), *b = json_array_get(cs, (size_t)i);
            z->shape[i] = json_is_integer(a) ? json_integer_value(a) : -1;
            z->chunk[i] = json_is_integer(b) ? json_integer_value(b) : -1;
            if (z->shape[i] < 0 || z->shape[i] > (INT64_C(1) << 48) || z->chunk[i] <= 0 || z->chunk[i] > (INT64_C(1) << 40))
                st = fmt(ctx, url, "invalid shape or chunk shape");
            else if (__builtin_mul_overflow(cb, (uint64_t)z->chunk[i], &cb) || cb > ZARR_CHUNK_MAX)
                st = lpi_error(ctx, LP_ERR_LIMIT, "%s: chunks of more than %llu bytes are not supported", url,
                               (unsigned long long)ZARR_CHUNK_MAX);
        }
    }
    if (!st) {
        const json_t *ke = json_object_get(m, "chunk_key_encoding");
        const char *kn = json_string_value(json_object_get(ke, "name"));
        const char *sp = json_string_value(json_object_get(json_object_get(ke, "configuration"), "separator"));
        z->v2keys = kn && !strcmp(kn, "v2");
        if (kn && strcmp(kn, "default") && strcmp(kn, "v2")) st = fmt(ctx, url, "unknown chunk_key_encoding");
        z->sep = sp ? sp[0] : z->v2keys ? '.' : '/';
        if (sp && strcmp(sp, "/") && strcmp(sp, ".")) st = fmt(ctx, url, "the key separator must be '/' or '.'");
    }
    if (!st && json_object_get(m, "storage_transformers") && json_array_size(json_object_get(m, "storage_transformers")))
        st = fmt(ctx, url, "storage transformers are not supported");
    if (!st) st = parse_chain(ctx, url, json_object_get(m, "codecs"), z->ndim, z->chunk, z->dtype, &z->chain, 0);
    if (!st) st = parse_fill(ctx, url, json_object_get(m, "fill_value"), z->dtype, &z->fill);
    json_decref(m);
    if (st) { lpi_zarr_free(z); return st; }
    *out = z;
    return LP_OK;
}

void lpi_zarr_free(lpi_zarr *z) {
    if (!z) return;
    chain_free(&z->chain);
    lp_free(z->url);
    lp_free(z);
}

lp_dtype lpi_zarr_dtype(const lpi_zarr *z) { return z->dtype; }

int lpi_zarr_shape(const lpi_zarr *z, int64_t *shape) {
    memcpy(shape, z->shape, (size_t)z->ndim * sizeof *shape);
    return z->ndim;
}

void lpi_zarr_chunk_shape(const lpi_zarr *z, int64_t *chunk) { memcpy(chunk, z->chunk, (size_t)z->ndim * sizeof *chunk); }

bool lpi_zarr_same(const lpi_zarr *a, const lpi_zarr *b) {
    return a->dtype == b->dtype && a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof a->shape) &&
           !memcmp(a->chunk, b->chunk, sizeof a->chunk) && !memcmp(&a->fill, &b->fill, sizeof a->fill);
}

/* ---- reading ---- */

/* The selection, normalised: per axis the first index i0 (smallest), a positive step, count
 * elements, destination stride; the destination base adjusted for reversed axes. */
typedef struct zread {
    lp_ctx *ctx;
    const lpi_zarr *z;
    atomic_llong *moved;
    int nd;
    size_t isz;
    int64_t i0[LP_MAX_NDIM], step[LP_MAX_NDIM], count[LP_MAX_NDIM], dstride[LP_MAX_NDIM];
    char *dst;
} zread;

/* The part of the selection inside a box [lo, hi): k ranges per axis. */
typedef struct zpart {
    int64_t lo[LP_MAX_NDIM];   /* the box origin (array coordinates) */
    int64_t k0[LP_MAX_NDIM], k1[LP_MAX_NDIM];
} zpart;

static int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

static bool part_of(const zread *R, const int64_t *lo, const int64_t *hi, zpart *p) {
    for (int i = 0; i < R->nd; i++) {
        int64_t k0 = ceil_div(lo[i] - R->i0[i], R->step[i]), k1 = ceil_div(hi[i] - R->i0[i], R->step[i]);
        if (k0 < 0) k0 = 0;
        if (k1 > R->count[i]) k1 = R->count[i];
        if (k1 <= k0) return false;
        p->lo[i] = lo[i];
        p->k0[i] = k0;
        p->k1[i] = k1;
    }
    return true;
}

/* Copy the part's elements from a decoded chunk (strides in bytes per array axis; NULL data:
 * the fill value). */
static void copy_part(const zread *R, const zpart *p, const char *src, const int64_t *sstride) {
    int64_t idx[LP_MAX_NDIM], n = 1;
    for (int i = 0; i < R->nd; i++) { idx[i] = p->k0[i]; n *= p->k1[i] - p->k0[i]; }
    const size_t isz = R->isz;
    for (int64_t t = 0; t < n; t++) {
        char *d = R->dst;
        const char *s = src;
        for (int i = 0; i < R->nd; i++) {
            d += idx[i] * R->dstride[i];
            if (src) s += (R->i0[i] + R->step[i] * idx[i] - p->lo[i]) * sstride[i];
        }
        memcpy(d, src ? s : (const char *)&R->z->fill, isz); /* little-endian host: the value's low bytes */
        for (int i = R->nd - 1; i >= 0; i--) {
            if (++idx[i] < p->k1[i]) break;
            idx[i] = p->k0[i];
        }
    }
}

/* Byte strides of the decoded axes in an encoded buffer of a chunk of shape cs. */
static void chain_strides(const zchain *c, int nd, const int64_t *cs, size_t isz, int64_t *stride) {
    int64_t s = (int64_t)isz;
    for (int i = nd - 1; i >= 0; i--) { /* encoded axis i is decoded axis perm[i] */
        stride[c->perm[i]] = s;
        s *= cs[c->perm[i]];
    }
}

/* Undo the byte codecs of a chunk: *raw (lp_free) receives exactly `want` bytes. */
static lp_status unbytes(lp_ctx *ctx, const char *where, const zchain *c, void *data, size_t n, size_t want, void **raw) {
    for (int k = c->nbb - 1; k >= 0; k--) {
        void *o;
        size_t on;
        lp_status st = lpi_codec_decode(ctx, where, &c->bb[k], data, n, want + 64, &o, &on);
        lp_free(data);
        if (st) return st;
        data = o;
        n = on;
    }
    if (n != want) {
        lp_free(data);
        return lpi_error(ctx, LP_ERR_FORMAT, "%s: decodes to %zu bytes, a chunk has %zu", where, n, want);
    }
    *raw = data;
    return LP_OK;
}

static void fix_bytes(const lpi_zarr *z, bool big, void *data, size_t n) {
    lpi_layout L;
    memset(&L, 0, sizeof L);
    L.isz = lp_dtype_size(z->dtype);
    L.boolfix = z->dtype == LP_BOOL;
    L.swap = !L.boolfix && big != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) && L.isz > 1 ? lpi_swap_unit(z->dtype) : 0;
    lpi_layout_fix(&L, data, n);
}

/* Decode an encoded chunk (not sharded) and copy the part from it. */
static lp_status decode_copy(zread *R, const char *where, const zchain *c, const int64_t *cs, void *data, size_t n,
                             const zpart *p) {
    int64_t elems = 1;
    for (int i = 0; i < R->nd; i++) elems *= cs[i];
    void *raw = NULL;
    lp_status st = unbytes(R->ctx, where, c, data, n, (size_t)elems * R->isz, &raw);
    if (st) return st;
    fix_bytes(R->z, c->big, raw, (size_t)elems);
    int64_t sstride[LP_MAX_NDIM];
    chain_strides(c, R->nd, cs, R->isz, sstride);
    copy_part(R, p, raw, sstride);
    lp_free(raw);
    return LP_OK;
}

static void chunk_key(const lpi_zarr *z, const int64_t *cidx, char *key, size_t cap) {
    size_t k = 0;
    if (!z->v2keys) k += (size_t)snprintf(key, cap, "c");
    for (int i = 0; i < z->ndim && k < cap; i++)
        k += (size_t)snprintf(key + k, cap - k, "%s%lld", (i || !z->v2keys) ? (char[2]){z->sep, 0} : "", (long long)cidx[i]);
    if (z->ndim == 0 && z->v2keys) snprintf(key, cap, "0");
}

/* A missing chunk is an answer (it holds fill values), not a failure: it leaves no message.
 * Other failures are tried again with the message recorded. */
static lp_status open_quiet(lp_ctx *ctx, const char *url, lpi_src **src) {
    lp_status st = lpi_src_open(NULL, url, src);
    if (st && st != LP_ERR_NOTFOUND) st = lpi_src_open(ctx, url, src);
    return st;
}

/* Read the part of a shard: its index, then each needed inner chunk's byte range. */
static lp_status read_shard(zread *R, const char *url, const int64_t *slo, const zpart *sp) {
    const lpi_zarr *z = R->z;
    const zshard *sh = z->chain.shard;
    lpi_src *src;
    lp_status st = open_quiet(R->ctx, url, &src);
    if (st == LP_ERR_NOTFOUND) { copy_part(R, sp, NULL, NULL); return LP_OK; } /* never written: fill values */
    if (st) return st;
    int64_t nin[LP_MAX_NDIM], ninner = 1;
    for (int i = 0; i < R->nd; i++) { nin[i] = z->chunk[i] / sh->inner[i]; ninner *= nin[i]; }
    size_t ibytes = (size_t)ninner * 16, itot = ibytes;
    for (int k = 0; k < sh->index.nbb; k++) itot += 4; /* crc32c */
    int64_t size = lpi_src_id(src)->size;
    char wbuf[4200];
    const char *where = lpi_loc_redact(url, wbuf, sizeof wbuf); /* for messages */
    void *idx = NULL;
    if ((int64_t)itot > size) st = lpi_error(R->ctx, LP_ERR_FORMAT, "%s: shard shorter than its index", where);
    else if (!(idx = lp_malloc(itot))) st = lpi_nomem(R->ctx);
    else st = lpi_src_read(R->ctx, src, sh->at_start ? 0 : size - (int64_t)itot, itot, idx);
    void *raw = NULL;
    if (!st) { st = unbytes(R->ctx, where, &sh->index, idx, itot, ibytes, &raw); idx = NULL; }
    lp_free(idx);
    const uint64_t *ent = raw;
    /* each inner chunk the part touches */
    int64_t c0[LP_MAX_NDIM], c1[LP_MAX_NDIM], ci[LP_MAX_NDIM], total = 1;
    for (int i = 0; i < R->nd && !st; i++) {
        int64_t a = R->i0[i] + R->step[i] * sp->k0[i] - slo[i], b = R->i0[i] + R->step[i] * (sp->k1[i] - 1) - slo[i];
        c0[i] = a / sh->inner[i];
        c1[i] = b / sh->inner[i] + 1;
        ci[i] = c0[i];
        total *= c1[i] - c0[i];
    }
    for (int64_t t = 0; t < total && !st; t++) {
        int64_t lo[LP_MAX_NDIM], hi[LP_MAX_NDIM], lin = 0;
        for (int i = 0; i < R->nd; i++) {
            lo[i] = slo[i] + ci[i] * sh->inner[i];
            hi[i] = lo[i] + sh->inner[i];
            lin = lin * nin[i] + ci[i];
        }
        zpart p;
        if (part_of(R, lo, hi, &p)) {
            uint64_t off = ent[2 * lin], nb = ent[2 * lin + 1];
            if (sh->index.big) { off = __builtin_bswap64(off); nb = __builtin_bswap64(nb); }
            if (off == UINT64_MAX && nb == UINT64_MAX) {
                copy_part(R, &p, NULL, NULL);
            } else if (off > (uint64_t)size || nb > (uint64_t)size - off || nb > ZARR_CHUNK_MAX * 2) {
                st = lpi_error(R->ctx, LP_ERR_FORMAT, "%s: shard index entry %lld is outside the shard", where, (long long)lin);
            } else {
                void *b = lp_malloc(nb ? (size_t)nb : 1);
                if (!b) st = lpi_nomem(R->ctx);
                else if ((st = lpi_src_read(R->ctx, src, (int64_t)off, (size_t)nb, b))) lp_free(b);
                else st = decode_copy(R, where, &sh->chain, sh->inner, b, (size_t)nb, &p);
            }
        }
        for (int i = R->nd - 1; i >= 0; i--) {
            if (++ci[i] < c1[i]) break;
            ci[i] = c0[i];
        }
    }
    lp_free(raw);
    atomic_fetch_add(R->moved, lpi_src_bytes(src));
    lpi_src_close(src);
    return st;
}

/* One chunk of the array (or one shard). */
static lp_status read_chunk(zread *R, const int64_t *cidx, const zpart *p) {
    const lpi_zarr *z = R->z;
    char key[LP_MAX_NDIM * 22 + 8];
    chunk_key(z, cidx, key, sizeof key);
    char *url = lpi_loc_join(z->url, key), nm[4200];
    if (!url) return lpi_nomem(R->ctx);
    const char *name = lpi_loc_redact(url, nm, sizeof nm); /* for messages */
    lp_status st;
    if (z->chain.shard) {
        int64_t lo[LP_MAX_NDIM];
        for (int i = 0; i < R->nd; i++) lo[i] = cidx[i] * z->chunk[i];
        st = read_shard(R, url, lo, p);
    } else if (z->chain.nbb == 0) {
        /* uncompressed: read only the bytes of the selected elements */
        lpi_src *src;
        st = open_quiet(R->ctx, url, &src);
        if (st == LP_ERR_NOTFOUND) {
            copy_part(R, p, NULL, NULL);
            st = LP_OK;
        } else if (!st) {
            lpi_layout L;
            memset(&L, 0, sizeof L);
            L.ndim = R->nd;
            L.isz = R->isz;
            L.boolfix = z->dtype == LP_BOOL;
            L.swap = !L.boolfix && z->chain.big != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) && R->isz > 1 ? lpi_swap_unit(z->dtype) : 0;
            chain_strides(&z->chain, R->nd, z->chunk, R->isz, L.stride);
            int64_t elems = 1;
            for (int i = 0; i < R->nd; i++) elems *= z->chunk[i];
            lpi_sel s;
            char *d = R->dst;
            for (int i = 0; i < R->nd; i++) {
                s.start[i] = R->i0[i] + R->step[i] * p->k0[i] - cidx[i] * z->chunk[i];
                s.step[i] = R->step[i];
                s.count[i] = p->k1[i] - p->k0[i];
                s.dstride[i] = R->dstride[i];
                d += p->k0[i] * R->dstride[i];
            }
            if (lpi_src_id(src)->size != elems * (int64_t)R->isz)
                st = lpi_error(R->ctx, LP_ERR_FORMAT, "%s: %lld bytes; an uncompressed chunk has %lld", name,
                               (long long)lpi_src_id(src)->size, (long long)(elems * (int64_t)R->isz));
            else st = lpi_sel_read(R->ctx, src, &L, &s, d);
            atomic_fetch_add(R->moved, lpi_src_bytes(src));
            lpi_src_close(src);
        }
    } else {
        void *data;
        size_t n;
        int64_t mv = 0;
        st = lpi_io_get(NULL, url, (size_t)ZARR_CHUNK_MAX * 2, &data, &n, &mv);
        if (st && st != LP_ERR_NOTFOUND) st = lpi_io_get(R->ctx, url, (size_t)ZARR_CHUNK_MAX * 2, &data, &n, &mv);
        atomic_fetch_add(R->moved, mv);
        if (st == LP_ERR_NOTFOUND) {
            copy_part(R, p, NULL, NULL);
            st = LP_OK;
        } else if (!st) {
            st = decode_copy(R, name, &z->chain, z->chunk, data, n, p);
        }
    }
    lp_free(url);
    return st;
}

lp_status lpi_zarr_read(lp_ctx *ctx, const lpi_zarr *z, const lpi_sel *sel, char *dst, atomic_llong *moved) {
    zread R = {.ctx = ctx, .z = z, .moved = moved, .nd = z->ndim, .isz = lp_dtype_size(z->dtype), .dst = dst};
    for (int i = 0; i < z->ndim; i++) {
        int64_t c = sel->count[i], st = c > 1 ? sel->step[i] : 1, ds = sel->dstride[i], s0 = sel->start[i];
        if (c <= 0) return LP_OK;
        if (st < 0) { s0 += st * (c - 1); R.dst += ds * (c - 1); st = -st; ds = -ds; }
        R.i0[i] = s0;
        R.step[i] = st;
        R.count[i] = c;
        R.dstride[i] = ds;
    }
    /* the chunks the selection's bounding box touches; those without a selected element are skipped */
    int64_t c0[LP_MAX_NDIM], c1[LP_MAX_NDIM], ci[LP_MAX_NDIM], total = 1;
    for (int i = 0; i < z->ndim; i++) {
        c0[i] = R.i0[i] / z->chunk[i];
        c1[i] = (R.i0[i] + R.step[i] * (R.count[i] - 1)) / z->chunk[i] + 1;
        ci[i] = c0[i];
        total *= c1[i] - c0[i];
    }
    lp_status st = LP_OK;
    for (int64_t t = 0; t < total && !st; t++) {
        int64_t lo[LP_MAX_NDIM], hi[LP_MAX_NDIM];
        for (int i = 0; i < z->ndim; i++) { lo[i] = ci[i] * z->chunk[i]; hi[i] = lo[i] + z->chunk[i]; }
        zpart p;
        if (part_of(&R, lo, hi, &p)) st = read_chunk(&R, ci, &p);
        for (int i = z->ndim - 1; i >= 0; i--) {
            if (++ci[i] < c1[i]) break;
            ci[i] = c0[i];
        }
    }
    return st;
}

/* ---- writing ---- */

lp_status lpi_zarr_write(lp_ctx *ctx, const char *url, lp_dtype dt, int ndim, const int64_t *shape, const void *data,
                         const lpi_zarr_write_opts *opts) {
    lpi_zarr_write_opts o = {0};
    if (opts) o = *opts;
    const size_t isz = lp_dtype_size(dt);
    int64_t cs[LP_MAX_NDIM], nch[LP_MAX_NDIM], total = 1, celems = 1;
    /* about 1 MiB per chunk: trailing axes whole, the leading ones split */
    int64_t inner = (int64_t)isz;
    for (int i = ndim - 1; i >= 0; i--) {
        int64_t n = shape[i] > 0 ? shape[i] : 1;
        if (o.chunks && o.chunks[i] > 0) cs[i] = o.chunks[i];
        else if (inner * n <= (1 << 20)) cs[i] = n;
        else cs[i] = (1 << 20) / inner > 0 ? (1 << 20) / inner : 1;
        inner *= cs[i];
    }
    for (int i = 0; i < ndim; i++) {
        nch[i] = (shape[i] + cs[i] - 1) / cs[i];
        total *= nch[i];
        celems *= cs[i];
    }
    if ((uint64_t)celems * isz > ZARR_CHUNK_MAX) return lpi_error(ctx, LP_ERR_LIMIT, "%s: chunks of more than 1 GiB", url);
    lpi_codec codec;
    memset(&codec, 0, sizeof codec);
    const char *cn = o.codec ? o.codec : "zstd";
    bool none = !strcmp(cn, "none");
    if (!strcmp(cn, "gzip")) { codec.kind = LPI_CODEC_GZIP; codec.level = o.level ? o.level : 5; }
    else if (!strcmp(cn, "zstd")) { codec.kind = LPI_CODEC_ZSTD; codec.level = o.level ? o.level : 3; }
    else if (!strcmp(cn, "blosc")) {
        codec.kind = LPI_CODEC_BLOSC;
        snprintf(codec.cname, sizeof codec.cname, "lz4");
        codec.level = o.level ? o.level : 5;
        codec.shuffle = 1;
        codec.typesize = (int)isz;
    } else if (!none) return lpi_error(ctx, LP_ERR_VALUE, "%s: unknown codec '%.20s' (none, gzip, zstd, blosc)", url, cn);
    bool fortran = o.fortran && ndim >= 2;
    bool swap = o.big_endian && isz > 1 && dt != LP_BOOL;
    char *buf = lp_malloc(celems > 0 ? (size_t)celems * isz : 1);
    if (!buf) return lpi_nomem(ctx);
    lpi_zarr zk = {.ndim = ndim, .sep = '/'};
    lp_status st = LP_OK;
    int64_t ci[LP_MAX_NDIM] = {0};
    int64_t cstr[LP_MAX_NDIM], s = (int64_t)isz; /* strides of the source array */
    for (int i = ndim - 1; i >= 0; i--) { cstr[i] = s; s *= shape[i]; }
    int64_t estr[LP_MAX_NDIM]; /* strides of the chunk buffer per array axis (C or Fortran order) */
    s = (int64_t)isz;
    for (int k = 0; k < ndim; k++) {
        int i = fortran ? k : ndim - 1 - k;
        estr[i] = s;
        s *= cs[i];
    }
    int64_t nelem = 1;
    for (int i = 0; i < ndim; i++) nelem *= shape[i];
    for (int64_t t = 0; t < total && !st && nelem > 0; t++) {
        memset(buf, 0, (size_t)celems * isz); /* the fill value (0) past the array's edge */
        int64_t idx[LP_MAX_NDIM] = {0}, ext[LP_MAX_NDIM], n = 1;
        for (int i = 0; i < ndim; i++) {
            ext[i] = shape[i] - ci[i] * cs[i] < cs[i] ? shape[i] - ci[i] * cs[i] : cs[i];
            n *= ext[i];
        }
        for (int64_t e = 0; e < n; e++) {
            const char *src = data;
            char *d = buf;
            for (int i = 0; i < ndim; i++) { src += (ci[i] * cs[i] + idx[i]) * cstr[i]; d += idx[i] * estr[i]; }
            memcpy(d, src, isz);
            for (int i = ndim - 1; i >= 0; i--) {
                if (++idx[i] < ext[i]) break;
                idx[i] = 0;
            }
        }
        if (swap) fix_bytes(&(lpi_zarr){.dtype = dt}, true, buf, (size_t)celems);
        char key[LP_MAX_NDIM * 22 + 8], *ku;
        chunk_key(&zk, ci, key, sizeof key);
        if (!(ku = lpi_loc_join(url, key))) { st = lpi_nomem(ctx); break; }
        if (none) st = lpi_io_put(ctx, ku, true, buf, (size_t)celems * isz);
        else {
            void *enc;
            size_t en;
            if (!(st = lpi_codec_encode(ctx, ku, &codec, buf, (size_t)celems * isz, &enc, &en))) {
                st = lpi_io_put(ctx, ku, true, enc, en);
                lp_free(enc);
            }
        }
        lp_free(ku);
        for (int i = ndim - 1; i >= 0; i--) {
            if (++ci[i] < nch[i]) break;
            ci[i] = 0;
        }
    }
    lp_free(buf);
    if (st) return st;
    /* the metadata last: a reader finds a complete array or none */
    json_t *codecs = json_array(), *jshape = json_array(), *jcs = json_array(), *order = json_array();
    for (int i = 0; i < ndim; i++) {
        json_array_append_new(jshape, json_integer(shape[i]));
        json_array_append_new(jcs, json_integer(cs[i]));
        json_array_append_new(order, json_integer(ndim - 1 - i));
    }
    if (fortran) json_array_append_new(codecs, json_pack("{s:s,s:{s:o}}", "name", "transpose", "configuration", "order", order));
    else json_decref(order);
    json_array_append_new(codecs, json_pack("{s:s,s:{s:s}}", "name", "bytes", "configuration", "endian",
                                            swap ? "big" : "little"));
    if (!none) json_array_append_new(codecs, lpi_codec_to_json(&codec));
    json_t *fill = dt == LP_BOOL ? json_false() : lpi_dtype_kind(dt) == LPI_KIND_FLOAT ? json_real(0.0)
                 : lpi_dtype_is_complex(dt) ? json_pack("[ff]", 0.0, 0.0) : json_integer(0);
    json_t *meta = json_pack("{s:i,s:s,s:o,s:s,s:{s:s,s:{s:o}},s:{s:s,s:{s:s}},s:o,s:o,s:{}}", "zarr_format", 3, "node_type",
                             "array", "shape", jshape, "data_type", lp_dtype_name(dt), "chunk_grid", "name", "regular",
                             "configuration", "chunk_shape", jcs, "chunk_key_encoding", "name", "default",
                             "configuration", "separator", "/", "fill_value", fill, "codecs", codecs, "attributes");
    char *text = meta ? json_dumps(meta, JSON_INDENT(2)) : NULL;
    json_decref(meta);
    if (!text) return lpi_nomem(ctx);
    char *mu = lpi_loc_join(url, "zarr.json");
    st = mu ? lpi_io_put(ctx, mu, true, text, strlen(text)) : lpi_nomem(ctx);
    lp_free(mu);
    free(text);
    return st;
}
