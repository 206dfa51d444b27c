/* The store front: URL dispatch, the key rule, the chunk header codec, and the checks every
 * backend shares (arguments, size limit, checksum), so each exists exactly once. */
#include "store/internal.h"
#include "store/auth.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the chunk format stores little-endian data; big-endian hosts are not supported"
#endif

/* ---- keys ---------------------------------------------------------------------------------- */

static bool key_char_ok(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '/';
}

bool lpi_store_key_valid(const char *key, const char **why) {
    const char *dummy;
    if (!why) why = &dummy;
    if (!key || !*key) { *why = "empty key"; return false; }
    size_t len = 0;
    for (const char *p = key; *p; p++, len++) {
        if (len >= LPI_STORE_KEY_MAX) { *why = "longer than 200 characters"; return false; }
        if (!key_char_ok((unsigned char)*p)) {
            *why = "characters must be letters, digits, '.', '_', '-' or '/'";
            return false;
        }
    }
    if (key[0] == '/') { *why = "leading '/'"; return false; }
    /* walk components */
    const char *c = key;
    for (;;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 0) { *why = "empty path component"; return false; }
        if (n == 1 && c[0] == '.') { *why = "'.' component"; return false; }
        if (n == 2 && c[0] == '.' && c[1] == '.') { *why = "'..' component"; return false; }
        if (!e) break;
        c = e + 1;
    }
    return true;
}

/* Print at most 64 characters of a user-given key, non-printable bytes as '?', for messages. */
static const char *key_for_msg(char *buf, size_t cap, const char *key) {
    size_t i = 0;
    if (!key) key = "(null)";
    for (; key[i] && i + 4 < cap && i < 64; i++)
        buf[i] = (key[i] >= 0x20 && key[i] < 0x7f) ? key[i] : '?';
    if (key[i]) { memcpy(buf + i, "...", 3); i += 3; }
    buf[i] = 0;
    return buf;
}

lp_status lpi_store_key_check(lp_ctx *ctx, const char *key) {
    const char *why;
    if (lpi_store_key_valid(key, &why)) return LP_OK;
    char kb[80];
    return lpi_error(ctx, LP_ERR_VALUE, "invalid chunk key \"%s\": %s",
                     key_for_msg(kb, sizeof kb, key), why);
}

/* ---- header codec ------------------------------------------------------------------------ */

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

enum { OFF_VERSION = 4, OFF_DTYPE = 6, OFF_NDIM = 7, OFF_SHAPE = 8, OFF_NBYTES = 72,
       OFF_CHECKSUM = 80, OFF_HDRSUM = 88 };

void lpi_chunk_header_encode(const lpi_chunk_info *info, uint8_t out[LPI_CHUNK_HDR_SIZE]) {
    memset(out, 0, LPI_CHUNK_HDR_SIZE);
    memcpy(out, LPI_CHUNK_MAGIC, 4);
    put_u16(out + OFF_VERSION, LPI_CHUNK_VERSION);
    out[OFF_DTYPE] = (uint8_t)info->dtype;
    out[OFF_NDIM] = (uint8_t)info->ndim;
    for (int i = 0; i < info->ndim && i < LP_MAX_NDIM; i++)
        put_u64(out + OFF_SHAPE + 8 * i, (uint64_t)info->shape[i]);
    put_u64(out + OFF_NBYTES, info->nbytes);
    put_u64(out + OFF_CHECKSUM, info->checksum);
    put_u64(out + OFF_HDRSUM, XXH3_64bits(out, OFF_HDRSUM));
}

/* prod(shape) * itemsize without overflow; false if a dim is negative or the product overflows. */
static bool shape_bytes(lp_dtype dt, int ndim, const int64_t *shape, uint64_t *out) {
    int64_t n;
    if (!lpi_shape_size(ndim, shape, &n)) return false;
    uint64_t b;
    if (__builtin_mul_overflow((uint64_t)n, (uint64_t)lp_dtype_size(dt), &b)) return false;
    *out = b;
    return true;
}

