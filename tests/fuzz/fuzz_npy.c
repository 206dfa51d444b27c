/* The .npy reader: header parsing (lpi_npy_read_header) and row reads (lpi_npy_read_rows, C and
 * Fortran order, either byte order) of a file whose bytes are the input. The file is a memfd,
 * rewritten per input, so no file system is touched. */
#include "fuzz.h"
#include "io/npy.h"
#include "io/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int fd = -1;
static char fd_path[64]; /* the memfd as a path: the reader opens it as it opens any file */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    fd = memfd_create("fuzz.npy", MFD_CLOEXEC);
    if (fd < 0) { perror("memfd_create"); abort(); }
    snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", fd);
    return 0;
}

/* The element a C-order reader must return at output position (row r, C-order offset c within
 * the row), computed independently of npy.c: its byte offset in the file's data. */
static int64_t src_elem(const lp_npy_info *info, int64_t r, int64_t c) {
    int64_t ncols = 1;
    for (int i = 1; i < info->ndim; i++) ncols *= info->shape[i];
    if (!info->fortran_order || info->ndim < 2) return r * ncols + c;
    /* C-order offset -> indices (last axis fastest) -> Fortran offset (first axis fastest) */
    int64_t idx[LP_MAX_NDIM], rest = c;
    for (int i = info->ndim - 1; i >= 1; i--) { idx[i] = rest % info->shape[i]; rest /= info->shape[i]; }
    int64_t f = 0;
    for (int i = info->ndim - 1; i >= 1; i--) f = f * info->shape[i] + idx[i];
    return r + info->shape[0] * f;
}

/* Read rows [r0, r1) and compare every element with the file's bytes (byte order swapped,
 * bools as 0/1). */
static void read_rows(lp_ctx *ctx, lpi_src *file, const lp_npy_info *info, int64_t r0, int64_t r1, const uint8_t *data) {
    int64_t rows = info->ndim ? info->shape[0] : 1;
    int64_t per_row = rows ? info->data_bytes / rows : 0;
    size_t isz = lp_dtype_size(info->dtype), n = (size_t)(per_row * (r1 - r0));
    uint8_t *dst = malloc(n ? n : 1);
    if (!dst) abort();
    lp_status st = lpi_npy_read_rows(ctx, file, info, r0, r1, dst);
    /* the header promised these bytes and they are in the file: the read must succeed */
    if (st != LP_OK) {
        fprintf(stderr, "read_rows [%lld, %lld) failed: %s\n", (long long)r0, (long long)r1, lp_last_error(ctx));
        abort();
    }
    const uint8_t *src = data + info->data_offset;
    int64_t ncols = per_row / (int64_t)isz;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t c = 0; c < ncols; c++) {
            const uint8_t *s = src + src_elem(info, r, c) * (int64_t)isz;
            const uint8_t *d = dst + ((r - r0) * ncols + c) * (int64_t)isz;
            uint8_t want[8];
            for (size_t k = 0; k < isz; k++) want[k] = info->big_endian ? s[isz - 1 - k] : s[k];
            if (info->dtype == LP_BOOL) want[0] = want[0] != 0;
            if (memcmp(want, d, isz) != 0) {
                fprintf(stderr, "read_rows [%lld, %lld): element (%lld, %lld) differs from the file's\n",
                        (long long)r0, (long long)r1, (long long)r, (long long)c);
                abort();
            }
        }
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) abort();
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) abort();
    lp_npy_info info;
    lpi_src *file;
    if (lpi_src_open(ctx, fd_path, &file) != LP_OK) {
        fprintf(stderr, "cannot open the memfd: %s\n", lp_last_error(ctx));
        abort();
    }
    lp_status st = lpi_npy_read_header(ctx, file, &info);
    if (st == LP_OK) {
        if (info.data_offset < 0 || info.data_bytes < 0 || info.data_offset + info.data_bytes > (int64_t)size) {
            fprintf(stderr, "header accepted with data [%lld, +%lld) outside a %zu-byte file\n",
                    (long long)info.data_offset, (long long)info.data_bytes, size);
            abort();
        }
        int64_t rows = info.ndim ? info.shape[0] : 1;
        if (info.data_bytes > 0) {
            read_rows(ctx, file, &info, 0, rows, data);
            if (rows > 2) read_rows(ctx, file, &info, rows / 3, rows - rows / 3, data);
        } else if (rows > 0 && rows < (1 << 20)) {
            read_rows(ctx, file, &info, 0, rows, data); /* zero-size rows: nothing to read, nothing to write */
        }
    } else if (!lp_last_error(ctx)[0]) {
        fprintf(stderr, "a failure without a message\n");
        abort();
    }
    lpi_src_close(file);
    lp_ctx_destroy(ctx);
    return 0;
}
