/* Kernels of indexing by data (plan/plan_index.c gives the task layout). Index values are
 * checked as they are read: an index out of range is NumPy's IndexError, never a read or write
 * outside a chunk. Operand shapes are checked too (tasks come from the wire). */
#include "kernels/kernels.h"
#include "kernels/keys.h"

#include <string.h>

static bool view_is(const lpi_view *v, int nd, const int64_t *shape) {
    if (v->ndim != nd) return false;
    for (int i = 0; i < nd; i++)
        if (v->shape[i] != shape[i]) return false;
    return true;
}

/* ---- take ---- */

static lp_status take_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const int ax = pn->axis, K = t->nops - 1;
    const lpi_view *iv = &ins[0];
    const int ni = iv->ndim, xnd = out->ndim - ni + 1;
    if (K < 1 || ax < 0 || ax >= xnd || xnd < 1 || iv->dtype != LP_INT64 || (lpi_box_size(&t->box) && ins[1].dtype != out->dtype))
        return lpi_error(ctx, LP_ERR_VALUE, "take: bad operands");
    for (int q = 0; q < ni; q++)
        if (iv->shape[q] != out->shape[ax + q]) return lpi_error(ctx, LP_ERR_VALUE, "take: the indices do not match the output");
    if (lpi_box_size(&t->box) == 0) return LP_OK;
    /* the x chunks: same lines as the output (other axes), consecutive along the axis */
    int64_t xs[LP_MAX_NDIM], total = 0;
    for (int i = 0, j = 0; i < xnd; i++) {
        if (i == ax) { j += ni; continue; }
        xs[i] = out->shape[j++];
    }
    int64_t *start = lp_malloc((size_t)(K + 1) * sizeof *start);
    if (!start) return lpi_nomem(ctx);
    for (int k = 0; k < K; k++) {
        xs[ax] = ins[1 + k].shape[ax];
        if (!view_is(&ins[1 + k], xnd, xs) || ins[1 + k].dtype != out->dtype) {
            lp_free(start);
            return lpi_error(ctx, LP_ERR_VALUE, "take: an operand does not match the output");
        }
        start[k] = total;
        total += xs[ax];
    }
    start[K] = total;
    /* pre: axes before ax, post: after; a sub-view of that shape is copied per index */
    const size_t isz = lp_dtype_size(out->dtype);
    int64_t sub = 1;
    for (int i = 0; i < xnd; i++) if (i != ax) sub *= xs[i];
    lpi_view dst = *out, src = ins[1];
    dst.ndim = src.ndim = xnd - 1;
    for (int i = 0, j = 0; i < xnd; i++) {
        if (i == ax) continue;
        int oj = i < ax ? i : i + ni - 1;
        dst.shape[j] = out->shape[oj];
        dst.strides[j] = out->strides[oj];
        j++;
    }
    lp_status st = LP_OK;
    int64_t pos[LP_MAX_NDIM] = {0}, count = 1, last = 0;
    for (int q = 0; q < ni; q++) count *= iv->shape[q];
    for (int64_t n = 0; n < count && !st; n++) {
        const char *ip = iv->data;
        char *op = out->data;
        for (int q = 0; q < ni; q++) { ip += pos[q] * iv->strides[q]; op += pos[q] * out->strides[ax + q]; }
        int64_t r = *(const int64_t *)ip, g = r < 0 ? r + total : r;
        if (g < 0 || g >= total) {
            st = lpi_error(ctx, LP_ERR_INDEX, "index %lld is out of bounds for axis %d with size %lld", (long long)r, ax,
                           (long long)total);
            break;
        }
        if (g < start[last] || g >= start[last + 1]) { /* binary search, else the last chunk again */
            int lo = 0, hi = K - 1;
            while (lo < hi) { int mid = (lo + hi + 1) / 2; if (start[mid] <= g) lo = mid; else hi = mid - 1; }
            last = lo;
        }
        const lpi_view *xk = &ins[1 + last];
        const char *xp = xk->data + (g - start[last]) * xk->strides[ax];
        if (sub == 1) {
            memcpy(op, xp, isz);
        } else {
            src = *xk;
            src.ndim = xnd - 1;
            src.data = (char *)xp;
            for (int i = 0, j = 0; i < xnd; i++) {
                if (i == ax) continue;
                src.shape[j] = xk->shape[i];
                src.strides[j++] = xk->strides[i];
            }
            dst.data = op;
            lpi_copy_view(&dst, &src);
        }
        for (int q = ni - 1; q >= 0; q--) {
            if (++pos[q] < iv->shape[q]) break;
            pos[q] = 0;
        }
        if ((n & 0xFFFFF) == 0 && atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) break;
    }
    lp_free(start);
    return st;
}

