/* Tests of src/io/npy.c: round trips, row ranges, NumPy-written files, the malformed corpus,
 * truncated and mutated files, allocation failures and the streaming writer. */
#include "io/npy.h"
#include "lpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static lp_ctx *ctx;
static char tmpdir[256];

/* The core keeps the first failure; tests that expect one failure after another start afresh. */
static void reset_err(void) {
    ctx->last_status = LP_OK;
    ctx->errmsg[0] = '\0';
}

static const char *status_name(lp_status st) {
    switch (st) {
#define X(name, num, desc) case LP_##name: return "LP_" #name;
        LP_STATUS_MAP(X)
#undef X
    default: return "?";
    }
}

static const char *tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmpdir, name);
    return buf;
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* Count leftover temp files ("*.tmp.*") of the writers in tmpdir. */
static int temp_files_left(void) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static void spit(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fwrite(data, 1, n, f);
    fclose(f);
}

/* The values of tests/data/gen_npy.py's values(): a formula of the C-order flat index. */
static void expected_value(lp_dtype dt, int64_t i, void *out) {
    switch (dt) {
    case LP_BOOL: { uint8_t v = i % 3 == 0; memcpy(out, &v, 1); break; }
    case LP_INT32: { int32_t v = (int32_t)((i - 5) * 100003); memcpy(out, &v, 4); break; }
    case LP_INT64: { int64_t v = (i - 5) * INT64_C(1099511627791); memcpy(out, &v, 8); break; }
    case LP_FLOAT32: { float v = (float)((double)i * 0.5 - 2.25); memcpy(out, &v, 4); break; }
    case LP_INT8: { int8_t v = (int8_t)((i - 5) * 37); memcpy(out, &v, 1); break; }
    case LP_INT16: { int16_t v = (int16_t)((i - 5) * 1237); memcpy(out, &v, 2); break; }
    case LP_UINT8: { uint8_t v = (uint8_t)(i * 37 + 3); memcpy(out, &v, 1); break; }
    case LP_UINT16: { uint16_t v = (uint16_t)(i * 4099 + 7); memcpy(out, &v, 2); break; }
    case LP_UINT32: { uint32_t v = (uint32_t)(i * INT64_C(2654435761) + 11); memcpy(out, &v, 4); break; }
    case LP_UINT64: { uint64_t v = (uint64_t)i * UINT64_C(11400714819323198485) + 13; memcpy(out, &v, 8); break; }
    case LP_FLOAT16: { _Float16 v = (_Float16)((double)i * 0.5 - 2.25); memcpy(out, &v, 2); break; }
    case LP_COMPLEX64: { float v[2] = {(float)((double)i * 0.5 - 2.25), (float)(i % 7) * -1.5f}; memcpy(out, v, 8); break; }
    case LP_COMPLEX128: { double v[2] = {(double)(i - 5) * 1e10 + 0.125, (double)i * -0.375}; memcpy(out, v, 16); break; }
    default: { double v = (double)(i - 5) * 1e10 + 0.125; memcpy(out, &v, 8); break; }
    }
}

/* Elements [i0, i0+n) of the formula, native C order. */
static void *make_values(lp_dtype dt, int64_t i0, int64_t n) {
    size_t isz = lp_dtype_size(dt);
    char *p = malloc(n > 0 ? (size_t)n * isz : 1);
    for (int64_t i = 0; i < n; i++) expected_value(dt, i0 + i, p + (size_t)i * isz);
    return p;
}

