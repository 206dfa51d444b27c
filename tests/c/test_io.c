/* src/io: locations, file sources and sinks, selections (values and the exact bytes they read),
 * S3 request URLs and credentials, Zarr codecs and arrays, and the worker's load policy. Remote
 * sources against real servers are tested in tests/integration/test_data.py. */
#include "lpt.h"

#include "exec/wire.h"
#include "io/codec.h"
#include "io/dataset.h"
#include "io/remote.h"
#include "io/zarr.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static lp_ctx *ctx;
static char dir[256];

static void path_of(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", dir, name); }

static void test_locations(void) {
    LPT_CHECK(lpi_loc_kind_of("a.npy") == LPI_LOC_FILE && lpi_loc_kind_of("file:///x") == LPI_LOC_FILE);
    LPT_CHECK(lpi_loc_kind_of("http://h/x") == LPI_LOC_HTTP && lpi_loc_kind_of("https://h/x") == LPI_LOC_HTTP);
    LPT_CHECK(lpi_loc_kind_of("s3://b/k") == LPI_LOC_S3);
    LPT_CHECK(!strcmp(lpi_loc_file_path("file:///tmp/a"), "/tmp/a") && !strcmp(lpi_loc_file_path("rel/a"), "rel/a"));
    LPT_CHECK(!strcmp(lpi_loc_file_path("file://localhost/tmp/a"), "/tmp/a") && !lpi_loc_file_path("s3://b/k"));
    char b[128];
    LPT_CHECK(!strcmp(lpi_loc_redact("http://:tok@h:1/x.npy", b, sizeof b), "http://h:1/x.npy"));
    LPT_CHECK(!strcmp(lpi_loc_redact("http://h:1/a@b", b, sizeof b), "http://h:1/a@b"));
    char *j = lpi_loc_join("s3://b/arr.zarr/", "/c/0/1");
    LPT_CHECK(j && !strcmp(j, "s3://b/arr.zarr/c/0/1"));
    lp_free(j);
}

static void write_file(const char *p, const void *d, size_t n) {
    FILE *f = fopen(p, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

static void test_file_source_and_sink(void) {
    char p[300];
    path_of(p, sizeof p, "obj.bin");
    write_file(p, "0123456789", 10);
    lpi_src *s;
    LPT_OK(ctx, lpi_src_open(ctx, p, &s));
    char buf[8] = {0};
    LPT_OK(ctx, lpi_src_read(ctx, s, 3, 4, buf));
    LPT_CHECK(!memcmp(buf, "3456", 4) && lpi_src_bytes(s) == 4 && lpi_src_id(s)->size == 10);
    lpi_objid id = *lpi_src_id(s);
    lpi_src_close(s);
    lpi_src *s2 = NULL;
    LPT_OK(ctx, lpi_src_reopen(ctx, p, &id, &s2));
    lpi_src_close(s2);
    /* rewritten (atomically): another inode, so another version */
    LPT_OK(ctx, lpi_io_put(ctx, p, false, "abcdefghij", 10));
    LPT_CHECK(lpi_src_reopen(ctx, p, &id, &s2) == LP_ERR_IO && strstr(lp_last_error(ctx), "changed since it was opened"));
    path_of(p, sizeof p, "missing.bin");
    LPT_CHECK(lpi_src_open(ctx, p, &s) == LP_ERR_NOTFOUND);
    bool ex = true;
    LPT_OK(ctx, lpi_io_exists(ctx, p, &ex));
    LPT_CHECK(!ex);
    /* a sink publishes on commit only; abort leaves nothing */
    lpi_sink *k;
    path_of(p, sizeof p, "sub/dir/out.bin");
    LPT_OK(ctx, lpi_sink_open(ctx, p, true, &k));
    LPT_OK(ctx, lpi_sink_write(ctx, k, "xyz", 3));
    LPT_CHECK(access(p, F_OK) != 0);
    LPT_OK(ctx, lpi_sink_commit(ctx, k));
    void *d;
    size_t n;
    LPT_OK(ctx, lpi_io_get(ctx, p, 100, &d, &n, NULL));
    LPT_CHECK(n == 3 && !memcmp(d, "xyz", 3));
    lp_free(d);
    LPT_CHECK(lpi_io_get(ctx, p, 2, &d, &n, NULL) == LP_ERR_LIMIT);
    path_of(p, sizeof p, "aborted.bin");
    LPT_OK(ctx, lpi_sink_open(ctx, p, false, &k));
    LPT_OK(ctx, lpi_sink_write(ctx, k, "xyz", 3));
    lpi_sink_abort(k);
    LPT_CHECK(access(p, F_OK) != 0);
}

/* A (6, 5, 7) int32 array in C order at byte 64 of a file; selections compared element by
 * element with the formula, and the bytes they read with the merging rule (4 KiB gaps). */
static void test_selections(void) {
    int64_t shape[3] = {6, 5, 7}, n = 6 * 5 * 7;
    char p[300];
    path_of(p, sizeof p, "sel.bin");
    int32_t *v = malloc((size_t)(64 + 4 * n));
    memset(v, 0, 64);
    for (int64_t i = 0; i < n; i++) v[16 + i] = (int32_t)(i * 3 + 1);
    write_file(p, v, (size_t)(64 + 4 * n));
    free(v);
    lpi_layout L;
    lpi_layout_dense(&L, 3, shape, 4, false, 64);
    static const struct { int64_t start[3], step[3], count[3]; } cases[] = {
        {{0, 0, 0}, {1, 1, 1}, {6, 5, 7}},   {{2, 1, 3}, {1, 1, 1}, {3, 2, 2}},   {{5, 4, 6}, {-1, -1, -1}, {6, 5, 7}},
        {{0, 0, 0}, {2, 3, 3}, {3, 2, 3}},   {{1, 2, 0}, {1, 1, 7}, {4, 1, 1}},   {{4, 0, 6}, {-2, 2, -3}, {3, 3, 3}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lpi_sel sel;
        int64_t total = 1;
        for (int i = 0; i < 3; i++) {
            sel.start[i] = cases[c].start[i];
            sel.step[i] = cases[c].step[i];
            sel.count[i] = cases[c].count[i];
            total *= sel.count[i];
        }
        /* transposed destination: axis 2 slowest */
        sel.dstride[2] = 4 * sel.count[0] * sel.count[1];
        sel.dstride[1] = 4 * sel.count[0];
        sel.dstride[0] = 4;
        int32_t *dst = calloc((size_t)total, 4);
        lpi_src *s;
        LPT_OK(ctx, lpi_src_open(ctx, p, &s));
        LPT_OK(ctx, lpi_sel_read(ctx, s, &L, &sel, (char *)dst));
        bool ok = true;
        for (int64_t a = 0; a < sel.count[0]; a++)
            for (int64_t b = 0; b < sel.count[1]; b++)
                for (int64_t e = 0; e < sel.count[2]; e++) {
                    int64_t i = (sel.start[0] + sel.step[0] * a) * 35 + (sel.start[1] + sel.step[1] * b) * 7 +
                                sel.start[2] + sel.step[2] * e;
                    ok &= dst[e * sel.count[0] * sel.count[1] + b * sel.count[0] + a] == (int32_t)(i * 3 + 1);
                }
        LPT_CHECKF(ok, "selection %zu", c);
        /* the whole array is 840 bytes: any gap merges, so a selection reads from its first
         * selected byte to its last */
        int64_t lo = INT64_MAX, hi = 0;
        for (int64_t a = 0; a < sel.count[0]; a += sel.count[0] - 1 > 0 ? sel.count[0] - 1 : 1)
            for (int64_t b = 0; b < sel.count[1]; b += sel.count[1] - 1 > 0 ? sel.count[1] - 1 : 1)
                for (int64_t e = 0; e < sel.count[2]; e += sel.count[2] - 1 > 0 ? sel.count[2] - 1 : 1) {
                    int64_t i = (sel.start[0] + sel.step[0] * a) * 35 + (sel.start[1] + sel.step[1] * b) * 7 +
                                sel.start[2] + sel.step[2] * e;
                    lo = i < lo ? i : lo;
                    hi = i > hi ? i : hi;
                }
        LPT_CHECKF(lpi_src_bytes(s) == (hi - lo + 1) * 4, "selection %zu read %lld bytes", c, (long long)lpi_src_bytes(s));
        lpi_src_close(s);
        free(dst);
    }
    /* far apart rows are separate ranges: rows of 40 KB, every third of 5 */
    int64_t big[2] = {5, 10000};
    char p2[300];
    path_of(p2, sizeof p2, "rows.bin");
    char *z = calloc(5, 40000);
    write_file(p2, z, 5 * 40000);
    free(z);
    lpi_layout_dense(&L, 2, big, 4, false, 0);
    lpi_sel sel = {{0, 0}, {3, 1}, {2, 10000}, {40000, 4}};
    char *dst = malloc(80000);
    lpi_src *s;
    LPT_OK(ctx, lpi_src_open(ctx, p2, &s));
    LPT_OK(ctx, lpi_sel_read(ctx, s, &L, &sel, dst));
    LPT_CHECK(lpi_src_bytes(s) == 80000);
    lpi_src_close(s);
    free(dst);
}

static void test_s3_urls(void) {
    char cfg[300], cred[300];
    path_of(cfg, sizeof cfg, "aws_config");
    path_of(cred, sizeof cred, "aws_credentials");
    FILE *f = fopen(cfg, "w");
    fprintf(f, "[default]\nregion = eu-west-3\n[profile other]\nregion = ap-south-1\nendpoint_url = http://127.0.0.1:9/\n");
    fclose(f);
    f = fopen(cred, "w");
    fprintf(f, "[default]\naws_access_key_id = AKD\naws_secret_access_key = SKD\n[other]\naws_access_key_id = AKO\n"
               "aws_secret_access_key = SKO\naws_session_token = TOK\n");
    fclose(f);
    const char *vars[] = {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_NO_SIGN_REQUEST"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
    setenv("AWS_CONFIG_FILE", cfg, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
    char *u;
    lpi_s3_auth a;
    LPT_OK(ctx, lpi_s3_resolve(ctx, "s3://bkt/dir/a b+c.npy", &u, &a));
    LPT_CHECK(!strcmp(u, "https://bkt.s3.eu-west-3.amazonaws.com/dir/a%20b%2Bc.npy"));
    LPT_CHECK(a.sign && !strcmp(a.sigv4, "aws:amz:eu-west-3:s3") && !strcmp(a.userpwd, "AKD:SKD") && !a.token[0]);
    lp_free(u);
    setenv("AWS_PROFILE", "other", 1);
    LPT_OK(ctx, lpi_s3_resolve(ctx, "s3://my.bkt/k", &u, &a));
    LPT_CHECK(!strcmp(u, "http://127.0.0.1:9/my.bkt/k") && !strcmp(a.userpwd, "AKO:SKO") && !strcmp(a.token, "TOK"));
    lp_free(u);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5/", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SKE", 1);
    setenv("AWS_REGION", "us-west-2", 1);
    LPT_OK(ctx, lpi_s3_resolve(ctx, "s3://b/k", &u, &a));
    LPT_CHECK(!strcmp(u, "http://127.0.0.1:5/b/k") && !strcmp(a.userpwd, "AKE:SKE") && !strcmp(a.sigv4, "aws:amz:us-west-2:s3"));
    lp_free(u);
    setenv("AWS_NO_SIGN_REQUEST", "true", 1);
    LPT_OK(ctx, lpi_s3_resolve(ctx, "s3://b/k", &u, &a));
    LPT_CHECK(!a.sign);
    lp_free(u);
    LPT_CHECK(lpi_s3_resolve(ctx, "s3://b", &u, &a) == LP_ERR_VALUE);
    LPT_CHECK(lpi_s3_resolve(ctx, "s3://b!d/k", &u, &a) == LP_ERR_VALUE);
    setenv("AWS_REGION", "x/../y", 1);
    LPT_CHECK(lpi_s3_resolve(ctx, "s3://b/k", &u, &a) == LP_ERR_VALUE);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

static void test_codecs(void) {
    char data[5000];
    for (int i = 0; i < 5000; i++) data[i] = (char)(i % 7 == 0 ? i : 3);
    lpi_codec cs[4] = {{.kind = LPI_CODEC_GZIP, .level = 5}, {.kind = LPI_CODEC_ZSTD, .level = 3},
                       {.kind = LPI_CODEC_BLOSC, .level = 5, .cname = "lz4", .shuffle = 1, .typesize = 4},
                       {.kind = LPI_CODEC_CRC32C}};
    for (int k = 0; k < 4; k++) {
        void *e, *d;
        size_t en, dn;
        LPT_OK(ctx, lpi_codec_encode(ctx, "t", &cs[k], data, sizeof data, &e, &en));
        LPT_OK(ctx, lpi_codec_decode(ctx, "t", &cs[k], e, en, sizeof data, &d, &dn));
        LPT_CHECKF(dn == sizeof data && !memcmp(d, data, dn), "codec %d", k);
        lp_free(d);
        /* over the bound, corrupted, cut short: errors */
        if (k != LPI_CODEC_CRC32C) LPT_CHECK(lpi_codec_decode(ctx, "t", &cs[k], e, en, 100, &d, &dn) == LP_ERR_FORMAT);
        ((char *)e)[en / 2] ^= 0x5a;
        ((char *)e)[en - 1] ^= 0x5a;
        lp_status st = lpi_codec_decode(ctx, "t", &cs[k], e, en, sizeof data, &d, &dn);
        if (st == LP_OK) { LPT_CHECKF(dn != sizeof data || memcmp(d, data, dn), "codec %d ignored corruption", k); lp_free(d); }
        else LPT_CHECK(st == LP_ERR_FORMAT);
        LPT_CHECK(lpi_codec_decode(ctx, "t", &cs[k], e, en / 3, sizeof data, &d, &dn) != LP_OK);
        lp_free(e);
    }
    LPT_CHECK(lpi_crc32c("123456789", 9) == 0xE3069283u); /* the CRC-32C check value */
}

static void test_zarr_roundtrip(void) {
    int64_t shape[3] = {9, 4, 5}, n = 180;
    double *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (double)i * 0.5 - 7;
    const char *codecs[] = {"none", "gzip", "zstd", "blosc"};
    int64_t chunks[3] = {4, 3, 5};
    for (int c = 0; c < 4; c++)
        for (int fo = 0; fo < 2; fo++) {
            char p[300];
            snprintf(p, sizeof p, "%s/rt_%s_%d.zarr", dir, codecs[c], fo);
            lpi_zarr_write_opts o = {.chunks = chunks, .codec = codecs[c], .big_endian = fo, .fortran = fo};
            LPT_OK(ctx, lpi_zarr_write(ctx, p, LP_FLOAT64, 3, shape, x, &o));
            lpi_dataset *d;
            LPT_OK(ctx, lpi_dataset_open(ctx, p, &d));
            if (!d) continue;
            LPT_CHECK(d->fmt == LPI_FMT_ZARR && d->ndim == 3 && d->shape[0] == 9 && d->dtype == LP_FLOAT64);
            lpi_reader *r;
            LPT_OK(ctx, lpi_reader_open(ctx, d, &r));
            /* x[8:0:-3, 1:4, ::2] */
            lpi_sel sel = {{8, 1, 0}, {-3, 1, 2}, {3, 3, 3}, {72, 24, 8}};
            double got[27];
            LPT_OK(ctx, lpi_reader_read(ctx, r, -1, NULL, &sel, (char *)got));
            bool ok = true;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    for (int e = 0; e < 3; e++) ok &= got[a * 9 + b * 3 + e] == x[(8 - 3 * a) * 20 + (1 + b) * 5 + 2 * e];
            LPT_CHECKF(ok, "zarr %s fortran %d", codecs[c], fo);
            lpi_reader_close(r);
            lpi_dataset_release(d);
        }
    /* a chunk that does not decode to a chunk's size is an error naming it */
    char p[300], q[400];
    snprintf(p, sizeof p, "%s/rt_none_0.zarr", dir);
    snprintf(q, sizeof q, "%s/c/0/0/0", p);
    write_file(q, "short", 5);
    lpi_dataset *d;
    LPT_OK(ctx, lpi_dataset_open(ctx, p, &d));
    lpi_reader *r;
    LPT_OK(ctx, lpi_reader_open(ctx, d, &r));
    lpi_sel sel = {{0, 0, 0}, {1, 1, 1}, {1, 1, 1}, {8, 8, 8}};
    double one;
    LPT_CHECK(lpi_reader_read(ctx, r, -1, NULL, &sel, (char *)&one) == LP_ERR_FORMAT && strstr(lp_last_error(ctx), "c/0/0/0"));
    lpi_reader_close(r);
    lpi_dataset_release(d);
    /* bad metadata */
    snprintf(q, sizeof q, "%s/zarr.json", p);
    write_file(q, "{\"zarr_format\": 2}", 18);
    LPT_CHECK(lpi_dataset_open(ctx, p, &d) == LP_ERR_FORMAT && strstr(lp_last_error(ctx), "zarr_format"));
    free(x);
}

static void test_load_policy(void) {
    lpi_wire_limits lim;
    lpi_wire_limits_default(&lim);
    char *res;
    const char *dirs[] = {dir, NULL}, *urls[] = {"s3://bkt/data/", "http://h:1/x", NULL};
    /* deny by default: neither list, nothing may be read */
    LPT_CHECK(lpi_wire_load_allowed(ctx, &lim, "t", "https://anything/x.npy", &res) == LP_ERR_DENIED);
    lim.load_dirs = dirs;
    LPT_CHECK(lpi_wire_load_allowed(ctx, &lim, "t", "s3://bkt/data/x.npy", &res) == LP_ERR_DENIED);
    lim.load_urls = urls;
    LPT_OK(ctx, lpi_wire_load_allowed(ctx, &lim, "t", "s3://bkt/data/x.npy", &res));
    lp_free(res);
    LPT_OK(ctx, lpi_wire_load_allowed(ctx, &lim, "t", "http://h:1/x/y.npy", &res));
    lp_free(res);
    static const char *const bad[] = {"s3://bkt/database.npy", "http://h:1/xy.npy", "s3://bkt/data/../other/x",
                                      "s3://bkt/data/%2e%2e/x", "http://h:1/x/./y", "s3://other/data/x",
                                      "http://h:1/x/y?z=1", "/etc/passwd", "relative.npy"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        LPT_CHECKF(lpi_wire_load_allowed(ctx, &lim, "t", bad[i], &res) != LP_OK, "%s", bad[i]);
    char p[300];
    path_of(p, sizeof p, "obj.bin");
    LPT_OK(ctx, lpi_wire_load_allowed(ctx, &lim, "t", p, &res));
    lp_free(res);
}

int main(void) {
    lp_ctx_create(&ctx);
    snprintf(dir, sizeof dir, "/tmp/lampy_test_io_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    LPT_RUN(test_locations);
    LPT_RUN(test_file_source_and_sink);
    LPT_RUN(test_selections);
    LPT_RUN(test_s3_urls);
    LPT_RUN(test_codecs);
    LPT_RUN(test_zarr_roundtrip);
    LPT_RUN(test_load_policy);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    lp_ctx_destroy(ctx);
    return lpt_done("io");
}