/* ---- scatter ---- */

static lp_status scatter_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const int J = (t->nops - 1) / 2, nd = out->ndim;
    if (t->nops != 1 + 2 * J || J < 1 || !view_is(&ins[0], nd, out->shape) || (lpi_box_size(&t->box) && ins[0].dtype != out->dtype) ||
        t->box.ndim != nd || pn->ndim != nd)
        return lpi_error(ctx, LP_ERR_VALUE, "scatter: bad operands");
    lpi_copy_view(out, &ins[0]);
    int64_t N = 1;
    for (int i = 0; i < nd; i++) N *= pn->shape[i];
    const size_t isz = lp_dtype_size(out->dtype);
    for (int j = 0; j < J; j++) {
        const lpi_view *fv = &ins[1 + j], *vv = &ins[1 + J + j];
        if (fv->ndim != 1 || vv->ndim != 1 || fv->shape[0] != vv->shape[0] || (fv->shape[0] && (fv->dtype != LP_INT64 || vv->dtype != out->dtype)))
            return lpi_error(ctx, LP_ERR_VALUE, "scatter: bad index or value operand");
        for (int64_t i = 0; i < fv->shape[0]; i++) {
            int64_t f = *(const int64_t *)(fv->data + i * fv->strides[0]), g = f < 0 ? f + N : f;
            if (g < 0 || g >= N)
                return lpi_error(ctx, LP_ERR_INDEX, "index %lld is out of bounds for size %lld", (long long)f, (long long)N);
            /* the coordinates of flat index g; written only when inside this task's box */
            char *op = out->data;
            bool in = true;
            for (int d = nd - 1; d >= 0 && in; d--) {
                int64_t c = g % pn->shape[d];
                g /= pn->shape[d];
                in = c >= t->box.lo[d] && c < t->box.hi[d];
                op += (c - t->box.lo[d]) * out->strides[d];
            }
            if (in) memcpy(op, vv->data + i * vv->strides[0], isz);
        }
    }
    return LP_OK;
}

/* ---- bincount blocks ---- */

static lp_status bincount_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const int64_t B = pn->block;
    const lpi_view *xv = &ins[0], *wv = &ins[1];
    const bool weighted = pn->dtype == LP_FLOAT64;
    if (t->nops != 2 || out->ndim != 2 || B < 1 || xv->ndim != 1 || (xv->shape[0] && xv->dtype != LP_INT64) ||
        !(wv->ndim == 0 || (wv->ndim == 1 && wv->shape[0] == xv->shape[0])) ||
        (xv->shape[0] && wv->dtype != (weighted ? LP_FLOAT64 : LP_INT64)) || t->box.ndim != 2)
        return lpi_error(ctx, LP_ERR_VALUE, "bincount: bad operands");
    const int64_t c0 = t->box.lo[1], c1 = t->box.hi[1], L = pn->shape[1];
    if (xv->shape[0] > (out->shape[0]) * B) return lpi_error(ctx, LP_ERR_VALUE, "bincount: more elements than rows hold");
    for (int64_t i = 0; i < out->shape[0]; i++)
        for (int64_t j = 0; j < out->shape[1]; j++) {
            char *p = out->data + i * out->strides[0] + j * out->strides[1];
            if (weighted) *(double *)p = 0; else *(int64_t *)p = 0;
        }
    const int64_t ws = wv->ndim ? wv->strides[0] : 0;
    for (int64_t i = 0; i < xv->shape[0]; i++) {
        int64_t v = *(const int64_t *)(xv->data + i * xv->strides[0]);
        if (v < 0) return lpi_error(ctx, LP_ERR_VALUE, "'list' argument must have no negative elements");
        if (v >= L) return lpi_error(ctx, LP_ERR_VALUE, "bincount: value %lld beyond the length %lld", (long long)v, (long long)L);
        if (v < c0 || v >= c1) continue;
        char *p = out->data + (i / B) * out->strides[0] + (v - c0) * out->strides[1];
        const char *w = wv->data + i * ws;
        if (weighted) *(double *)p += *(const double *)w;
        else *(int64_t *)p += *(const int64_t *)w;
    }
    return LP_OK;
}

