/* The planned task graph. One representation serves every executor: the local pool runs
 * lpi_task structs by pointer; the remote executor serializes the same structs (with the
 * pnode's kernel parameters) to JSON. */
#ifndef LP_PLAN_H
#define LP_PLAN_H

#include "expr/expr.h"

/* A box in an array's index space: [lo, hi) per axis. */
typedef struct lpi_box {
    int ndim;
    int64_t lo[LP_MAX_NDIM], hi[LP_MAX_NDIM];
} lpi_box;

/* A strided view: what kernels read and write. Strides in bytes, may be 0 (broadcast). */
typedef struct lpi_view {
    char *data;
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    int64_t strides[LP_MAX_NDIM];
} lpi_view;

/* ---- elementwise programs (the fused-kernel VM) ---- */

typedef struct lpi_instr {
    uint16_t op;      /* lpi_op; LPI_OP_ASTYPE = cast from src[0]'s dtype to dst's dtype */
    uint8_t dt;       /* loop dtype */
    uint8_t nsrc;
    int16_t dst;
    int16_t src[3];
} lpi_instr;

typedef struct lpi_program {
    int ninputs;          /* registers [0, ninputs): the task's operands */
    int nconst;           /* registers [ninputs, ninputs+nconst): constants */
    int nregs;
    int ninstr;
    int out_reg;
    lp_dtype *reg_dt;     /* [nregs] */
    uint64_t *consts;     /* [nconst] raw 8-byte values in reg_dt */
    lpi_instr *ins;       /* [ninstr] */
} lpi_program;

/* ---- planned nodes and tasks ---- */

typedef enum lpi_kernel {
    LPI_K_NONE = 0,       /* chunks exist before the run (wrapped or already computed data) */
    LPI_K_GEN = 1,        /* full, arange, linspace, eye, random: write the box */
    LPI_K_LOAD = 2,       /* read the box from a .npy file */
    LPI_K_MAP = 3,        /* program over operands -> box */
    LPI_K_PARTIAL = 4,    /* program over operands, reduced -> partial state (or final) */
    LPI_K_COMBINE = 5,    /* partial states -> partial state (or final) */
    LPI_K_COPY = 6,       /* affine copy: transpose, slice, unit-axis reshape, concatenate */
    LPI_K_RESHAPE = 7,    /* flat (C-order) copy */
    LPI_K_MATMUL = 8,     /* matrix-product block over k-pieces -> box (or partial state) */
    LPI_K_LINALG = 9,     /* one LAPACK op over whole operands -> the whole result */
    LPI_K_SCAN = 10,      /* along `axis`: per-chunk totals, or the chunk's scan after the carries */
    LPI_K_SORT = 11,      /* along `axis`: sort a chunk, or merge/select from sorted chunks */
    LPI_K_INDEX = 12,     /* take, scatter, per-block bincounts: operands read by data */
    LPI_K_COUNT
} lpi_kernel;

/* Reduction parameters shared by a reduction's partial and combine tasks. */
typedef struct lpi_reduce {
    lpi_op op;
    uint32_t axes;        /* reduced axes of the reduce input */
    int in_ndim;
    int64_t in_shape[LP_MAX_NDIM];
    int ddof;
    bool acc_float;       /* state fields are doubles (else int64) */
    int nfields;          /* state fields per output element */
    int64_t count;        /* elements reduced into each output element */
} lpi_reduce;

/* Parameters of MATMUL and LINALG pnodes (plan/plan_linalg.c explains the task layout). */
typedef struct lpi_linalg_params {
    uint32_t flags;       /* MATMUL: LPI_MM_TA / LPI_MM_TB (operand read with its last two axes swapped) */
    int a_ndim, b_ndim;   /* MATMUL: operand ranks (1: a vector) */
    int out_ndim;         /* rank of the result; MATMUL task boxes are in its coordinates */
    lp_dtype loop_dt;     /* FLOAT32 / FLOAT64: BLAS/LAPACK precision; INT64: exact integer loops */
    bool syrk;            /* MATMUL: one array on both sides, one transposed: diagonal blocks use ?syrk */
    int blas_threads;     /* OpenBLAS threads for each call in these tasks */
    double rcond;         /* LSTSQ: singular-value cutoff (< 0: eps * max(M, N)) */
} lpi_linalg_params;

typedef struct lpi_grid {
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    int64_t nchunks[LP_MAX_NDIM];
    int64_t *bounds[LP_MAX_NDIM]; /* nchunks[i] + 1 offsets */
    int64_t total;
} lpi_grid;