lp_status lpi_chunk_header_decode(lp_ctx *ctx, const char *key, const uint8_t *hdr,
                                  uint64_t max_nbytes, lpi_chunk_info *out) {
    if (memcmp(hdr, LPI_CHUNK_MAGIC, 4) != 0)
        return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: not a Lampy chunk (bad magic)", key);
    unsigned version = get_u16(hdr + OFF_VERSION);
    if (version != LPI_CHUNK_VERSION)
        return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: unsupported chunk format version %u",
                         key, version);
    uint64_t stored = get_u64(hdr + OFF_HDRSUM), computed = XXH3_64bits(hdr, OFF_HDRSUM);
    if (stored != computed)
        return lpi_error(ctx, LP_ERR_FORMAT,
                         "chunk %s: header checksum mismatch (stored 0x%016" PRIx64
                         ", computed 0x%016" PRIx64 ")", key, stored, computed);
    memset(out, 0, sizeof *out);
    unsigned dt = hdr[OFF_DTYPE], ndim = hdr[OFF_NDIM];
    if (dt >= LP_DTYPE_COUNT)
        return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: invalid dtype %u in header", key, dt);
    if (ndim > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: ndim %u in header exceeds %d", key, ndim,
                         LP_MAX_NDIM);
    for (int i = 0; i < LP_MAX_NDIM; i++) {
        uint64_t d = get_u64(hdr + OFF_SHAPE + 8 * i);
        if ((unsigned)i >= ndim) {
            if (d != 0)
                return lpi_error(ctx, LP_ERR_FORMAT,
                                 "chunk %s: shape entry %d past ndim %u is not zero", key, i, ndim);
            continue;
        }
        if (d > (uint64_t)INT64_MAX)
            return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: negative dimension in header", key);
        out->shape[i] = (int64_t)d;
    }
    out->dtype = (lp_dtype)dt;
    out->ndim = (int)ndim;
    out->nbytes = get_u64(hdr + OFF_NBYTES);
    out->checksum = get_u64(hdr + OFF_CHECKSUM);
    uint64_t want;
    char sb[256];
    if (!shape_bytes(out->dtype, out->ndim, out->shape, &want))
        return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: shape %s in header is too large", key,
                         lpi_shape_str(sb, sizeof sb, out->ndim, out->shape));
    if (want != out->nbytes)
        return lpi_error(ctx, LP_ERR_FORMAT,
                         "chunk %s: header says %" PRIu64 " data bytes but shape %s of %s needs %"
                         PRIu64, key, out->nbytes,
                         lpi_shape_str(sb, sizeof sb, out->ndim, out->shape),
                         lp_dtype_name(out->dtype), want);
    if (out->nbytes > max_nbytes)
        return lpi_error(ctx, LP_ERR_LIMIT,
                         "chunk %s: %" PRIu64 " data bytes exceed the store's limit of %" PRIu64,
                         key, out->nbytes, max_nbytes);
    return LP_OK;
}

lp_status lpi_chunk_info_make(lp_ctx *ctx, const char *key, lp_dtype dtype, int ndim,
                              const int64_t *shape, const void *data, size_t nbytes,
                              lpi_chunk_info *out) {
    if ((unsigned)dtype >= LP_DTYPE_COUNT)
        return lpi_error(ctx, LP_ERR_TYPE, "chunk %s: invalid dtype %d", key, (int)dtype);
    if (ndim < 0 || ndim > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_VALUE, "chunk %s: ndim %d is out of range 0..%d", key, ndim,
                         LP_MAX_NDIM);
    if (ndim > 0 && !shape)
        return lpi_error(ctx, LP_ERR_VALUE, "chunk %s: no shape given", key);
    uint64_t want;
    if (!shape_bytes(dtype, ndim, shape, &want))
        return lpi_error(ctx, LP_ERR_VALUE, "chunk %s: invalid shape (negative or too large)", key);
    if (want != nbytes) {
        char sb[256];
        return lpi_error(ctx, LP_ERR_VALUE, "chunk %s: shape %s of %s needs %" PRIu64
                         " bytes, got %zu", key, lpi_shape_str(sb, sizeof sb, ndim, shape),
                         lp_dtype_name(dtype), want, nbytes);
    }
    if (nbytes && !data) return lpi_error(ctx, LP_ERR_VALUE, "chunk %s: no data given", key);
    memset(out, 0, sizeof *out);
    out->dtype = dtype;
    out->ndim = ndim;
    for (int i = 0; i < ndim; i++) out->shape[i] = shape[i];
    out->nbytes = nbytes;
    out->checksum = XXH3_64bits(nbytes ? data : "", nbytes);
    return LP_OK;
}