/* ---- compress and nonzero ---- */

/* Walk the mask region in C order; for each true element call back with its coordinates (task
 * relative) and its output row. The count must be exactly the output's rows. */
static lp_status mask_walk(lp_ctx *ctx, const lpi_view *m, int64_t rows, void (*fn)(void *, const int64_t *, int64_t),
                           void *arg) {
    const int nd = m->ndim;
    int64_t pos[LP_MAX_NDIM] = {0}, n = 1, j = 0;
    for (int i = 0; i < nd; i++) n *= m->shape[i];
    if (nd == 1) { /* the common case, without the odometer */
        const int64_t s = m->strides[0];
        for (int64_t i = 0; i < n; i++)
            if (*(const uint8_t *)(m->data + i * s)) {
                if (j < rows) { pos[0] = i; fn(arg, pos, j); }
                j++;
            }
    } else {
        for (int64_t q = 0; q < n; q++) {
            const char *p = m->data;
            for (int i = 0; i < nd; i++) p += pos[i] * m->strides[i];
            if (*(const uint8_t *)p) {
                if (j < rows) fn(arg, pos, j);
                j++;
            }
            for (int i = nd - 1; i >= 0; i--) {
                if (++pos[i] < m->shape[i]) break;
                pos[i] = 0;
            }
        }
    }
    /* more or fewer true elements than planned: the counts did not describe this mask */
    if (j != rows) return lpi_error(ctx, LP_ERR_VALUE, "compress: the mask holds %lld true elements where %lld were planned",
                                    (long long)j, (long long)rows);
    return LP_OK;
}

/* x[mask] over a 1-d mask with whole elements (no trailing axes): every element is copied to
 * the next output slot, which advances only past true ones (no branch on the mask, no call per
 * element); the slot check is always true until the output is full. Returns the true count. */
#define DEF_COMPRESS_FLAT(NAME, T)                                                                  \
    static int64_t NAME(const char *m, int64_t sm, const char *x, int64_t sx, char *o, int64_t so,  \
                        int64_t n, int64_t rows) {                                                  \
        int64_t j = 0;                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                           \
            T v;                                                                                    \
            memcpy(&v, x + i * sx, sizeof v);                                                       \
            if (j < rows) memcpy(o + j * so, &v, sizeof v);                                         \
            j += *(const uint8_t *)(m + i * sm) != 0;                                               \
        }                                                                                           \
        return j;                                                                                   \
    }
typedef struct { uint64_t lo, hi; } u128;
DEF_COMPRESS_FLAT(compress_flat1, uint8_t)
DEF_COMPRESS_FLAT(compress_flat2, uint16_t)
DEF_COMPRESS_FLAT(compress_flat4, uint32_t)
DEF_COMPRESS_FLAT(compress_flat8, uint64_t)
DEF_COMPRESS_FLAT(compress_flat16, u128)
#undef DEF_COMPRESS_FLAT

typedef struct cmp_arg {
    const lpi_view *x, *out;
    int mnd;
    size_t isz;
    int64_t row0;       /* nonzero: the task's first mask row */
    lpi_view dst, src;  /* compress: views of one row's trailing part */
    bool sub;
} cmp_arg;