typedef struct lpi_pnode {
    lpi_kernel kernel;
    lpi_op op;
    lp_array *expr;            /* the node computed (NULL for internal partial levels) */
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    lpi_grid grid;             /* partial levels: 1-D grid of state chunks */
    int nin;
    int *in;                   /* input pnodes (operands of the program / sources of a copy) */
    lpi_program *prog;         /* MAP, PARTIAL */
    lpi_reduce *red;           /* PARTIAL, COMBINE */
    bool final;                /* PARTIAL/COMBINE writing the reduction's result */
    const lpi_axismap *map;    /* COPY (per task for concatenate) */
    int64_t first_task, ntasks;
    int target;                /* index into the run's targets, -1 if none */
    lp_buffer *prefilled;      /* LPI_K_NONE: the data */
    int64_t pre_offset;
    int64_t pre_strides[LP_MAX_NDIM];
    int load_fd;               /* LOAD: open descriptor for the run */
    double est_seconds;        /* cost model estimate (all tasks) */
    const lpi_linalg_params *la; /* MATMUL, LINALG */
    int axis;                  /* SCAN, SORT, INDEX: the axis scanned, sorted or taken along */
    int64_t block;             /* INDEX (bincount_blocks): elements per row of counts */
} lpi_pnode;

/* A piece of an operand: the part of one producer chunk the task reads. */
typedef struct lpi_piece {
    int32_t pnode;
    int64_t chunk;
    lpi_box box;               /* global coordinates in the producer's array */
} lpi_piece;

typedef struct lpi_operand {
    int32_t pnode;
    lpi_box box;               /* the region of the producer the task needs */
    bool contig;               /* the kernel needs it C-contiguous (flat reshape) */
    int npieces;
    lpi_piece *pieces;
} lpi_operand;

typedef struct lpi_task {
    int32_t pnode;             /* the pnode whose chunk this task writes */
    int64_t chunk;
    lpi_box box;               /* output box; PARTIAL: the box of the reduce input */
    int nops;
    lpi_operand *ops;
    const lpi_axismap *map;    /* COPY */
    int64_t pelems;            /* PARTIAL/COMBINE writing states: elements per state field */
    /* scheduling (filled by the planner, used by executors) */
    int32_t ndeps;             /* distinct producer tasks */
    int64_t prio;              /* lower runs first: depth-first post-order from the sinks */
    int32_t nconsumers;
    int64_t *consumers;        /* task ids */
} lpi_task;

/* Arena: graph-internal data lives here and is freed in one go. */
typedef struct lpi_arena lpi_arena;
lpi_arena *lpi_arena_create(void);
void lpi_arena_destroy(lpi_arena *a);
void *lpi_arena_alloc(lpi_arena *a, size_t n); /* zeroed, 16-aligned; NULL on OOM */

typedef struct lpi_plan {
    lpi_arena *arena;
    int npnodes;
    lpi_pnode *pnodes;
    int64_t ntasks;
    lpi_task *tasks;
    int ntargets;
    int *target_pnode;         /* per target */
    lp_buffer **target_buf;    /* per target: the result buffer tasks write into */
    int64_t *chunk_refs;       /* per (pnode, chunk): consumer tasks + 1 if a target chunk */
    int64_t *chunk_base;       /* per pnode: index of its chunk 0 in chunk_refs */
    int64_t nchunks;
} lpi_plan;

/* Plan targets: graph passes (CSE, fusion) and task generation. */
lp_status lpi_plan_build(lp_ctx *ctx, lp_array *const *targets, int n, lpi_plan **out);
void lpi_plan_destroy(lpi_plan *p);

/* grids */
lp_status lpi_grid_auto(lp_ctx *ctx, lpi_arena *ar, int ndim, const int64_t *shape, size_t itemsize,
                        const int64_t *hint, lpi_grid *g);
lp_status lpi_grid_from_bounds(lpi_arena *ar, lpi_grid *g); /* fills nchunks/total from bounds */
void lpi_grid_chunk_box(const lpi_grid *g, int64_t chunk, lpi_box *box);
size_t lpi_target_chunk_bytes(const lp_ctx *ctx, int64_t total_bytes);

/* box helpers */
static inline int64_t lpi_box_size(const lpi_box *b) {
    int64_t n = 1;
    for (int i = 0; i < b->ndim; i++) n *= b->hi[i] - b->lo[i];
    return n;
}

#endif
