/* Kernels: what a task runs. The same functions run in the driver's thread pool and in a
 * remote worker; they see only views, the pnode's parameters and the task. */
#ifndef LP_KERNELS_H
#define LP_KERNELS_H

#include "kernels/task.h"

/* The portable build targets baseline x86-64 (SSE2: two doubles per instruction). GCC's function
 * multiversioning compiles each loop (and the reductions' min/max folds) for
 * AVX-512 and AVX2 too and picks the best at load time.
 * Results are the same bits on every path: these are IEEE operations without contraction
 * (-ffp-contract=off) and libm calls. Sanitizer builds use the default path: their runtimes are
 * not initialised yet when the loader runs the IFUNC resolvers. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__) && \
    !defined(LP_NATIVE)
#define LPI_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LPI_CLONES
#endif

/* reduce.c: the eight-lane float sum (lanes j, j + 8, ..., added pairwise), and min/max of n
 * contiguous values into states acc[i * k] (k == 0: one state), doubles (accf) or int64, with the
 * element fold's results (the first NaN; of equal values the first) from vector lanes. */
double lpi_sum8(const double *x, int64_t n);
void lpi_fold_minmax(bool is_min, bool accf, void *acc, int64_t k, const void *vals, int64_t n);
/* acc + lpi_sum8 of each consecutive `piece` of x[0..n) in turn (the same bits), faster */
double lpi_sum8_runs(double acc, const double *x, int64_t n, int64_t piece);
/* lpi_sum8_runs' bits with the pieces one after the other (one sequential stream) */
double lpi_sum8_seq(double acc, const double *x, int64_t n, int64_t piece);

/* Elements per VM block: a program's registers (2 KiB each) stay in L1; measured faster than 1024. */
#define LPI_VM_BLOCK 256

/* Run a task. ins[k] is operand k assembled over its box (for COMBINE: partial states);
 * out is the output chunk's view (PARTIAL/COMBINE non-final: a partial state buffer). */
lp_status lpi_kernel_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                         const lpi_view *out);

/* Evaluate a program over an nd-box: ops[k] are views broadcast to `shape` (stride 0 where
 * broadcast); out has the same shape and the program's output dtype. */
lp_status lpi_vm_run(lp_ctx *ctx, const lpi_program *p, int nd, const int64_t *shape,
                     const lpi_view *ops, const lpi_view *out);

/* Evaluate a program over an nd-box and fold its values straight into accumulators: acc views
 * the state of reduction `red` (doubles if acc_float, else int64) with the box's shape and
 * stride 0 on reduced axes. Each 256-element block is folded while in L1. Not for
 * argmin/argmax/var/std (they need indices or two passes). */
lp_status lpi_vm_reduce(lp_ctx *ctx, const lpi_program *p, int nd, const int64_t *shape,
                        const lpi_view *ops, const lpi_view *acc, lpi_op red, bool acc_float);

/* Whether large contiguous elementwise outputs are written with non-temporal stores (default
 * yes where the CPU has them). Process-wide, set from the machine profile (plan/cost.c); the
 * bits written are the same either way. */
void lpi_vm_set_stream(bool on);
bool lpi_vm_stream(void);
/* Whether a float sum's last step folds as it computes (default yes; the same bits either way):
 * off only for benchmarks (bench/stream2.c) and tests that compare the two. */
void lpi_vm_set_fold(bool on);
/* Whether a streamed float64 output's last step (one of + - * / or a fused pair) stores its values
 * non-temporally itself instead of through a staging block (default yes; the same bits either
 * way): off only for benchmarks (bench/vm_block.c) that compare the two. */
void lpi_vm_set_stream_last(bool on);

/* Copy between two views of equal shape and dtype (any strides). */
void lpi_copy_view(const lpi_view *dst, const lpi_view *src);
/* Coalesce dimensions that are contiguous for every view (NumPy's iterator trick). Views are
 * modified in place; returns the new ndim (>= 1). */
int lpi_coalesce(int nd, int64_t *shape, int nviews, int64_t (*strides)[LP_MAX_NDIM]);

/* Size in bytes of a partial-state chunk for `nelem` output elements. */
size_t lpi_partial_bytes(const lpi_reduce *r, int64_t nelem);

/* Linear algebra (kernels/linalg.c): a matrix-product block; one LAPACK op over whole operands. */
lp_status lpi_matmul_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                         const lpi_view *out);
lp_status lpi_linalg_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                         const lpi_view *out);

/* Along one axis (kernels/axis.c): scans (totals or the scan from the carries) and sorting
 * (a chunk sorted, or merged / selected from sorted runs). */
lp_status lpi_scan_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                       const lpi_view *out);
lp_status lpi_sort_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                       const lpi_view *out);

/* Indexing by data (kernels/index.c): take, scatter, bincount blocks. */
lp_status lpi_index_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                        const lpi_view *out);

/* Fourier transforms of the box's lines along the axis with FFTW (kernels/fft.c). */
lp_status lpi_fft_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                      const lpi_view *out);

/* Creation kernels. */
lp_status lpi_gen_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_box *box, const lpi_view *out);
/* Philox4x32-10: four 32-bit outputs for a 128-bit counter and 64-bit key. */
void lpi_philox4x32(uint64_t counter, uint64_t key, uint32_t out[4]);

#endif
