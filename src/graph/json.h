/* The graph format's building blocks (docs/GRAPH_FORMAT.md): exact values, shapes, strict
 * objects, and one node's attributes, encoded and rebuilt through the public builders. Shared
 * by the expression-graph dump/load (json.c) and the plan/task serializers (plan/serialize.c),
 * so a node means the same thing in a graph file, a plan dump and a task on the wire.
 *
 * Every decoder validates what it reads and reports failures as "WHERE: what is wrong", where
 * WHERE is the caller's location string ("node 7 (add)", "task 12 operand 0"). */
#ifndef LP_GRAPH_JSON_H
#define LP_GRAPH_JSON_H

#include "core/hmap.h"
#include "core/json.h"
#include "expr/expr.h"

#define LPI_GRAPH_FORMAT "lampy.graph"
/* Version 2 adds loops (while_loop / fori_loop nodes with body and cond subgraphs); dumps
 * without loops are written as version 1. Readers take both. */
#define LPI_GRAPH_VERSION 2
/* Loops nest at most this deep in a document (each level is a recursion of the loader). */
#define LPI_JSON_MAX_DEPTH 16
/* In-memory data up to this many elements is inlined; more needs a data directory. */
#define LPI_JSON_INLINE_MAX 64
#define LPI_JSON_MAX_NODES (1 << 20)
#define LPI_JSON_MAX_INPUTS 65536
#define LPI_JSON_MAX_PATH 4096

/* ---- nodes ---- */

/* The attributes object of node a ({} when it has none). Data leaves (wrap) are inlined when
 * small; anything else in memory is the caller's business (json.c decides). */
lp_status lpi_json_node_attrs(lp_ctx *ctx, const lp_array *a, json_t **out);
/* {"op", "dtype", "shape", "attrs"[, "chunks"]} of a node without its inputs. */
lp_status lpi_json_node_head(lp_ctx *ctx, const lp_array *a, json_t **out);
/* Rebuild a node from its op, declared dtype and shape, attributes and inputs with the public
 * builders (every shape and dtype rule re-checked), then compare what the builder inferred
 * with what was declared. *out is a new reference. */
lp_status lpi_json_build_node(lp_ctx *ctx, const char *where, lpi_op op, lp_dtype dt, int ndim,
                              const int64_t *shape, const json_t *attrs, lp_array *const *in, int nin,
                              lp_array **out);
/* Rebuild a {"op", "dtype", "shape", "attrs"[, "chunks"]} object; inputs as above. */
lp_status lpi_json_node_from_head(lp_ctx *ctx, const char *where, const json_t *obj, lp_array *const *in,
                                  int nin, lp_array **out);

/* ---- the expression graph ---- */

/* The graph document of the targets. data_dir (may be NULL) receives in-memory data too large
 * to inline, as node<ID>.npy files referenced by "load" nodes. */
lp_status lpi_graph_json(lp_ctx *ctx, lp_array *const *targets, int n, const char *data_dir, json_t **out);
/* The same, with in-memory data too large to inline handed to hook->fn instead: it receives the
 * node's id and array, its data C-contiguous, and writes the path its "load" node gets. */
typedef struct lpi_graph_data_hook {
    lp_status (*fn)(void *arg, lp_ctx *ctx, int id, const lp_array *a, const void *data, char *path, size_t cap);
    void *arg;
} lpi_graph_data_hook;
lp_status lpi_graph_json_hook(lp_ctx *ctx, lp_array *const *targets, int n, const char *data_dir,
                              const lpi_graph_data_hook *hook, json_t **out);
/* Validate a graph document and rebuild its targets (new references in a new array). */
lp_status lpi_graph_from_json(lp_ctx *ctx, const json_t *top, lp_array ***targets_out, int *n_out);

/* ---- node lists: the top level and loop subgraphs (json_loop.c) ---- */

typedef struct lpi_json_dump {
    const char *data_dir;     /* may be NULL */
    const lpi_graph_data_hook *hook; /* may be NULL; else in-memory data goes to it, not to files */
    const char *file_prefix;  /* of .npy files in data_dir ("" at the top, "n7body_" in a body) */
    bool loops;               /* set when a loop was written (the document is version 2) */
} lpi_json_dump;

/* Append the nodes of targets over bound params (written as placeholder nodes) to `nodes`,
 * their ids to `targets_ids` and the params' ids to `param_ids`. */
lp_status lpi_json_dump_nodes(lp_ctx *ctx, lpi_json_dump *d, lp_array *const *targets, int n, int np,
                              lp_array *const *params, json_t *nodes, json_t *target_ids, json_t *param_ids);

struct lpi_gnode {
    const json_t *obj;
    int64_t id;
    lpi_op op;
    int nin;
    int *in;        /* indices into the node table */
    lp_array *built;
    char where[LPI_WHERE_MAX];
};

/* A loaded node list: every node built (one reference each), ids resolved through `ids`. */
typedef struct lpi_json_nodes {
    size_t n;
    struct lpi_gnode *gn;
    lpi_hmap ids;
} lpi_json_nodes;

/* Validate and build a node list; prefix locates messages ("" or "node 7 (while_loop): body").
 * depth: 0 at the top level (placeholders are errors there), +1 per enclosing loop. */
lp_status lpi_json_load_nodes(lp_ctx *ctx, const char *prefix, const json_t *nodes, int version, int depth,
                              lpi_json_nodes *out);
void lpi_json_nodes_free(lpi_json_nodes *t);
/* The built node with the id e ("WHERE: WHAT must be a node id" / "WHAT %lld does not exist"). */
lp_status lpi_json_nodes_get(lp_ctx *ctx, const char *where, const char *what, const lpi_json_nodes *t,
                             const json_t *e, lp_array **out);

/* json_loop.c: the keys of a loop node, writing one, and rebuilding one (inputs built). */
extern const char *const lpi_json_loop_keys[];
lp_status lpi_json_loop_dump(lp_ctx *ctx, lpi_json_dump *d, const lp_array *a, int id, const int *in_ids, json_t *o);
lp_status lpi_json_loop_build(lp_ctx *ctx, const char *where, const json_t *obj, lpi_op op, lp_array *const *in, int nin,
                              int version, int depth, lp_array **out);

#endif
