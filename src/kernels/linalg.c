/* Linear-algebra kernels: matrix-product blocks on OpenBLAS (gemm / gemv / dot / syrk for floats,
 * exact int64 loops for integers and bool) and the small dense ops on LAPACKE.
 *
 * A MATMUL task (plan/plan_linalg.c) computes one output block C over a range of the contraction
 * axis: its operands are k-pieces (A_s, B_s), or (X_s) for a diagonal block of X.T @ X, each a view
 * of one producer chunk. C is accumulated in the loop dtype, in place in the output (a target's
 * buffer or a partial state of doubles) when the layouts allow, else in a scratch block that is
 * cast into place at the end. Operands whose layout BLAS cannot take (or of another dtype) are
 * packed first; transposed operands (LPI_MM_TA/TB) are handed to BLAS with Trans, never copied. */
#include "kernels/kernels.h"
#include "kernels/loops.h"

#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <float.h>
#include <string.h>

/* ---- BLAS threads ---- */

/* OpenBLAS's thread count is process-wide. Lampy keeps it at 1 (set on first use) so that a
 * task's BLAS and LAPACK calls give the same bits whatever else runs; calls are made under a
 * shared lock. A pnode the planner allows more threads (see plan_linalg.c) makes its gemm/syrk
 * calls under the exclusive lock, raising the count for the call and restoring 1 after. */
static pthread_rwlock_t blas_rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_init(void) { openblas_set_num_threads(1); }

static void blas_enter(int n) {
    pthread_once(&blas_once, blas_init);
    if (n > 1) {
        pthread_rwlock_wrlock(&blas_rw);
        openblas_set_num_threads(n);
    } else {
        pthread_rwlock_rdlock(&blas_rw);
    }
}

static void blas_leave(int n) {
    if (n > 1) openblas_set_num_threads(1);
    pthread_rwlock_unlock(&blas_rw);
}

/* ---- matrices and layouts ---- */

typedef struct mat {
    char *p;
    lp_dtype dt;
    int64_t rows, cols, rs, cs; /* strides in bytes */
} mat;

/* A row-major BLAS operand: NoTrans (rows x cols, leading dimension ld) or Trans (stored as
 * cols x rows). */
typedef struct bmat {
    const void *p;
    CBLAS_TRANSPOSE tr;
    int ld;
} bmat;

static bool fits_int(int64_t x) { return x >= 0 && x <= INT_MAX; }

static bool blas_layout(const mat *m, int64_t isz, bmat *o) {
    const int64_t r = m->rows, c = m->cols, rs = m->rs, cs = m->cs;
    o->p = m->p;
    if ((c <= 1 || cs == isz) && (r <= 1 || (rs > 0 && rs % isz == 0 && rs / isz >= c))) {
        int64_t ld = r <= 1 ? (c > 1 ? c : 1) : rs / isz;
        o->tr = CblasNoTrans;
        o->ld = (int)ld;
        return fits_int(ld);
    }
    if ((r <= 1 || rs == isz) && (c <= 1 || (cs > 0 && cs % isz == 0 && cs / isz >= r))) {
        int64_t ld = c <= 1 ? (r > 1 ? r : 1) : cs / isz;
        o->tr = CblasTrans;
        o->ld = (int)ld;
        return fits_int(ld);
    }
    return false;
}

/* Element strides of a BLAS operand along its columns / rows (for vectors handed to dot/gemv). */
static int inc_cols(const bmat *b) { return b->tr == CblasNoTrans ? 1 : b->ld; }
static int inc_rows(const bmat *b) { return b->tr == CblasNoTrans ? b->ld : 1; }

/* Copy m into a fresh row-major contiguous matrix of dtype dt; m then describes the copy. */
static void *pack(mat *m, lp_dtype dt) {
    const int64_t isz = (int64_t)lp_dtype_size(dt);
    char *buf = lp_malloc_aligned((size_t)(m->rows * m->cols * isz) + 64);
    if (!buf) return NULL;
    lpi_loop_fn f = lpi_cast_loops[m->dt][dt];
    for (int64_t i = 0; i < m->rows && m->cols; i++) {
        char *args[2] = {m->p + i * m->rs, buf + i * m->cols * isz};
        int64_t steps[2] = {m->cs, isz};
        int err = 0;
        f(args, m->cols, steps, &err);
    }
    m->p = buf;
    m->dt = dt;
    m->rs = m->cols * isz;
    m->cs = isz;
    return buf;
}

/* Cast-copy between two views of the same shape. */
static void cast_view(const lpi_view *dst, const lpi_view *src) {
    if (dst->dtype == src->dtype) { lpi_copy_view(dst, src); return; }
    const int nd = dst->ndim;
    for (int i = 0; i < nd; i++)
        if (dst->shape[i] == 0) return;
    lpi_loop_fn f = lpi_cast_loops[src->dtype][dst->dtype];
    const int64_t n = nd ? dst->shape[nd - 1] : 1;
    int64_t steps[2] = {nd ? src->strides[nd - 1] : 0, nd ? dst->strides[nd - 1] : 0};
    int64_t idx[LP_MAX_NDIM] = {0};
    for (;;) {
        char *s = src->data, *d = dst->data;
        for (int i = 0; i < nd - 1; i++) { s += idx[i] * src->strides[i]; d += idx[i] * dst->strides[i]; }
        char *args[2] = {s, d};
        int err = 0;
        f(args, n, steps, &err);
        int ax = nd - 2;
        for (; ax >= 0; ax--) {
            if (++idx[ax] < dst->shape[ax]) break;
            idx[ax] = 0;
        }
        if (ax < 0) return;
    }
}

/* ---- matmul blocks ---- */

/* Matrix of operand view v (side 0: A, 1: B) at output batch index bi (box-relative). */
static void operand_mat(const lpi_linalg_params *la, int side, const lpi_view *v, int nbo, const int64_t *bi, mat *m) {
    const int nd = v->ndim;
    const bool tr = (la->flags & (side == 0 ? LPI_MM_TA : LPI_MM_TB)) != 0;
    const int nbat = nd > 2 ? nd - 2 : 0;
    m->p = v->data;
    m->dt = v->dtype;
    for (int i = 0; i < nbat; i++)
        if (v->shape[i] != 1) m->p += bi[i + (nbo - nbat)] * v->strides[i];
    if (nd == 1) {
        if (side == 0) { m->rows = 1; m->cols = v->shape[0]; m->rs = 0; m->cs = v->strides[0]; }
        else { m->rows = v->shape[0]; m->cols = 1; m->rs = v->strides[0]; m->cs = 0; }
        return;
    }
    int64_t r = v->shape[nd - 2], c = v->shape[nd - 1], rs = v->strides[nd - 2], cs = v->strides[nd - 1];
    if (tr) { int64_t x = r; r = c; c = x; x = rs; rs = cs; cs = x; }
    m->rows = r;
    m->cols = c;
    m->rs = rs;
    m->cs = cs;
}

