/* Planned nodes, tasks and programs as JSON: the encoders behind lp_plan_dump, built so the
 * remote executor's wire format can carry the very same objects (docs/GRAPH_FORMAT.md, "The
 * plan"). Decoders trust nothing: every index, box, register and dtype is checked against
 * what the kernels assume, so a decoded task can be run without further checks except the
 * shapes of the chunks a worker fetches. Failures read "WHERE: what is wrong".
 *
 * Decoded structures live in the caller's arena, except pnode->expr (GEN, LOAD, RESHAPE
 * kernels read their node's attributes): a new reference the caller releases. */
#ifndef LP_PLAN_SERIALIZE_H
#define LP_PLAN_SERIALIZE_H

#include "graph/json.h"
#include "plan/plan.h"

#define LPI_PLAN_FORMAT "lampy.plan"
#define LPI_PLAN_VERSION 1
#define LPI_PLAN_MAX_REGS 30000   /* registers are int16 in lpi_instr */
#define LPI_PLAN_MAX_PIECES (1 << 20)
#define LPI_PLAN_MAX_CHUNKS ((int64_t)1 << 31)
#define LPI_PLAN_MAX_FANIN 64

const char *lpi_kernel_name(lpi_kernel k);
bool lpi_kernel_lookup(const char *name, lpi_kernel *out);

/* [[lo, hi], ...] per axis. */
json_t *lpi_box_to_json(const lpi_box *b);
/* ndim must match; lo <= hi within [0, shape] when shape is given. */
lp_status lpi_box_from_json(lp_ctx *ctx, const char *where, const json_t *j, int ndim, const int64_t *shape,
                            lpi_box *out);
/* [[0, b1, ..., n], ...]: the chunk boundaries of each axis. */
json_t *lpi_grid_to_json(const lpi_grid *g);
lp_status lpi_grid_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, int ndim,
                             const int64_t *shape, lpi_grid *out);
/* {"src": [...], "off": [...], "step": [...], "fixed": [null | int per input axis]} */
json_t *lpi_axismap_to_json(const lpi_axismap *m, int out_ndim, int in_ndim);
lp_status lpi_axismap_from_json(lp_ctx *ctx, const char *where, const json_t *j, int out_ndim, int in_ndim,
                                lpi_axismap *out);
/* {"inputs": n, "regs": [dtype...], "consts": ["0x..." raw bits], "code": [[op, dtype, dst, src...]...],
 *  "out": reg}. The decoder checks SSA order, register kinds, dtypes and that every
 * instruction has a loop. */
json_t *lpi_program_to_json(const lpi_program *p);
lp_status lpi_program_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, lpi_program **out);
json_t *lpi_reduce_to_json(const lpi_reduce *r);
lp_status lpi_reduce_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, lpi_reduce **out);

/* A load's reading parameters beside its "node": "lshape" (a C-order reshape of the stored
 * array) and "view" (the affine map of pushed-down slices and transposes). The decoder checks
 * them against the stored array (src) and the node's shape and sets out->src/view/lshape. */
int lpi_load_params_to_json(const lpi_pnode *p, json_t *params);
lp_status lpi_load_params_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *params,
                                    const lp_array *src, lpi_pnode *out);

/* The parameters of MATMUL and LINALG pnodes: {"transpose_a", "transpose_b", "a_ndim",
 * "b_ndim", "out_ndim", "loop_dtype", "syrk", "blas_threads", "rcond"}. The decoder checks
 * each field's range and their consistency (ranks, loop dtype, syrk's single transpose); what
 * ties them to a node's shape and a task's operands is its caller's (plan decoder, wire). */
json_t *lpi_linalg_to_json(const lpi_linalg_params *l);
lp_status lpi_linalg_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j,
                               lpi_linalg_params **out);

/* A MATMUL, LINALG or split-matmul COMBINE pnode (kernel, op, dtype, shape, la, red, final
 * decoded): its parameters agree with each other and with the node, as the planner makes them. */
lp_status lpi_linalg_node_check(lp_ctx *ctx, const char *where, const lpi_pnode *pn);
/* A task of such a MATMUL or LINALG pnode against what its kernel reads: the operands' extents
 * (the boxes of t->ops, of dtypes odt) per k-piece and side, the rows and columns of the task
 * box, batch axes broadcasting, syrk's diagonal blocks; a LINALG task's operands rebuilt as
 * placeholders through the builders must give the node's dtype and shape. */
lp_status lpi_linalg_task_check(lp_ctx *ctx, const char *where, const lpi_pnode *pn, const lpi_task *t,
                                const lp_dtype *odt);

/* SCAN, SORT and INDEX pnodes' parameters {"axis", "final", "block"} (lpi_axisk_keys), shared by plan
 * dumps and the wire. The decoder checks the axis against the shape and the op against the
 * kernel. */
extern const char *const lpi_axisk_keys[];
lp_status lpi_axisk_to_json(const lpi_pnode *p, json_t *params);
lp_status lpi_axisk_from_json(lp_ctx *ctx, const char *where, const json_t *params, lpi_pnode *out);

/* A pnode: kernel, op, dtype, shape, grid, inputs, and its kernel's parameters. */
lp_status lpi_pnode_to_json(lp_ctx *ctx, const lpi_plan *pl, int p, json_t **out);
/* pnodes[0..npnodes) are the plan's pnodes decoded so far (inputs must refer to them); the
 * result is written to *out (not appended). */
lp_status lpi_pnode_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, const lpi_pnode *pnodes,
                              int npnodes, lpi_pnode *out);
/* A task: its chunk and box, operands with pieces, the copy map when it is the task's own,
 * and the scheduling fields (ndeps, prio, consumers). */
json_t *lpi_task_to_json(const lpi_plan *pl, int64_t t);
/* Checks the task against its pnode and the operands' producers in pnodes[0..npnodes);
 * consumer ids must be below ntasks. */
lp_status lpi_task_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, const lpi_pnode *pnodes,
                             int npnodes, int64_t ntasks, lpi_task *out);

/* The whole plan document (lp_plan_dump). */
lp_status lpi_plan_json(lp_ctx *ctx, const lpi_plan *pl, json_t **out);

#endif
