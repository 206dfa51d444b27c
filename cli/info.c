/* `lampy info FILE.npy ...`: what the .npy header says, without reading the data. */
#include "cli.h"
#include "core/core.h"
#include "io/dataset.h"
#include "io/zarr.h"

#include <string.h>

const char cli_info_help[] =
    "usage: lampy info FILE.npy|ARRAY.zarr|URL [...]\n"
    "\n"
    "Show the header of each .npy file: format version, dtype and byte order, shape,\n"
    "memory order (C or Fortran), element count, data bytes and header bytes; of a Zarr\n"
    "v3 array: dtype, shape and chunk shape. Paths may be URLs (http://, https://,\n"
    "s3://). The data itself is not read.\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n";

/* NumPy's dtype.str: '<f8', '|b1' */
static void descr(const lp_npy_info *in, char *buf, size_t cap) {
    char kind = in->dtype == LP_BOOL ? 'b' : lpi_dtype_unsigned(in->dtype) ? 'u' : lpi_dtype_is_int(in->dtype) ? 'i'
               : lpi_dtype_is_complex(in->dtype) ? 'c' : 'f';
    char order = lp_dtype_size(in->dtype) == 1 ? '|' : in->big_endian ? '>' : '<';
    snprintf(buf, cap, "%c%c%zu", order, kind, lp_dtype_size(in->dtype));
}

static void shape_str(const lp_npy_info *in, char *buf, size_t cap) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "(");
    for (int k = 0; k < in->ndim && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", k ? ", " : "", (long long)in->shape[k]);
    if (n < cap) snprintf(buf + n, cap - n, "%s)", in->ndim == 1 ? "," : "");
}

int cli_info(int argc, char **argv) {
    const char *files[argc > 0 ? argc : 1];
    int nfiles = 0, prc;
    const cli_opt none[] = {{0}};
    if ((prc = cli_parse_args("info", argc, argv, none, 0, files, &nfiles))) return prc;
    if (nfiles == 0) return cli_usage_error("info: missing FILE.npy; see 'lampy info --help'");

    lp_ctx *ctx;
    lp_status st = lp_ctx_create(&ctx);
    if (st != LP_OK) return cli_error("%s", lp_status_str(st));
    int rc = CLI_EXIT_OK, shown = 0;
    for (int i = 0; i < nfiles; i++) {
        const char *path = files[i];
        lp_npy_info in;
        memset(&in, 0, sizeof in);
        lpi_dataset *ds;
        if ((st = lpi_dataset_open(ctx, path, &ds)) == LP_OK && ds->fmt == LPI_FMT_ZARR) {
            char sh[LP_MAX_NDIM * 24 + 8], ch[LP_MAX_NDIM * 24 + 8];
            int64_t cs[LP_MAX_NDIM];
            lpi_dataset_chunks(ds, cs);
            long long elems = 1;
            for (int k = 0; k < ds->ndim; k++) elems *= (long long)ds->shape[k];
            if (shown++) putchar('\n');
            printf("file          %s\n", path);
            printf("format        zarr v3\n");
            printf("dtype         %s\n", lp_dtype_name(ds->dtype));
            printf("shape         %s\n", lpi_shape_str(sh, sizeof sh, ds->ndim, ds->shape));
            printf("chunks        %s\n", lpi_shape_str(ch, sizeof ch, ds->ndim, cs));
            printf("elements      %lld\n", elems);
            lpi_dataset_release(ds);
            continue;
        }
        lpi_dataset_release(ds);
        if (st == LP_OK) st = lp_npy_info_read(ctx, path, &in);
        if (st != LP_OK) {
            rc = cli_lib_error(ctx, st);
            break;
        }
        char d[16], sh[LP_MAX_NDIM * 24 + 8];
        descr(&in, d, sizeof d);
        shape_str(&in, sh, sizeof sh);
        long long elems = 1;
        for (int k = 0; k < in.ndim; k++) elems *= (long long)in.shape[k];
        if (shown++) putchar('\n');
        printf("file          %s\n", path);
        printf("format        %d.%d\n", in.major, in.minor);
        printf("dtype         %s (%s, %s)\n", lp_dtype_name(in.dtype), d,
               in.dtype == LP_BOOL ? "byte order not applicable" : in.big_endian ? "big-endian" : "little-endian");
        printf("shape         %s\n", sh);
        printf("order         %s\n", in.fortran_order ? "Fortran" : "C");
        printf("elements      %lld\n", elems);
        printf("data bytes    %lld\n", (long long)in.data_bytes);
        printf("header bytes  %lld\n", (long long)in.data_offset);
    }
    lp_ctx_destroy(ctx);
    return rc;
}