/* Does piece b continue piece a along the contraction axis in the same memory? side 0: along
 * columns (A), 1: along rows (B). */
static bool continues(const mat *a, const mat *b, int side) {
    if (a->dt != b->dt || a->rs != b->rs || a->cs != b->cs) return false;
    if (side == 0) return a->rows == b->rows && b->p == a->p + a->cols * a->cs && (a->cols <= 1 || a->cs != 0);
    return a->cols == b->cols && b->p == a->p + a->rows * a->rs && (a->rows <= 1 || a->rs != 0);
}

/* Exact integer product C (+)= A B in wrapping int64 (NumPy's integer semantics). */
static lp_status int_gemm(lp_ctx *ctx, mat a, mat b, const mat *c, bool first) {
    const int64_t M = a.rows, K = a.cols, N = b.cols;
    void *pa = pack(&a, LP_INT64), *pb = pack(&b, LP_INT64);
    if (!pa || !pb) { lp_free_aligned(pa); lp_free_aligned(pb); return lpi_nomem(ctx); }
    const uint64_t *A = pa, *B = pb;
    const int64_t cst = N > 1 ? c->cs / 8 : 1;
    for (int64_t i = 0; i < M; i++) {
        uint64_t *cr = (uint64_t *)(c->p + i * c->rs);
        if (first)
            for (int64_t j = 0; j < N; j++) cr[j * cst] = 0;
        for (int64_t k = 0; k < K; k++) {
            const uint64_t av = A[i * K + k];
            if (!av) continue;
            const uint64_t *br = B + k * N;
            if (cst == 1)
                for (int64_t j = 0; j < N; j++) cr[j] += av * br[j];
            else
                for (int64_t j = 0; j < N; j++) cr[j * cst] += av * br[j];
        }
    }
    lp_free_aligned(pa);
    lp_free_aligned(pb);
    return LP_OK;
}

static lp_status too_big(lp_ctx *ctx) {
    return lpi_error(ctx, LP_ERR_LIMIT, "matmul: a block dimension exceeds BLAS's 32-bit integers; use smaller chunks");
}

/* Float product C (+)= A B (first: C = A B) with BLAS in dtype dt; c has a NoTrans layout. */
static lp_status float_gemm(lp_ctx *ctx, lp_dtype dt, mat a, mat b, const mat *c, bool first, int threads) {
    const int64_t isz = (int64_t)lp_dtype_size(dt);
    const int64_t M = a.rows, K = a.cols, N = b.cols;
    bmat A, B, C;
    void *pa = NULL, *pb = NULL;
    lp_status st = LP_OK;
    if ((a.dt != dt || !blas_layout(&a, isz, &A)) && (!(pa = pack(&a, dt)) || !blas_layout(&a, isz, &A))) {
        st = pa ? too_big(ctx) : lpi_nomem(ctx);
        goto done;
    }
    if ((b.dt != dt || !blas_layout(&b, isz, &B)) && (!(pb = pack(&b, dt)) || !blas_layout(&b, isz, &B))) {
        st = pb ? too_big(ctx) : lpi_nomem(ctx);
        goto done;
    }
    if (!blas_layout(c, isz, &C) || C.tr != CblasNoTrans || !fits_int(M) || !fits_int(N) || !fits_int(K)) {
        st = too_big(ctx);
        goto done;
    }
    const bool f32 = dt == LP_FLOAT32;
    const double beta = first ? 0.0 : 1.0;
    /* threads only for gemm proper: dot and gemv split the sum, changing bits */
    const int nth = M > 1 && N > 1 ? threads : 1;
    blas_enter(nth);
    if (M == 1 && N == 1) {
        double d = f32 ? (double)cblas_sdot((int)K, A.p, inc_cols(&A), B.p, inc_rows(&B))
                       : cblas_ddot((int)K, A.p, inc_cols(&A), B.p, inc_rows(&B));
        if (f32) *(float *)c->p = (float)(first ? d : *(float *)c->p + d);
        else *(double *)c->p = first ? d : *(double *)c->p + d;
    } else if (N == 1) {
        /* y = A x: A is M x K (NoTrans) or stored K x M (Trans) */
        int m = A.tr == CblasNoTrans ? (int)M : (int)K, n = A.tr == CblasNoTrans ? (int)K : (int)M;
        if (f32) cblas_sgemv(CblasRowMajor, A.tr, m, n, 1.0f, A.p, A.ld, B.p, inc_rows(&B), (float)beta, (float *)C.p, inc_rows(&C));
        else cblas_dgemv(CblasRowMajor, A.tr, m, n, 1.0, A.p, A.ld, B.p, inc_rows(&B), beta, (double *)C.p, inc_rows(&C));
    } else if (M == 1) {
        /* y = B^T a: B is K x N (NoTrans: gemv Trans) or stored N x K (gemv NoTrans) */
        CBLAS_TRANSPOSE t = B.tr == CblasNoTrans ? CblasTrans : CblasNoTrans;
        int m = B.tr == CblasNoTrans ? (int)K : (int)N, n = B.tr == CblasNoTrans ? (int)N : (int)K;
        if (f32) cblas_sgemv(CblasRowMajor, t, m, n, 1.0f, B.p, B.ld, A.p, inc_cols(&A), (float)beta, (float *)C.p, inc_cols(&C));
        else cblas_dgemv(CblasRowMajor, t, m, n, 1.0, B.p, B.ld, A.p, inc_cols(&A), beta, (double *)C.p, inc_cols(&C));
    } else if (f32) {
        cblas_sgemm(CblasRowMajor, A.tr, B.tr, (int)M, (int)N, (int)K, 1.0f, A.p, A.ld, B.p, B.ld, (float)beta,
                    (float *)C.p, C.ld);
    } else {
        cblas_dgemm(CblasRowMajor, A.tr, B.tr, (int)M, (int)N, (int)K, 1.0, A.p, A.ld, B.p, B.ld, beta, (double *)C.p,
                    C.ld);
    }
    blas_leave(nth);
done:
    lp_free_aligned(pa);
    lp_free_aligned(pb);
    return st;
}

