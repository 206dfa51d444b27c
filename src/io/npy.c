/* .npy files (NumPy format 1.0, 2.0, 3.0): header parsing, row-range reads, atomic writes.
 *
 * The file is a magic string, a version, a header length, a Python dict literal
 * ({'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }) padded with spaces and a final
 * '\n', then the raw data. Files come from users and, in a worker, from other machines, so
 * every byte is treated as hostile: sizes are checked before anything is allocated or read,
 * arithmetic is overflow-checked, and a failure is a status plus a message that starts with the
 * path, never an abort. */
#define _FILE_OFFSET_BITS 64 /* off_t must hold any file offset, also on 32-bit hosts */

#include "io/npy.h"
#include "io/file.h"
#include "io/select.h"
#include "io/tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* NumPy pads the header so the data starts on a 64-byte boundary (ARRAY_ALIGN); memory-mapped
 * data is then aligned for any dtype and for SIMD loads. */
#define NPY_ALIGN 64
/* Bounce buffer for Fortran-order reads and for converting writes: large enough that each
 * syscall moves a meaningful amount, small enough to be irrelevant next to a chunk. */
#define NPY_BOUNCE_BYTES ((size_t)1 << 20)
static bool host_big_endian(void) { return __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__; }

/* ---- small helpers ------------------------------------------------------------------ */

/* lpi_error/lpi_nomem, returning the status itself: callers and static analysers can then see
 * that a failure path never yields LP_OK. */