static int64_t shape_size(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* Read rows [r0, r1) and compare them with the formula. */
static void check_rows(lpi_src *fd, const char *path, const lp_npy_info *info, int64_t r0, int64_t r1) {
    int64_t per_row = info->ndim ? shape_size(info->ndim - 1, info->shape + 1) : 1;
    int64_t n = (r1 - r0) * per_row;
    size_t isz = lp_dtype_size(info->dtype);
    char *got = malloc(n > 0 ? (size_t)n * isz : 1);
    void *want = make_values(info->dtype, r0 * per_row, n);
    memset(got, 0xAB, n > 0 ? (size_t)n * isz : 1);
    lp_status st = lpi_npy_read_rows(ctx, fd, info, r0, r1, got);
    LPT_CHECKF(st == LP_OK, "%s rows [%lld,%lld): %s", path, (long long)r0, (long long)r1,
               lp_last_error(ctx));
    if (st == LP_OK)
        LPT_CHECKF(n == 0 || memcmp(got, want, (size_t)n * isz) == 0, "%s rows [%lld,%lld) differ",
                   path, (long long)r0, (long long)r1);
    free(got);
    free(want);
}

/* Whole array, first/middle/last row, an inner range and an empty range. */
static void check_all_ranges(lpi_src *fd, const char *path, const lp_npy_info *info) {
    int64_t n = info->ndim ? info->shape[0] : 1;
    check_rows(fd, path, info, 0, n);
    if (n >= 1) { check_rows(fd, path, info, 0, 1); check_rows(fd, path, info, n - 1, n); }
    if (n >= 3) { check_rows(fd, path, info, n / 2, n / 2 + 1); check_rows(fd, path, info, 1, n - 1); }
    check_rows(fd, path, info, n / 2, n / 2);
}

/* ---- round trips -------------------------------------------------------------------- */

static void roundtrip_one(lp_dtype dt, int ndim, const int64_t *shape, bool fortran, bool big,
                          int major) {
    char path[512];
    tmp_path(path, sizeof path, "rt.npy");
    int64_t n = shape_size(ndim, shape);
    void *data = make_values(dt, 0, n);
    lpi_npy_write_opts o = {fortran, big, major};
    LPT_OK(ctx, lpi_npy_write(ctx, path, dt, ndim, shape, data, &o));
    free(data);
    lpi_src *fd;
    lp_npy_info info;
    lp_status st = lpi_npy_open(ctx, path, &fd, &info);
    LPT_CHECKF(st == LP_OK, "%s", lp_last_error(ctx));
    if (st != LP_OK) return;
    bool ok = info.major == major && info.minor == 0 && info.dtype == dt && info.ndim == ndim &&
              info.fortran_order == fortran && info.big_endian == (big && lp_dtype_size(dt) > 1) &&
              info.data_offset % 64 == 0 && info.data_bytes == n * (int64_t)lp_dtype_size(dt) &&
              file_size(path) == info.data_offset + info.data_bytes;
    for (int i = 0; i < ndim; i++) ok = ok && info.shape[i] == shape[i];
    LPT_CHECKF(ok, "info of %s ndim %d fortran %d big %d v%d", lp_dtype_name(dt), ndim, fortran,
               big, major);
    check_all_ranges(fd, path, &info);
    lpi_src_close(fd);
}

static void test_roundtrip(void) {
    static const struct { int ndim; int64_t shape[LP_MAX_NDIM]; } shapes[] = {
        {0, {0}}, {1, {5}}, {2, {0, 3}}, {2, {3, 0}}, {2, {3, 4}}, {2, {1, 5}}, {3, {2, 3, 4}},
        {3, {4, 1, 3}}, {8, {2, 1, 2, 1, 2, 1, 2, 3}}, {8, {1, 2, 1, 3, 2, 1, 2, 2}},
    };
    for (int dt = 0; dt < LP_DTYPE_COUNT; dt++)
        for (int f = 0; f < 2; f++)
            for (int b = 0; b < 2; b++)
                for (int v = 1; v <= 3; v++)
                    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                        roundtrip_one((lp_dtype)dt, shapes[s].ndim, shapes[s].shape, f, b, v);
    /* default options: version 1.0, C order, little endian */
    char path[512];
    int64_t shape[2] = {2, 3};
    double d[6] = {1, 2, 3, 4, 5, 6};
    lp_npy_info info;
    tmp_path(path, sizeof path, "defaults.npy");
    LPT_OK(ctx, lpi_npy_write(ctx, path, LP_FLOAT64, 2, shape, d, NULL));
    LPT_OK(ctx, lp_npy_info_read(ctx, path, &info));
    LPT_CHECK(info.major == 1 && !info.fortran_order && !info.big_endian && info.data_offset == 128);
    /* the 64-byte alignment holds for the widest header too */
    int64_t wide[8] = {1, 1, 1, 1, 1, 1, 1, 0};
    for (int i = 0; i < 7; i++) wide[i] = 1000000000000000000;
    LPT_OK(ctx, lpi_npy_write(ctx, path, LP_FLOAT64, 8, wide, NULL, NULL));
    LPT_OK(ctx, lp_npy_info_read(ctx, path, &info));
    LPT_CHECK(info.data_offset % 64 == 0 && info.shape[0] == wide[0] && info.data_bytes == 0);
}

/* ---- files written by NumPy --------------------------------------------------------- */

typedef struct manifest_row {
    char name[128], dtype[16], values[16];
    int big, fortran, major, ndim;
    int64_t shape[LP_MAX_NDIM];
} manifest_row;

static bool parse_manifest_line(char *line, manifest_row *r) {
    char shape[128];
    if (line[0] == '#' ||
        sscanf(line, "%127[^\t]\t%15[^\t]\t%d\t%d\t%d\t%127[^\t]\t%15s", r->name, r->dtype, &r->big,
               &r->fortran, &r->major, shape, r->values) != 7)
        return false;
    r->ndim = 0;
    for (char *p = shape; *p && *p != '-' && r->ndim < LP_MAX_NDIM;) {
        r->shape[r->ndim++] = strtoll(p, &p, 10);
        if (*p == ',') p++;
    }
    return true;
}

/* Writing the same values with the same options must give NumPy's bytes: the same header dict
 * (NumPy may pad differently) and the same data. This checks the writer's layout against NumPy,
 * which the round trips alone cannot. */
static void check_writer_matches(const char *path, const manifest_row *r, const lp_npy_info *info) {
    char mine[512];
    tmp_path(mine, sizeof mine, "mine.npy");
    void *data = make_values(info->dtype, 0, shape_size(info->ndim, info->shape));
    lpi_npy_write_opts o = {r->fortran, r->big, r->major};
    LPT_OK(ctx, lpi_npy_write(ctx, mine, info->dtype, info->ndim, info->shape, data, &o));
    free(data);
    size_t na, nb;
    unsigned char *a = slurp(path, &na), *b = slurp(mine, &nb);
    lp_npy_info mi;
    LPT_OK(ctx, lp_npy_info_read(ctx, mine, &mi));
    LPT_CHECK(a && b);
    if (!a || !b) { free(a); free(b); return; }
    size_t pa = r->major == 1 ? 10 : 12;
    const unsigned char *ea = memchr(a + pa, '}', na - pa), *eb = memchr(b + pa, '}', nb - pa);
    LPT_CHECKF(ea && eb && ea - a == eb - b && memcmp(a, b, 8) == 0 &&
                   memcmp(a + pa, b + pa, (size_t)(ea - a) - pa) == 0,
               "%s: header dict differs from NumPy's", r->name);
    size_t da = na - (size_t)info->data_offset, db = nb - (size_t)mi.data_offset;
    LPT_CHECKF(da == db && memcmp(a + info->data_offset, b + mi.data_offset, da) == 0,
               "%s: data differs from NumPy's", r->name);
    free(a);
    free(b);
}

static void check_b1raw(lpi_src *fd, const char *path, const lp_npy_info *info) {
    static const uint8_t want[6] = {0, 1, 1, 1, 0, 1};
    uint8_t got[6];
    LPT_OK(ctx, lpi_npy_read_rows(ctx, fd, info, 0, 6, got));
    LPT_CHECK(info->shape[0] == 6 && memcmp(got, want, 6) == 0);
}

static void test_numpy_files(void) {
    char dir[512], mpath[600], line[512];
    snprintf(dir, sizeof dir, "%s/npy/valid", lpt_data_dir());
    snprintf(mpath, sizeof mpath, "%s/MANIFEST", dir);
    FILE *m = fopen(mpath, "r");
    LPT_CHECKF(m != NULL, "cannot open %s", mpath);
    if (!m) return;
    int nfiles = 0;
    while (fgets(line, sizeof line, m)) {
        manifest_row r;
        if (!parse_manifest_line(line, &r)) continue;
        char path[700];
        snprintf(path, sizeof path, "%s/%s", dir, r.name);
        lpi_src *fd;
        lp_npy_info info;
        lp_status st = lpi_npy_open(ctx, path, &fd, &info);
        LPT_CHECKF(st == LP_OK, "%s", lp_last_error(ctx));
        if (st != LP_OK) { reset_err(); continue; }
        nfiles++;
        bool ok = strcmp(lp_dtype_name(info.dtype), r.dtype) == 0 && info.big_endian == r.big &&
                  info.fortran_order == r.fortran && info.major == r.major && info.ndim == r.ndim;
        for (int i = 0; ok && i < r.ndim; i++) ok = info.shape[i] == r.shape[i];
        LPT_CHECKF(ok, "%s: header fields differ from MANIFEST", r.name);
        if (strcmp(r.values, "b1raw") == 0) {
            check_b1raw(fd, path, &info);
        } else {
            check_all_ranges(fd, path, &info);
            /* a row at a time, the way a chunked reader walks a file */
            if (info.ndim && info.shape[0] <= 16)
                for (int64_t i = 0; i < info.shape[0]; i++) check_rows(fd, path, &info, i, i + 1);
        }
        lpi_src_close(fd);
        if (strncmp(r.name, "hand_", 5) != 0) check_writer_matches(path, &r, &info);
    }
    fclose(m);
    LPT_CHECKF(nfiles >= 30, "only %d valid files", nfiles);
}

/* ---- row ranges --------------------------------------------------------------------- */

static void expect_range_error(lpi_src *fd, const char *path, const lp_npy_info *info, int64_t r0,
                               int64_t r1) {
    char buf[64];
    reset_err();
    lp_status st = lpi_npy_read_rows(ctx, fd, info, r0, r1, buf);
    LPT_CHECKF(st == LP_ERR_VALUE && strncmp(lp_last_error(ctx), path, strlen(path)) == 0 &&
                   strstr(lp_last_error(ctx), "out of range"),
               "rows [%lld,%lld): %s %s", (long long)r0, (long long)r1, status_name(st),
               lp_last_error(ctx));
    reset_err();
}

static void test_row_ranges(void) {
    char path[512];
    int64_t shape[2] = {7, 3};
    for (int f = 0; f < 2; f++) {
        void *data = make_values(LP_INT64, 0, 21);
        lpi_npy_write_opts o = {f, false, 0};
        tmp_path(path, sizeof path, "ranges.npy");
        LPT_OK(ctx, lpi_npy_write(ctx, path, LP_INT64, 2, shape, data, &o));
        free(data);
        lpi_src *fd;
        lp_npy_info info;
        LPT_OK(ctx, lpi_npy_open(ctx, path, &fd, &info));
        check_rows(fd, path, &info, 0, 1);  /* first */
        check_rows(fd, path, &info, 3, 5);  /* middle */
        check_rows(fd, path, &info, 6, 7);  /* last */
        check_rows(fd, path, &info, 0, 7);  /* all */
        check_rows(fd, path, &info, 4, 4);  /* empty */
        check_rows(fd, path, &info, 7, 7);  /* empty, at the end */
        expect_range_error(fd, path, &info, 0, 8);
        expect_range_error(fd, path, &info, 8, 8);
        expect_range_error(fd, path, &info, -1, 2);
        expect_range_error(fd, path, &info, 5, 4);
        expect_range_error(fd, path, &info, INT64_MAX - 1, INT64_MAX);
        lpi_src_close(fd);
    }
    /* 0-d: the single "row" is [0, 1) */
    double x = 2.5, y = 0;
    LPT_OK(ctx, lpi_npy_write(ctx, path, LP_FLOAT64, 0, NULL, &x, NULL));
    lpi_src *fd;
    lp_npy_info info;
    LPT_OK(ctx, lpi_npy_open(ctx, path, &fd, &info));
    LPT_OK(ctx, lpi_npy_read_rows(ctx, fd, &info, 0, 1, &y));
    LPT_CHECK(y == 2.5);
    LPT_OK(ctx, lpi_npy_read_rows(ctx, fd, &info, 1, 1, &y));
    expect_range_error(fd, path, &info, 0, 2);
    lpi_src_close(fd);
}

/* Large Fortran files exercise each read strategy: one covering span for many columns, several
 * spans when they exceed the bounce buffer, one pread per sparse run, runs split in pieces. */
static void fortran_case(lp_dtype dt, int ndim, const int64_t *shape, int64_t r0, int64_t r1) {
    char path[512];
    tmp_path(path, sizeof path, "fortran_big.npy");
    lpi_src *fd;
    lp_npy_info info;
    LPT_OK(ctx, lpi_npy_open(ctx, path, &fd, &info));
    LPT_CHECK(info.dtype == dt && info.ndim == ndim && info.fortran_order &&
              memcmp(info.shape, shape, (size_t)ndim * sizeof *shape) == 0);
    check_rows(fd, path, &info, r0, r1);
    lpi_src_close(fd);
}

static void write_fortran(lp_dtype dt, int ndim, const int64_t *shape, bool big) {
    char path[512];
    void *data = make_values(dt, 0, shape_size(ndim, shape));
    lpi_npy_write_opts o = {true, big, 0};
    tmp_path(path, sizeof path, "fortran_big.npy");
    LPT_OK(ctx, lpi_npy_write(ctx, path, dt, ndim, shape, data, &o));
    free(data);
}

static void test_fortran_strategies(void) {
    int64_t tall[2] = {150000, 3}; /* a column run of all rows is 1.2 MB: split in pieces */
    write_fortran(LP_FLOAT64, 2, tall, false);
    fortran_case(LP_FLOAT64, 2, tall, 0, 150000);
    fortran_case(LP_FLOAT64, 2, tall, 10, 20);         /* sparse: one pread per run */
    fortran_case(LP_FLOAT64, 2, tall, 149000, 150000); /* sparse, runs of 8000 bytes */
    fortran_case(LP_FLOAT64, 2, tall, 50000, 150000);  /* dense: spans of one column each */
    int64_t wide[3] = {300, 40, 50}; /* 2000 columns of 1200 bytes: many spans */
    write_fortran(LP_FLOAT32, 3, wide, true);
    fortran_case(LP_FLOAT32, 3, wide, 0, 300);
    fortran_case(LP_FLOAT32, 3, wide, 100, 200); /* gaps under a page: still spans */
    fortran_case(LP_FLOAT32, 3, wide, 299, 300);
    int64_t sparse[2] = {5000, 4};
    write_fortran(LP_INT64, 2, sparse, false);
    fortran_case(LP_INT64, 2, sparse, 10, 12);
    fortran_case(LP_INT64, 2, sparse, 2500, 5000); /* half of each column: one span for all */
}

/* ---- malformed files ---------------------------------------------------------------- */

static lp_status status_from_name(const char *name) {
    for (int s = 0; s < LP_STATUS_COUNT; s++)
        if (strcmp(status_name((lp_status)s), name) == 0) return (lp_status)s;
    return LP_STATUS_COUNT;
}

static void test_invalid_corpus(void) {
    char dir[512], epath[600], line[1024];
    snprintf(dir, sizeof dir, "%s/npy/invalid", lpt_data_dir());
    snprintf(epath, sizeof epath, "%s/EXPECTED", dir);
    FILE *f = fopen(epath, "r");
    LPT_CHECKF(f != NULL, "cannot open %s", epath);
    if (!f) return;
    int n = 0;
    char listed[128][128];
    while (fgets(line, sizeof line, f) && n < 128) {
        line[strcspn(line, "\n")] = '\0';
        char *name = strtok(line, "\t"), *sname = strtok(NULL, "\t"), *sub = strtok(NULL, "");
        if (!name || !sname || !sub) continue;
        snprintf(listed[n++], sizeof listed[0], "%s", name);
        char path[700];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        lp_status want = status_from_name(sname);
        lp_npy_info info;
        lp_status st = lp_npy_info_read(ctx, path, &info);
        const char *msg = lp_last_error(ctx);
        size_t pl = strlen(path);
        LPT_CHECKF(st == want && strncmp(msg, path, pl) == 0 && msg[pl] == ':' && strstr(msg, sub),
                   "%s: want %s '%s', got %s '%s'", name, sname, sub, status_name(st), msg);
        /* the open/read path reports the same */
        lpi_src *fd = NULL;
        reset_err();
        LPT_CHECK(lpi_npy_open(ctx, path, &fd, &info) == want && fd == NULL);
        reset_err();
    }
    fclose(f);
    LPT_CHECKF(n >= 20, "only %d malformed files", n);
    /* every file in the directory is covered by EXPECTED */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "EXPECTED") == 0) continue;
        bool found = false;
        for (int i = 0; i < n && !found; i++) found = strcmp(listed[i], e->d_name) == 0;
        LPT_CHECKF(found, "%s is not listed in EXPECTED", e->d_name);
    }
    if (d) closedir(d);
}

