/* Shapes and NumPy broadcasting. */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

/* The product of the dimensions other than 0 (NumPy's rule: it bounds an empty array too, so
 * the answer does not depend on where the 0 is); false on a negative dimension or overflow. */
static bool nonzero_product(int ndim, const int64_t *shape, int64_t *span, bool *empty) {
    int64_t n = 1;
    *empty = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return false;
        if (shape[i] == 0) *empty = true;
        else if (__builtin_mul_overflow(n, shape[i], &n)) return false;
    }
    *span = n;
    return true;
}

bool lpi_shape_size(int ndim, const int64_t *shape, int64_t *size) {
    int64_t span;
    bool empty;
    if (!nonzero_product(ndim, shape, &span, &empty)) return false;
    *size = empty ? 0 : span;
    return true;
}

bool lpi_shape_fits(int ndim, const int64_t *shape, int64_t *size) {
    int64_t span;
    bool empty;
    if (!nonzero_product(ndim, shape, &span, &empty) || span > (INT64_MAX >> 4)) return false;
    *size = empty ? 0 : span;
    return true;
}

const char *lpi_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t len = 0;
    len += (size_t)snprintf(buf + len, cap > len ? cap - len : 0, "(");
    for (int i = 0; i < ndim; i++)
        len += (size_t)snprintf(buf + len, cap > len ? cap - len : 0, "%s%lld",
                                i ? "," : "", (long long)shape[i]);
    snprintf(buf + len, cap > len ? cap - len : 0, ndim == 1 ? ",)" : ")");
    return buf;
}

lp_status lpi_broadcast_shapes(lp_ctx *ctx, int n, const int *ndims, const int64_t *const *shapes,
                               int *out_ndim, int64_t *out_shape) {
    int nd = 0;
    for (int i = 0; i < n; i++)
        if (ndims[i] > nd) nd = ndims[i];
    for (int ax = 0; ax < nd; ax++) {
        int64_t d = 1;
        for (int i = 0; i < n; i++) {
            int k = ax - (nd - ndims[i]);
            if (k < 0) continue;
            int64_t s = shapes[i][k];
            if (s == 1) continue;
            if (d == 1) d = s;
            else if (s != d) {
                /* NumPy: "operands could not be broadcast together with shapes (2,3) (4,) " */
                char msg[LPI_ERRMSG_MAX];
                size_t len = (size_t)snprintf(msg, sizeof msg,
                                              "operands could not be broadcast together with shapes");
                for (int j = 0; j < n && len < sizeof msg; j++) {
                    len += (size_t)snprintf(msg + len, sizeof msg - len, " (");
                    for (int q = 0; q < ndims[j] && len < sizeof msg; q++)
                        len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%lld",
                                                q ? "," : "", (long long)shapes[j][q]);
                    if (len < sizeof msg)
                        len += (size_t)snprintf(msg + len, sizeof msg - len,
                                                ndims[j] == 1 ? ",)" : ")");
                }
                return lpi_error(ctx, LP_ERR_SHAPE, "%s", msg);
            }
        }
        out_shape[ax] = d;
    }
    *out_ndim = nd;
    return LP_OK;
}

lp_status lpi_norm_axis(lp_ctx *ctx, int axis, int ndim, int *out) {
    if (axis < -ndim || axis >= ndim) {
        return lpi_error(ctx, LP_ERR_AXIS, "axis %d is out of bounds for array of dimension %d",
                         axis, ndim);
    }
    *out = axis < 0 ? axis + ndim : axis;
    return LP_OK;
}

int lpi_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}
