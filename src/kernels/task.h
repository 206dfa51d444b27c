/* The task representation: the contract between the planner, every executor and the kernels.
 * One representation serves every executor: the local pool runs lpi_task structs by pointer;
 * the remote executor serializes the same structs (with the pnode's kernel parameters) to JSON
 * (exec/wire.c), and a worker rebuilds them. Kernels see only these structs and views. */
#ifndef LP_KERNELS_TASK_H
#define LP_KERNELS_TASK_H

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
    lpi_raw *consts;      /* [nconst] raw values in reg_dt (16-byte slots) */
    lpi_instr *ins;       /* [ninstr] */
} lpi_program;

/* ---- planned nodes and tasks ---- */

typedef enum lpi_kernel {
    LPI_K_NONE = 0,       /* chunks exist before the run (wrapped or already computed data) */
    LPI_K_GEN = 1,        /* full, arange, linspace, eye, random: write the box */
    LPI_K_LOAD = 2,       /* read the box from a stored array (.npy, Zarr; any URL) */
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
    LPI_K_FFT = 13,       /* along `axis`: FFTW transforms of the box's lines (the whole axis) */
    LPI_K_COUNT
} lpi_kernel;

/* Reduction parameters shared by a reduction's partial and combine tasks. */
typedef struct lpi_reduce {
    lpi_op op;
    uint32_t axes;        /* reduced axes of the reduce input */
    int in_ndim;
    int64_t in_shape[LP_MAX_NDIM];
    double ddof;          /* var/std: the divisor is count - ddof */
    bool acc_float;       /* state fields are doubles (else int64) */
    bool acc_unsigned;    /* int64 states hold uint64 values with the sign bit flipped, so that
                             signed order is theirs (min/max/argmin/argmax of uint64) */
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
    /* LOAD: the stored array (src->a.ds) seen with shape lshape (lndim < 0: as stored; else a
     * C-order reshape of it), read through `view` (NULL: the identity); the reader is open for
     * the run. A slice, transpose or reshape of a load is planned as such a load (plan_load.c). */
    const lp_array *src;
    int lndim;
    int64_t lshape[LP_MAX_NDIM];
    const lpi_axismap *view;
    struct lpi_reader *reader;
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

/* Does the task of this pnode write a reduction's partial state (nfields x pelems) rather than
 * a chunk of its array? Reductions' partial levels, and matmul's split contractions. */
static inline bool lpi_pnode_writes_state(const lpi_pnode *pn) { return pn->red && !pn->final; }
/* Do its tasks carry `pelems` (elements per state field, or of the final reduced chunk)? */
static inline bool lpi_pnode_has_pelems(const lpi_pnode *pn) {
    return pn->kernel == LPI_K_PARTIAL || pn->kernel == LPI_K_COMBINE || (pn->kernel == LPI_K_MATMUL && pn->red);
}

/* box helpers */
static inline int64_t lpi_box_size(const lpi_box *b) {
    int64_t n = 1;
    for (int i = 0; i < b->ndim; i++) n *= b->hi[i] - b->lo[i];
    return n;
}
static inline bool lpi_box_eq(const lpi_box *a, const lpi_box *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->lo[i] != b->lo[i] || a->hi[i] != b->hi[i]) return false;
    return true;
}

#endif
