/* Zarr v3 (see zarr.h). */
#include "io/zarr.h"

struct lpi_zarr { int unused; };

lp_status lpi_zarr_open(lp_ctx *ctx, const char *url, lpi_zarr **out) {
    *out = NULL;
    return lpi_error(ctx, LP_ERR_FORMAT, "%s: Zarr arrays are not readable yet", url);
}
void lpi_zarr_free(lpi_zarr *z) { lp_free(z); }
lp_dtype lpi_zarr_dtype(const lpi_zarr *z) { (void)z; return LP_FLOAT64; }
int lpi_zarr_shape(const lpi_zarr *z, int64_t *shape) { (void)z; (void)shape; return 0; }
void lpi_zarr_chunk_shape(const lpi_zarr *z, int64_t *chunk) { (void)z; (void)chunk; }
bool lpi_zarr_same(const lpi_zarr *a, const lpi_zarr *b) { return a == b; }
lp_status lpi_zarr_read(lp_ctx *ctx, const lpi_zarr *z, const lpi_sel *sel, char *dst, atomic_llong *moved) {
    (void)z; (void)sel; (void)dst; (void)moved;
    return lpi_error(ctx, LP_ERR_FORMAT, "Zarr arrays are not readable yet");
}
lp_status lpi_zarr_write(lp_ctx *ctx, const char *url, lp_dtype dt, int ndim, const int64_t *shape, const void *data,
                         const lpi_zarr_write_opts *opts) {
    (void)dt; (void)ndim; (void)shape; (void)data; (void)opts;
    return lpi_error(ctx, LP_ERR_FORMAT, "%s: Zarr arrays are not writable yet", url);
}
