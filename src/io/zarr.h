/* Zarr v3 arrays (https://zarr-specs.readthedocs.io, "core" v3.0): zarr.json metadata, a regular
 * chunk grid, chunk keys "c/i/j" (or "c.i.j", or the v2-style "i.j"), codecs bytes (either
 * endianness), transpose, gzip, zstd, blosc, and sharding_indexed; in a local directory, over
 * http(s) or on s3://. */
#ifndef LP_IO_ZARR_H
#define LP_IO_ZARR_H

#include "io/select.h"

typedef struct lpi_zarr lpi_zarr;

lp_status lpi_zarr_open(lp_ctx *ctx, const char *url, lpi_zarr **out);
void lpi_zarr_free(lpi_zarr *z);   /* NULL is allowed */
lp_dtype lpi_zarr_dtype(const lpi_zarr *z);
int lpi_zarr_shape(const lpi_zarr *z, int64_t *shape);
/* The chunk shape (of the outer chunks: shards, when sharded). */
void lpi_zarr_chunk_shape(const lpi_zarr *z, int64_t *chunk);
bool lpi_zarr_same(const lpi_zarr *a, const lpi_zarr *b);
/* Read the selection (in the array's index space; dstride per axis) into dst. Chunks that do
 * not exist read as the fill value. *moved grows by the bytes fetched. Thread safe. */
lp_status lpi_zarr_read(lp_ctx *ctx, const lpi_zarr *z, const lpi_sel *sel, char *dst, atomic_llong *moved);

/* Write a C-order array as a Zarr v3 array at url (a directory or a prefix in a bucket). */
typedef struct lpi_zarr_write_opts {
    const int64_t *chunks;     /* chunk shape; NULL = about 1 MiB per chunk, leading axis split */
    const char *codec;         /* "none", "gzip", "zstd", "blosc"; NULL = "zstd" */
    int level;                 /* compression level; 0 = the codec's default */
    bool big_endian;           /* the bytes codec's endianness */
    bool fortran;              /* store chunks in Fortran order (a transpose codec) */
} lpi_zarr_write_opts;
lp_status lpi_zarr_write(lp_ctx *ctx, const char *url, lp_dtype dt, int ndim, const int64_t *shape, const void *data,
                         const lpi_zarr_write_opts *opts);

#endif
