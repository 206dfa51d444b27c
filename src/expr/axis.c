/* Builders of the ops along one axis: scans (cumsum ...), sort/argsort and selection by rank.
 * Their planning (plan/plan_axis.c) and kernels (kernels/axis.c) explain the task layout. */
#include "expr/expr.h"

#include <string.h>

lp_status lpi_scan(lp_ctx *ctx, lpi_op op, lp_array *x, int axis, lp_array **out) {
    *out = NULL;
    if (lpi_ops[op].kind != LP_OPK_SCAN) return lpi_error(ctx, LP_ERR_VALUE, "'%s' is not a scan", lpi_ops[op].name);
    int ax;
    lp_status st = lpi_norm_axis(ctx, axis, x->ndim, &ax);
    if (st) return st;
    /* cumsum/cumprod accumulate in NumPy's sum dtype (integers and bools in int64) */
    lp_dtype dt = (op == LPI_OP_CUMSUM || op == LPI_OP_CUMPROD) ? lpi_reduce_out_dtype(LPI_OP_SUM, x->dtype) : x->dtype;
    lp_array *src = x, *cast = NULL;
    if (dt != x->dtype) {
        if ((st = lp_astype(ctx, x, dt, &cast))) return st;
        src = cast;
    }
    st = lpi_node_new(ctx, op, dt, x->ndim, x->shape, 1, &src, out);
    lp_array_release(cast);
    if (!st) (*out)->a.axis = ax;
    return st;
}

lp_status lpi_sort_node(lp_ctx *ctx, lpi_op op, lp_array *x, int axis, lp_array **out) {
    *out = NULL;
    if (op != LPI_OP_SORT && op != LPI_OP_ARGSORT) return lpi_error(ctx, LP_ERR_VALUE, "'%s' is not a sort", lpi_ops[op].name);
    if (lpi_dtype_is_complex(x->dtype))
        return lpi_error(ctx, LP_ERR_TYPE, "%s of a complex array is not supported", lpi_ops[op].name);
    int ax;
    lp_status st = lpi_norm_axis(ctx, axis, x->ndim, &ax);
    if (st) return st;
    st = lpi_node_new(ctx, op, op == LPI_OP_ARGSORT ? LP_INT64 : x->dtype, x->ndim, x->shape, 1, &x, out);
    if (!st) (*out)->a.axis = ax;
    return st;
}

lp_status lpi_sort_select(lp_ctx *ctx, lp_array *x, int axis, lp_array *ranks, lp_array **out) {
    *out = NULL;
    int ax;
    lp_status st = lpi_norm_axis(ctx, axis, x->ndim, &ax);
    if (st) return st;
    if (ranks->ndim != 1 || ranks->dtype != LP_INT64)
        return lpi_error(ctx, LP_ERR_VALUE, "sort_select: ranks must be a 1-d int64 array");
    if (x->shape[ax] == 0 && ranks->shape[0] > 0)
        return lpi_error(ctx, LP_ERR_VALUE, "sort_select: no element to select along an empty axis");
    int64_t shape[LP_MAX_NDIM];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = ranks->shape[0];
    lp_array *in[2] = {x, ranks};
    st = lpi_node_new(ctx, LPI_OP_SORT_SELECT, x->dtype, x->ndim, shape, 2, in, out);
    if (!st) (*out)->a.axis = ax;
    return st;
}

lp_status lpi_fft_node(lp_ctx *ctx, lpi_op op, lp_array *x, int axis, int64_t n, lp_array **out) {
    *out = NULL;
    if (lpi_ops[op].kind != LP_OPK_FFT) return lpi_error(ctx, LP_ERR_VALUE, "'%s' is not a Fourier transform", lpi_ops[op].name);
    int ax;
    lp_status st = lpi_norm_axis(ctx, axis, x->ndim, &ax);
    if (st) return st;
    if (n < 1) return lpi_error(ctx, LP_ERR_VALUE, "Invalid number of FFT data points (%lld) specified.", (long long)n);
    const bool r2c = op == LPI_OP_FFT_R2C, c2r = op == LPI_OP_FFT_C2R;
    const bool single = x->dtype == LP_COMPLEX64 || x->dtype == LP_FLOAT32;
    if (r2c ? (x->dtype != LP_FLOAT32 && x->dtype != LP_FLOAT64) : !lpi_dtype_is_complex(x->dtype))
        return lpi_error(ctx, LP_ERR_TYPE, "%s: unsupported input dtype %s", lpi_ops[op].name, lp_dtype_name(x->dtype));
    const int64_t want_in = c2r ? n / 2 + 1 : n;
    if (x->shape[ax] != want_in)
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: the input has %lld elements along axis %d, the transform of length %lld "
                         "needs %lld", lpi_ops[op].name, (long long)x->shape[ax], ax, (long long)n, (long long)want_in);
    int64_t shape[LP_MAX_NDIM];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = r2c ? n / 2 + 1 : n;
    lp_dtype dt = c2r ? (single ? LP_FLOAT32 : LP_FLOAT64) : (single ? LP_COMPLEX64 : LP_COMPLEX128);
    st = lpi_node_new(ctx, op, dt, x->ndim, shape, 1, &x, out);
    if (!st) {
        (*out)->a.axis = ax;
        (*out)->a.i0 = n;
    }
    return st;
}
