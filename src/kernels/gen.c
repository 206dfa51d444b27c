/* Creation kernels: each element is a function of its global index only, so values never
 * depend on the chunking or the thread count. */
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11). */
void lpi_philox4x32(uint64_t counter, uint64_t key, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static inline double u53(uint32_t hi, uint32_t lo) {
    return (double)(((uint64_t)hi << 21) ^ (lo >> 11)) * 0x1.0p-53;
}

static inline double gen_value(const lpi_pnode *pn, const int64_t *coord, int64_t flat) {
    const lpi_attrs *a = &pn->expr->a;
    switch (pn->op) {
    case LPI_OP_ARANGE: {
        /* NumPy fills arange from its first two values, in the result dtype:
         * delta = (start + step) - start, then start + i * delta */
        if (pn->dtype == LP_FLOAT16) { /* NumPy's HALF_fill: in float, each value rounded */
            float s = lpi_h2f(lpi_d2h(a->f0)), d = lpi_h2f(lpi_d2h(a->f0 + a->f1)) - s;
            return (double)(s + (float)flat * d);
        }
        if (pn->dtype == LP_FLOAT32) {
            float s = (float)a->f0, d = (float)(a->f0 + a->f1) - s;
            return (double)(s + (float)flat * d);
        }
        double delta = (a->f0 + a->f1) - a->f0;
        return a->f0 + (double)flat * delta;
    }
    case LPI_OP_LINSPACE: {
        int64_t num = a->i0;
        double div = a->endpoint ? (double)(num - 1) : (double)num;
        if (a->endpoint && num > 1 && flat == num - 1) return a->f1;
        double delta = a->f1 - a->f0;
        double step = div > 0 ? delta / div : NAN;
        double y = (double)flat;
        if (div > 0 && step == 0) y = y / div * delta;
        else if (div > 0) y = y * step;
        else y = y * delta; /* num == 1 with endpoint: only start */
        return y + a->f0;
    }
    case LPI_OP_EYE: return coord[1] - coord[0] == a->i0 ? 1.0 : 0.0;
    case LPI_OP_RANDOM_UNIFORM: {
        uint32_t r[4];
        lpi_philox4x32((uint64_t)flat, a->seed, r);
        double u = pn->dtype == LP_FLOAT32 ? (double)(r[0] >> 8) * 0x1.0p-24 : u53(r[0], r[1]);
        return a->f0 + (a->f1 - a->f0) * u;
    }
    case LPI_OP_RANDOM_NORMAL: {
        uint32_t r[4];
        lpi_philox4x32((uint64_t)flat, a->seed, r);
        double u1 = 1.0 - u53(r[0], r[1]); /* (0, 1]: log is finite */
        double u2 = u53(r[2], r[3]);
        return a->f0 + a->f1 * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    }
    default: return 0;
    }
}

/* An integer uniform in [low, low + span): Lemire's multiply-shift with rejection (exact). Each
 * Philox block gives two 64-bit draws; a retry takes the next block of the same element under
 * a key of its own, so the value still depends only on (seed, element). The key differs from
 * random_uniform's so the same seed gives unrelated streams. */
static int64_t rand_integer(const lpi_attrs *a, int64_t flat) {
    const uint64_t span = a->span, limit = (0 - span) % span;
    for (uint64_t attempt = 0;; attempt++) {
        uint32_t r[4];
        lpi_philox4x32((uint64_t)flat, (a->seed ^ 0x5851F42D4C957F2Dull) + attempt * 0x9E3779B97F4A7C15ull, r);
        for (int h = 0; h < 2; h++) {
            uint64_t x = ((uint64_t)r[2 * h] << 32) | r[2 * h + 1];
            unsigned __int128 m = (unsigned __int128)x * span;
            if ((uint64_t)m >= limit) return (int64_t)((uint64_t)a->i0 + (uint64_t)(m >> 64));
        }
    }
}

static void store_value(char *p, lp_dtype dt, double v, const lpi_pnode *pn, int64_t flat) {
    const lpi_attrs *a = &pn->expr->a;
    if (pn->op == LPI_OP_RANDOM_INTEGERS) {
        lpi_store_i64(p, dt, rand_integer(a, flat));
        return;
    }
    if (pn->op == LPI_OP_ARANGE && lpi_dtype_kind(dt) < LPI_KIND_FLOAT) {
        /* integer arange is computed exactly in integers */
        int64_t s = (int64_t)a->f0, d = (int64_t)(a->f0 + a->f1) - s;
        lpi_store_i64(p, dt, (int64_t)((uint64_t)s + (uint64_t)flat * (uint64_t)d));
        return;
    }
    if (pn->op == LPI_OP_LINSPACE && lpi_dtype_kind(dt) < LPI_KIND_FLOAT) v = floor(v);
    lpi_store_f64(p, dt, v);
}

lp_status lpi_gen_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_box *box, const lpi_view *out) {
    const int nd = box->ndim;
    if (lpi_box_size(box) == 0) return LP_OK;
    if (pn->op == LPI_OP_FULL || pn->op == LPI_OP_SCALAR) {
        /* the fill value, converted once, then a strided broadcast copy */
        lpi_raw raw = lpi_scalar_bits(pn->expr->a.value, out->dtype);
        lpi_view src = *out;
        src.data = (char *)&raw;
        for (int i = 0; i < nd; i++) src.strides[i] = 0;
        lpi_copy_view(out, &src);
        return LP_OK;
    }
    int64_t coord[LP_MAX_NDIM] = {0}, gstride[LP_MAX_NDIM];
    if (nd == 0) {
        store_value(out->data, out->dtype, gen_value(pn, coord, 0), pn, 0);
        return LP_OK;
    }
    int64_t g = 1;
    for (int i = nd - 1; i >= 0; i--) { gstride[i] = g; g *= pn->shape[i]; coord[i] = box->lo[i]; }
    const int64_t n = box->hi[nd - 1] - box->lo[nd - 1];
    char *row = out->data;
    for (;;) {
        int64_t flat = 0;
        for (int i = 0; i < nd; i++) flat += coord[i] * gstride[i];
        int64_t c[LP_MAX_NDIM];
        memcpy(c, coord, sizeof c);
        for (int64_t j = 0; j < n; j++) {
            c[nd - 1] = coord[nd - 1] + j;
            store_value(row + j * out->strides[nd - 1], out->dtype, gen_value(pn, c, flat + j), pn, flat + j);
        }
        int ax = nd - 2;
        for (; ax >= 0; ax--) {
            row += out->strides[ax];
            if (++coord[ax] < box->hi[ax]) break;
            row -= out->strides[ax] * (box->hi[ax] - box->lo[ax]);
            coord[ax] = box->lo[ax];
        }
        if (ax < 0) break;
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed))
            return lpi_error(ctx, LP_ERR_CANCELLED, "cancelled");
    }
    return LP_OK;
}