lp_status lpi_chunk_checksum_error(lp_ctx *ctx, const char *key, uint64_t stored,
                                   uint64_t computed) {
    return lpi_error(ctx, LP_ERR_FORMAT,
                     "chunk %s: checksum mismatch (stored 0x%016" PRIx64 ", computed 0x%016" PRIx64
                     ")", key, stored, computed);
}

lp_status lpi_chunk_range_check(lp_ctx *ctx, const char *key, uint64_t off, uint64_t n,
                                uint64_t nbytes) {
    uint64_t end;
    if (__builtin_add_overflow(off, n, &end))
        return lpi_error(ctx, LP_ERR_VALUE, "chunk %s: byte range at %" PRIu64 " of %" PRIu64
                         " bytes overflows", key, off, n);
    if (end > nbytes)
        return lpi_error(ctx, LP_ERR_VALUE,
                         "chunk %s: byte range [%" PRIu64 ", %" PRIu64
                         ") is outside its %" PRIu64 " data bytes", key, off, end, nbytes);
    return LP_OK;
}

/* ---- store identity ----------------------------------------------------------------------- */

bool lpi_store_url_canon(const char *url, char *out, size_t cap) {
    if (!url || cap < 16) return false;
    bool redis = !strncmp(url, "redis://", 8), http = !strncmp(url, "http://", 7), https = !strncmp(url, "https://", 8);
    if (!redis && !http && !https) {
        if (strncmp(url, "file://", 7) && strncmp(url, "mem://", 6)) return false;
        size_t n = strlen(url);
        while (n > 8 && url[n - 1] == '/') n--;
        if (n >= cap) return false;
        memcpy(out, url, n);
        out[n] = 0;
        return true;
    }
    const char *a = strstr(url, "://") + 3;
    const char *end = a + strcspn(a, "/?#");
    const char *at = memchr(a, '@', (size_t)(end - a));
    if (at && !redis) return false;
    const char *h = at ? at + 1 : a, *he, *port = NULL;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb) return false;
        he = rb + 1;
        if (*he == ':') port = he + 1;
        else if (he != end) return false;
    } else {
        const char *c = memchr(h, ':', (size_t)(end - h));
        he = c ? c : end;
        if (c) port = c + 1;
    }
    if (he == h) return false;
    unsigned long pv = redis ? 6379 : https ? 443 : 80;
    if (port) {
        char *e;
        if (port == end || !(*port >= '0' && *port <= '9')) return false;
        pv = strtoul(port, &e, 10);
        if (e != end || pv == 0 || pv > 65535) return false;
    }
    char host[300];
    size_t hl = (size_t)(he - h);
    if (hl >= sizeof host) return false;
    for (size_t i = 0; i < hl; i++) host[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] + 32 : h[i]);
    host[hl] = 0;
    int n;
    if (redis) {
        unsigned long db = 0;
        if (*end == '/' && end[1]) {
            char *e;
            if (!(end[1] >= '0' && end[1] <= '9')) return false;
            db = strtoul(end + 1, &e, 10);
            if (*e || db > 1000000) return false;
        } else if (*end && strcmp(end, "/")) {
            return false;
        }
        n = snprintf(out, cap, "redis://%s:%lu/%lu", host, pv, db);
    } else {
        if (strpbrk(end, "?#")) return false;
        size_t pl = strlen(end);
        while (pl && end[pl - 1] == '/') pl--;
        n = snprintf(out, cap, "%s://%s:%lu%.*s", https ? "https" : "http", host, pv, (int)pl, end);
    }
    return n > 0 && (size_t)n < cap;
}

/* ---- opening ---------------------------------------------------------------------------- */