/* Upper triangle of C (+)= A A^T with ?syrk. */
static lp_status float_syrk(lp_ctx *ctx, lp_dtype dt, mat a, const mat *c, bool first, int threads) {
    const int64_t isz = (int64_t)lp_dtype_size(dt);
    bmat A, C;
    void *pa = NULL;
    lp_status st = LP_OK;
    if ((a.dt != dt || !blas_layout(&a, isz, &A)) && (!(pa = pack(&a, dt)) || !blas_layout(&a, isz, &A))) {
        st = pa ? too_big(ctx) : lpi_nomem(ctx);
        goto done;
    }
    if (!blas_layout(c, isz, &C) || C.tr != CblasNoTrans || !fits_int(a.rows) || !fits_int(a.cols)) {
        st = too_big(ctx);
        goto done;
    }
    /* A is n x k: NoTrans gives A A^T; stored k x n (Trans) gives (A^T)^T A^T, the same matrix */
    blas_enter(threads);
    if (dt == LP_FLOAT32)
        cblas_ssyrk(CblasRowMajor, CblasUpper, A.tr, (int)a.rows, (int)a.cols, 1.0f, A.p, A.ld, first ? 0.0f : 1.0f,
                    (float *)C.p, C.ld);
    else
        cblas_dsyrk(CblasRowMajor, CblasUpper, A.tr, (int)a.rows, (int)a.cols, 1.0, A.p, A.ld, first ? 0.0 : 1.0,
                    (double *)C.p, C.ld);
    blas_leave(threads);
done:
    lp_free_aligned(pa);
    return st;
}

static void zero_mat(const mat *c, int64_t isz) {
    for (int64_t i = 0; i < c->rows; i++)
        for (int64_t j = 0; j < c->cols; j++) memset(c->p + i * c->rs + j * c->cs, 0, (size_t)isz);
}

static void mirror_upper(const mat *c, int64_t isz) {
    for (int64_t i = 0; i < c->rows; i++)
        for (int64_t j = i + 1; j < c->cols; j++) memcpy(c->p + j * c->rs + i * c->cs, c->p + i * c->rs + j * c->cs, (size_t)isz);
}

static bool c_layout_ok(int64_t M, int64_t N, int64_t rs, int64_t cs, int64_t isz) {
    return (N <= 1 || cs == isz) && (M <= 1 || (rs > 0 && rs % isz == 0 && rs / isz >= N && fits_int(rs / isz)));
}

lp_status lpi_matmul_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const lpi_linalg_params *la = pn->la;
    const lpi_box *ob = &t->box;
    const int na = la->a_ndim, nb = la->b_ndim, ond = ob->ndim;
    const int nbo = ond - (na > 1) - (nb > 1);
    const int o_row = na > 1 ? nbo : -1, o_col = nb > 1 ? nbo + (na > 1) : -1;
    const int64_t M = o_row >= 0 ? ob->hi[o_row] - ob->lo[o_row] : 1;
    const int64_t N = o_col >= 0 ? ob->hi[o_col] - ob->lo[o_col] : 1;
    int64_t bshape[LP_MAX_NDIM], nbatch = 1;
    for (int i = 0; i < nbo; i++) { bshape[i] = ob->hi[i] - ob->lo[i]; nbatch *= bshape[i]; }
    if (nbatch == 0 || M == 0 || N == 0) return LP_OK;
    const bool diag = la->syrk && o_row >= 0 && o_col >= 0 && ob->lo[o_row] == ob->lo[o_col] &&
                      ob->hi[o_row] == ob->hi[o_col];
    const int per = diag ? 1 : 2, np = t->nops / per;
    const lp_dtype ldt = la->loop_dt;
    const int64_t lsz = (int64_t)lp_dtype_size(ldt);
    const bool partial = !pn->final;

    /* where C accumulates: in place when the destination has the loop dtype and a BLAS layout */
    const lp_dtype cdt = partial ? (pn->red->acc_float ? LP_FLOAT64 : LP_INT64) : out->dtype;
    int64_t cbst[LP_MAX_NDIM], crs, ccs;
    char *cbase = out->data;
    if (partial) {
        ccs = 8;
        crs = N * 8;
        int64_t s = M * N * 8;
        for (int i = nbo - 1; i >= 0; i--) { cbst[i] = s; s *= bshape[i]; }
    } else {
        for (int i = 0; i < nbo; i++) cbst[i] = out->strides[i];
        crs = o_row >= 0 ? out->strides[o_row] : 0;
        ccs = o_col >= 0 ? out->strides[o_col] : 0;
    }
    char *tmp = NULL;
    if (cdt != ldt || !c_layout_ok(M, N, crs, ccs, lsz)) {
        tmp = lp_malloc_aligned((size_t)(nbatch * M * N * lsz) + 64);
        if (!tmp) return lpi_nomem(ctx);
        cbase = tmp;
        ccs = lsz;
        crs = N * lsz;
        int64_t s = M * N * lsz;
        for (int i = nbo - 1; i >= 0; i--) { cbst[i] = s; s *= bshape[i]; }
    }

    lp_status st = LP_OK;
    int64_t bi[LP_MAX_NDIM] = {0};
    for (int64_t q = 0; q < nbatch && !st; q++) {
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) {
            st = lpi_error(ctx, LP_ERR_CANCELLED, "the run was cancelled");
            break;
        }
        mat C = {cbase, ldt, M, N, crs, ccs};
        for (int i = 0; i < nbo; i++) C.p += bi[i] * cbst[i];
        bool first = true;
        for (int s = 0; s < np && !st; s++) {
            mat a, b = {0};
            operand_mat(la, 0, &ins[s * per], nbo, bi, &a);
            if (!diag) operand_mat(la, 1, &ins[s * per + 1], nbo, bi, &b);
            if (a.cols == 0) continue;
            /* adjacent pieces of one buffer: one call */
            while (s + 1 < np) {
                mat a2, b2 = {0};
                operand_mat(la, 0, &ins[(s + 1) * per], nbo, bi, &a2);
                if (!continues(&a, &a2, 0)) break;
                if (!diag) {
                    operand_mat(la, 1, &ins[(s + 1) * per + 1], nbo, bi, &b2);
                    if (!continues(&b, &b2, 1)) break;
                    b.rows += b2.rows;
                }
                a.cols += a2.cols;
                s++;
            }
            if (ldt == LP_INT64) {
                if (diag) {
                    b = a;
                    b.rows = a.cols; b.cols = a.rows; b.rs = a.cs; b.cs = a.rs;
                }
                st = int_gemm(ctx, a, b, &C, first);
            } else {
                st = diag ? float_syrk(ctx, ldt, a, &C, first, la->blas_threads)
                          : float_gemm(ctx, ldt, a, b, &C, first, la->blas_threads);
            }
            first = false;
        }
        if (!st && first) zero_mat(&C, lsz);
        if (!st && diag) mirror_upper(&C, lsz);
        for (int i = nbo - 1; i >= 0; i--) {
            if (++bi[i] < bshape[i]) break;
            bi[i] = 0;
        }
    }
    if (!st && tmp) {
        /* the block, C order over the task box, into its destination */
        lpi_view src = {tmp, ldt, ond, {0}, {0}}, dst;
        int64_t s = lsz;
        for (int i = ond - 1; i >= 0; i--) { src.shape[i] = ob->hi[i] - ob->lo[i]; src.strides[i] = s; s *= src.shape[i]; }
        if (partial) {
            dst = src;
            dst.data = out->data;
            dst.dtype = cdt;
            s = 8;
            for (int i = ond - 1; i >= 0; i--) { dst.strides[i] = s; s *= dst.shape[i]; }
        } else {
            dst = *out;
        }
        cast_view(&dst, &src);
    }
    lp_free_aligned(tmp);
    return st;
}

