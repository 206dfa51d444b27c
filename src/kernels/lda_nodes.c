/* Fisher LDA's graph nodes (layouts and ops in lda.h): the builders the driver (ml/lda.c) uses,
 * and the checked builder the graph format rebuilds them with (graph/json.c): a document's
 * lda_* node must have operands of exactly the shapes and dtypes the kernels read. */
#include "kernels/lda.h"

#include <string.h>

lp_status lpi_lda_labels_node(lp_ctx *ctx, lp_array *y, lp_array **out) {
    int64_t n = LPI_LDA_LABELS_SIZE;
    return lpi_node_new(ctx, LPI_OP_LDA_LABELS, LP_INT64, 1, &n, 1, &y, out);
}

lp_status lpi_lda_stats_node(lp_ctx *ctx, lp_array *X, lp_array *y, lp_array *classes, lp_array **out) {
    int64_t n = lpi_lda_stats_size(classes->shape[0], X->shape[1]);
    lp_array *in[3] = {X, y, classes};
    return lpi_node_new(ctx, LPI_OP_LDA_STATS, LP_FLOAT64, 1, &n, 3, in, out);
}

lp_status lpi_lda_lw_node(lp_ctx *ctx, lp_array *X, lp_array *y, lp_array *classes, lp_array *params,
                          lp_array **out) {
    int64_t n = classes->shape[0] + 1;
    lp_array *in[4] = {X, y, classes, params};
    return lpi_node_new(ctx, LPI_OP_LDA_LW, LP_FLOAT64, 1, &n, 4, in, out);
}

lp_status lpi_lda_project_node(lp_ctx *ctx, lp_array *X, lp_array *W, lp_array *b, lp_array *center, bool flat,
                               lp_array **out) {
    int64_t shape[2] = {X->shape[0], W->shape[1]};
    lp_array *in[4] = {X, W, b, center};
    return lpi_node_new(ctx, LPI_OP_LDA_PROJECT, LP_FLOAT64, flat ? 1 : 2, shape, 4, in, out);
}

lp_status lpi_lda_predict_node(lp_ctx *ctx, lp_array *X, lp_array *coef, lp_array *b, lp_array *classes,
                               lp_array *center, lp_dtype label_dt, lp_array **out) {
    lp_array *in[5] = {X, coef, b, classes, center};
    return lpi_node_new(ctx, LPI_OP_LDA_PREDICT, label_dt, 1, &X->shape[0], 5, in, out);
}

static bool is_float(lp_dtype dt) { return dt == LP_FLOAT32 || dt == LP_FLOAT64; }

lp_status lpi_lda_node_build(lp_ctx *ctx, const char *where, lpi_op op, lp_dtype dt, int ndim, const int64_t *shape,
                             lp_array *const *in, int nin, lp_array **out) {
#define BAD(...) lpi_error(ctx, LP_ERR_SHAPE, __VA_ARGS__)
    static const int arity[] = {[LPI_OP_LDA_LABELS] = 1, [LPI_OP_LDA_STATS] = 3, [LPI_OP_LDA_LW] = 4,
                                [LPI_OP_LDA_PROJECT] = 4, [LPI_OP_LDA_PREDICT] = 5};
    if (!lpi_is_lda_op(op) || nin != arity[op]) return BAD("%s: %s takes %d inputs", where, lpi_ops[op].name, arity[op]);
    if (op == LPI_OP_LDA_LABELS) {
        if (in[0]->ndim != 1 || is_float(in[0]->dtype)) return BAD("%s: lda_labels reads 1-d integer or bool labels", where);
        return lpi_lda_labels_node(ctx, in[0], out);
    }
    const lp_array *X = in[0];
    if (X->ndim != 2 || !is_float(X->dtype)) return BAD("%s: X must be 2-d float32 or float64", where);
    const int64_t D = X->shape[1];
    if (D > 65536) return BAD("%s: at most 65536 features", where);
    if (op == LPI_OP_LDA_STATS || op == LPI_OP_LDA_LW) {
        const lp_array *y = in[1], *cl = in[2];
        if (y->ndim != 1 || is_float(y->dtype) || y->shape[0] != X->shape[0])
            return BAD("%s: y must be 1-d integer or bool labels with X's rows", where);
        if (cl->ndim != 1 || cl->dtype != LP_INT64 || cl->shape[0] > LPI_LDA_MAX_CLASSES)
            return BAD("%s: classes must be 1-d int64, at most %d", where, LPI_LDA_MAX_CLASSES);
        if (op == LPI_OP_LDA_STATS) return lpi_lda_stats_node(ctx, in[0], in[1], in[2], out);
        if (in[3]->dtype != LP_FLOAT64 || in[3]->size < (cl->shape[0] + 1) * 2 * D)
            return BAD("%s: the parameters must be (K+1) x 2 x D float64", where);
        return lpi_lda_lw_node(ctx, in[0], in[1], in[2], in[3], out);
    }
    const lp_array *center = in[nin - 1];
    if (center->dtype != LP_FLOAT64 || center->size < D) return BAD("%s: the center must be D float64", where);
    if (op == LPI_OP_LDA_PROJECT) {
        const lp_array *W = in[1], *b = in[2];
        if (W->ndim != 2 || W->dtype != LP_FLOAT64 || W->shape[0] != D) return BAD("%s: W must be D x m float64", where);
        if (b->dtype != LP_FLOAT64 || b->size < W->shape[1]) return BAD("%s: b must be m float64", where);
        if (ndim == 1 && W->shape[1] != 1) return BAD("%s: a 1-d projection has one column", where);
        return lpi_lda_project_node(ctx, in[0], in[1], in[2], in[3], ndim == 1, out);
    }
    const lp_array *coef = in[1], *b = in[2], *cl = in[3];
    if (coef->ndim != 2 || coef->dtype != LP_FLOAT64 || coef->shape[1] != D) return BAD("%s: coef must be C x D float64", where);
    if (b->dtype != LP_FLOAT64 || b->size < coef->shape[0]) return BAD("%s: b must be C float64", where);
    if (cl->dtype != LP_INT64 || cl->ndim != 1 || cl->size < (coef->shape[0] > 2 ? coef->shape[0] : 2))
        return BAD("%s: classes must hold the C labels (int64)", where);
    if (is_float(dt) || ndim != 1) return BAD("%s: the output must be 1-d integer or bool labels", where);
#undef BAD
    (void)shape;
    return lpi_lda_predict_node(ctx, in[0], in[1], in[2], in[3], in[4], dt, out);
}
