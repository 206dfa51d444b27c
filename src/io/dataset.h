/*
 * dataset.h — an array stored somewhere: a .npy file or a Zarr v3 array, at a local path or a
 * URL (io/source.h). lp_load opens one and keeps it on the LOAD node; a run (on the driver or
 * on a worker) opens a reader over it and reads, per task, exactly the elements the task needs.
 */
#ifndef LP_IO_DATASET_H
#define LP_IO_DATASET_H

#include "io/npy.h"
#include "io/select.h"
#include "io/source.h"

typedef enum lpi_format { LPI_FMT_NPY = 0, LPI_FMT_ZARR = 1 } lpi_format;

typedef struct lpi_zarr lpi_zarr; /* io/zarr.h */

/* What lp_load saw; immutable once open, shared by reference. */
typedef struct lpi_dataset {
    atomic_long refcnt;
    char *url;
    lpi_format fmt;
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    lp_npy_info npy;       /* NPY: the header */
    lpi_objid id;          /* NPY: the file's version (a run re-checks it) */
    lpi_zarr *zarr;        /* ZARR: the metadata */
} lpi_dataset;

/* Open by URL: a directory or an object with a zarr.json below it is a Zarr array, anything
 * else a .npy file. */
lp_status lpi_dataset_open(lp_ctx *ctx, const char *url, lpi_dataset **out);
void lpi_dataset_retain(lpi_dataset *d);
void lpi_dataset_release(lpi_dataset *d);   /* NULL is allowed */
/* Are the two the same array as stored (format, dtype, shape, layout)? */
bool lpi_dataset_same(const lpi_dataset *a, const lpi_dataset *b);
/* The natural boundaries of reads along each axis (Zarr: the chunk shape; .npy: 0 = none). */
void lpi_dataset_chunks(const lpi_dataset *d, int64_t *chunk);
/* Can a C-order reshape of the stored array be read in place? (.npy in C order) */
bool lpi_dataset_flat(const lpi_dataset *d);

/* ---- reading in a run ---- */

typedef struct lpi_reader lpi_reader;

/* Open for a run: the object must still be the version the dataset saw. */
lp_status lpi_reader_open(lp_ctx *ctx, const lpi_dataset *d, lpi_reader **out);
void lpi_reader_close(lpi_reader *r);       /* NULL is allowed */
/* Bytes moved from storage by this reader's reads. */
int64_t lpi_reader_bytes(const lpi_reader *r);
/* Read the selected elements of the stored array, seen with shape lshape (lndim < 0: the
 * stored shape; else a C-order reshape, lpi_dataset_flat), into dst. The selection must lie
 * inside the shape (callers check). */
lp_status lpi_reader_read(lp_ctx *ctx, lpi_reader *r, int lndim, const int64_t *lshape, const lpi_sel *sel,
                          char *dst);

#endif
