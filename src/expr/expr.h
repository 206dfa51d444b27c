/* Lazy expression nodes (lp_array) and the op registry. */
#ifndef LP_EXPR_H
#define LP_EXPR_H

#include "core/core.h"
#include "io/dataset.h"

typedef enum lpi_opkind {
    LP_OPK_SOURCE = 0,
    LP_OPK_ELEMWISE = 1,
    LP_OPK_REDUCE = 2,
    LP_OPK_MOVE = 3,
    LP_OPK_LINALG = 4,
    LP_OPK_LOOP = 5,      /* placeholders, loop nodes and their outputs (expr/loop.h) */
    LP_OPK_SCAN = 6,
    LP_OPK_SORT = 7,
    LP_OPK_INDEX = 8,
    LP_OPK_FFT = 9,       /* Fourier transforms along one axis (expr/fft.c) */
    LP_OPK_COUNT
} lpi_opkind;

typedef enum lpi_op {
#define X(id, name, nin, kind, flops) LPI_OP_##id,
#include "expr/ops.def"
#undef X
    LPI_OP_COUNT
} lpi_op;

typedef struct lpi_opinfo {
    const char *name;
    int nin;
    lpi_opkind kind;
    double flops;
} lpi_opinfo;

extern const lpi_opinfo lpi_ops[LPI_OP_COUNT];
/* Look an op up by name; false if unknown. */
bool lpi_op_lookup(const char *name, lpi_op *out);

/* Per-axis affine map of a data-movement node: output coordinate o_j along axis j reads input
 * coordinate off[j] + step[j] * o_j on input axis src[j] (src -1: a new unit axis). Input axes
 * that no output axis reads are fixed at fixed[i] (integer indexing). */
typedef struct lpi_axismap {
    int8_t src[LP_MAX_NDIM];
    int64_t off[LP_MAX_NDIM];
    int64_t step[LP_MAX_NDIM];
    bool dropped[LP_MAX_NDIM];   /* per input axis */
    int64_t fixed[LP_MAX_NDIM];  /* per input axis, when dropped */
} lpi_axismap;

/* lpi_attrs.flags of MATMUL: the transpose (of the last two axes) folded into the product */
enum { LPI_MM_TA = 1, LPI_MM_TB = 2 };

struct lpi_loop;

typedef struct lpi_attrs {
    /* SCALAR, FULL: the value (weak for a Python scalar operand) */
    lp_scalar value;
    bool weak;
    /* ARANGE: start, step; LINSPACE: start, stop, num, endpoint; EYE: k */
    double f0, f1;
    int64_t i0;
    bool endpoint;
    /* RANDOM_*: seed, two parameters in f0, f1; RANDOM_INTEGERS: low in i0, high - low in span */
    uint64_t seed;
    uint64_t span;
    /* REDUCE: reduced axes (bit i = input axis i), keepdims, ddof */
    uint32_t axes;
    bool keepdims;
    double ddof;
    /* TRANSPOSE, SLICE, (unit-axis) RESHAPE: axis map; CONCATENATE: axis */
    lpi_axismap map;
    bool affine;                  /* RESHAPE: only unit axes added/removed; map is valid */
    int axis;
    /* MATMUL: LPI_MM_* (an operand read with its last two axes swapped); LSTSQ: rcond in f0
     * (negative: NumPy's default eps * max(M, N)) */
    uint32_t flags;
    /* LOAD: the URL as given, and what is stored there (header or Zarr metadata, version) */
    char *path;
    lpi_dataset *ds;
    /* WRAP: the data (a buffer holding a reference to the caller's memory) and its layout */
    lp_buffer *buf;
    int64_t offset;               /* bytes from buf->data to element 0 */
    int64_t strides[LP_MAX_NDIM]; /* bytes */
    /* WHILE_LOOP, FORI_LOOP: the loop (reference counted; LOOP_OUTPUT's index is i0);
     * PLACEHOLDER: weak (a fori_loop index promotes like a Python int) */
    struct lpi_loop *loop;
} lpi_attrs;

struct lp_array {
    atomic_long refcnt;
    lpi_op op;
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    int64_t size;
    int nin;
    lp_array **in;
    lpi_attrs a;
    int64_t chunk_hint[LP_MAX_NDIM]; /* lp_array_set_chunks; 0 = automatic */
    bool has_chunk_hint;
    lp_buffer *result;               /* set by lp_run: C-contiguous value of this node */
    pthread_mutex_t result_lock;
    uint64_t id;                     /* creation order: stable order for planning */
};

/* Allocate a node with refcount 1 and retained inputs. */
lp_status lpi_node_new(lp_ctx *ctx, lpi_op op, lp_dtype dt, int ndim, const int64_t *shape,
                       int nin, lp_array *const *in, lp_array **out);
/* expr/move.c: a's matrices transposed (its last two axes swapped) */
lp_status lpi_matrix_transpose(lp_ctx *ctx, lp_array *a, lp_array **out);
/* Result dtype of an elementwise op for given inputs (NumPy's ufunc type resolution, NEP 50
 * for weak scalars); loop_dt receives the dtype the inputs are cast to before the loop. */
lp_status lpi_elemwise_types(lp_ctx *ctx, lpi_op op, int nin, lp_array *const *in,
                             lp_dtype *loop_dt, lp_dtype *out_dt);