/* ---- small dense linear algebra (LAPACKE, column-major work copies) ---- */

#define LAPACK(fn, ...) (f32 ? LAPACKE_s##fn(__VA_ARGS__) : LAPACKE_d##fn(__VA_ARGS__))
/* one routine in the four types: s / d, or c / z when cx (complex); rfn and cfn name the real
 * and the complex routine (orgqr / ungqr, syevd / heevd). f32 means single precision: float32
 * or complex64. Matrices are void pointers, so each variant takes them. */
#define LAPACKX(rfn, cfn, ...) \
    (cx ? (f32 ? LAPACKE_c##cfn(__VA_ARGS__) : LAPACKE_z##cfn(__VA_ARGS__)) : LAPACK(rfn, __VA_ARGS__))

static lp_status la_error(lp_ctx *ctx, const char *msg) { return lpi_error(ctx, LP_ERR_LINALG, "%s", msg); }

/* Gather matrix (rows x cols, byte strides rs/cs) at p into column-major dst (leading dim ld). */
static void gather(const char *p, lp_dtype from, int64_t rows, int64_t cols, int64_t rs, int64_t cs, void *dst,
                   int64_t ld, lp_dtype dt) {
    const int64_t isz = (int64_t)lp_dtype_size(dt);
    lpi_loop_fn f = lpi_cast_loops[from][dt];
    for (int64_t j = 0; j < cols && rows; j++) {
        char *args[2] = {(char *)p + j * cs, (char *)dst + j * ld * isz};
        int64_t steps[2] = {rs, isz};
        int err = 0;
        f(args, rows, steps, &err);
    }
}

/* Scatter column-major src (dtype from, ld) into the matrix at p (dtype dt): from is real for the
 * real results of complex factorizations (singular values, Hermitian eigenvalues). */
static void scatter_from(const void *src, lp_dtype from, int64_t ld, int64_t rows, int64_t cols, char *p, int64_t rs,
                         int64_t cs, lp_dtype dt) {
    const int64_t isz = (int64_t)lp_dtype_size(from);
    lpi_loop_fn f = lpi_cast_loops[from][dt];
    for (int64_t j = 0; j < cols && rows; j++) {
        char *args[2] = {(char *)src + j * ld * isz, p + j * cs};
        int64_t steps[2] = {isz, rs};
        int err = 0;
        f(args, rows, steps, &err);
    }
}

static void scatter(const void *src, int64_t ld, int64_t rows, int64_t cols, char *p, int64_t rs, int64_t cs, lp_dtype dt) {
    scatter_from(src, dt, ld, rows, cols, p, rs, cs, dt);
}

/* n floats (f32) or doubles: a complex matrix counts two per element */
static bool all_finite(const void *buf, int64_t n, bool f32) {
    if (f32) {
        const float *x = buf;
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x[i])) return false;
    } else {
        const double *x = buf;
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x[i])) return false;
    }
    return true;
}

/* element i of buf (of a complex buffer: part i) */
static double get_el(const void *buf, int64_t i, bool f32) { return f32 ? (double)((const float *)buf)[i] : ((const double *)buf)[i]; }
static void put_el(void *buf, int64_t i, double v, bool f32) {
    if (f32) ((float *)buf)[i] = (float)v;
    else ((double *)buf)[i] = v;
}

/* Offset of batch index bi (of an nbo-axis batch) into view v whose leading nbat axes are its
 * batch (right-aligned, broadcasting). */
static char *batch_ptr(const lpi_view *v, int nbat, int nbo, const int64_t *bi) {
    char *p = v->data;
    for (int i = 0; i < nbat; i++)
        if (v->shape[i] != 1) p += bi[i + (nbo - nbat)] * v->strides[i];
    return p;
}

static lp_status lstsq_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_view *ins, const lpi_view *out) {
    const lp_dtype dt = pn->la->loop_dt;
    const bool cx = lpi_dtype_is_complex(dt), f32 = dt == LP_FLOAT32 || dt == LP_COMPLEX64;
    const int64_t isz = (int64_t)lp_dtype_size(dt), parts = cx ? 2 : 1;
    const lpi_view *A = &ins[0], *B = &ins[1];
    const int64_t m = A->shape[0], n = A->shape[1], k = B->ndim == 2 ? B->shape[1] : 1;
    const int64_t ldb = m > n ? m : (n > 1 ? n : 1), lda = m > 1 ? m : 1;
    if (!fits_int(ldb * (k > 0 ? k : 1)) || !fits_int(lda * n))
        return lpi_error(ctx, LP_ERR_LIMIT, "lstsq: matrix too large for LAPACK's 32-bit integers");
    const int64_t orow = out->strides[0], ocol = out->ndim == 2 ? out->strides[1] : 0;
    if (m == 0 || n == 0 || k == 0) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < k; j++) memset(out->data + i * orow + j * ocol, 0, (size_t)isz);
        return LP_OK;
    }
    void *a = lp_malloc_aligned((size_t)(lda * n * isz)), *b = lp_malloc_aligned((size_t)(ldb * k * isz));
    void *s = lp_malloc_aligned((size_t)((m < n ? m : n) * isz));
    lp_status st = LP_OK;
    if (!a || !b || !s) { st = lpi_nomem(ctx); goto done; }
    gather(A->data, A->dtype, m, n, A->strides[0], A->strides[1], a, lda, dt);
    /* (b's rows past m, a wide a's: gelsd writes them, LAPACKE's NaN check reads them first) */
    if (ldb > m) memset(b, 0, (size_t)(ldb * k * isz));
    gather(B->data, B->dtype, m, k, B->strides[0], B->ndim == 2 ? B->strides[1] : 0, b, ldb, dt);
    if (!all_finite(a, lda * n * parts, f32) || !all_finite(b, ldb * k * parts, f32)) {
        st = la_error(ctx, "Array must not contain infs or NaNs");
        goto done;
    }
    double rcond = pn->la->rcond;
    if (rcond < 0) rcond = (f32 ? FLT_EPSILON : DBL_EPSILON) * (double)(m > n ? m : n);
    lapack_int rank = 0;
    lapack_int info = LAPACKX(gelsd, gelsd, LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)k, a, (lapack_int)lda,
                             b, (lapack_int)ldb, s, rcond, &rank);
    if (info > 0) { st = la_error(ctx, "SVD did not converge in Linear Least Squares"); goto done; }
    if (info < 0) { st = lpi_error(ctx, LP_ERR_INTERNAL, "gelsd: argument %d is invalid", (int)-info); goto done; }
    scatter(b, ldb, n, k, out->data, orow, ocol, dt);
