/* store_client: a test driver for the chunk store backends (built by meson, not installed).
 * The integration tests run it against real servers (redis-server, `lampy store`).
 *
 *   store_client put URL KEY DTYPE SHAPE [SEED]   a chunk of deterministic data; SHAPE is
 *                                                 "3x4", "7" or "" (0-d)
 *   store_client get URL KEY                      verify and describe it
 *   store_client head URL KEY
 *   store_client range URL KEY OFFSET N           hex of N data bytes from OFFSET
 *   store_client del URL KEY
 *   store_client exists URL KEY                   prints "yes" or "no"
 *   store_client encode DTYPE SHAPE [SEED] > F    the chunk bytes (the PUT body), to stdout
 *   store_client selftest URL [PREFIX]            the backend suite of test_store
 *
 * A description is one line: "dtype=float64 shape=(3, 4) nbytes=96 xxh3=0x...".
 * Exit status: 0 ok, 1 error, 2 usage, 3 not found, 4 malformed/checksum, 5 limit. */
#include "lpt.h"
#include "store_suite.h"

#include <stdlib.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: store_client put|get|head|range|del|exists|encode|selftest ... "
                    "(see tests/c/store_client.c)\n");
    return 2;
}

static int fail(lp_ctx *ctx, lp_status st) {
    fprintf(stderr, "store_client: %s: %s\n", lp_status_str(st), lp_last_error(ctx));
    switch (st) {
    case LP_ERR_NOTFOUND: return 3;
    case LP_ERR_FORMAT: return 4;
    case LP_ERR_LIMIT: return 5;
    default: return 1;
    }
}

static bool parse_shape(const char *s, int *ndim, int64_t *shape) {
    *ndim = 0;
    if (!*s) return true;
    while (*s) {
        if (*ndim == LP_MAX_NDIM) return false;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0) return false;
        shape[(*ndim)++] = v;
        s = end;
        if (*s == 'x') s++;
        else if (*s) return false;
    }
    return true;
}

static void describe(const lpi_chunk_info *in) {
    printf("dtype=%s shape=(", lp_dtype_name(in->dtype));
    for (int i = 0; i < in->ndim; i++) printf("%s%lld", i ? ", " : "", (long long)in->shape[i]);
    printf("%s) nbytes=%llu xxh3=0x%016llx\n", in->ndim == 1 ? "," : "",
           (unsigned long long)in->nbytes, (unsigned long long)in->checksum);
}

/* Data for (dtype, shape, seed), as lpt_put makes it. */
static void *make_data(lp_dtype dt, int ndim, const int64_t *shape, unsigned seed, size_t *n) {
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) count *= shape[i];
    *n = (size_t)count * lp_dtype_size(dt);
    void *d = lp_malloc(*n ? *n : 1);
    if (!d) return NULL;
    lpt_fill(d, *n, seed);
    if (dt == LP_BOOL)
        for (size_t i = 0; i < *n; i++) ((unsigned char *)d)[i] &= 1;
    return d;
}

int main(int argc, char **argv) {
    if (argc < 3) return usage();
    const char *cmd = argv[1];
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) return 1;
    int rc = 0;
    lp_status st = LP_OK;

    if (strcmp(cmd, "encode") == 0) {
        lp_dtype dt;
        int ndim;
        int64_t shape[LP_MAX_NDIM];
        if (argc < 4 || !lp_dtype_from_name(argv[2], &dt) || !parse_shape(argv[3], &ndim, shape))
            return usage();
        size_t n;
        void *d = make_data(dt, ndim, shape, argc > 4 ? (unsigned)atoi(argv[4]) : 1, &n);
        lpi_chunk_info info;
        if ((st = lpi_chunk_info_make(ctx, "encode", dt, ndim, shape, d, n, &info)) != LP_OK)
            return fail(ctx, st);
        uint8_t hdr[LPI_CHUNK_HDR_SIZE];
        lpi_chunk_header_encode(&info, hdr);
        fwrite(hdr, 1, sizeof hdr, stdout);
        fwrite(d, 1, n, stdout);
        lp_free(d);
        lp_ctx_destroy(ctx);
        return 0;
    }

    lpi_store *s;
    if ((st = lpi_store_open(ctx, argv[2], &s)) != LP_OK) return fail(ctx, st);
    const char *key = argc > 3 ? argv[3] : NULL;

    if (strcmp(cmd, "selftest") == 0) {
        suite_all(ctx, s, argc > 3 ? argv[3] : "selftest/");
        rc = lpt_done("store_client selftest");
    } else if (!key) {
        rc = usage();
    } else if (strcmp(cmd, "put") == 0) {
        lp_dtype dt;
        int ndim;
        int64_t shape[LP_MAX_NDIM];
        if (argc < 6 || !lp_dtype_from_name(argv[4], &dt) || !parse_shape(argv[5], &ndim, shape)) {
            rc = usage();
        } else {
            size_t n;
            void *d = make_data(dt, ndim, shape, argc > 6 ? (unsigned)atoi(argv[6]) : 1, &n);
            lpi_chunk_info info;
            st = lpi_store_put(ctx, s, key, dt, ndim, shape, d, n);
            if (st == LP_OK && lpi_chunk_info_make(ctx, key, dt, ndim, shape, d, n, &info) == LP_OK)
                describe(&info);
            lp_free(d);
        }
    } else if (strcmp(cmd, "get") == 0) {
        lp_buffer *b = NULL;
        if ((st = lpi_store_get(ctx, s, key, &b)) == LP_OK) {
            lpi_chunk_info info = {.dtype = lp_buffer_dtype(b), .ndim = lp_buffer_ndim(b),
                                   .nbytes = lp_buffer_nbytes(b)};
            memcpy(info.shape, lp_buffer_shape(b), sizeof(int64_t) * (size_t)info.ndim);
            info.checksum = XXH3_64bits(lp_buffer_data(b), lp_buffer_nbytes(b));
            describe(&info);
        }
        lp_buffer_release(b);
    } else if (strcmp(cmd, "head") == 0) {
        lpi_chunk_info info;
        if ((st = lpi_store_head(ctx, s, key, &info)) == LP_OK) describe(&info);
    } else if (strcmp(cmd, "range") == 0) {
        if (argc < 6) rc = usage();
        else {
            unsigned long long off = strtoull(argv[4], NULL, 10);
            size_t n = (size_t)strtoull(argv[5], NULL, 10);
            unsigned char *buf = lp_malloc(n ? n : 1);
            if ((st = lpi_store_get_range(ctx, s, key, off, n, buf)) == LP_OK) {
                for (size_t i = 0; i < n; i++) printf("%02x", buf[i]);
                printf("\n");
            }
            lp_free(buf);
        }
    } else if (strcmp(cmd, "del") == 0) {
        st = lpi_store_del(ctx, s, key);
    } else if (strcmp(cmd, "exists") == 0) {
        bool ex;
        if ((st = lpi_store_exists(ctx, s, key, &ex)) == LP_OK) printf("%s\n", ex ? "yes" : "no");
    } else {
        rc = usage();
    }
    if (st != LP_OK) rc = fail(ctx, st);
    lpi_store_close(s);
    lp_ctx_destroy(ctx);
    return rc;
}
