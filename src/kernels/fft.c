/* Fourier transforms with FFTW3 (fft_forward/backward, fft_r2c, fft_c2r; ops.def). The task's
 * box spans the whole transform axis (plan/plan_axis.c); each line along it is copied into an
 * aligned scratch buffer, transformed out of place by a cached FFTW plan, and copied out.
 *
 * Plans: one per (kind, precision, n), made once with FFTW_ESTIMATE (no timing measurements,
 * so the algorithm, and the rounding, does not depend on the machine's load) and kept for the
 * process. FFTW's planner is not thread safe, so making a plan holds one mutex; executing a
 * plan on new arrays (fftw_execute_dft ...) is, and needs arrays aligned as the planning ones
 * were: both come from fftw_malloc. Unnormalized: the builders scale (expr/fn_fft.c). */
#include "kernels/kernels.h"

#include <complex.h>
#include <fftw3.h>
#include <pthread.h>
#include <string.h>

#define PLAN_CACHE_MAX 512 /* distinct (kind, precision, n); beyond it plans are made per task */

typedef struct fft_plan {
    struct fft_plan *next;
    int op;
    bool single;
    int64_t n;
    void *plan; /* fftw_plan or fftwf_plan */
} fft_plan;

static pthread_mutex_t plan_mu = PTHREAD_MUTEX_INITIALIZER;
static fft_plan *plans;
static int nplans;

/* a new FFTW plan; the caller holds plan_mu (the planner is not thread safe) */
static void *make_plan(int op, bool single, int n) {
    void *p = NULL;
    if (single) {
        fftwf_complex *a = fftwf_malloc(sizeof *a * (size_t)n), *b = fftwf_malloc(sizeof *b * (size_t)n);
        if (a && b) {
            switch (op) {
            case LPI_OP_FFT_FORWARD: p = fftwf_plan_dft_1d(n, a, b, FFTW_FORWARD, FFTW_ESTIMATE); break;
            case LPI_OP_FFT_BACKWARD: p = fftwf_plan_dft_1d(n, a, b, FFTW_BACKWARD, FFTW_ESTIMATE); break;
            case LPI_OP_FFT_R2C: p = fftwf_plan_dft_r2c_1d(n, (float *)a, b, FFTW_ESTIMATE); break;
            default: p = fftwf_plan_dft_c2r_1d(n, a, (float *)b, FFTW_ESTIMATE); break;
            }
        }
        fftwf_free(a);
        fftwf_free(b);
    } else {
        fftw_complex *a = fftw_malloc(sizeof *a * (size_t)n), *b = fftw_malloc(sizeof *b * (size_t)n);
        if (a && b) {
            switch (op) {
            case LPI_OP_FFT_FORWARD: p = fftw_plan_dft_1d(n, a, b, FFTW_FORWARD, FFTW_ESTIMATE); break;
            case LPI_OP_FFT_BACKWARD: p = fftw_plan_dft_1d(n, a, b, FFTW_BACKWARD, FFTW_ESTIMATE); break;
            case LPI_OP_FFT_R2C: p = fftw_plan_dft_r2c_1d(n, (double *)a, b, FFTW_ESTIMATE); break;
            default: p = fftw_plan_dft_c2r_1d(n, a, (double *)b, FFTW_ESTIMATE); break;
            }
        }
        fftw_free(a);
        fftw_free(b);
    }
    return p;
}

static void destroy_plan(bool single, void *p) {
    if (single) fftwf_destroy_plan(p);
    else fftw_destroy_plan(p);
}

/* The cached plan for (op, single, n), or a new one the caller destroys (*own). */
static void *get_plan(int op, bool single, int n, bool *own) {
    *own = false;
    pthread_mutex_lock(&plan_mu);
    for (fft_plan *f = plans; f; f = f->next)
        if (f->op == op && f->single == single && f->n == n) {
            pthread_mutex_unlock(&plan_mu);
            return f->plan;
        }
    void *p = make_plan(op, single, n);
    fft_plan *f = p && nplans < PLAN_CACHE_MAX ? lp_malloc(sizeof *f) : NULL;
    if (f) {
        *f = (fft_plan){plans, op, single, n, p};
        plans = f;
        nplans++;
    } else if (p) {
        *own = true;
    }
    pthread_mutex_unlock(&plan_mu);
    return p;
}

static void release_plan(bool single, void *p, bool own) {
    if (!own) return;
    pthread_mutex_lock(&plan_mu);
    destroy_plan(single, p);
    pthread_mutex_unlock(&plan_mu);
}