static lp_status fail(lp_ctx *ctx, lp_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static lp_status fail(lp_ctx *ctx, lp_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lpi_verror(ctx, st, fmt, ap);
    va_end(ap);
    return st;
}

static lp_status nomem(lp_ctx *ctx) {
    lpi_nomem(ctx);
    return LP_ERR_NOMEM;
}

/* An OS failure: a missing file (or directory) is LP_ERR_NOTFOUND, anything else LP_ERR_IO. */
static lp_status os_error(lp_ctx *ctx, const char *path, const char *what, int err) {
    return lpi_os_error(ctx, path, what, err);
}

/* Copy untrusted bytes into a message-safe string: non-printable bytes become '?', long
 * strings are cut with "...". */
static const char *printable(char *dst, size_t cap, const char *src, size_t n) {
    size_t i = 0, j = 0;
    for (; i < n && j + 4 < cap; i++, j++) dst[j] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    if (i < n) { memcpy(dst + j, "...", 3); j += 3; } /* the loop left room for it */
    dst[j] = '\0';
    return dst;
}

static uint32_t load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Product of dims; false if one is negative or the product overflows int64. Unlike a plain
 * running product, a zero anywhere gives 0 even if the other dims alone would overflow:
 * NumPy accepts shape (0, 2**62, 4), and it holds no data. */
static bool dims_product(int n, const int64_t *dims, int64_t *out) {
    bool zero = false;
    for (int i = 0; i < n; i++) {
        if (dims[i] < 0) return false;
        zero |= dims[i] == 0;
    }
    int64_t p = 1;
    if (!zero)
        for (int i = 0; i < n; i++)
            if (__builtin_mul_overflow(p, dims[i], &p)) return false;
    *out = zero ? 0 : p;
    return true;
}

/* Walks the multi-index of axes [first, ndim) in Fortran order (axis `first` fastest) and keeps
 * the C-order element offset of that index up to date: the bridge between the two layouts. */
typedef struct fwalk {
    int first, ndim;
    int64_t idx[LP_MAX_NDIM];
    const int64_t *shape;
    int64_t cstride[LP_MAX_NDIM]; /* C-order stride of each axis, in elements */
    int64_t coff;                 /* C-order offset of idx */
} fwalk;

static void fwalk_init(fwalk *w, int first, int ndim, const int64_t *shape) {
    w->first = first;
    w->ndim = ndim;
    w->shape = shape;
    w->coff = 0;
    int64_t s = 1;
    for (int ax = ndim - 1; ax >= 0; ax--) {
        w->idx[ax] = 0;
        w->cstride[ax] = s;
        s *= shape[ax]; /* no overflow: the caller checked the total size */
    }
}

static void fwalk_next(fwalk *w) {
    for (int ax = w->first; ax < w->ndim; ax++) {
        w->coff += w->cstride[ax];
        if (++w->idx[ax] < w->shape[ax]) return;
        w->coff -= w->idx[ax] * w->cstride[ax];
        w->idx[ax] = 0;
    }
}

void lpi_npy_layout(const lp_npy_info *info, int ndim, const int64_t *shape, lpi_layout *L) {
    size_t isz = lp_dtype_size(info->dtype);
    lpi_layout_dense(L, ndim, shape, isz, info->fortran_order, info->data_offset);
    /* file bytes -> values Lampy may trust: native byte order, and bools that are exactly 0 or
     * 1 (a bool byte of 2 would otherwise make `a == True` and bitwise ops disagree) */
    L->boolfix = info->dtype == LP_BOOL;
    L->swap = !L->boolfix && info->big_endian != host_big_endian() && isz > 1 ? lpi_swap_unit(info->dtype) : 0;
}

/* ---- header parsing ----------------------------------------------------------------- */

/* A cursor over the header text; messages name the path and the byte offset in the file. */
typedef struct hparser {
    lp_ctx *ctx;
    const char *path;
    const char *beg, *p, *end;
    int64_t base; /* file offset of beg */
} hparser;

static lp_status hp_fail(hparser *h, lp_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static lp_status hp_fail(hparser *h, lp_status st, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail(h->ctx, st, "%s: bad header: %s (at byte %lld)", h->path, msg,
         (long long)(h->base + (h->p - h->beg)));
    return st;
}

/* Python whitespace between tokens (a newline is fine inside braces). */
static void hp_ws(hparser *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static bool hp_eat(hparser *h, char c) {
    hp_ws(h);
    if (h->p < h->end && *h->p == c) { h->p++; return true; }
    return false;
}

/* What the cursor points at, for messages. */
static const char *hp_near(hparser *h, char *buf, size_t cap) {
    if (h->p >= h->end) return "end of header";
    size_t n = (size_t)(h->end - h->p);
    char tmp[24];
    printable(tmp, sizeof tmp, h->p, n < 12 ? n : 12);
    snprintf(buf, cap, "'%s'", tmp);
    return buf;
}

/* A Python string literal in single or double quotes. No escapes: no valid key or supported
 * dtype needs one. The content is stored NUL-terminated (cut at cap-1; *len is the full
 * length so callers can tell). */
static lp_status hp_string(hparser *h, char *out, size_t cap, size_t *len) {
    out[0] = '\0';
    *len = 0;
    hp_ws(h);
    char near[32];
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return hp_fail(h, LP_ERR_FORMAT, "expected a string, found %s", hp_near(h, near, sizeof near));
    char q = *h->p++;
    const char *s = h->p;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\')
            return hp_fail(h, LP_ERR_FORMAT, "escape sequences in strings are not supported");
        if (*h->p == '\n') return hp_fail(h, LP_ERR_FORMAT, "unterminated string");
        h->p++;
    }
    if (h->p >= h->end) return hp_fail(h, LP_ERR_FORMAT, "unterminated string");
    size_t n = (size_t)(h->p - s);
    h->p++; /* closing quote */
    size_t keep = n < cap - 1 ? n : cap - 1;
    memcpy(out, s, keep);
    out[keep] = '\0';
    *len = n;
    return LP_OK;
}

static bool hp_word(hparser *h, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0) return false;
    /* "Trueish" is a name, not True */
    if ((size_t)(h->end - h->p) > n) {
        char c = h->p[n];
        if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            return false;
    }
    h->p += n;
    return true;
}

static lp_status hp_bool(hparser *h, const char *key, bool *out) {
    hp_ws(h);
    if (hp_word(h, "True")) { *out = true; return LP_OK; }
    if (hp_word(h, "False")) { *out = false; return LP_OK; }
    char near[32];
    return hp_fail(h, LP_ERR_FORMAT, "'%s' must be True or False, found %s", key,
                   hp_near(h, near, sizeof near));
}

/* One dimension: a non-negative decimal integer. A trailing 'L' is accepted because NumPy on
 * Python 2 wrote long ints that way and NumPy still reads such files. */
static lp_status hp_dim(hparser *h, int64_t *out) {
    hp_ws(h);
    char near[32];
    bool neg = h->p < h->end && *h->p == '-';
    if (neg) h->p++;
    if (h->p >= h->end || *h->p < '0' || *h->p > '9')
        return hp_fail(h, LP_ERR_FORMAT, "expected an integer in 'shape', found %s",
                       hp_near(h, near, sizeof near));
    int64_t v = 0;
    bool overflow = false;
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *h->p - '0', &v))
            overflow = true;
        h->p++;
    }
    if (h->p < h->end && *h->p == 'L') h->p++;
    if (neg) return hp_fail(h, LP_ERR_FORMAT, "negative dimension in 'shape'");
    if (overflow) return hp_fail(h, LP_ERR_FORMAT, "dimension in 'shape' does not fit in int64");
    *out = v;
    return LP_OK;
}

/* A tuple of dimensions: (), (5,), (3, 4), (3, 4,). A one-element tuple needs its comma:
 * "(5)" is the integer 5 in Python, and NumPy rejects it too. */