static void test_os_errors(void) {
    char path[512];
    lp_npy_info info;
    lp_status st = lp_npy_info_read(ctx, tmp_path(path, sizeof path, "missing.npy"), &info);
    LPT_CHECKF(st == LP_ERR_NOTFOUND && strncmp(lp_last_error(ctx), path, strlen(path)) == 0 &&
                   strstr(lp_last_error(ctx), "No such file"), "%s", lp_last_error(ctx));
    /* a later failure replaces the stale message */
    st = lp_npy_info_read(ctx, tmpdir, &info);
    LPT_CHECKF(st == LP_ERR_IO && strstr(lp_last_error(ctx), "not a regular file"), "%s",
               lp_last_error(ctx));
    /* a FIFO without a writer: an error, not an open() that waits for a writer forever (a
     * load task naming one would hang a worker); the alarm turns a hang into a failure */
    char fifo[512];
    tmp_path(fifo, sizeof fifo, "fifo.npy");
    LPT_CHECK(mkfifo(fifo, 0600) == 0);
    alarm(30);
    st = lp_npy_info_read(ctx, fifo, &info);
    alarm(0);
    LPT_CHECKF(st == LP_ERR_IO && strstr(lp_last_error(ctx), "not a regular file"), "%s",
               lp_last_error(ctx));
    unlink(fifo);
    st = lp_npy_info_read(ctx, NULL, &info);
    LPT_CHECK(st == LP_ERR_VALUE);
    reset_err();

    int64_t shape[2] = {2, 2};
    double d[4] = {0};
    st = lpi_npy_write(ctx, "/nonexistent-dir-lampy/x.npy", LP_FLOAT64, 2, shape, d, NULL);
    LPT_CHECKF(st == LP_ERR_NOTFOUND && strstr(lp_last_error(ctx), "/nonexistent-dir-lampy/x.npy: "),
               "%s", lp_last_error(ctx));
    reset_err();
    int64_t neg[2] = {2, -1};
    LPT_CHECK(lpi_npy_write(ctx, path, LP_FLOAT64, 2, neg, d, NULL) == LP_ERR_VALUE);
    reset_err();
    LPT_CHECK(lpi_npy_write(ctx, path, LP_FLOAT64, 9, shape, d, NULL) == LP_ERR_VALUE);
    reset_err();
    LPT_CHECK(lpi_npy_write(ctx, path, (lp_dtype)17, 2, shape, d, NULL) == LP_ERR_TYPE);
    reset_err();
    lpi_npy_write_opts o = {false, false, 4};
    LPT_CHECK(lpi_npy_write(ctx, path, LP_FLOAT64, 2, shape, d, &o) == LP_ERR_VALUE);
    reset_err();
    int64_t huge[2] = {INT64_MAX / 4, 4};
    LPT_CHECK(lpi_npy_write(ctx, path, LP_FLOAT64, 2, huge, d, NULL) == LP_ERR_VALUE);
    reset_err();
    LPT_CHECK(!file_exists(path) && temp_files_left() == 0);
}

