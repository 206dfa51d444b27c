/* The task wire format (docs/PROTOCOL.md, "lampy.tasks" version 1): a batch of tasks as JSON,
 * the body of POST /run/<name>. The driver (exec/remote.c) encodes the planner's own structs —
 * lpi_pnode parameters and lpi_task operands — with chunk references into a store; a worker
 * (server/worker.c, or the OpenLambda lambda through lp_worker_run_json) decodes them back into
 * the SAME structs and calls the same kernel entry point, lpi_kernel_run.
 *
 * Decoding trusts nothing. Before anything runs, every field is typed and range-checked, and
 * every task is checked against what its kernel will touch: op names from the registry, the
 * kernel/op pairing, register programs (registers in range, SSA order, dtypes consistent with
 * the lpi_loops tables), reduction parameters, affine maps whose reads stay inside the operand,
 * piece boxes inside their operand box and inside their chunk box and covering the operand
 * exactly, operand shapes against the task box, output sizes and the sum of a task's bytes
 * against the limits, keys against the store key rule. A task that passes cannot make a kernel
 * read or write out of bounds; one that fails is a 400 naming the task and the field.
 *
 * Chunk CONTENTS are checked too where a kernel would trust them (the stored header's dtype,
 * shape and checksum against the reference; lda_labels states' counts): see lpi_wire_check_input.
 */
#ifndef LP_EXEC_WIRE_H
#define LP_EXEC_WIRE_H

#include <jansson.h>

#include "plan/plan.h"

#define LPI_WIRE_FORMAT "lampy.tasks"
#define LPI_WIRE_VERSION 1
/* The expiry of a batch's outputs when it names none: the default run deadline (an hour) with
 * the driver's margins (exec/remote.c), so a chunk outlives any run that did not say otherwise. */
#define LPI_WIRE_DEFAULT_EXPIRE_MS ((int64_t)(3600 + 65) * 1000)

/* Limits a worker enforces (lpi_wire_limits_default gives the documented defaults). */
typedef struct lpi_wire_limits {
    int max_tasks;              /* tasks per batch */
    int max_nodes;              /* node parameter sets per batch */
    int max_stores;             /* store URLs per batch */
    int64_t max_chunks;         /* input chunk references per batch */
    int max_operands;           /* operands per task */
    int64_t max_pieces;         /* pieces per batch (all tasks) */
    int max_program;            /* registers and instructions per program */
    uint64_t max_chunk_bytes;   /* data bytes of one chunk, in or out */
    uint64_t max_task_bytes;    /* inputs + assembled operands + output of one task */
    /* LOAD: where a load task may read (lpi_wire_load_allowed). NULL-terminated lists of
     * directories (paths must be absolute and lie below one of them, symlinks and ".." resolved
     * by the kernel without leaving it) and URL prefixes (http://, https://, s3://). Deny by
     * default: with both lists empty no load task may run. Refusals are LP_ERR_DENIED, with the
     * same words whether the file exists or not. */
    const char *const *load_dirs;
    const char *const *load_urls;
    /* Result sinks: directories below which a task may write its output into a .npy file the
     * driver created (lpi_wire_sink_open); NULL or empty: none (deny by default). */
    const char *const *write_dirs;
} lpi_wire_limits;

void lpi_wire_limits_default(lpi_wire_limits *lim);

/* The one check of where a load may read (the worker's confinement; deny by default): a file
 * path must be absolute and open, confined by the kernel, below one of lim->load_dirs; a URL
 * must start with one of lim->load_urls (at a '/' boundary) and have no '.'/'..' segments,
 * escapes, query or fragment. *resolved (lp_free) receives what to open: the resolved path,
 * or the URL. Refusals are LP_ERR_DENIED with the same words whether a file exists or not;
 * LP_ERR_NOTFOUND / LP_ERR_IO only for a path inside a root. */
lp_status lpi_wire_load_allowed(lp_ctx *ctx, const lpi_wire_limits *lim, const char *where, const char *url,
                                char **resolved);

/* The one check of where a result sink may write: path must be absolute and name an existing
 * regular file below one of lim->write_dirs, opened write-only with the kernel confining the
 * walk (never created, never truncated), at least `need` bytes long (the driver sized it). A
 * path outside is LP_ERR_DENIED with the same words whether it exists or not. *fd_out: the
 * descriptor (close()). */
lp_status lpi_wire_sink_open(lp_ctx *ctx, const lpi_wire_limits *lim, const char *where, const char *path,
                             int64_t need, int *fd_out);

/* A reference to a stored chunk. */
typedef struct lpi_wire_chunk {
    int store;                  /* index into the batch's store URLs */
    const char *key;
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_NDIM]; /* as stored */
    lpi_box box;                /* inputs: the chunk's box in its array ([s, s+1) for states) */
    bool state;                 /* a reduction's partial state: shape (nfields, pelems) */
    uint64_t checksum;          /* inputs: XXH3-64 of the data, as the producer reported it */
    int load;                   /* >= 0: not in a store but rows of the .npy file of this load
                                 * node (the worker reads them itself); -1: a stored chunk */
    /* outputs: a result sink (file != NULL): the output is written at its place in the .npy
     * file `file` (data from file_offset, the node's shape, C order; fd open for writing); key
     * is then NULL unless later tasks read the chunk from the store too */
    const char *file;
    int64_t file_offset;
    int fd;
} lpi_wire_chunk;