static lp_status hp_shape(hparser *h, int *ndim, int64_t *shape) {
    char near[32];
    if (!hp_eat(h, '('))
        return hp_fail(h, LP_ERR_FORMAT, "'shape' must be a tuple, found %s",
                       hp_near(h, near, sizeof near));
    int n = 0;
    bool comma = false; /* a comma followed the last element */
    for (;;) {
        if (hp_eat(h, ')')) break;
        if (n > 0 && !comma)
            return hp_fail(h, LP_ERR_FORMAT, "expected ',' or ')' in 'shape', found %s",
                           hp_near(h, near, sizeof near));
        int64_t d = 0;
        lp_status st = hp_dim(h, &d);
        if (st != LP_OK) return st;
        if (n == LP_MAX_NDIM)
            return hp_fail(h, LP_ERR_LIMIT, "more than %d dimensions (Lampy's limit)", LP_MAX_NDIM);
        shape[n++] = d;
        comma = hp_eat(h, ',');
    }
    if (n == 1 && !comma)
        return hp_fail(h, LP_ERR_FORMAT, "'shape' must be a tuple: '(n)' needs a trailing comma");
    *ndim = n;
    return LP_OK;
}

/* A simple type string: optional byte order, kind, item size. '=' is native; '|' ("not
 * applicable") is what NumPy writes for one-byte types, and NumPy reads it as native for wider
 * ones, so we do too. No prefix also means native (np.dtype('f8')). */