done:
    lp_free_aligned(a);
    lp_free_aligned(b);
    lp_free_aligned(s);
    return st;
}

/* QR factors (plan_linalg.c: TSQR). QR_R: the R factor (min(p, q), q) of operand 0 (p, q), or
 * (p, q) with zero rows below (mode='complete'). QR_Q with one operand: its Q (p, min(p, q)),
 * or (p, p) (complete: orgqr builds p columns from the same reflectors); with two: its Q (the
 * reflectors of the same geqrf, p >= q) times operand 1 (q, c), i.e. Q_i @ Q_s-block. Shapes
 * are checked here too: a task from the wire reaches this. */
static lp_status qr_run(lp_ctx *ctx, const lpi_pnode *pn, int nops, const lpi_view *ins, const lpi_view *out) {
    const lp_dtype dt = pn->la->loop_dt;
    const bool cx = lpi_dtype_is_complex(dt), f32 = dt == LP_FLOAT32 || dt == LP_COMPLEX64;
    const int64_t isz = (int64_t)lp_dtype_size(dt);
    const lpi_view *A = &ins[0];
    if (A->ndim != 2 || out->ndim != 2) return lpi_error(ctx, LP_ERR_SHAPE, "%s: 2-d operands only", lpi_ops[pn->op].name);
    const int64_t p = A->shape[0], q = A->shape[1], k = p < q ? p : q;
    const bool two = pn->op == LPI_OP_QR_Q && nops == 2;
    /* complete factors: Q with p columns, R with p rows (p > q) */
    const bool complete = !two && p > q && out->shape[pn->op == LPI_OP_QR_R ? 0 : 1] == p;
    const int64_t oc = two ? ins[1].shape[1] : (pn->op == LPI_OP_QR_R ? q : complete ? p : k);
    const int64_t orows = pn->op == LPI_OP_QR_R ? (complete ? p : k) : p;
    if (out->shape[0] != orows || out->shape[1] != oc || (two && (ins[1].ndim != 2 || ins[1].shape[0] != q || p < q)))
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: operand and result shapes do not match", lpi_ops[pn->op].name);
    const int64_t ld = p > 1 ? p : 1, wc = two || complete ? oc : k, acols = q > oc ? q : oc;
    if (!fits_int(ld * (acols > 0 ? acols : 1)) || !fits_int(ld * (wc > 0 ? wc : 1)))
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: matrix too large for LAPACK's 32-bit integers", lpi_ops[pn->op].name);
    if (k == 0 || oc == 0 || (complete && pn->op == LPI_OP_QR_R)) /* R's rows below k are zeros */
        for (int64_t i = 0; i < out->shape[0]; i++)
            for (int64_t j = 0; j < out->shape[1]; j++) memset(out->data + i * out->strides[0] + j * out->strides[1], 0, (size_t)isz);
    if (k == 0 || oc == 0) {
        /* an empty matrix: a complete Q is the identity (the real part of a zeroed complex one) */
        if (complete && pn->op == LPI_OP_QR_Q)
            for (int64_t i = 0; i < p; i++) put_el(out->data + i * (out->strides[0] + out->strides[1]), 0, 1, f32);
        return LP_OK;
    }
    void *a = lp_malloc_aligned((size_t)(ld * acols * isz)), *tau = lp_malloc_aligned((size_t)(k * isz));
    void *w = two ? lp_calloc((size_t)(ld * oc), (size_t)isz) : NULL;
    lp_status st = LP_OK;
    if (!a || !tau || (two && !w)) { st = lpi_nomem(ctx); goto done; }
    gather(A->data, A->dtype, p, q, A->strides[0], A->strides[1], a, ld, dt);
    /* a complete Q's columns past q: orgqr overwrites them, but LAPACKE's NaN check reads all of
     * them first (uninitialized memory was an intermittent "argument -5") */
    if (acols > q) memset((char *)a + q * ld * isz, 0, (size_t)((acols - q) * ld * isz));
    lapack_int info = LAPACKX(geqrf, geqrf, LAPACK_COL_MAJOR, (lapack_int)p, (lapack_int)q, a, (lapack_int)ld, tau);
    if (!info && pn->op == LPI_OP_QR_R) {
        for (int64_t j = 0; j < q; j++)
            for (int64_t i = j + 1; i < k; i++) memset((char *)a + (i + j * ld) * isz, 0, (size_t)isz);
        scatter(a, ld, k, q, out->data, out->strides[0], out->strides[1], dt);
    } else if (!info && !two) {
        if (!(info = LAPACKX(orgqr, ungqr, LAPACK_COL_MAJOR, (lapack_int)p, (lapack_int)oc, (lapack_int)k, a, (lapack_int)ld, tau)))
            scatter(a, ld, p, oc, out->data, out->strides[0], out->strides[1], dt);
    } else if (!info) {
        /* [C; 0] (p, oc), then Q [C; 0] */
        gather(ins[1].data, ins[1].dtype, q, oc, ins[1].strides[0], ins[1].strides[1], w, ld, dt);
        if (!(info = LAPACKX(ormqr, unmqr, LAPACK_COL_MAJOR, 'L', 'N', (lapack_int)p, (lapack_int)oc, (lapack_int)k, a,
                            (lapack_int)ld, tau, w, (lapack_int)ld)))
            scatter(w, ld, p, oc, out->data, out->strides[0], out->strides[1], dt);
    }
    if (info) st = lpi_error(ctx, LP_ERR_INTERNAL, "%s: LAPACK returned %d", lpi_ops[pn->op].name, (int)info);
done:
    lp_free_aligned(a);
    lp_free_aligned(tau);
    lp_free(w);
    return st;
}

