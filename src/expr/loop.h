/* Loop nodes: while_loop and fori_loop with JAX's semantics, over a tuple of carried arrays.
 *
 * A loop is one node (op WHILE_LOOP or FORI_LOOP) whose inputs are the initial carried values
 * followed by the values the body and cond read from outside the loop ("free values"), plus
 * one LOOP_OUTPUT node per carried value (its final value). The body and cond are subgraphs
 * over *parameters*: nodes that the loop binds to a value on each iteration. Parameters are
 * placeholders, except that a free value may be its own parameter (the C API keeps the
 * body's references to outside nodes as they are; a loaded graph has closed subgraphs whose
 * free parameters are placeholders). Parameter order:
 *
 *     body (while):  carried[0..n)  free[0..m)         cond: carried[0..n)  free[0..m)
 *     body (fori):   index  carried[0..n)  free[0..m)
 *
 * and the loop node's inputs are init[0..n) then free values[0..m), in the same order.
 * Carried values keep their dtype and shape (checked when the loop is built). The loop node
 * itself has no value (0-d bool); running one is the loop driver's job (exec/loop.c). */
#ifndef LP_EXPR_LOOP_H
#define LP_EXPR_LOOP_H

#include "expr/expr.h"

/* Default bound of a while loop (max_iter 0). */
#define LPI_LOOP_MAX_ITER_DEFAULT 1000000
/* Carried values and free values per loop (graph documents are checked against these). */
#define LPI_LOOP_MAX_CARRY 1024
#define LPI_LOOP_MAX_FREE 65536

typedef struct lpi_loop {
    atomic_long refcnt;
    lpi_op kind;              /* LPI_OP_WHILE_LOOP / LPI_OP_FORI_LOOP */
    int ncarry, nfree;
    int64_t lower, upper;     /* FORI: the index runs over [lower, upper) */
    int64_t max_iter;         /* WHILE: at most this many body runs */
    bool last_state;          /* WHILE: reaching max_iter returns the state instead of failing */
    int nbody_params;         /* (fori: 1 +) ncarry + nfree */
    lp_array **body_params;   /* [nbody_params] retained */
    lp_array **body_out;      /* [ncarry] retained */
    lp_array **cond_params;   /* WHILE: [ncarry + nfree] retained */
    lp_array *cond_out;       /* WHILE: 0-d bool, retained */
} lpi_loop;

static inline bool lpi_is_loop(const lp_array *a) {
    return a->op == LPI_OP_WHILE_LOOP || a->op == LPI_OP_FORI_LOOP;
}
/* The loop descriptor of a loop node or of a loop_output node's loop. */
static inline lpi_loop *lpi_loop_of(const lp_array *a) {
    return a->op == LPI_OP_LOOP_OUTPUT ? a->in[0]->a.loop : a->a.loop;
}

/* Build a loop from explicit parameters (what the public builders and the graph loader share).
 * init: ncarry values; free_vals: nfree values bound to the free parameters (the last nfree
 * of body_params and of cond_params). Everything is validated here: parameter dtypes and
 * shapes against the values they are bound to, body outputs against the carried state, cond
 * giving a 0-d bool. where prefixes messages ("while_loop", "node 7 (while_loop)").
 * outs receives ncarry new loop_output references. */
lp_status lpi_loop_new(lp_ctx *ctx, const char *where, lpi_op kind, int64_t lower, int64_t upper, int64_t max_iter,
                       bool last_state, int ncarry, lp_array *const *init, int nfree, lp_array *const *free_vals,
                       lp_array *const *body_params, lp_array *const *body_out, lp_array *const *cond_params,
                       lp_array *cond_out, lp_array **outs);

/* outs with params replaced by values: the nodes that depend on a param are copied over the
 * new inputs (the rest are shared). new_outs receive n new references. */
lp_status lpi_loop_subst(lp_ctx *ctx, lp_array *const *outs, int n, lp_array *const *params, lp_array *const *values, int np,
                         lp_array **new_outs);

#endif
