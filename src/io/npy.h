/* .npy format 1.0/2.0/3.0: header parsing, range reads from any source, atomic writes. */
#ifndef LP_NPY_H
#define LP_NPY_H

#include "core/core.h"
#include "io/select.h"
#include "io/source.h"

#include <sys/types.h>

/* Largest header we accept (NumPy itself caps headers at 10000 bytes for safety in 1.x
 * readers; we allow more but bound it so a hostile file cannot make us allocate much). */
#define LPI_NPY_MAX_HEADER (1 << 20)

/* Parse and validate the header of an open object (file or URL; its name is used in messages:
 * "a.npy: truncated header"). Checks that the data the header promises fits in the object. */
lp_status lpi_npy_read_header(lp_ctx *ctx, lpi_src *src, lp_npy_info *out);

/* Open + parse. On success *src_out is the open object (lpi_src_close). */
lp_status lpi_npy_open(lp_ctx *ctx, const char *url, lpi_src **src_out, lp_npy_info *out);

/* Where the elements of an array of `shape` (the file's, or a C-order file's reshape) lie in
 * the file, with the byte-order and bool fixes its bytes need. */
void lpi_npy_layout(const lp_npy_info *info, int ndim, const int64_t *shape, lpi_layout *L);

/* Read rows [row0, row1) of the leading axis (for a 0-d array: row0=0,row1=1) into dst as
 * native-endian C-order data: (row1-row0) * prod(shape[1:]) elements. Only the bytes of
 * those rows are read, also for Fortran order. Thread safe. */
lp_status lpi_npy_read_rows(lp_ctx *ctx, lpi_src *src, const lp_npy_info *info, int64_t row0, int64_t row1,
                            void *dst);

typedef struct lpi_npy_write_opts {
    bool fortran_order;  /* data is still given in C order; the writer lays it out */
    bool big_endian;
    int major;           /* 0 = smallest version that fits the header (1, else 2) */
} lpi_npy_write_opts;

/* Write C-order native data atomically (any URL: temp file in the same directory + rename,
 * one S3 object, ...). opts may be NULL. */
lp_status lpi_npy_write(lp_ctx *ctx, const char *path, lp_dtype dt, int ndim,
                        const int64_t *shape, const void *data, const lpi_npy_write_opts *opts);

/* Streaming writer for arrays too big for memory: rows of the leading axis are appended in
 * order; commit renames the temp file into place, abort removes it. C order, native endian. */
typedef struct lpi_npy_writer lpi_npy_writer;
lp_status lpi_npy_writer_open(lp_ctx *ctx, const char *path, lp_dtype dt, int ndim,
                              const int64_t *shape, lpi_npy_writer **out);
lp_status lpi_npy_writer_append(lp_ctx *ctx, lpi_npy_writer *w, const void *rows, int64_t nrows);
/* Write rows at a given row offset (for parallel producers); rows may come in any order. */
lp_status lpi_npy_writer_pwrite(lp_ctx *ctx, lpi_npy_writer *w, int64_t row0, const void *rows,
                                int64_t nrows);
lp_status lpi_npy_writer_commit(lp_ctx *ctx, lpi_npy_writer *w); /* frees w */
/* Result sinks (docs/ORCHESTRATION.md, "Results into a file"): other processes pwrite the data
 * into the writer's temp file (an absolute path when `path` was), from its data offset on;
 * written_elsewhere tells commit that every row is there. */
const char *lpi_npy_writer_temp(const lpi_npy_writer *w);
int64_t lpi_npy_writer_data_offset(const lpi_npy_writer *w);
void lpi_npy_writer_written_elsewhere(lpi_npy_writer *w);
void lpi_npy_writer_abort(lpi_npy_writer *w);                   /* frees w, NULL ok */

/* Write a C-order block (the box [lo, hi) of a C-order array of `shape`, items of isz bytes)
 * into the data of an open .npy file whose data starts at data_offset: by contiguous runs
 * (one pwrite when the box is a range of whole rows). `name` is for messages. */
lp_status lpi_npy_pwrite_box(lp_ctx *ctx, const char *name, int fd, int64_t data_offset, size_t isz, int ndim,
                             const int64_t *shape, const int64_t *lo, const int64_t *hi, const void *data);

#endif
