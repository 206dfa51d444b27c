/* Fisher LDA's planned ops: their state layouts, shared by the planner (plan/plan_lda.c), the
 * kernels (kernels/lda.c) and the driver (ml/lda.c).
 *
 *   lda_labels(y)                 distinct labels: int64 [n, v_0 < v_1 < ... < v_{n-1}, pad]
 *   lda_stats(X, y, classes)      per class: counts[K] | means[K][D] | M2[K][D][D] (float64;
 *                                 M2 = centered scatter, upper triangle in row-major order)
 *   lda_lw(X, y, classes, p)      Ledoit-Wolf's fourth moments: per class and overall
 *                                 sum_i (sum_j w_j (x_ij - mu_j)^2)^2, p = [(K+1)][2][D] (mu, w)
 *   lda_project(X, W, b, c)       (X - c) @ W + b, per row chunk (W: D x m, b: m), float64
 *   lda_predict(X, C, b, cl, c)    classes[argmax((X - c) @ C.T + b)] (one row of C: the
 *                                 binary rule score > 0), in the labels' dtype
 *
 * The first three are reductions over row chunks (PARTIAL + COMBINE tasks, fixed-order tree);
 * their partial states have exactly the layout of the final result, so a final task writes its
 * state. Parameters travel as small input arrays, never as pointers: a remote worker receives
 * them as chunks like any operand. */
#ifndef LP_KERNELS_LDA_H
#define LP_KERNELS_LDA_H

#include "kernels/task.h"

/* Labels beyond this many distinct values are an error (LP_LDA_MAX_CLASSES in lampy.h). */
#define LPI_LDA_MAX_CLASSES 1024
/* lda_labels state: count + one more slot than allowed, so "too many" is detectable */
#define LPI_LDA_LABELS_CAP (LPI_LDA_MAX_CLASSES + 1)
#define LPI_LDA_LABELS_SIZE (1 + LPI_LDA_LABELS_CAP)

static inline bool lpi_is_lda_op(lpi_op op) {
    return op == LPI_OP_LDA_LABELS || op == LPI_OP_LDA_STATS || op == LPI_OP_LDA_LW ||
           op == LPI_OP_LDA_PROJECT || op == LPI_OP_LDA_PREDICT;
}

static inline int64_t lpi_lda_stats_size(int64_t K, int64_t D) { return K * (1 + D + D * D); }

/* OpenBLAS single-threaded (once per process): the driver's LAPACK calls and the kernels'. */
void lpi_lda_blas_init(void);

/* The task entry point for every lda_* op (dispatched from kernel.c). */
lp_status lpi_lda_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                      const lpi_view *out);

/* Node builders (kernels/lda_nodes.c; inputs already validated by the driver). */
lp_status lpi_lda_labels_node(lp_ctx *ctx, lp_array *y, lp_array **out);
lp_status lpi_lda_stats_node(lp_ctx *ctx, lp_array *X, lp_array *y, lp_array *classes, lp_array **out);
lp_status lpi_lda_lw_node(lp_ctx *ctx, lp_array *X, lp_array *y, lp_array *classes, lp_array *params,
                          lp_array **out);
/* flat: W has one column and the result is 1-D (N,) */
lp_status lpi_lda_project_node(lp_ctx *ctx, lp_array *X, lp_array *W, lp_array *b, lp_array *center, bool flat,
                               lp_array **out);
lp_status lpi_lda_predict_node(lp_ctx *ctx, lp_array *X, lp_array *coef, lp_array *b, lp_array *classes,
                               lp_array *center, lp_dtype label_dt, lp_array **out);
/* A node of a graph document: its inputs checked against what the kernels read (the builders
 * above trust the driver), the declared dtype and shape giving predict's label dtype and
 * project's flatness; the caller compares what was built with what was declared. */
lp_status lpi_lda_node_build(lp_ctx *ctx, const char *where, lpi_op op, lp_dtype dt, int ndim, const int64_t *shape,
                             lp_array *const *in, int nin, lp_array **out);

#endif