/* A decoded, validated batch. Tasks and nodes are the planner's structs: task.pnode indexes
 * nodes[]; a piece's `chunk` indexes chunks[] (its `pnode` is -1). outs[i] is task i's output:
 * store, key, dtype and shape (box = the output chunk's box, or the state's 1-D box). */
typedef struct lpi_wire_batch {
    lpi_arena *ar;
    json_t *doc;                /* owns the strings the structs point to */
    const char *run;            /* the driver's run id ("" if none) */
    int64_t timeout_ms;         /* 0 = none */
    const char *guard;          /* outputs are written only while this key exists (NULL: always) */
    int64_t expire_ms;          /* outputs expire this long after they are written (stores that
                                 * can: Redis); LPI_WIRE_DEFAULT_EXPIRE_MS when the batch says none */
    int nstores;
    const char **stores;
    int64_t nchunks;
    lpi_wire_chunk *chunks;
    int nnodes;
    lpi_pnode *nodes;
    int ntasks;
    lpi_task *tasks;
    lpi_wire_chunk *outs;
    uint64_t *task_bytes;       /* per task: bytes it will hold at once (limits, scheduling) */
    int nfds;                   /* the sinks' open files, each once */
    int *fds;
} lpi_wire_batch;

/* Parse and validate a batch. Messages say where: "task 3 operand 1 piece 0: box ... is not
 * inside its chunk's box ...". Statuses: LP_ERR_FORMAT (not JSON, wrong types, unknown keys),
 * LP_ERR_VALUE / LP_ERR_TYPE / LP_ERR_SHAPE (inconsistent), LP_ERR_LIMIT, LP_ERR_NOTFOUND /
 * LP_ERR_IO (LOAD files). */
lp_status lpi_wire_decode(lp_ctx *ctx, const lpi_wire_limits *lim, const char *body, size_t n,
                          lpi_wire_batch **out);
/* The request's "kind" ("batch" when absent, or "orchestrate": docs/ORCHESTRATION.md) into
 * kind[cap], without building the trees of its big lists: a worker routes a request first. */
lp_status lpi_wire_kind(lp_ctx *ctx, const char *body, size_t n, char *kind, size_t cap);
void lpi_wire_batch_free(lpi_wire_batch *b);

/* Check a fetched input chunk against its reference: dtype, shape, and the data's XXH3 against
 * the checksum the producer reported. */
lp_status lpi_wire_check_input(lp_ctx *ctx, const lpi_wire_batch *b, int64_t chunk, const lp_buffer *buf);
/* Check the contents a kernel trusts in its assembled operands (lda_labels states' counts). */
lp_status lpi_wire_check_operands(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins);

/* ---- encoding (the driver) ---- */

/* The dtype and shape of the chunk a task writes: the output chunk box's extents, or the
 * (nfields, pelems) state of a non-final PARTIAL/COMBINE. Shared by both sides. */
void lpi_task_out_shape(const lpi_pnode *pn, const lpi_task *t, const lpi_box *chunk_box, lp_dtype *dt,
                        int *ndim, int64_t *shape);

/* A node's parameters (kernel, op, dtype, shape, program, reduction, source, ...), once per
 * pnode; the batch encoder references them. A new reference. */
lp_status lpi_wire_node_json(lp_ctx *ctx, const lpi_plan *plan, int pnode, json_t **out);
/* "0123456789abcdef" */
void lpi_wire_hex64(uint64_t v, char out[17]);

/* Encoding state of one run: how its chunks are named and described. Batches share it, so
 * each node's parameters are encoded once per run. */
typedef struct lpi_wire_enc {
    lp_ctx *ctx;                /* errors */
    const lpi_plan *plan;
    char prefix[64];            /* chunk keys: <prefix>/<pnode>/<chunk> */
    const uint64_t *csum;       /* per global chunk: the producer's checksum, read when encoding */
    const bool *direct;         /* per pnode (may be NULL): a load whose chunks consumers read
                                 * from its file instead of the store */
    int64_t *owner;             /* per global chunk: its pnode */
    json_t **node_json;         /* per pnode, encoded on first use */
    int32_t *slot;              /* per chunk, then per pnode: index in the batch being encoded */
    int64_t *slot_stamp, stamp; /* slot[i] is valid when slot_stamp[i] == stamp */
} lpi_wire_enc;

lp_status lpi_wire_enc_init(lp_ctx *ctx, lpi_wire_enc *e, const lpi_plan *plan, const char *prefix,
                            const uint64_t *csum, const bool *direct);
void lpi_wire_enc_free(lpi_wire_enc *e);
/* The store key of global chunk gc. */
void lpi_wire_chunk_key(const lpi_wire_enc *e, int64_t gc, char *buf, size_t cap);
/* The body of one invocation: tasks[0..n) of the plan with their chunks in store 0 (store_url,
 * without credentials: the worker opens its own allowed URL for it), the run's guard key
 * (may be NULL: workers write only while it exists) and the expiry of the outputs (seconds
 * from their writing, > 0). *body_out is malloc'd (free()). */
lp_status lpi_wire_encode_batch(lpi_wire_enc *e, const char *run, double timeout_sec, const char *guard,
                                double expire_sec, const char *store_url, const int64_t *tasks, int n,
                                char **body_out);

#endif