static bool parse_typestr(const char *s, size_t n, lp_dtype *dt, bool *big) {
    static const struct { const char *code; lp_dtype dt; } types[] = {
        {"b1", LP_BOOL}, {"i4", LP_INT32}, {"i8", LP_INT64}, {"f4", LP_FLOAT32}, {"f8", LP_FLOAT64},
        {"i1", LP_INT8}, {"i2", LP_INT16}, {"u1", LP_UINT8}, {"u2", LP_UINT16}, {"u4", LP_UINT32},
        {"u8", LP_UINT64}, {"f2", LP_FLOAT16}, {"c8", LP_COMPLEX64}, {"c16", LP_COMPLEX128},
    };
    *big = host_big_endian();
    if (n > 0 && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
        if (s[0] == '<') *big = false;
        if (s[0] == '>') *big = true;
        s++;
        n--;
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (n == strlen(types[i].code) && memcmp(s, types[i].code, n) == 0) { *dt = types[i].dt; return true; }
    return false;
}

#define SUPPORTED_DTYPES "bool '|b1', int8 '|i1', int16 '<i2', int32 '<i4', int64 '<i8', uint8 '|u1', " \
                         "uint16 '<u2', uint32 '<u4', uint64 '<u8', float16 '<f2', float32 '<f4', float64 '<f8', " \
                         "complex64 '<c8', complex128 '<c16'"

static lp_status hp_descr(hparser *h, lp_npy_info *info) {
    hp_ws(h);
    /* A list is a structured (record) dtype, a tuple a sub-array dtype: well-formed, unsupported. */
    if (h->p < h->end && (*h->p == '[' || *h->p == '('))
        return fail(h->ctx, LP_ERR_TYPE,
                    "%s: unsupported dtype: structured and sub-array dtypes are not supported "
                    "(supported: " SUPPORTED_DTYPES ")", h->path);
    char s[32], shown[48];
    size_t n;
    lp_status st = hp_string(h, s, sizeof s, &n);
    if (st != LP_OK) return st;
    if (n >= sizeof s || !parse_typestr(s, n, &info->dtype, &info->big_endian))
        return fail(h->ctx, LP_ERR_TYPE, "%s: unsupported dtype '%s' (supported: " SUPPORTED_DTYPES ")",
                    h->path, printable(shown, sizeof shown, s, n < sizeof s ? n : sizeof s - 1));
    return LP_OK;
}

/* The whole header: a dict with exactly the keys descr, fortran_order and shape, in any order,
 * an optional trailing comma, then only whitespace up to the final newline. */
static lp_status parse_dict(hparser *h, lp_npy_info *info) {
    enum { K_DESCR = 1, K_FORTRAN = 2, K_SHAPE = 4 };
    char near[32], key[24], shown[40];
    unsigned seen = 0;
    lp_status st;
    if (!hp_eat(h, '{'))
        return hp_fail(h, LP_ERR_FORMAT, "expected a dict literal '{...}', found %s",
                       hp_near(h, near, sizeof near));
    bool comma = true; /* a separator precedes the next item ('{' counts) */
    for (;;) {
        if (hp_eat(h, '}')) break;
        if (!comma)
            return hp_fail(h, LP_ERR_FORMAT, "expected ',' or '}' in the header dict, found %s",
                           hp_near(h, near, sizeof near));
        size_t n;
        if ((st = hp_string(h, key, sizeof key, &n)) != LP_OK) return st;
        /* by length too: 'descr\0' is not 'descr' */
        unsigned k = n == 5 && memcmp(key, "descr", 5) == 0 ? K_DESCR
                   : n == 13 && memcmp(key, "fortran_order", 13) == 0 ? K_FORTRAN
                   : n == 5 && memcmp(key, "shape", 5) == 0 ? K_SHAPE : 0u;
        if (!k)
            return hp_fail(h, LP_ERR_FORMAT,
                           "unknown key '%s' (expected 'descr', 'fortran_order', 'shape')",
                           printable(shown, sizeof shown, key, n < sizeof key ? n : sizeof key - 1));
        if (seen & k) return hp_fail(h, LP_ERR_FORMAT, "duplicate key '%s'", key);
        seen |= k;
        if (!hp_eat(h, ':'))
            return hp_fail(h, LP_ERR_FORMAT, "expected ':' after '%s', found %s", key,
                           hp_near(h, near, sizeof near));
        if (k == K_DESCR) st = hp_descr(h, info);
        else if (k == K_FORTRAN) st = hp_bool(h, "fortran_order", &info->fortran_order);
        else st = hp_shape(h, &info->ndim, info->shape);
        if (st != LP_OK) return st;
        comma = hp_eat(h, ',');
    }
    static const char *const names[] = {"descr", "fortran_order", "shape"};
    for (int i = 0; i < 3; i++)
        if (!(seen & (1u << i))) return hp_fail(h, LP_ERR_FORMAT, "missing key '%s'", names[i]);
    hp_ws(h);
    if (h->p != h->end)
        return hp_fail(h, LP_ERR_FORMAT, "unexpected %s after the header dict",
                       hp_near(h, near, sizeof near));
    return LP_OK;
}

/* ---- reading ------------------------------------------------------------------------ */

/* The fixed prefix: magic, version, header length. Sets major/minor and the header extent. */
static lp_status read_prefix(lp_ctx *ctx, lpi_src *src, const char *path, int64_t file_size,
                             lp_npy_info *info, uint32_t *hlen, int64_t *hstart) {
    unsigned char pre[12];
    size_t got = file_size < (int64_t)sizeof pre ? (size_t)file_size : sizeof pre;
    lp_status st = lpi_src_read(ctx, src, 0, got, pre);
    if (st) return st;
    if (got == 0) return fail(ctx, LP_ERR_FORMAT, "%s: empty file (not a .npy file)", path);
    size_t mlen = got < NPY_MAGIC_LEN ? got : NPY_MAGIC_LEN;
    if (memcmp(pre, NPY_MAGIC, mlen) != 0)
        return fail(ctx, LP_ERR_FORMAT, "%s: bad magic (not a .npy file)", path);
    if (got < NPY_MAGIC_LEN + 2)
        return fail(ctx, LP_ERR_FORMAT, "%s: truncated: %zu bytes, shorter than the .npy prefix",
                    path, got);
    info->major = pre[6];
    info->minor = pre[7];
    if ((info->major < 1 || info->major > 3) || info->minor != 0)
        return fail(ctx, LP_ERR_FORMAT,
                    "%s: unsupported .npy format version %d.%d (supported: 1.0, 2.0, 3.0)",
                    path, info->major, info->minor);
    size_t lenbytes = info->major == 1 ? 2 : 4;
    if (got < NPY_MAGIC_LEN + 2 + lenbytes)
        return fail(ctx, LP_ERR_FORMAT, "%s: truncated: %zu bytes, shorter than the .npy prefix",
                    path, got);
    *hlen = lenbytes == 2 ? (uint32_t)pre[8] | (uint32_t)pre[9] << 8 : load_le32(pre + 8);
    *hstart = NPY_MAGIC_LEN + 2 + (int64_t)lenbytes;
    return LP_OK;
}

lp_status lpi_npy_read_header(lp_ctx *ctx, lpi_src *src, lp_npy_info *out) {
    lp_npy_info info;
    memset(&info, 0, sizeof info);
    const char *path = lpi_src_name(src);
    int64_t file_size = lpi_src_id(src)->size;
    uint32_t hlen = 0;
    int64_t hstart = 0;
    lp_status st = read_prefix(ctx, src, path, file_size, &info, &hlen, &hstart);
    if (st != LP_OK) return st;
    if (hlen > LPI_NPY_MAX_HEADER)
        return fail(ctx, LP_ERR_LIMIT, "%s: header of %u bytes exceeds the limit of %d bytes",
                    path, hlen, LPI_NPY_MAX_HEADER);
    if (hlen > file_size - hstart)
        return fail(ctx, LP_ERR_FORMAT,
                    "%s: truncated header: header length is %u bytes, file has %lld after the prefix",
                    path, hlen, (long long)(file_size - hstart));
    if (hlen == 0)
        return fail(ctx, LP_ERR_FORMAT, "%s: bad header: empty (header length 0)", path);

    char *text = lp_malloc(hlen);
    if (!text) return nomem(ctx);
    st = lpi_src_read(ctx, src, hstart, hlen, text);
    if (st == LP_OK && text[hlen - 1] != '\n')
        st = fail(ctx, LP_ERR_FORMAT, "%s: bad header: does not end with a newline", path);
    if (st == LP_OK) {
        hparser h = {ctx, path, text, text, text + hlen - 1, hstart};
        st = parse_dict(&h, &info);
    }
    lp_free(text);
    if (st != LP_OK) return st;

    info.data_offset = hstart + (int64_t)hlen;
    int64_t size, bytes;
    char sh[LP_MAX_NDIM * 24 + 8];
    if (!dims_product(info.ndim, info.shape, &size) ||
        __builtin_mul_overflow(size, (int64_t)lp_dtype_size(info.dtype), &bytes))
        return fail(ctx, LP_ERR_FORMAT, "%s: shape %s is too large (byte count overflows int64)",
                    path, lpi_shape_str(sh, sizeof sh, info.ndim, info.shape));
    info.data_bytes = bytes;
    if (bytes > file_size - info.data_offset)
        return fail(ctx, LP_ERR_FORMAT, "%s: data truncated: header promises %lld bytes, file has %lld",
                    path, (long long)bytes, (long long)(file_size - info.data_offset));
    *out = info;
    return LP_OK;
}

lp_status lpi_npy_open(lp_ctx *ctx, const char *url, lpi_src **src_out, lp_npy_info *out) {
    *src_out = NULL;
    if (!url) return fail(ctx, LP_ERR_VALUE, "npy: path is NULL");
    lpi_src *src;
    lp_status st = lpi_src_open(ctx, url, &src);
    if (st) return st;
    if ((st = lpi_npy_read_header(ctx, src, out)) != LP_OK) { lpi_src_close(src); return st; }
    *src_out = src;
    return LP_OK;
}

/* Clears a stale failure so this call's message is the one reported. The core keeps the first
 * failure of a run (later ones are usually echoes of it); a standalone call starts afresh. */
static void clear_error(lp_ctx *ctx) {
    if (!ctx) return;
    pthread_mutex_lock(&ctx->err_lock);
    ctx->last_status = LP_OK;
    ctx->errmsg[0] = '\0';
    pthread_mutex_unlock(&ctx->err_lock);
}

lp_status lp_npy_info_read(lp_ctx *ctx, const char *path, lp_npy_info *out) {
    clear_error(ctx);
    if (!out) return fail(ctx, LP_ERR_VALUE, "lp_npy_info_read: out is NULL");
    lpi_src *src;
    lp_status st = lpi_npy_open(ctx, path, &src, out);
    lpi_src_close(src);
    return st;
}

lp_status lpi_npy_read_rows(lp_ctx *ctx, lpi_src *src, const lp_npy_info *info, int64_t row0, int64_t row1,
                            void *dst) {
    const char *path = lpi_src_name(src);
    if ((unsigned)info->dtype >= LP_DTYPE_COUNT || info->ndim < 0 || info->ndim > LP_MAX_NDIM)
        return fail(ctx, LP_ERR_INTERNAL, "%s: invalid npy info", path);
    int64_t nrows_all = info->ndim ? info->shape[0] : 1;
    if (row0 < 0 || row1 < row0 || row1 > nrows_all) {
        char sh[LP_MAX_NDIM * 24 + 8];
        return fail(ctx, LP_ERR_VALUE, "%s: rows [%lld, %lld) out of range for shape %s", path,
                         (long long)row0, (long long)row1,
                         lpi_shape_str(sh, sizeof sh, info->ndim, info->shape));
    }
    size_t isz = lp_dtype_size(info->dtype);
    int64_t per_row = 1;
    if (info->ndim > 1) dims_product(info->ndim - 1, info->shape + 1, &per_row);
    /* no overflow: the header check bounded the whole array, a subset of rows is smaller */
    int64_t n = (row1 - row0) * per_row;
    if (n == 0) return LP_OK;
    if ((uint64_t)n > SIZE_MAX / isz) /* a 32-bit host and a huge file */
        return fail(ctx, LP_ERR_LIMIT, "%s: %lld elements do not fit in memory", path, (long long)n);
    if (info->ndim == 0) { /* one element */
        lpi_layout L;
        lpi_npy_layout(info, 0, NULL, &L);
        lp_status st = lpi_src_read(ctx, src, info->data_offset, isz, dst);
        if (!st) lpi_layout_fix(&L, dst, 1);
        return st;
    }
    /* rows [row0, row1), every trailing index, into C order */
    lpi_layout L;
    lpi_sel sel;
    lpi_npy_layout(info, info->ndim, info->shape, &L);
    int64_t ds = (int64_t)isz;
    for (int i = info->ndim - 1; i >= 0; i--) {
        sel.start[i] = i ? 0 : row0;
        sel.step[i] = 1;
        sel.count[i] = i ? info->shape[i] : row1 - row0;
        sel.dstride[i] = ds;
        ds *= sel.count[i];
    }
    return lpi_sel_read(ctx, src, &L, &sel, dst);
}

/* ---- writing ------------------------------------------------------------------------ */

/* Validated arguments of a write. */
static lp_status check_array(lp_ctx *ctx, const char *path, lp_dtype dt, int ndim,
                             const int64_t *shape, int64_t *bytes) {
    if (!path) return fail(ctx, LP_ERR_VALUE, "npy: path is NULL");
    if ((unsigned)dt >= LP_DTYPE_COUNT)
        return fail(ctx, LP_ERR_TYPE, "%s: invalid dtype %d", path, (int)dt);
    if (ndim < 0 || ndim > LP_MAX_NDIM)
        return fail(ctx, LP_ERR_VALUE, "%s: ndim %d is out of range 0..%d", path, ndim, LP_MAX_NDIM);
    int64_t size;
    if ((ndim > 0 && !shape) || !dims_product(ndim, shape, &size) ||
        __builtin_mul_overflow(size, (int64_t)lp_dtype_size(dt), bytes) || (uint64_t)*bytes > SIZE_MAX)
        return fail(ctx, LP_ERR_VALUE, "%s: invalid shape (negative dimension or too large)", path);
    return LP_OK;
}

/* Python's repr of a shape tuple, as NumPy writes it into headers: "(3, 4)", "(5,)", "()". */
static const char *py_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t len = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < cap) snprintf(buf + len, cap - len, ndim == 1 ? ",)" : ")");
    return buf;
}