/* Rewriting replaces the file atomically and gives it the mode a plain create would. */
static void test_overwrite_and_mode(void) {
    char path[512];
    tmp_path(path, sizeof path, "over.npy");
    int64_t s1[1] = {100}, s2[1] = {3};
    void *a = make_values(LP_INT32, 0, 100);
    LPT_OK(ctx, lpi_npy_write(ctx, path, LP_INT32, 1, s1, a, NULL));
    LPT_OK(ctx, lpi_npy_write(ctx, path, LP_INT32, 1, s2, a, NULL));
    free(a);
    lp_npy_info info;
    LPT_OK(ctx, lp_npy_info_read(ctx, path, &info));
    LPT_CHECK(info.shape[0] == 3 && file_size(path) == info.data_offset + 12);
    mode_t mask = umask(022);
    umask(mask);
    struct stat sb;
    LPT_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == (0666 & ~mask));
}

/* A file that shrinks after its header was checked: the read fails, it does not crash. */
static void test_file_shrank(void) {
    char path[512];
    int64_t shape[2] = {100, 8};
    void *data = make_values(LP_FLOAT64, 0, 800);
    for (int f = 0; f < 2; f++) {
        lpi_npy_write_opts o = {f, false, 0};
        tmp_path(path, sizeof path, "shrink.npy");
        LPT_OK(ctx, lpi_npy_write(ctx, path, LP_FLOAT64, 2, shape, data, &o));
        lpi_src *fd;
        lp_npy_info info;
        LPT_OK(ctx, lpi_npy_open(ctx, path, &fd, &info));
        LPT_CHECK(truncate(path, info.data_offset + 100) == 0);
        char *dst = malloc(6400);
        reset_err();
        lp_status st = lpi_npy_read_rows(ctx, fd, &info, 0, 100, dst);
        LPT_CHECKF(st == LP_ERR_IO && strstr(lp_last_error(ctx), "unexpected end of file"), "%s",
                   lp_last_error(ctx));
        reset_err();
        free(dst);
        lpi_src_close(fd);
    }
    free(data);
}

