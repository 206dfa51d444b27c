/* The run's expression graph: collected from the targets, deduplicated (CSE), with the fusion
 * decision for every node. */
#ifndef LP_GRAPH_H
#define LP_GRAPH_H

#include "core/arena.h"
#include "expr/expr.h"

typedef enum lpi_role {
    LPI_ROLE_MAT = 0,     /* materialized: a pnode with chunks */
    LPI_ROLE_INLINE = 1,  /* computed inside its region's program */
    LPI_ROLE_CONST = 2,   /* a constant register in the programs that use it */
    LPI_ROLE_VIEW = 3,    /* a load, or a slice/transpose/reshape of one, that only feeds further
                           * such nodes: pushed into their load tasks, not planned itself */
} lpi_role;

typedef struct lpi_graph {
    int n;              /* canonical nodes, topological order (inputs first) */
    lp_array **node;    /* [n] borrowed */
    int **in;           /* [n][node->nin]: canonical indices of inputs; NULL for data leaves */
    bool *leaf;         /* [n] has a computed result or wraps memory: read as data */
    int *nusers;        /* [n] */
    int **users;        /* [n][nusers] distinct consumer indices */
    bool *target;       /* [n] */
    int ntargets;
    int *target_of;     /* [ntargets] canonical index of each target */
    lpi_role *role;     /* [n] */
    int *region;        /* [n] for INLINE: index of the region's root (a MAP or reduce node) */
    int *vroot;         /* [n] the LOAD node a load, or a slice/transpose/reshape chain of one,
                         * reads (planned as a load of it: plan_load.c); -1 for other nodes */
    int *bound;         /* [n] index into the bound nodes (lpi_graph_build_bound), -1 if not bound */
} lpi_graph;

/* Collect, CSE and decide fusion. Everything is allocated in `ar`. */
lp_status lpi_graph_build(lp_ctx *ctx, lpi_arena *ar, lp_array *const *targets, int ntargets,
                          bool fusion, lpi_graph *g);
/* The same, with nodes bound to values given later (a loop's parameters): they are leaves,
 * identified by address, and g->bound says which. */
lp_status lpi_graph_build_bound(lp_ctx *ctx, lpi_arena *ar, lp_array *const *targets, int ntargets, bool fusion,
                                int nbound, lp_array *const *bound, lpi_graph *g);

#endif