static void compress_one(void *p, const int64_t *pos, int64_t j) {
    cmp_arg *A = p;
    const char *xp = A->x->data;
    for (int i = 0; i < A->mnd; i++) xp += pos[i] * A->x->strides[i];
    char *op = A->out->data + j * A->out->strides[0];
    if (!A->sub) { memcpy(op, xp, A->isz); return; }
    A->src.data = (char *)xp;
    A->dst.data = op;
    lpi_copy_view(&A->dst, &A->src);
}

static void nonzero_one(void *p, const int64_t *pos, int64_t j) {
    cmp_arg *A = p;
    for (int i = 0; i < A->mnd; i++)
        *(int64_t *)(A->out->data + j * A->out->strides[0] + i * A->out->strides[1]) = pos[i] + (i == 0 ? A->row0 : 0);
}

static lp_status compress_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const bool nz = pn->op == LPI_OP_NONZERO;
    const lpi_view *m = &ins[0];
    cmp_arg A = {.out = out, .mnd = m->ndim, .isz = lp_dtype_size(out->dtype)};
    int64_t nm = 1;
    for (int i = 0; i < m->ndim; i++) nm *= m->shape[i];
    if (t->nops != (nz ? 1 : 2) || out->ndim < 1 || (nm && m->dtype != LP_BOOL))
        return lpi_error(ctx, LP_ERR_VALUE, "compress: bad operands");
    if (nz) {
        if (out->ndim != 2 || out->shape[1] != m->ndim || out->dtype != LP_INT64 || t->ops[0].box.ndim != m->ndim)
            return lpi_error(ctx, LP_ERR_VALUE, "nonzero: bad output");
        A.row0 = m->ndim ? t->ops[0].box.lo[0] : 0;
        return mask_walk(ctx, m, out->shape[0], nonzero_one, &A);
    }
    const lpi_view *x = &ins[1];
    A.x = x;
    /* x: the mask's axes, then the output's trailing ones */
    bool ok = x->ndim == m->ndim + out->ndim - 1 && (!nm || x->dtype == out->dtype);
    for (int i = 0; ok && i < m->ndim; i++) ok = x->shape[i] == m->shape[i];
    for (int i = 1; ok && i < out->ndim; i++) ok = x->shape[m->ndim + i - 1] == out->shape[i];
    if (!ok) return lpi_error(ctx, LP_ERR_VALUE, "compress: the operands do not match the output");
    A.sub = out->ndim > 1;
    int64_t (*flat)(const char *, int64_t, const char *, int64_t, char *, int64_t, int64_t, int64_t) =
        A.isz == 8 ? compress_flat8 : A.isz == 4 ? compress_flat4 : A.isz == 2 ? compress_flat2 :
        A.isz == 1 ? compress_flat1 : A.isz == 16 ? compress_flat16 : NULL;
    if (m->ndim >= 1 && !A.sub && flat && nm > 0) {
        /* the mask's lines along its last axis, in C order */
        const int nd = m->ndim;
        const int64_t L = m->shape[nd - 1], rows = out->shape[0];
        int64_t pos[LP_MAX_NDIM] = {0}, j = 0;
        for (int64_t line = 0; line < nm / L; line++) {
            const char *mp = m->data, *xp = x->data;
            for (int i = 0; i < nd - 1; i++) { mp += pos[i] * m->strides[i]; xp += pos[i] * x->strides[i]; }
            j += flat(mp, m->strides[nd - 1], xp, x->strides[nd - 1], out->data + (j < rows ? j : rows) * out->strides[0],
                      out->strides[0], L, j < rows ? rows - j : 0);
            for (int i = nd - 2; i >= 0; i--) {
                if (++pos[i] < m->shape[i]) break;
                pos[i] = 0;
            }
        }
        if (j != rows)
            return lpi_error(ctx, LP_ERR_VALUE, "compress: the mask holds %lld true elements where %lld were planned",
                             (long long)j, (long long)rows);
        return LP_OK;
    }
    if (A.sub) {
        A.dst = *out;
        A.dst.ndim = out->ndim - 1;
        A.src = *x;
        A.src.ndim = out->ndim - 1;
        for (int i = 1; i < out->ndim; i++) {
            A.dst.shape[i - 1] = out->shape[i];
            A.dst.strides[i - 1] = out->strides[i];
            A.src.shape[i - 1] = x->shape[m->ndim + i - 1];
            A.src.strides[i - 1] = x->strides[m->ndim + i - 1];
        }
    }
    return mask_walk(ctx, m, out->shape[0], compress_one, &A);
}

