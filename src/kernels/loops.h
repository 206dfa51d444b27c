/* Typed strided loops, NumPy's inner-loop signature: args[0..nin-1] inputs, args[nin] output;
 * steps in bytes (0 = broadcast a single value). A loop reports a data-dependent error (integer
 * to a negative power) by setting *err to an lpi_loop_err code; it never aborts. */
#ifndef LP_KERNELS_LOOPS_H
#define LP_KERNELS_LOOPS_H

#include "expr/expr.h"

typedef void (*lpi_loop_fn)(char **args, int64_t n, const int64_t *steps, int *err);

enum { LPI_LOOP_OK = 0, LPI_LOOP_ERR_NEG_POWER = 1, LPI_LOOP_ERR_ALL_NAN = 2 };

/* [op][loop dtype]; NULL where the op has no loop for that dtype. */
extern const lpi_loop_fn lpi_loops[LPI_OP_COUNT][LP_DTYPE_COUNT];
/* [from][to] */
extern const lpi_loop_fn lpi_cast_loops[LP_DTYPE_COUNT][LP_DTYPE_COUNT];
/* Output dtype of op's loop at a given loop dtype (bool for comparisons and logical ops). */
lp_dtype lpi_loop_out_dtype(lpi_op op, lp_dtype loop_dt);
const char *lpi_loop_errstr(int err);

/* The complex64/complex128 loops (loops_complex.c), named lpi_c<op>_c64 and lpi_c<op>_c128, that
 * loops.c puts in lpi_loops' complex columns. */
#define LPI_COMPLEX_LOOPS(X)                                                                             \
    X(add) X(sub) X(mul) X(div) X(pow) X(eq) X(ne) X(neg) X(abs) X(sqrt) X(exp) X(log) X(sin) X(cos)     \
    X(tanh) X(isnan) X(isinf) X(isfin) X(sign) X(square) X(recip) X(rint) X(log1p) X(log2) X(log10)     \
    X(expm1) X(exp2) X(tan) X(asin) X(acos) X(atan) X(sinh) X(cosh) X(asinh) X(acosh) X(atanh) X(conj)  \
    X(real) X(imag) X(mkc) X(lt) X(le) X(gt) X(ge) X(max) X(min) X(fmax) X(fmin)
#define X(N) void lpi_c##N##_c64(char **args, int64_t n, const int64_t *steps, int *err); \
             void lpi_c##N##_c128(char **args, int64_t n, const int64_t *steps, int *err);
LPI_COMPLEX_LOOPS(X)
#undef X

#endif