/* Writes that fail midway (here: the file size limit, EFBIG) report LP_ERR_IO and leave
 * neither the target nor a temp file. */
static void test_write_failures(void) {
    char path[512];
    tmp_path(path, sizeof path, "toobig.npy");
    int64_t shape[2] = {1000, 100};
    void *data = make_values(LP_FLOAT64, 0, 100000);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    LPT_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    for (int f = 0; f < 2; f++) {
        lpi_npy_write_opts o = {f, f, 0}; /* plain, and Fortran + swapped (bounce buffer) */
        lp_status st = lpi_npy_write(ctx, path, LP_FLOAT64, 2, shape, data, &o);
        LPT_CHECKF(st == LP_ERR_IO && strncmp(lp_last_error(ctx), path, strlen(path)) == 0 &&
                       strstr(lp_last_error(ctx), "write failed"), "%s", lp_last_error(ctx));
        reset_err();
        LPT_CHECK(!file_exists(path) && temp_files_left() == 0);
    }
    lpi_npy_writer *w = NULL;
    lp_status st = lpi_npy_writer_open(ctx, path, LP_FLOAT64, 2, shape, &w);
    LPT_CHECKF(st == LP_ERR_IO && w == NULL && strstr(lp_last_error(ctx), "cannot size file"), "%s",
               lp_last_error(ctx));
    reset_err();
    LPT_CHECK(!file_exists(path) && temp_files_left() == 0);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    free(data);
}