/* Header in NumPy's own spelling, padded with spaces so that the data starts at a multiple of
 * 64 bytes. major 0 = the smallest version whose length field holds it. Returns the total
 * header size (= data offset), or 0 if it cannot be written in the requested version. */
static size_t build_header(char *buf, size_t cap, lp_dtype dt, bool big, bool fortran, int ndim,
                           const int64_t *shape, int major) {
    static const char *const codes[LP_DTYPE_COUNT] = {"b1", "i4", "i8", "f4", "f8", "i1",
                                                      "i2", "u1", "u2", "u4", "u8", "f2", "c8", "c16"};
    char dict[LP_MAX_NDIM * 24 + 96];
    char sh[LP_MAX_NDIM * 24 + 8];
    int dlen = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': %s, 'shape': %s, }",
                        lp_dtype_size(dt) == 1 ? '|' : big ? '>' : '<', codes[dt], fortran ? "True" : "False",
                        py_shape(sh, sizeof sh, ndim, shape));
    if (dlen < 0 || (size_t)dlen >= sizeof dict) return 0;
    size_t prefix, total, hlen;
    for (int v = major ? major : 1;; v++) {
        prefix = NPY_MAGIC_LEN + 2 + (v == 1 ? 2 : 4);
        total = (prefix + (size_t)dlen + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
        hlen = total - prefix;
        if (v > 1 || hlen <= 65535) { major = v; break; }
        if (major) return 0; /* 1.0 was asked for and its 16-bit length cannot hold it */
    }
    if (total > cap) return 0;
    memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
    buf[6] = (char)major;
    buf[7] = 0;
    for (size_t i = 0; i < prefix - 8; i++) buf[8 + i] = (char)(hlen >> (8 * i)); /* little endian */
    memcpy(buf + prefix, dict, (size_t)dlen);
    memset(buf + prefix + (size_t)dlen, ' ', total - prefix - (size_t)dlen - 1);
    buf[total - 1] = '\n';
    return total;
}