lp_status lpi_store_open(lp_ctx *ctx, const char *url, lpi_store **out) {
    *out = NULL;
    if (!url) return lpi_error(ctx, LP_ERR_VALUE, "no store URL given");
    lp_status st;
    lpi_store *s = NULL;
    if (strncmp(url, "mem://", 6) == 0) st = lpi_store_mem_open(ctx, url + 6, &s);
    else if (strncmp(url, "file://", 7) == 0) st = lpi_store_file_open(ctx, url + 7, &s);
    else if (strncmp(url, "redis://", 8) == 0) st = lpi_store_redis_open(ctx, url, url + 8, &s);
    else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
        st = lpi_store_http_open(ctx, url, &s);
    else {
        /* only the scheme: the rest of a URL may hold a password */
        char kb[80];
        size_t n = strcspn(url, ":/@");
        key_for_msg(kb, sizeof kb, url);
        if (n < sizeof kb) kb[n] = 0;
        return lpi_error(ctx, LP_ERR_VALUE,
                         "store URL scheme \"%s\": expected mem://, file://, redis:// or http://",
                         kb);
    }
    if (st != LP_OK) return st;
    s->url = lp_strdup(url);
    if (!s->url) { s->vt->close(s); return lpi_nomem(ctx); }
    s->max_chunk = LPI_STORE_DEFAULT_MAX_CHUNK;
    *out = s;
    return LP_OK;
}

lp_status lpi_store_open_dir(lp_ctx *ctx, const char *dir, lpi_store **out) {
    *out = NULL;
    if (!dir || !*dir) return lpi_error(ctx, LP_ERR_VALUE, "no store directory given");
    size_t n = strlen(dir);
    char *url = lp_malloc(n + 8);
    if (!url) return lpi_nomem(ctx);
    memcpy(url, "file://", 7);
    memcpy(url + 7, dir, n + 1);
    lp_status st = lpi_store_open(ctx, url, out);
    lp_free(url);
    return st;
}

void lpi_store_close(lpi_store *s) {
    if (!s) return;
    char *url = s->url, *ca = s->ca_file;
    lpi_key *key = s->key;
    s->vt->close(s);
    lp_free(url);
    lp_free(ca);
    lpi_key_release(key);
}

lp_status lpi_store_set_auth(lp_ctx *ctx, lpi_store *s, lpi_key *key, const char *ca_file) {
    char *ca = ca_file ? lp_strdup(ca_file) : NULL;
    if (ca_file && !ca) return lpi_nomem(ctx);
    lp_free(s->ca_file);
    s->ca_file = ca;
    lpi_key *old = s->key;
    s->key = lpi_key_retain(key);
    lpi_key_release(old);
    return LP_OK;
}

const char *lpi_store_url(const lpi_store *s) { return s->url; }
void lpi_store_set_max_chunk_bytes(lpi_store *s, uint64_t max_bytes) { s->max_chunk = max_bytes; }
uint64_t lpi_store_max_chunk_bytes(const lpi_store *s) { return s->max_chunk; }

/* ---- operations ------------------------------------------------------------------------- */

lp_status lpi_store_put(lp_ctx *ctx, lpi_store *s, const char *key, lp_dtype dtype, int ndim,
                        const int64_t *shape, const void *data, size_t nbytes) {
    lp_status st = lpi_store_key_check(ctx, key);
    if (st != LP_OK) return st;
    /* The limit first: a caller handing us 2 GiB should not pay for hashing it. */
    if (nbytes > s->max_chunk)
        return lpi_error(ctx, LP_ERR_LIMIT,
                         "chunk %s: %zu data bytes exceed the store's limit of %" PRIu64, key,
                         nbytes, s->max_chunk);
    lpi_chunk_info info;
    if ((st = lpi_chunk_info_make(ctx, key, dtype, ndim, shape, data, nbytes, &info)) != LP_OK)
        return st;
    uint8_t hdr[LPI_CHUNK_HDR_SIZE];
    lpi_chunk_header_encode(&info, hdr);
    return s->vt->put(ctx, s, key, &info, hdr, data);
}

lp_status lpi_store_put_buffer(lp_ctx *ctx, lpi_store *s, const char *key, const lp_buffer *buf) {
    if (!buf) return lpi_error(ctx, LP_ERR_VALUE, "chunk %s: no buffer given", key ? key : "?");
    return lpi_store_put(ctx, s, key, buf->dtype, buf->ndim, buf->shape, buf->data, buf->nbytes);
}

