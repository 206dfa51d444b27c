/* Reading a selection of a stored array: the elements start + step * k (k < count) on every
 * axis, from an object whose element at index i lies at base + sum(i * stride), into a
 * destination with any strides. Only the byte ranges holding selected elements are read;
 * ranges closer than the source's merge gap are read as one span (lpi_src_merge_gap). This is
 * how a load task reads its chunk, a slice of a file, a transposed file or a column of a
 * Fortran-ordered one. */
#ifndef LP_IO_SELECT_H
#define LP_IO_SELECT_H

#include "io/source.h"

/* Where elements live in an object. */
typedef struct lpi_layout {
    int ndim;
    int64_t base;                   /* byte offset of element 0 */
    int64_t stride[LP_MAX_NDIM];    /* bytes between consecutive indices, per axis (> 0) */
    size_t isz;                     /* bytes per element */
    size_t swap;                    /* 0, or the byte-swap unit (the data's byte order is not the host's) */
    bool boolfix;                   /* bytes are bools: anything non-zero reads as 1 */
} lpi_layout;

/* Which elements, and where they go. */
typedef struct lpi_sel {
    int64_t start[LP_MAX_NDIM];     /* per stored axis */
    int64_t step[LP_MAX_NDIM];      /* any sign; ignored where count is 1 */
    int64_t count[LP_MAX_NDIM];     /* >= 0 */
    int64_t dstride[LP_MAX_NDIM];   /* destination bytes per k step, per stored axis */
} lpi_sel;

/* The layout of a C- or Fortran-ordered array of `shape` starting at byte `base`. */
void lpi_layout_dense(lpi_layout *L, int ndim, const int64_t *shape, size_t isz, bool fortran, int64_t base);
/* Fix bytes as read (byte order, bools) in place: n elements. */
void lpi_layout_fix(const lpi_layout *L, void *data, size_t n);
/* Read the selection into dst. The caller guarantees the selection lies inside the array. */
lp_status lpi_sel_read(lp_ctx *ctx, lpi_src *s, const lpi_layout *L, const lpi_sel *sel, char *dst);

#endif