#define NPY_HEADER_CAP 1024 /* 8 dims of 20 digits make a dict under 300 bytes */

/* Write C-order native data in the requested layout through a bounce buffer: Fortran order
 * walks the output in Fortran order and gathers from the C-order source. */
static lp_status write_converted(lp_ctx *ctx, lpi_sink *k, lp_dtype dt, int ndim, const int64_t *shape,
                                 const char *src, size_t n, bool fortran, bool swap) {
    size_t isz = lp_dtype_size(dt);
    size_t per = NPY_BOUNCE_BYTES / isz;
    size_t cap = (n < per ? n : per) * isz;
    char *bounce = lp_malloc(cap);
    if (!bounce) return nomem(ctx);
    fwalk w;
    fwalk_init(&w, 0, ndim, shape);
    lp_status st = LP_OK;
    for (size_t i = 0; i < n && st == LP_OK; i += per) {
        size_t m = n - i < per ? n - i : per;
        if (fortran) {
            for (size_t j = 0; j < m; j++, fwalk_next(&w))
                memcpy(bounce + j * isz, src + (size_t)w.coff * isz, isz);
        } else {
            memcpy(bounce, src + i * isz, m * isz);
        }
        if (swap) {
            lpi_layout L = {.isz = isz, .swap = lpi_swap_unit(dt)};
            lpi_layout_fix(&L, bounce, m);
        }
        st = lpi_sink_write(ctx, k, bounce, m * isz);
    }
    lp_free(bounce);
    return st;
}