/* Strided line copies between a view's line and contiguous scratch (elements of `esz` bytes). */
static void gather(char *dst, const char *src, int64_t n, int64_t stride, size_t esz) {
    for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * esz, src + i * stride, esz);
}
static void scatter(char *dst, int64_t stride, const char *src, int64_t n, size_t esz) {
    for (int64_t i = 0; i < n; i++) memcpy(dst + i * stride, src + (size_t)i * esz, esz);
}

lp_status lpi_fft_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const int ax = pn->axis, nd = out->ndim;
    const lpi_view *in = &ins[0];
    if (t->nops != 1 || in->ndim != nd || ax < 0 || ax >= nd)
        return lpi_error(ctx, LP_ERR_VALUE, "fft task: expected one operand of the output's rank");
    for (int i = 0; i < nd; i++)
        if (i != ax && in->shape[i] != out->shape[i])
            return lpi_error(ctx, LP_ERR_VALUE, "fft task: the operand's box differs from the output's off the axis");
    const int op = pn->op;
    const bool c2r = op == LPI_OP_FFT_C2R, r2c = op == LPI_OP_FFT_R2C;
    const int64_t nin = in->shape[ax], nout = out->shape[ax];
    const int64_t n = c2r ? nout : nin;
    if (n < 1 || n > INT32_MAX || nout != (r2c ? n / 2 + 1 : n) || nin != (c2r ? n / 2 + 1 : n))
        return lpi_error(ctx, LP_ERR_VALUE, "fft task: lengths %lld -> %lld along the axis do not make a %s transform",
                         (long long)nin, (long long)nout, lpi_ops[op].name);
    const bool single = pn->dtype == LP_COMPLEX64 || pn->dtype == LP_FLOAT32;
    const lp_dtype want_in = r2c ? (single ? LP_FLOAT32 : LP_FLOAT64) : (single ? LP_COMPLEX64 : LP_COMPLEX128);
    if (in->dtype != want_in)
        return lpi_error(ctx, LP_ERR_VALUE, "fft task: operand dtype %s, expected %s", lp_dtype_name(in->dtype),
                         lp_dtype_name(want_in));
    int64_t lines = 1;
    for (int i = 0; i < nd; i++)
        if (i != ax) lines *= out->shape[i];
    if (lines == 0) return LP_OK;
    const size_t isz = lp_dtype_size(in->dtype), osz = lp_dtype_size(out->dtype);
    bool own;
    void *plan = get_plan(op, single, (int)n, &own);
    char *a = single ? fftwf_malloc(2 * sizeof(float) * (size_t)n) : fftw_malloc(2 * sizeof(double) * (size_t)n);
    char *b = single ? fftwf_malloc(2 * sizeof(float) * (size_t)n) : fftw_malloc(2 * sizeof(double) * (size_t)n);
    lp_status st = LP_OK;
    if (!plan || !a || !b) {
        st = lpi_nomem(ctx);
        goto done;
    }
    int64_t idx[LP_MAX_NDIM] = {0};
    for (int64_t l = 0; l < lines; l++) {
        const char *ip = in->data;
        char *op_ = out->data;
        for (int i = 0; i < nd; i++) {
            ip += idx[i] * in->strides[i];
            op_ += idx[i] * out->strides[i];
        }
        gather(a, ip, nin, in->strides[ax], isz);
        if (single) {
            switch (op) {
            case LPI_OP_FFT_FORWARD: case LPI_OP_FFT_BACKWARD:
                fftwf_execute_dft(plan, (fftwf_complex *)a, (fftwf_complex *)b); break;
            case LPI_OP_FFT_R2C: fftwf_execute_dft_r2c(plan, (float *)a, (fftwf_complex *)b); break;
            default: fftwf_execute_dft_c2r(plan, (fftwf_complex *)a, (float *)b); break;
            }
        } else {
            switch (op) {
            case LPI_OP_FFT_FORWARD: case LPI_OP_FFT_BACKWARD:
                fftw_execute_dft(plan, (fftw_complex *)a, (fftw_complex *)b); break;
            case LPI_OP_FFT_R2C: fftw_execute_dft_r2c(plan, (double *)a, (fftw_complex *)b); break;
            default: fftw_execute_dft_c2r(plan, (fftw_complex *)a, (double *)b); break;
            }
        }
        scatter(op_, out->strides[ax], b, nout, osz);
        /* next line: odometer over the axes other than ax, last fastest */
        for (int i = nd - 1; i >= 0; i--) {
            if (i == ax) continue;
            if (++idx[i] < out->shape[i]) break;
            idx[i] = 0;
        }
    }
done:
    if (single) { fftwf_free(a); fftwf_free(b); } else { fftw_free(a); fftw_free(b); }
    if (plan) release_plan(single, plan, own);
    return st;
}
