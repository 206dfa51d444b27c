/* Datasets (see dataset.h): the format is recognised once at open; a reader is the open
 * object (.npy) or the chunk store (Zarr) for one run. */
#include "io/dataset.h"
#include "io/zarr.h"

#include <string.h>

lp_status lpi_dataset_open(lp_ctx *ctx, const char *url, lpi_dataset **out) {
    *out = NULL;
    if (!url || !*url) return lpi_error(ctx, LP_ERR_VALUE, "load: empty path or URL");
    lpi_dataset *d = lp_calloc(1, sizeof *d);
    if (!d || !(d->url = lp_strdup(url))) { lp_free(d); return lpi_nomem(ctx); }
    atomic_init(&d->refcnt, 1);
    lp_status st;
    bool zarr = lpi_io_is_dir(url);
    size_t n = strlen(url);
    if (!zarr && !(n >= 4 && !strcmp(url + n - 4, ".npy")) && lpi_loc_kind_of(url) != LPI_LOC_FILE) {
        /* a URL that does not name a .npy file: a Zarr array if it has the metadata */
        char *meta = lpi_loc_join(url, "zarr.json");
        if (!meta) { lpi_dataset_release(d); return lpi_nomem(ctx); }
        st = lpi_io_exists(ctx, meta, &zarr);
        lp_free(meta);
        if (st) { lpi_dataset_release(d); return st; }
    }
    if (zarr) {
        d->fmt = LPI_FMT_ZARR;
        if ((st = lpi_zarr_open(ctx, url, &d->zarr))) { lpi_dataset_release(d); return st; }
        d->dtype = lpi_zarr_dtype(d->zarr);
        d->ndim = lpi_zarr_shape(d->zarr, d->shape);
    } else {
        lpi_src *src;
        if ((st = lpi_npy_open(ctx, url, &src, &d->npy))) { lpi_dataset_release(d); return st; }
        d->id = *lpi_src_id(src);
        lpi_src_close(src);
        d->dtype = d->npy.dtype;
        d->ndim = d->npy.ndim;
        memcpy(d->shape, d->npy.shape, sizeof d->shape);
    }
    *out = d;
    return LP_OK;
}

void lpi_dataset_retain(lpi_dataset *d) { if (d) atomic_fetch_add(&d->refcnt, 1); }

void lpi_dataset_release(lpi_dataset *d) {
    if (!d || atomic_fetch_sub(&d->refcnt, 1) != 1) return;
    lpi_zarr_free(d->zarr);
    lp_free(d->url);
    lp_free(d);
}

bool lpi_dataset_same(const lpi_dataset *a, const lpi_dataset *b) {
    if (a->fmt != b->fmt || a->dtype != b->dtype || a->ndim != b->ndim ||
        memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof *a->shape))
        return false;
    if (a->fmt == LPI_FMT_ZARR) return lpi_zarr_same(a->zarr, b->zarr);
    return a->npy.fortran_order == b->npy.fortran_order && a->npy.big_endian == b->npy.big_endian &&
           a->npy.data_offset == b->npy.data_offset;
}

void lpi_dataset_chunks(const lpi_dataset *d, int64_t *chunk) {
    if (d->fmt == LPI_FMT_ZARR) { lpi_zarr_chunk_shape(d->zarr, chunk); return; }
    for (int i = 0; i < d->ndim; i++) chunk[i] = 0;
}

bool lpi_dataset_flat(const lpi_dataset *d) { return d->fmt == LPI_FMT_NPY && (!d->npy.fortran_order || d->ndim < 2); }

struct lpi_reader {
    const lpi_dataset *d;
    lpi_src *src;              /* NPY */
    atomic_llong zmoved;       /* ZARR: bytes of chunks fetched */
};

lp_status lpi_reader_open(lp_ctx *ctx, const lpi_dataset *d, lpi_reader **out) {
    *out = NULL;
    lpi_reader *r = lp_calloc(1, sizeof *r);
    if (!r) return lpi_nomem(ctx);
    r->d = d;
    atomic_init(&r->zmoved, 0);
    if (d->fmt == LPI_FMT_NPY) {
        lp_status st = lpi_src_reopen(ctx, d->url, &d->id, &r->src);
        if (st) { lp_free(r); return st; }
    }
    *out = r;
    return LP_OK;
}

void lpi_reader_close(lpi_reader *r) {
    if (!r) return;
    lpi_src_close(r->src);
    lp_free(r);
}

int64_t lpi_reader_bytes(const lpi_reader *r) {
    return r->src ? lpi_src_bytes(r->src) : atomic_load(&((lpi_reader *)r)->zmoved);
}

lp_status lpi_reader_read(lp_ctx *ctx, lpi_reader *r, int lndim, const int64_t *lshape, const lpi_sel *sel,
                          char *dst) {
    const lpi_dataset *d = r->d;
    if (lndim < 0) { lndim = d->ndim; lshape = d->shape; }
    if (d->fmt == LPI_FMT_ZARR) return lpi_zarr_read(ctx, d->zarr, sel, dst, &r->zmoved);
    lpi_layout L;
    lpi_npy_layout(&d->npy, lndim, lshape, &L);
    return lpi_sel_read(ctx, r->src, &L, sel, dst);
}