lp_status lpi_npy_write(lp_ctx *ctx, const char *path, lp_dtype dt, int ndim,
                        const int64_t *shape, const void *data, const lpi_npy_write_opts *opts) {
    lpi_npy_write_opts o = {false, false, 0};
    if (opts) o = *opts;
    int64_t bytes = 0;
    lp_status st = check_array(ctx, path, dt, ndim, shape, &bytes);
    if (st != LP_OK) return st;
    if (o.major < 0 || o.major > 3)
        return fail(ctx, LP_ERR_VALUE, "%s: .npy format version %d is not 1, 2 or 3", path, o.major);
    if (bytes > 0 && !data) return fail(ctx, LP_ERR_VALUE, "%s: data is NULL", path);
    char hdr[NPY_HEADER_CAP];
    bool big = lp_dtype_size(dt) > 1 && o.big_endian;
    size_t hsize = build_header(hdr, sizeof hdr, dt, big, o.fortran_order, ndim, shape, o.major);
    if (hsize == 0)
        return fail(ctx, LP_ERR_VALUE, "%s: header does not fit .npy format %d.0", path, o.major);

    lpi_sink *k;
    if ((st = lpi_sink_open(ctx, path, false, &k)) != LP_OK) return st;
    st = lpi_sink_write(ctx, k, hdr, hsize);
    bool fortran = o.fortran_order && ndim >= 2;
    bool swap = big != host_big_endian() && lp_dtype_size(dt) > 1;
    size_t n = (size_t)bytes / lp_dtype_size(dt);
    if (st == LP_OK && n > 0) { /* (the walkers assume a non-empty array) */
        if (fortran || swap) st = write_converted(ctx, k, dt, ndim, shape, data, n, fortran, swap);
        else st = lpi_sink_write(ctx, k, data, (size_t)bytes);
    }
    if (st) { lpi_sink_abort(k); return st; }
    return lpi_sink_commit(ctx, k);
}

/* ---- streaming writer --------------------------------------------------------------- */

struct lpi_npy_writer {
    int fd, slot;
    char *path, *tmp;
    int64_t data_offset;
    int64_t row_bytes;
    int64_t nrows;        /* rows of the leading axis (1 for a 0-d array) */
    int64_t next_row;     /* where append continues */
    atomic_llong written; /* rows written, summed over calls: a cheap completeness check */
};

lp_status lpi_npy_writer_open(lp_ctx *ctx, const char *path, lp_dtype dt, int ndim,
                              const int64_t *shape, lpi_npy_writer **out) {
    *out = NULL;
    int64_t bytes = 0;
    lp_status st = check_array(ctx, path, dt, ndim, shape, &bytes);
    if (st != LP_OK) return st;
    char hdr[NPY_HEADER_CAP];
    size_t hsize = build_header(hdr, sizeof hdr, dt, host_big_endian(), false, ndim, shape, 0);
    if (hsize == 0 || bytes > INT64_MAX - (int64_t)hsize)
        return fail(ctx, LP_ERR_VALUE, "%s: array too large for a .npy file", path);

    lpi_npy_writer *w = lp_calloc(1, sizeof *w);
    if (!w) return nomem(ctx);
    w->fd = -1;
    w->slot = -1;
    w->path = lp_strdup(path);
    if (!w->path) { lp_free(w); return nomem(ctx); }
    if ((st = lpi_file_temp(ctx, path, &w->tmp, &w->slot, &w->fd)) != LP_OK) {
        lp_free(w->path);
        lp_free(w);
        return st;
    }
    w->data_offset = (int64_t)hsize;
    w->nrows = ndim ? shape[0] : 1;
    int64_t per_row = 1;
    if (ndim > 1) dims_product(ndim - 1, shape + 1, &per_row); /* checked with the whole shape */
    w->row_bytes = per_row * (int64_t)lp_dtype_size(dt);
    atomic_init(&w->written, 0);
    /* Sizing the file up front lets producers pwrite rows in any order, and a full disk shows
     * up now on file systems that reserve blocks, rather than halfway through. */
    if (lpi_pwrite_full(w->fd, hdr, hsize, 0) != 0) st = os_error(ctx, path, "write failed", errno);
    else if (ftruncate(w->fd, (off_t)(w->data_offset + bytes)) != 0)
        st = os_error(ctx, path, "cannot size file", errno);
    if (st != LP_OK) { lpi_npy_writer_abort(w); return st; }
    *out = w;
    return LP_OK;
}