/* SVD of a square operand (n, n), packed (2n + 1, n): row 0 the singular values (descending;
 * real parts of a complex row), rows 1..n U, rows n+1..2n Vt (gesdd, as NumPy). */
static lp_status svd_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_view *ins, const lpi_view *out) {
    const lp_dtype dt = pn->la->loop_dt;
    const bool cx = lpi_dtype_is_complex(dt), f32 = dt == LP_FLOAT32 || dt == LP_COMPLEX64;
    const int64_t isz = (int64_t)lp_dtype_size(dt);
    const lpi_view *A = &ins[0];
    if (A->ndim != 2 || out->ndim != 2 || A->shape[0] != A->shape[1] || out->shape[1] != A->shape[1] ||
        out->shape[0] != 2 * A->shape[1] + 1)
        return lpi_error(ctx, LP_ERR_SHAPE, "svd: operand and result shapes do not match");
    const int64_t n = A->shape[0];
    if (n == 0) return LP_OK;
    if (!fits_int(n * n)) return lpi_error(ctx, LP_ERR_LIMIT, "svd: matrix too large for LAPACK's 32-bit integers");
    void *a = lp_malloc_aligned((size_t)(n * n * isz)), *u = lp_malloc_aligned((size_t)(n * n * isz));
    void *vt = lp_malloc_aligned((size_t)(n * n * isz)), *sv = lp_malloc_aligned((size_t)(n * isz));
    lp_status st = LP_OK;
    if (!a || !u || !vt || !sv) { st = lpi_nomem(ctx); goto done; }
    gather(A->data, A->dtype, n, n, A->strides[0], A->strides[1], a, n, dt);
    if (!all_finite(a, n * n * (cx ? 2 : 1), f32)) { st = la_error(ctx, "SVD did not converge"); goto done; }
    const lapack_int N = (lapack_int)n;
    lapack_int info = LAPACKX(gesdd, gesdd, LAPACK_COL_MAJOR, 'S', N, N, a, N, sv, u, N, vt, N);
    if (info > 0) { st = la_error(ctx, "SVD did not converge"); goto done; }
    if (info < 0) { st = lpi_error(ctx, LP_ERR_INTERNAL, "gesdd: argument %d is invalid", (int)-info); goto done; }
    const int64_t rs = out->strides[0], cs = out->strides[1];
    scatter_from(sv, lpi_dtype_real(dt), 1, 1, n, out->data, 0, cs, dt);
    scatter(u, n, n, n, out->data + rs, rs, cs, dt);
    scatter(vt, n, n, n, out->data + (n + 1) * rs, rs, cs, dt);
done:
    lp_free_aligned(a);
    lp_free_aligned(u);
    lp_free_aligned(vt);
    lp_free_aligned(sv);
    return st;
}

/* eig: one geev per matrix (right eigenvectors). A real matrix's conjugate pairs come as
 * (re, im) column pairs; they are spread into complex columns v_j = re + i im, v_j+1 = conj. */
static lp_status eig_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_view *ins, const lpi_view *out) {
    const lpi_view *A = &ins[0];
    const int an = A->ndim, nb = an - 2;
    const lp_dtype cdt = out->dtype;
    const bool f32 = cdt == LP_COMPLEX64, cin = lpi_dtype_is_complex(A->dtype);
    if (an < 2 || out->ndim != an || (cdt != LP_COMPLEX64 && cdt != LP_COMPLEX128) || A->shape[an - 1] != A->shape[an - 2] ||
        out->shape[an - 1] != A->shape[an - 1] || out->shape[an - 2] != A->shape[an - 1] + 1)
        return lpi_error(ctx, LP_ERR_SHAPE, "eig: operand and result shapes do not match");
    int64_t count = 1, bi[LP_MAX_NDIM] = {0};
    for (int i = 0; i < nb; i++) {
        if (A->shape[i] != out->shape[i]) return lpi_error(ctx, LP_ERR_SHAPE, "eig: operand and result stacks do not match");
        count *= out->shape[i];
    }
    const int64_t n = A->shape[an - 1];
    if (n == 0 || count == 0) return LP_OK;
    if (!fits_int(n * n)) return lpi_error(ctx, LP_ERR_LIMIT, "eig: matrix too large for LAPACK's 32-bit integers");
    const lp_dtype rdt = f32 ? LP_FLOAT32 : LP_FLOAT64, wdt = cin ? cdt : rdt;
    const size_t csz = lp_dtype_size(cdt), wsz = lp_dtype_size(wdt);
    void *a = lp_malloc_aligned((size_t)(n * n) * wsz), *vr = lp_malloc_aligned((size_t)(n * n) * wsz);
    void *wr = lp_malloc_aligned((size_t)n * wsz), *wi = lp_malloc_aligned((size_t)n * wsz);
    void *cw = lp_malloc_aligned((size_t)n * csz), *cv = lp_malloc_aligned((size_t)(n * n) * csz);
    lp_status st = LP_OK;
    if (!a || !vr || !wr || !wi || !cw || !cv) { st = lpi_nomem(ctx); goto done; }
    const lapack_int N = (lapack_int)n;
    for (int64_t c = 0; c < count && !st; c++) {
        const char *ap = A->data;
        char *op = out->data;
        for (int i = 0; i < nb; i++) { ap += bi[i] * A->strides[i]; op += bi[i] * out->strides[i]; }
        gather(ap, A->dtype, n, n, A->strides[an - 2], A->strides[an - 1], a, n, wdt);
        if (!all_finite(a, n * n * (cin ? 2 : 1), f32)) { st = la_error(ctx, "Array must not contain infs or NaNs"); break; }
        lapack_int info;
        if (cin) {
            info = f32 ? LAPACKE_cgeev(LAPACK_COL_MAJOR, 'N', 'V', N, a, N, cw, NULL, 1, cv, N)
                       : LAPACKE_zgeev(LAPACK_COL_MAJOR, 'N', 'V', N, a, N, cw, NULL, 1, cv, N);
        } else {
            info = LAPACK(geev, LAPACK_COL_MAJOR, 'N', 'V', N, a, N, wr, wi, NULL, 1, vr, N);
            for (int64_t j = 0; j < n && !info; j++) {
                double re = get_el(wr, j, f32), im = get_el(wi, j, f32);
                put_el(cw, 2 * j, re, f32);
                put_el(cw, 2 * j + 1, im, f32);
                const bool pair = im != 0 && j + 1 < n;
                for (int64_t i = 0; i < n; i++) {
                    double x = get_el(vr, i + j * n, f32), y = pair ? get_el(vr, i + (j + 1) * n, f32) : 0;
                    put_el(cv, 2 * (i + j * n), x, f32);
                    put_el(cv, 2 * (i + j * n) + 1, y, f32);
                    if (pair) {
                        put_el(cv, 2 * (i + (j + 1) * n), x, f32);
                        put_el(cv, 2 * (i + (j + 1) * n) + 1, -y, f32);
                    }
                }
                if (pair) {
                    put_el(cw, 2 * (j + 1), get_el(wr, j + 1, f32), f32);
                    put_el(cw, 2 * (j + 1) + 1, get_el(wi, j + 1, f32), f32);
                    j++;
                }
            }
        }
        if (info > 0) st = la_error(ctx, "Eigenvalues did not converge");
        else if (info < 0) st = lpi_error(ctx, LP_ERR_INTERNAL, "geev: argument %d is invalid", (int)-info);
        if (st) break;
        const int64_t rs = out->strides[an - 2], cs = out->strides[an - 1];
        scatter(cw, 1, 1, n, op, 0, cs, cdt);
        scatter(cv, n, n, n, op + rs, rs, cs, cdt);
        for (int i = nb - 1; i >= 0; i--) {
            if (++bi[i] < out->shape[i]) break;
            bi[i] = 0;
        }
    }
done:
    lp_free_aligned(a);
    lp_free_aligned(vr);
    lp_free_aligned(wr);
    lp_free_aligned(wi);
    lp_free_aligned(cw);
    lp_free_aligned(cv);
    return st;
}