/* ---- searchsorted ---- */

static lp_status searchsorted_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const int K = t->nops - 1;
    const lpi_view *v = &ins[0];
    const bool right = pn->block != 0;
    if (K < 1 || out->dtype != LP_INT64 || v->ndim != out->ndim) return lpi_error(ctx, LP_ERR_VALUE, "searchsorted: bad operands");
    for (int i = 0; i < v->ndim; i++)
        if (v->shape[i] != out->shape[i]) return lpi_error(ctx, LP_ERR_VALUE, "searchsorted: bad operands");
    int64_t *start = lp_malloc((size_t)(K + 1) * sizeof *start), total = 0;
    if (!start) return lpi_nomem(ctx);
    lp_dtype dt = v->dtype;
    for (int k = 0; k < K; k++) {
        if (ins[1 + k].ndim != 1 || (ins[1 + k].shape[0] && ins[1 + k].dtype != dt)) {
            lp_free(start);
            return lpi_error(ctx, LP_ERR_VALUE, "searchsorted: bad operands");
        }
        start[k] = total;
        total += ins[1 + k].shape[0];
    }
    start[K] = total;
    int64_t n = lpi_box_size(&t->box), pos[LP_MAX_NDIM] = {0};
    for (int64_t q = 0; q < n; q++) {
        const char *vp = v->data;
        char *op = out->data;
        for (int i = 0; i < v->ndim; i++) { vp += pos[i] * v->strides[i]; op += pos[i] * out->strides[i]; }
        const bool cx = lpi_dtype_is_complex(dt);
        uint64_t key = cx ? 0 : key_of(dt, vp, true);
        const lpi_ckey ck = cx ? ckey_of(dt, vp, true) : (lpi_ckey){{0}};
        int64_t lo = 0, hi = total;
        int kk = 0;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            while (kk > 0 && mid < start[kk]) kk--;
            while (kk < K - 1 && mid >= start[kk + 1]) kk++;
            const lpi_view *a = &ins[1 + kk];
            const char *pm = a->data + (mid - start[kk]) * a->strides[0];
            int c;
            if (cx) c = ckey_cmp(ckey_of(dt, pm, true), ck);
            else {
                uint64_t km = key_of(dt, pm, true);
                c = km < key ? -1 : km > key;
            }
            if (right ? c <= 0 : c < 0) lo = mid + 1;
            else hi = mid;
        }
        *(int64_t *)op = lo;
        for (int i = v->ndim - 1; i >= 0; i--) {
            if (++pos[i] < v->shape[i]) break;
            pos[i] = 0;
        }
    }
    lp_free(start);
    return LP_OK;
}

lp_status lpi_index_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    switch (pn->op) {
    case LPI_OP_TAKE: return take_run(ctx, pn, t, ins, out);
    case LPI_OP_SCATTER: return scatter_run(ctx, pn, t, ins, out);
    case LPI_OP_BINCOUNT_BLOCKS: return bincount_run(ctx, pn, t, ins, out);
    case LPI_OP_COMPRESS: case LPI_OP_NONZERO: return compress_run(ctx, pn, t, ins, out);
    case LPI_OP_SEARCHSORTED: return searchsorted_run(ctx, pn, t, ins, out);
    default: return lpi_error(ctx, LP_ERR_VALUE, "index kernel: op '%s' is not one of its ops", lpi_ops[pn->op].name);
    }
}
