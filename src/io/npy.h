/* .npy format 1.0/2.0/3.0: header parsing, range reads with pread, atomic writes. */
#ifndef LP_NPY_H
#define LP_NPY_H

#include "core/core.h"

#include <sys/types.h>

/* Largest header we accept (NumPy itself caps headers at 10000 bytes for safety in 1.x
 * readers; we allow more but bound it so a hostile file cannot make us allocate much). */
#define LPI_NPY_MAX_HEADER (1 << 20)

/* Parse and validate the header of an open file of the given size. `path` is used in messages
 * ("a.npy: truncated header"). Checks that the data the header promises fits in the file. */
lp_status lpi_npy_read_header(lp_ctx *ctx, int fd, const char *path, int64_t file_size,
                              lp_npy_info *out);

/* Open + parse. On success *fd_out is an open read-only descriptor (caller closes). */
lp_status lpi_npy_open(lp_ctx *ctx, const char *path, int *fd_out, lp_npy_info *out);

/* Read rows [row0, row1) of the leading axis (for a 0-d array: row0=0,row1=1) into dst as
 * native-endian C-order data: (row1-row0) * prod(shape[1:]) elements. Only the bytes of
 * those rows are read (pread), also for Fortran order. Thread safe (pread on a shared fd). */
lp_status lpi_npy_read_rows(lp_ctx *ctx, int fd, const char *path, const lp_npy_info *info,
                            int64_t row0, int64_t row1, void *dst);

typedef struct lpi_npy_write_opts {
    bool fortran_order;  /* data is still given in C order; the writer lays it out */
    bool big_endian;
    int major;           /* 0 = smallest version that fits the header (1, else 2) */
} lpi_npy_write_opts;

/* Write C-order native data atomically (temp file in the same directory + rename).
 * opts may be NULL. */
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
void lpi_npy_writer_abort(lpi_npy_writer *w);                   /* frees w, NULL ok */

#endif