/* The factor ops over a stack (..., p, q): the 2-d kernel per matrix, on sub-views (one
 * operand; the stack axes of operand and result agree, expr/linalg.c builds them so). */
static lp_status factor_stack(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const int nb = out->ndim - 2;
    if (t->nops != 1 || ins[0].ndim != out->ndim)
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: operand and result stacks do not match", lpi_ops[pn->op].name);
    int64_t count = 1, bi[LP_MAX_NDIM] = {0};
    for (int i = 0; i < nb; i++) {
        if (ins[0].shape[i] != out->shape[i])
            return lpi_error(ctx, LP_ERR_SHAPE, "%s: operand and result stacks do not match", lpi_ops[pn->op].name);
        count *= out->shape[i];
    }
    lp_status st = LP_OK;
    for (int64_t c = 0; c < count && !st; c++) {
        lpi_view a = ins[0], o = *out;
        a.ndim = o.ndim = 2;
        for (int i = 0; i < nb; i++) { a.data += bi[i] * ins[0].strides[i]; o.data += bi[i] * out->strides[i]; }
        for (int j = 0; j < 2; j++) {
            a.shape[j] = ins[0].shape[nb + j];
            a.strides[j] = ins[0].strides[nb + j];
            o.shape[j] = out->shape[nb + j];
            o.strides[j] = out->strides[nb + j];
        }
        st = pn->op == LPI_OP_SVD ? svd_run(ctx, pn, &a, &o) : qr_run(ctx, pn, 1, &a, &o);
        for (int i = nb - 1; i >= 0; i--) {
            if (++bi[i] < out->shape[i]) break;
            bi[i] = 0;
        }
    }
    return st;
}

