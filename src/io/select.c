/* Selections of stored arrays (see select.h): runs of consecutive elements in increasing
 * object order, merged into spans when the gap between them costs less than another read, each
 * span read once and scattered to its destinations; a run that is large and lands contiguously
 * is read straight into the destination. */
#include "io/select.h"

#include <stdlib.h>
#include <string.h>

/* Spans are read through a bounce buffer of at most this size. */
#define SPAN_MAX ((int64_t)4 << 20)

void lpi_layout_dense(lpi_layout *L, int ndim, const int64_t *shape, size_t isz, bool fortran, int64_t base) {
    memset(L, 0, sizeof *L);
    L->ndim = ndim;
    L->base = base;
    L->isz = isz;
    int64_t s = (int64_t)isz;
    for (int k = 0; k < ndim; k++) {
        int i = fortran ? k : ndim - 1 - k;
        L->stride[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

void lpi_layout_fix(const lpi_layout *L, void *data, size_t n) {
    if (L->boolfix) {
        unsigned char *p = data;
        for (size_t i = 0; i < n; i++) p[i] = p[i] != 0;
        return;
    }
    size_t u = L->swap, m = n * (L->isz / (u ? u : 1));
    if (u == 2) {
        uint16_t *p = data;
        for (size_t i = 0; i < m; i++) p[i] = __builtin_bswap16(p[i]);
    } else if (u == 4) {
        uint32_t *p = data;
        for (size_t i = 0; i < m; i++) p[i] = __builtin_bswap32(p[i]);
    } else if (u == 8) {
        uint64_t *p = data;
        for (size_t i = 0; i < m; i++) p[i] = __builtin_bswap64(p[i]);
    }
}

/* A run: `elems` consecutive elements of the object at `off`, to dst with stride dstride. */
typedef struct run {
    int64_t off;
    char *dst;
} run;

typedef struct reader {
    lp_ctx *ctx;
    lpi_src *s;
    const lpi_layout *L;
    int64_t gap, cap;
    int64_t relems, rbytes, rdstride; /* per run (the same for every run) */
    run *pend;
    int64_t npend, cappend;
    int64_t a, b;                     /* the current span [a, b) */
    char *bounce;
    lp_status st;
} reader;

static void scatter(const reader *R, char *dst, const char *src) {
    const size_t isz = R->L->isz;
    if (R->rdstride == (int64_t)isz) { memcpy(dst, src, (size_t)R->rbytes); return; }
    for (int64_t i = 0; i < R->relems; i++) memcpy(dst + i * R->rdstride, src + (size_t)i * isz, isz);
}

static lp_status flush(reader *R) {
    if (!R->npend) return LP_OK;
    int64_t n = R->b - R->a;
    lp_status st = lpi_src_read(R->ctx, R->s, R->a, (size_t)n, R->bounce);
    if (st) return st;
    lpi_layout_fix(R->L, R->bounce, (size_t)(n / (int64_t)R->L->isz));
    /* (a span starts at a run, so element boundaries line up for the fix above) */
    for (int64_t i = 0; i < R->npend; i++) scatter(R, R->pend[i].dst, R->bounce + (R->pend[i].off - R->a));
    R->npend = 0;
    return LP_OK;
}

static lp_status add_run(reader *R, int64_t off, char *dst) {
    /* large and contiguous at its destination: straight there, no bounce */
    if (R->rdstride == (int64_t)R->L->isz && R->rbytes >= R->cap / 2) {
        lp_status st = flush(R);
        if (!st) st = lpi_src_read(R->ctx, R->s, off, (size_t)R->rbytes, dst);
        if (!st) lpi_layout_fix(R->L, dst, (size_t)R->relems);
        return st;
    }
    if (R->npend && off - R->b <= R->gap && off + R->rbytes - R->a <= R->cap) {
        R->b = off + R->rbytes;
    } else {
        lp_status st = flush(R);
        if (st) return st;
        R->a = off;
        R->b = off + R->rbytes;
    }
    if (R->npend == R->cappend) {
        int64_t c = R->cappend ? R->cappend * 2 : 256;
        run *p = lp_realloc(R->pend, (size_t)c * sizeof *p);
        if (!p) return lpi_nomem(R->ctx);
        R->pend = p;
        R->cappend = c;
    }
    R->pend[R->npend++] = (run){off, dst};
    return LP_OK;
}

typedef struct ax {
    int64_t stride, count, step, dstride;
} ax;

static int by_stride_desc(const void *x, const void *y) {
    const ax *a = x, *b = y;
    return a->stride * a->step < b->stride * b->step ? 1 : a->stride * a->step > b->stride * b->step ? -1 : 0;
}

lp_status lpi_sel_read(lp_ctx *ctx, lpi_src *s, const lpi_layout *L, const lpi_sel *sel, char *dst) {
    const int64_t isz = (int64_t)L->isz;
    int64_t off = L->base;
    ax a[LP_MAX_NDIM];
    int n = 0;
    for (int i = 0; i < L->ndim; i++) {
        int64_t c = sel->count[i], st = sel->step[i], ds = sel->dstride[i];
        if (c <= 0) return LP_OK;
        off += sel->start[i] * L->stride[i];
        if (c == 1) continue;
        if (st < 0) { /* walk it forwards: the object is read in increasing order */
            off += st * (c - 1) * L->stride[i];
            dst += ds * (c - 1);
            st = -st;
            ds = -ds;
        }
        a[n++] = (ax){L->stride[i], c, st, ds};
    }
    qsort(a, (size_t)n, sizeof *a, by_stride_desc);
    /* merge an axis into the one outside it when both the object and dst are contiguous there */
    for (int i = n - 1; i > 0; i--) {
        ax *in = &a[i], *out = &a[i - 1];
        if (out->stride * out->step == in->count * in->stride * in->step && out->dstride == in->count * in->dstride) {
            in->count *= out->count;
            memmove(out, in, (size_t)(n - i) * sizeof *a);
            n--;
        }
    }
    reader R = {.ctx = ctx, .s = s, .L = L, .gap = lpi_src_merge_gap(s), .cap = SPAN_MAX};
    /* the innermost axis is one run when it is contiguous in the object; else single elements */
    bool inner_run = n > 0 && a[n - 1].stride * a[n - 1].step == isz;
    R.relems = inner_run ? a[n - 1].count : 1;
    R.rdstride = inner_run ? a[n - 1].dstride : isz;
    int nouter = inner_run ? n - 1 : n;
    int64_t total = 1, extent = R.relems * isz;
    for (int i = 0; i < nouter; i++) { total *= a[i].count; extent += (a[i].count - 1) * a[i].step * a[i].stride; }
    /* a span never exceeds the bytes from the first selected element to the last */
    if (R.cap > extent) R.cap = extent;
    if (!(R.bounce = lp_malloc((size_t)(R.cap > 0 ? R.cap : 1)))) return lpi_nomem(ctx);
    /* runs longer than a span are cut into pieces */
    int64_t piece = R.relems;
    if (piece * isz > R.cap && !(R.rdstride == isz)) piece = R.cap / isz;
    int64_t npieces = (R.relems + piece - 1) / piece, last = R.relems - (npieces - 1) * piece;
    int64_t idx[LP_MAX_NDIM] = {0};
    lp_status st = LP_OK;
    for (int64_t t = 0; t < total && !st; t++) {
        int64_t o = off;
        char *d = dst;
        for (int i = 0; i < nouter; i++) { o += idx[i] * a[i].step * a[i].stride; d += idx[i] * a[i].dstride; }
        for (int64_t p = 0; p < npieces && !st; p++) {
            R.relems = p == npieces - 1 ? last : piece;
            if (npieces > 1 && R.npend) st = flush(&R); /* pieces differ in length: one span each */
            R.rbytes = R.relems * isz;
            if (!st) st = add_run(&R, o + p * piece * isz, d + p * piece * R.rdstride);
            if (!st && npieces > 1) st = flush(&R);
        }
        for (int i = nouter - 1; i >= 0; i--) {
            if (++idx[i] < a[i].count) break;
            idx[i] = 0;
        }
    }
    if (!st) st = flush(&R);
    lp_free(R.pend);
    lp_free(R.bounce);
    return st;
}