lp_status lpi_store_put_guarded(lp_ctx *ctx, lpi_store *s, const char *key, const lp_buffer *buf,
                                const char *guard, double ttl_sec) {
    /* rounded up: a value never expires before it was asked to (and capped at ~285 years) */
    int64_t ttl_ms = ttl_sec > 0 ? (ttl_sec < 9e9 ? (int64_t)ceil(ttl_sec * 1000) : (int64_t)9e12) : 0;
    if ((!guard && !ttl_ms) || !s->vt->put_ex) return lpi_store_put_buffer(ctx, s, key, buf);
    lp_status st;
    if ((st = lpi_store_key_check(ctx, key)) || (guard && (st = lpi_store_key_check(ctx, guard)))) return st;
    if (buf->nbytes > s->max_chunk)
        return lpi_error(ctx, LP_ERR_LIMIT, "chunk %s: %zu data bytes exceed the store's limit of %" PRIu64, key,
                         buf->nbytes, s->max_chunk);
    lpi_chunk_info info;
    if ((st = lpi_chunk_info_make(ctx, key, buf->dtype, buf->ndim, buf->shape, buf->data, buf->nbytes, &info)))
        return st;
    uint8_t hdr[LPI_CHUNK_HDR_SIZE];
    lpi_chunk_header_encode(&info, hdr);
    return s->vt->put_ex(ctx, s, key, &info, hdr, buf->data, guard, ttl_ms);
}

lp_status lpi_store_mark(lp_ctx *ctx, lpi_store *s, const char *key, double ttl_sec) {
    lp_status st = lpi_store_key_check(ctx, key);
    return st ? st : s->vt->mark ? s->vt->mark(ctx, s, key, ttl_sec) : LP_OK;
}

lp_status lpi_store_del_prefix(lp_ctx *ctx, lpi_store *s, const char *prefix) {
    lp_status st = lpi_store_key_check(ctx, prefix);
    return st ? st : s->vt->del_prefix ? s->vt->del_prefix(ctx, s, prefix) : LP_OK;
}

lp_status lpi_store_get(lp_ctx *ctx, lpi_store *s, const char *key, lp_buffer **out) {
    *out = NULL;
    lp_status st = lpi_store_key_check(ctx, key);
    if (st != LP_OK) return st;
    lpi_chunk_info info;
    lp_buffer *b = NULL;
    if ((st = s->vt->get(ctx, s, key, &info, &b)) != LP_OK) return st;
    uint64_t computed = XXH3_64bits(b->nbytes ? b->data : "", b->nbytes);
    if (computed != info.checksum) {
        lp_buffer_release(b);
        return lpi_chunk_checksum_error(ctx, key, info.checksum, computed);
    }
    *out = b;
    return LP_OK;
}

lp_status lpi_store_get_range(lp_ctx *ctx, lpi_store *s, const char *key, uint64_t byte_off,
                              size_t nbytes, void *dst) {
    lp_status st = lpi_store_key_check(ctx, key);
    if (st != LP_OK) return st;
    if (nbytes && !dst) return lpi_error(ctx, LP_ERR_VALUE, "chunk %s: no destination given", key);
    if (nbytes > s->max_chunk)
        return lpi_error(ctx, LP_ERR_LIMIT,
                         "chunk %s: a range of %zu bytes exceeds the store's limit of %" PRIu64,
                         key, nbytes, s->max_chunk);
    return s->vt->get_range(ctx, s, key, byte_off, nbytes, dst);
}

lp_status lpi_store_head(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *out) {
    lp_status st = lpi_store_key_check(ctx, key);
    if (st != LP_OK) return st;
    return s->vt->head(ctx, s, key, out);
}

lp_status lpi_store_del(lp_ctx *ctx, lpi_store *s, const char *key) {
    lp_status st = lpi_store_key_check(ctx, key);
    if (st != LP_OK) return st;
    return s->vt->del(ctx, s, key);
}

lp_status lpi_store_exists(lp_ctx *ctx, lpi_store *s, const char *key, bool *out) {
    *out = false;
    lp_status st = lpi_store_key_check(ctx, key);
    if (st != LP_OK) return st;
    return s->vt->exists(ctx, s, key, out);
}