lp_status lpi_linalg_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const lpi_linalg_params *la = pn->la;
    const lp_dtype dt = la->loop_dt;
    const bool cx = lpi_dtype_is_complex(dt), f32 = dt == LP_FLOAT32 || dt == LP_COMPLEX64;
    const int64_t isz = (int64_t)lp_dtype_size(dt), parts = cx ? 2 : 1;
    if (pn->op == LPI_OP_LSTSQ || pn->op == LPI_OP_QR_R || pn->op == LPI_OP_QR_Q || pn->op == LPI_OP_SVD || pn->op == LPI_OP_EIG) {
        blas_enter(1);
        lp_status st = pn->op == LPI_OP_EIG     ? eig_run(ctx, pn, ins, out)
                       : pn->op == LPI_OP_LSTSQ ? lstsq_run(ctx, pn, ins, out)
                       : out->ndim > 2        ? factor_stack(ctx, pn, t, ins, out)
                       : pn->op == LPI_OP_SVD ? svd_run(ctx, pn, ins, out)
                                              : qr_run(ctx, pn, t->nops, ins, out);
        blas_leave(1);
        return st;
    }

    const lpi_view *A = &ins[0];
    const int an = A->ndim, anbat = an - 2;
    const int64_t n = A->shape[an - 1];
    const lpi_view *B = pn->op == LPI_OP_SOLVE ? &ins[1] : NULL;
    const bool bvec = B && B->ndim == 1;
    const int64_t k = B ? (bvec ? 1 : B->shape[B->ndim - 1]) : 0;
    const int bnbat = B ? (bvec ? 0 : B->ndim - 2) : 0;
    int nbo;
    switch (pn->op) {
    case LPI_OP_DET: nbo = out->ndim; break;
    case LPI_OP_SLOGDET: nbo = out->ndim - 1; break;
    case LPI_OP_SOLVE: nbo = out->ndim - (bvec ? 1 : 2); break;
    default: nbo = out->ndim - 2;
    }
    int64_t nbatch = 1;
    for (int i = 0; i < nbo; i++) nbatch *= out->shape[i];
    if (nbatch == 0) return LP_OK;
    if (!fits_int(n) || !fits_int(n * n) || !fits_int(n * (k > 0 ? k : 1)))
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: matrix too large for LAPACK's 32-bit integers", lpi_ops[pn->op].name);
    const int64_t nn = n * n;
    void *a = lp_malloc_aligned((size_t)((nn ? nn : 1) * isz));
    void *b = B ? lp_malloc_aligned((size_t)((n * k > 0 ? n * k : 1) * isz)) : NULL;
    void *w = lp_malloc_aligned((size_t)((n ? n : 1) * isz));
    lapack_int *ipiv = lp_malloc((size_t)(n ? n : 1) * sizeof *ipiv);
    lp_status st = LP_OK;
    if (!a || (B && !b) || !w || !ipiv) { st = lpi_nomem(ctx); goto done; }
    const int o = out->ndim;
    int64_t bi[LP_MAX_NDIM] = {0};
    blas_enter(1);
    for (int64_t q = 0; q < nbatch && !st; q++) {
        char *ap = batch_ptr(A, anbat, nbo, bi);
        char *op = out->data;
        for (int i = 0; i < nbo; i++) op += bi[i] * out->strides[i];
        gather(ap, A->dtype, n, n, A->strides[an - 2], A->strides[an - 1], a, n, dt);
        if (!all_finite(a, nn * parts, f32)) { st = la_error(ctx, "Array must not contain infs or NaNs"); break; }
        lapack_int info = 0;
        const lapack_int N = (lapack_int)n;
        switch (pn->op) {
        case LPI_OP_INV:
            if (n == 0) break;
            if ((info = LAPACKX(getrf, getrf, LAPACK_COL_MAJOR, N, N, a, N, ipiv)) > 0) { st = la_error(ctx, "Singular matrix"); break; }
            if (!info && (info = LAPACKX(getri, getri, LAPACK_COL_MAJOR, N, a, N, ipiv)) > 0) { st = la_error(ctx, "Singular matrix"); break; }
            if (!info) scatter(a, n, n, n, op, out->strides[o - 2], out->strides[o - 1], dt);
            break;
        case LPI_OP_SOLVE: {
            char *bp = batch_ptr(B, bnbat, nbo, bi);
            int64_t brs = bvec ? B->strides[0] : B->strides[B->ndim - 2], bcs = bvec ? 0 : B->strides[B->ndim - 1];
            gather(bp, B->dtype, n, k, brs, bcs, b, n, dt);
            if (!all_finite(b, n * k * parts, f32)) { st = la_error(ctx, "Array must not contain infs or NaNs"); break; }
            if (n == 0 || k == 0) break;
            if ((info = LAPACKX(gesv, gesv, LAPACK_COL_MAJOR, N, (lapack_int)k, a, N, ipiv, b, N)) > 0) {
                st = la_error(ctx, "Singular matrix");
                break;
            }
            if (!info) scatter(b, n, n, k, op, bvec ? out->strides[o - 1] : out->strides[o - 2], bvec ? 0 : out->strides[o - 1], dt);
            break;
        }
        case LPI_OP_CHOLESKY:
            if (n == 0) break;
            /* (complex: the Hermitian matrix of the lower triangle, as NumPy) */
            if ((info = LAPACKX(potrf, potrf, LAPACK_COL_MAJOR, 'L', N, a, N)) > 0) {
                st = la_error(ctx, "Matrix is not positive definite");
                break;
            }
            for (int64_t j = 1; j < n; j++)
                for (int64_t i = 0; i < j; i++) memset((char *)a + (i + j * n) * isz, 0, (size_t)isz);
            if (!info) scatter(a, n, n, n, op, out->strides[o - 2], out->strides[o - 1], dt);
            break;
        case LPI_OP_EIGH:
            if (n == 0) break;
            if ((info = LAPACKX(syevd, heevd, LAPACK_COL_MAJOR, 'V', 'L', N, a, N, w)) > 0) {
                st = la_error(ctx, "Eigenvalues did not converge");
                break;
            }
            if (info) break;
            /* row 0: eigenvalues (real, also of a Hermitian matrix); rows 1..n: the eigenvectors as columns */
            scatter_from(w, lpi_dtype_real(dt), 1, 1, n, op, 0, out->strides[o - 1], dt);
            scatter(a, n, n, n, op + out->strides[o - 2], out->strides[o - 2], out->strides[o - 1], dt);
            break;
        case LPI_OP_DET:
        case LPI_OP_SLOGDET: {
            /* det = the product of U's diagonal, negated per row swap; complex: sign = det / |det|
             * (NumPy's), (sign, log|det|) packed as two complex numbers */
            double sign[2] = {1, 0}, logdet = 0, det[2] = {1, 0};
            if (n > 0 && (info = LAPACKX(getrf, getrf, LAPACK_COL_MAJOR, N, N, a, N, ipiv)) < 0) break;
            for (int64_t i = 0; i < n; i++) {
                double u[2] = {0, 0};
                if (cx) lpi_load_c((const char *)a + (i + i * n) * isz, dt, u);
                else u[0] = get_el(a, i + i * n, f32);
                const double au = hypot(u[0], u[1]);
                if (ipiv[i] != i + 1) for (int j = 0; j < 2; j++) { sign[j] = -sign[j]; det[j] = -det[j]; }
                const double d0 = det[0] * u[0] - det[1] * u[1], d1 = det[0] * u[1] + det[1] * u[0];
                det[0] = d0;
                det[1] = d1;
                if (au > 0) {
                    const double s0 = (sign[0] * u[0] - sign[1] * u[1]) / au, s1 = (sign[0] * u[1] + sign[1] * u[0]) / au;
                    sign[0] = s0;
                    sign[1] = s1;
                }
                logdet += log(au);
            }
            if (info > 0) { sign[0] = sign[1] = 0; logdet = -INFINITY; det[0] = det[1] = 0; }
            info = 0;
            if (cx && pn->op == LPI_OP_DET) lpi_store_c(op, dt, det[0], det[1]);
            else if (cx) {
                lpi_store_c(op, dt, sign[0], sign[1]);
                lpi_store_c(op + out->strides[o - 1], dt, logdet, 0);
            } else if (pn->op == LPI_OP_DET) put_el(op, 0, det[0], f32);
            else {
                put_el(op, 0, sign[0], f32);
                put_el(op + out->strides[o - 1], 0, logdet, f32);
            }
            break;
        }
        default: st = lpi_error(ctx, LP_ERR_INTERNAL, "no linalg kernel for %s", lpi_ops[pn->op].name);
        }
        if (!st && info < 0)
            st = lpi_error(ctx, LP_ERR_INTERNAL, "%s: LAPACK argument %d is invalid", lpi_ops[pn->op].name, (int)-info);
        for (int i = nbo - 1; i >= 0; i--) {
            if (++bi[i] < out->shape[i]) break;
            bi[i] = 0;
        }
    }
    blas_leave(1);
done:
    lp_free_aligned(a);
    lp_free_aligned(b);
    lp_free_aligned(w);
    lp_free(ipiv);
    return st;
}