/* ---- hostile bytes: every truncation, random mutations -------------------------------- */

static void read_everything(const char *path) {
    lpi_src *fd;
    lp_npy_info info;
    if (lpi_npy_open(ctx, path, &fd, &info) != LP_OK) { reset_err(); return; }
    LPT_CHECK(info.data_offset + info.data_bytes <= file_size(path));
    int64_t n = info.ndim ? info.shape[0] : 1;
    char *buf = malloc((size_t)info.data_bytes + 1);
    lp_status st = lpi_npy_read_rows(ctx, fd, &info, 0, n, buf);
    LPT_CHECKF(st == LP_OK, "%s", lp_last_error(ctx));
    if (n > 1) LPT_OK(ctx, lpi_npy_read_rows(ctx, fd, &info, n / 2, n, buf));
    free(buf);
    lpi_src_close(fd);
    reset_err();
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rng(void) { /* xorshift64*: deterministic, good enough to pick bytes */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

static void test_hostile_bytes(void) {
    static const char *names[] = {"f8_le_F_2x3x4.npy", "i4_be_C_2x3x4.npy", "f4_be_F_8d.npy",
                                  "i4_be_F_3x4_v3.npy", "f8_le_C_3x4_v2.npy", "f8_le_0d.npy"};
    static const char tokens[] = "(),:'\"{}[]-0123456789 \n\tTrueFalsLfib<>|=";
    char path[512];
    tmp_path(path, sizeof path, "hostile.npy");
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char src[700];
        snprintf(src, sizeof src, "%s/npy/valid/%s", lpt_data_dir(), names[k]);
        size_t n;
        unsigned char *orig = slurp(src, &n);
        LPT_CHECKF(orig != NULL && n > 0, "cannot read %s", src);
        if (!orig || n == 0) { free(orig); continue; }
        /* every proper prefix is missing data, so it must fail, cleanly */
        int accepted = 0;
        for (size_t len = 0; len < n; len++) {
            spit(path, orig, len);
            lp_npy_info info;
            if (lp_npy_info_read(ctx, path, &info) == LP_OK) accepted++;
        }
        LPT_CHECKF(accepted == 0, "%s: %d truncated prefixes accepted", names[k], accepted);
        reset_err();
        /* mutations of the prefix and header: whatever parses must read back in bounds */
        unsigned char *mut = malloc(n);
        size_t hdr_end = n < 140 ? n : 140;
        for (int it = 0; it < 1500; it++) {
            memcpy(mut, orig, n);
            int edits = 1 + (int)(rng() % 3);
            for (int e = 0; e < edits; e++) {
                size_t pos = (size_t)(rng() % hdr_end);
                mut[pos] = (rng() & 1) ? (unsigned char)tokens[rng() % (sizeof tokens - 1)]
                                       : (unsigned char)rng();
            }
            spit(path, mut, n);
            read_everything(path);
        }
        free(mut);
        free(orig);
    }
}

/* ---- allocation failures -------------------------------------------------------------- */

static int next_fd(void) { /* the lowest free descriptor: a leak would move it */
    int fd = open("/dev/null", O_RDONLY);
    close(fd);
    return fd;
}

/* Read a Fortran file (header + bounce buffer allocations) with the kth allocation failing. */
static lp_status read_with_failure(const char *path, long k) {
    lpi_src *fd;
    lp_npy_info info;
    static double dst[24];
    lpi_alloc_fail_after(k);
    lp_status st = lpi_npy_open(ctx, path, &fd, &info);
    if (st == LP_OK) {
        st = lpi_npy_read_rows(ctx, fd, &info, 0, info.shape[0], dst);
        lpi_src_close(fd);
    }
    lpi_alloc_fail_after(0);
    return st;
}

static lp_status write_with_failure(const char *path, long k, bool stream) {
    int64_t shape[3] = {2, 3, 4};
    static double src[24];
    lp_status st;
    lpi_alloc_fail_after(k);
    if (stream) {
        lpi_npy_writer *w;
        st = lpi_npy_writer_open(ctx, path, LP_FLOAT64, 3, shape, &w);
        if (st == LP_OK) st = lpi_npy_writer_append(ctx, w, src, 2);
        if (st == LP_OK) st = lpi_npy_writer_commit(ctx, w);
    } else {
        lpi_npy_write_opts o = {true, true, 0}; /* Fortran + swap: the converting path */
        st = lpi_npy_write(ctx, path, LP_FLOAT64, 3, shape, src, &o);
    }
    lpi_alloc_fail_after(0);
    return st;
}

static void test_alloc_failures(void) {
    char src[700], path[512];
    snprintf(src, sizeof src, "%s/npy/valid/f8_le_F_2x3x4.npy", lpt_data_dir());
    tmp_path(path, sizeof path, "allocfail.npy");
    int fd0 = next_fd();
    for (int mode = 0; mode < 3; mode++) {
        int nomem = 0, ok = 0;
        bool ok_then_fail = false;
        for (long k = 1; k <= 40; k++) {
            unlink(path);
            lp_status st = mode == 0 ? read_with_failure(src, k)
                                     : write_with_failure(path, k, mode == 2);
            LPT_CHECKF(st == LP_OK || st == LP_ERR_NOMEM, "mode %d k %ld: %s", mode, k,
                       lp_last_error(ctx));
            if (st == LP_ERR_NOMEM) {
                nomem++;
                if (ok) ok_then_fail = true;
                LPT_CHECK(strcmp(lp_last_error(ctx), "out of memory") == 0);
                if (mode) LPT_CHECK(!file_exists(path));
            } else {
                ok++;
            }
            LPT_CHECK(temp_files_left() == 0);
            reset_err();
        }
        LPT_CHECKF(nomem >= 1 && ok >= 1 && !ok_then_fail, "mode %d: %d failures, %d successes",
                   mode, nomem, ok);
    }
    LPT_CHECK(next_fd() == fd0);
}

/* ---- streaming writer ----------------------------------------------------------------- */

static void test_stream_writer(void) {
    char path[512];
    tmp_path(path, sizeof path, "stream.npy");
    int64_t shape[2] = {6, 4};
    int32_t *v = make_values(LP_INT32, 0, 24);
    lpi_npy_writer *w;
    /* rows in any order: 0-2 appended, 4-6 and 2-4 placed */
    LPT_OK(ctx, lpi_npy_writer_open(ctx, path, LP_INT32, 2, shape, &w));
    LPT_OK(ctx, lpi_npy_writer_append(ctx, w, v, 2));
    LPT_OK(ctx, lpi_npy_writer_pwrite(ctx, w, 4, v + 16, 2));
    reset_err();
    LPT_CHECK(lpi_npy_writer_pwrite(ctx, w, 5, v, 2) == LP_ERR_VALUE);
    LPT_CHECK(lpi_npy_writer_pwrite(ctx, w, -1, v, 1) == LP_ERR_VALUE);
    reset_err();
    LPT_CHECK(!file_exists(path)); /* nothing visible before commit */
    LPT_OK(ctx, lpi_npy_writer_pwrite(ctx, w, 2, v + 8, 2));
    LPT_OK(ctx, lpi_npy_writer_commit(ctx, w));
    lpi_src *fd;
    lp_npy_info info;
    LPT_OK(ctx, lpi_npy_open(ctx, path, &fd, &info));
    LPT_CHECK(info.dtype == LP_INT32 && info.shape[0] == 6 && info.data_offset % 64 == 0 &&
              file_size(path) == info.data_offset + 96);
    check_all_ranges(fd, path, &info);
    lpi_src_close(fd);

    /* abort leaves nothing behind */
    char path2[512];
    tmp_path(path2, sizeof path2, "aborted.npy");
    LPT_OK(ctx, lpi_npy_writer_open(ctx, path2, LP_INT32, 2, shape, &w));
    LPT_OK(ctx, lpi_npy_writer_append(ctx, w, v, 3));
    lpi_npy_writer_abort(w);
    lpi_npy_writer_abort(NULL);
    LPT_CHECK(!file_exists(path2) && temp_files_left() == 0);

    /* committing with rows missing is an error and leaves nothing behind */
    LPT_OK(ctx, lpi_npy_writer_open(ctx, path2, LP_INT32, 2, shape, &w));
    LPT_OK(ctx, lpi_npy_writer_append(ctx, w, v, 5));
    lp_status st = lpi_npy_writer_commit(ctx, w);
    LPT_CHECKF(st == LP_ERR_VALUE && strstr(lp_last_error(ctx), "only 5 of 6 rows"), "%s",
               lp_last_error(ctx));
    reset_err();
    LPT_CHECK(!file_exists(path2) && temp_files_left() == 0);

    /* 0-d and empty arrays */
    double x = -1.5, y = 0;
    LPT_OK(ctx, lpi_npy_writer_open(ctx, path2, LP_FLOAT64, 0, NULL, &w));
    LPT_OK(ctx, lpi_npy_writer_append(ctx, w, &x, 1));
    LPT_OK(ctx, lpi_npy_writer_commit(ctx, w));
    LPT_OK(ctx, lpi_npy_open(ctx, path2, &fd, &info));
    LPT_OK(ctx, lpi_npy_read_rows(ctx, fd, &info, 0, 1, &y));
    LPT_CHECK(info.ndim == 0 && y == -1.5);
    lpi_src_close(fd);
    int64_t empty[2] = {0, 3};
    LPT_OK(ctx, lpi_npy_writer_open(ctx, path2, LP_FLOAT64, 2, empty, &w));
    LPT_OK(ctx, lpi_npy_writer_append(ctx, w, NULL, 0));
    LPT_OK(ctx, lpi_npy_writer_commit(ctx, w));
    LPT_OK(ctx, lp_npy_info_read(ctx, path2, &info));
    LPT_CHECK(info.ndim == 2 && info.shape[0] == 0 && info.data_bytes == 0);
    free(v);
}

static void remove_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') unlink(tmp_path(p, sizeof p, e->d_name));
    if (d) closedir(d);
    rmdir(tmpdir);
}

int main(void) {
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/lampy_npy_XXXXXX", base);
    if (!mkdtemp(tmpdir) || lp_ctx_create(&ctx) != LP_OK) {
        perror("setup");
        return 2;
    }
    LPT_RUN(test_roundtrip);
    LPT_RUN(test_numpy_files);
    LPT_RUN(test_row_ranges);
    LPT_RUN(test_fortran_strategies);
    LPT_RUN(test_invalid_corpus);
    LPT_RUN(test_os_errors);
    LPT_RUN(test_overwrite_and_mode);
    LPT_RUN(test_file_shrank);
    LPT_RUN(test_write_failures);
    LPT_RUN(test_hostile_bytes);
    LPT_RUN(test_alloc_failures);
    LPT_RUN(test_stream_writer);
    LPT_CHECK(temp_files_left() == 0);
    lp_ctx_destroy(ctx);
    remove_tmpdir();
    return lpt_done("test_npy");
}