lp_status lpi_npy_writer_pwrite(lp_ctx *ctx, lpi_npy_writer *w, int64_t row0, const void *rows,
                                int64_t nrows) {
    if (row0 < 0 || nrows < 0 || nrows > w->nrows - row0)
        return fail(ctx, LP_ERR_VALUE, "%s: rows [%lld, %lld) out of range for %lld rows",
                         w->path, (long long)row0, (long long)(row0 + nrows), (long long)w->nrows);
    if (nrows == 0 || w->row_bytes == 0) {
        atomic_fetch_add(&w->written, nrows);
        return LP_OK;
    }
    if (!rows) return fail(ctx, LP_ERR_VALUE, "%s: rows is NULL", w->path);
    /* no overflow: the whole data range was checked against int64 and size_t at open */
    int64_t off = w->data_offset + row0 * w->row_bytes;
    if (lpi_pwrite_full(w->fd, rows, (size_t)(nrows * w->row_bytes), off) != 0)
        return os_error(ctx, w->path, "write failed", errno);
    atomic_fetch_add(&w->written, nrows);
    return LP_OK;
}

lp_status lpi_npy_writer_append(lp_ctx *ctx, lpi_npy_writer *w, const void *rows, int64_t nrows) {
    lp_status st = lpi_npy_writer_pwrite(ctx, w, w->next_row, rows, nrows);
    if (st == LP_OK) w->next_row += nrows;
    return st;
}

lp_status lpi_npy_writer_commit(lp_ctx *ctx, lpi_npy_writer *w) {
    long long written = atomic_load(&w->written);
    lp_status st = LP_OK;
    /* Rows never written would read back as zeros: a producer bug, not a valid result. */
    if (written < w->nrows)
        st = fail(ctx, LP_ERR_VALUE, "%s: only %lld of %lld rows were written", w->path,
                  written, (long long)w->nrows);
    st = lpi_file_finish(ctx, w->path, w->tmp, w->slot, w->fd, st);
    lp_free(w->path);
    lp_free(w);
    return st;
}

void lpi_npy_writer_abort(lpi_npy_writer *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    if (w->tmp) unlink(w->tmp);
    lpi_tmp_forget(w->slot);
    lp_free(w->tmp);
    lp_free(w->path);
    lp_free(w);
}

const char *lpi_npy_writer_temp(const lpi_npy_writer *w) { return w->tmp; }
int64_t lpi_npy_writer_data_offset(const lpi_npy_writer *w) { return w->data_offset; }
void lpi_npy_writer_written_elsewhere(lpi_npy_writer *w) { atomic_store(&w->written, w->nrows); }

lp_status lpi_npy_pwrite_box(lp_ctx *ctx, const char *name, int fd, int64_t data_offset, size_t isz, int ndim,
                             const int64_t *shape, const int64_t *lo, const int64_t *hi, const void *data) {
    /* a run: the innermost axes the box covers whole, and the first one it does not */
    int64_t run = (int64_t)isz;
    int k = ndim - 1;
    for (; k >= 0; k--) {
        run *= hi[k] - lo[k];
        if (lo[k] != 0 || hi[k] != shape[k]) break;
    }
    for (int i = 0; i < ndim; i++)
        if (hi[i] <= lo[i]) return LP_OK; /* empty box */
    /* the axes before k are walked one index at a time; each step writes one run */
    int64_t idx[LP_MAX_NDIM], stride[LP_MAX_NDIM];
    int64_t s = (int64_t)isz;
    for (int i = ndim - 1; i >= 0; i--) { stride[i] = s; s *= shape[i]; }
    for (int i = 0; i < ndim; i++) idx[i] = lo[i];
    const char *src = data;
    for (;;) {
        int64_t off = data_offset;
        for (int i = 0; i < ndim; i++) off += idx[i] * stride[i];
        if (lpi_pwrite_full(fd, src, (size_t)run, off) != 0) return os_error(ctx, name, "write failed", errno);
        src += run;
        int i = k - 1;
        for (; i >= 0; i--) {
            if (++idx[i] < hi[i]) break;
            idx[i] = lo[i];
        }
        if (i < 0) return LP_OK;
    }
}