/* The dtype a reduction produces, and whether it accumulates in floating point. */
lp_dtype lpi_reduce_out_dtype(lpi_op op, lp_dtype in);
/* expr/linalg.c: the one-LAPACK-call node behind lp_linalg_eigh (shape (..., M+1, M): row 0
 * the eigenvalues, rows 1.. the eigenvectors) or lp_linalg_slogdet ((..., 2): sign, log|det|),
 * for rebuilding a graph; the public functions return views of it. */
lp_status lpi_linalg_packed(lp_ctx *ctx, lpi_op op, lp_array *a, lp_array **out);
/* The factor nodes behind qr and svd (graph documents rebuild them): QR_R (K, N) and QR_Q
 * (M, K) of a 2-d array; SVD of a square one, packed (2N + 1, N): [S; U; Vt]. */
lp_status lpi_linalg_factor(lp_ctx *ctx, lpi_op op, lp_array *a, bool complete, lp_array **out);
/* qr with NumPy's mode='complete' (complete: Q (..., M, M), R (..., M, N)) */
lp_status lpi_linalg_qr_mode(lp_ctx *ctx, lp_array *a, bool complete, lp_array **q, lp_array **r);
/* svd with full_matrices (U (..., M, M), Vt (..., N, N)) */
/* eig of square matrices: the packed node, and (w, v) with NumPy's result dtype (computes now) */
lp_status lpi_linalg_eig_packed(lp_ctx *ctx, lp_array *a, lp_array **out);
lp_status lpi_linalg_eig(lp_ctx *ctx, lp_array *a, lp_array **w, lp_array **v);
lp_status lpi_linalg_svd_full(lp_ctx *ctx, lp_array *a, bool full, lp_array **u, lp_array **s, lp_array **vt);
/* a's matrices conjugate-transposed (the last two axes swapped; complex parts conjugated) */
lp_status lpi_linalg_mH(lp_ctx *ctx, lp_array *a, lp_array **out);
/* expr/axis.c: ops along one axis (axis already validated by the caller or normalized here).
 * lpi_scan casts x to the scan's dtype first (cumsum/cumprod: NumPy's sum dtype). */
lp_status lpi_scan(lp_ctx *ctx, lpi_op op, lp_array *x, int axis, lp_array **out);
/* lpi_sort_node: one sort/argsort node (real dtypes; also the graph loader's). lpi_sort
 * (expr/fn_axis.c): any dtype, a complex x in NumPy's order composed of stable sorts of its
 * parts; what every builder that sorts calls. */
lp_status lpi_sort_node(lp_ctx *ctx, lpi_op op, lp_array *x, int axis, lp_array **out);
lp_status lpi_sort(lp_ctx *ctx, lpi_op op, lp_array *x, int axis, lp_array **out);
/* x's sorted values along axis at the ranks (an int64 1-d array of known values, each in
 * [0, x.shape[axis])); the axis is replaced by the ranks' length. */
lp_status lpi_sort_select(lp_ctx *ctx, lp_array *x, int axis, lp_array *ranks, lp_array **out);
/* fft_forward/backward (complex x), fft_r2c (real float x), fft_c2r (complex x) along axis with
 * transform length n (see ops.def); x's length along the axis must already fit n. */
lp_status lpi_fft_node(lp_ctx *ctx, lpi_op op, lp_array *x, int axis, int64_t n, lp_array **out);
/* expr/index.c: indexing by data. idx and flat are int64 (negative indices wrap; out of range
 * is an IndexError when the task runs); v is cast to x's dtype and broadcast to flat's shape. */
lp_status lpi_take(lp_ctx *ctx, lp_array *x, lp_array *idx, int axis, lp_array **out);
lp_status lpi_scatter(lp_ctx *ctx, lp_array *x, lp_array *flat, lp_array *v, lp_array **out);
/* the (P, length) per-block counts of a 1-d non-negative integer x (weights: a float64 array of
 * x's shape, or NULL); P = ceil(n / block) */
lp_status lpi_bincount_blocks(lp_ctx *ctx, lp_array *x, lp_array *w, int64_t length, int64_t block, lp_array **out);
/* mask: a computed bool array (lp_array_result set); counts: int64 (nblocks,) with its true
 * elements per block of `block` rows (a computed or wrapped array). x's leading axes are
 * mask's (compress); nonzero gives (count, mask.ndim) coordinates. */
lp_status lpi_compress(lp_ctx *ctx, lp_array *x, lp_array *mask, lp_array *counts, int64_t block, lp_array **out);
lp_status lpi_nonzero(lp_ctx *ctx, lp_array *mask, lp_array *counts, int64_t block, lp_array **out);
lp_status lpi_searchsorted(lp_ctx *ctx, lp_array *a, lp_array *v, bool right, lp_array **out);
/* The values of a 1-d int64 array held in memory (a result, or wrapped C-contiguous data), or NULL. */
const int64_t *lpi_known_int64(const lp_array *a);
/* Is node a weak (Python) scalar? */
static inline bool lpi_is_weak(const lp_array *a) {
    return (a->op == LPI_OP_SCALAR || a->op == LPI_OP_PLACEHOLDER) && a->a.weak;
}
/* expr/loop.c: drop a reference to a loop (NULL is fine). */
void lpi_loop_release(struct lpi_loop *l);

#endif
