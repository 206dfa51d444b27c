/* Shared setup of the fuzz harnesses; see fuzz.h. */
#include "fuzz.h"

#include "io/npy.h"

#include <errno.h>
#include <jansson.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FZ_SRC_DIR
#error "FZ_SRC_DIR (tests/fuzz in the source tree) must be defined"
#endif

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz setup: %s: %s\n", what, detail);
    abort();
}

char *fz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) die("fz_cstr", "out of memory");
    if (size) memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* ---- the .npy files seeds read ---------------------------------------------------------- */

static void write_npy(lp_ctx *ctx, const char *name, lp_dtype dt, int ndim, const int64_t *shape,
                      const void *data, const lpi_npy_write_opts *o) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.npy", FZ_LOAD_DIR, name);
    if (lpi_npy_write(ctx, path, dt, ndim, shape, data, o) != LP_OK) die(path, lp_last_error(ctx));
}

/* Inputs name URLs (a graph's load of http://, https:// or s3://; libFuzzer makes up host
 * names): libcurl would resolve them through the machine's DNS server and connect anywhere, and
 * every failure would be retried with backoff (50 ms, then doubling) — traffic off the machine,
 * and most of a harness's time asleep. Every request goes to a proxy address on loopback where
 * nothing listens (refused at once, nothing resolved), and is tried once. */
static void stay_offline(void) {
    static const char *const proxies[] = {"http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++) setenv(proxies[i], "http://127.0.0.1:9", 1);
    unsetenv("NO_PROXY");
    unsetenv("no_proxy");
    setenv("LAMPY_IO_TRIES", "1", 1);
}

const char *fz_load_dir(void) {
    static int done;
    if (done) return FZ_LOAD_DIR;
    stay_offline();
    if ((mkdir(FZ_ROOT, 0777) && errno != EEXIST) || (mkdir(FZ_LOAD_DIR, 0777) && errno != EEXIST))
        die(FZ_LOAD_DIR, strerror(errno));
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) die("lp_ctx_create", "out of memory");
    double m[8 * 6], x[40 * 3];
    float mf[8 * 6], d[6];
    int64_t c[8], y[40];
    for (int i = 0; i < 48; i++) { m[i] = (double)((i * 37) % 17) - 8 + 0.25 * (i % 4); mf[i] = (float)m[i] / 3; }
    for (int i = 0; i < 8; i++) c[i] = (i * 5) % 7 - 3;
    for (int i = 0; i < 6; i++) d[i] = (float)i * 0.5f - 1;
    for (int i = 0; i < 40; i++) {
        y[i] = i % 3;
        for (int j = 0; j < 3; j++) x[i * 3 + j] = (double)(((i + 1) * (j + 3) * 7) % 23) / 4 + (double)y[i] * (j + 1);
    }
    double mb[48];
    for (int i = 0; i < 48; i++) mb[i] = m[47 - i] / 2;
    int64_t s86[2] = {8, 6}, s8[1] = {8}, s6[1] = {6}, s403[2] = {40, 3}, s40[1] = {40};
    lpi_npy_write_opts fo = {.fortran_order = true}, be = {.big_endian = true};
    write_npy(ctx, "a", LP_FLOAT64, 2, s86, m, NULL);
    write_npy(ctx, "b", LP_FLOAT64, 2, s86, mb, NULL);
    write_npy(ctx, "c", LP_INT64, 1, s8, c, NULL);
    write_npy(ctx, "d", LP_FLOAT32, 1, s6, d, NULL);
    write_npy(ctx, "e", LP_FLOAT64, 2, s86, m, &be);
    write_npy(ctx, "f", LP_FLOAT32, 2, s86, mf, &fo);
    write_npy(ctx, "x", LP_FLOAT64, 2, s403, x, NULL);
    write_npy(ctx, "y", LP_INT64, 1, s40, y, NULL);
    lp_ctx_destroy(ctx);
    done = 1;
    return FZ_LOAD_DIR;
}

static const char *const names[] = {"a", "b", "c", "d", "e", "f", "x", "y"};

const char *fz_name(int i) { return names[i]; }

lp_array *fz_name_load(lp_ctx *ctx, int i) {
    char path[256];
    lp_array *a;
    fz_load_dir();
    snprintf(path, sizeof path, "%s/%s.npy", FZ_LOAD_DIR, names[i]);
    if (lp_load(ctx, path, &a) != LP_OK) die(path, lp_last_error(ctx));
    return a;
}

void fz_names_load(lp_ctx *ctx, fz_names *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < 8; i++) {
        out->arr[i] = fz_name_load(ctx, i);
        out->name[i] = names[i];
        out->n++;
    }
}

void fz_names_release(fz_names *nm) {
    for (int i = 0; i < nm->n; i++) lp_array_release(nm->arr[i]);
    nm->n = 0;
}

/* ---- temp directories ------------------------------------------------------------------- */

static char *tmpdirs[8];
static int ntmpdirs;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag;
    if (ftw->level > 0) remove(path);
    return 0;
}

void fz_empty_dir(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void rm_tmpdirs(void) {
    for (int i = 0; i < ntmpdirs; i++) {
        fz_empty_dir(tmpdirs[i]);
        rmdir(tmpdirs[i]);
        free(tmpdirs[i]);
    }
    ntmpdirs = 0;
}

const char *fz_tmpdir(const char *tag) {
    if (ntmpdirs == 8) die("fz_tmpdir", "too many");
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/lampy-fuzz-%s-XXXXXX", tag);
    if (!mkdtemp(tmpl)) die(tmpl, strerror(errno));
    if (!ntmpdirs) atexit(rm_tmpdirs);
    if (!(tmpdirs[ntmpdirs] = strdup(tmpl))) die("fz_tmpdir", "out of memory");
    return tmpdirs[ntmpdirs++];
}

/* ---- the seed store --------------------------------------------------------------------- */

typedef struct seed_chunk {
    char *key;
    lpi_chunk_info info;
    uint8_t *data;
} seed_chunk;

static lpi_store *seed_store;
static seed_chunk *seeds;
static size_t nseeds;

static int cmp_seed(const void *a, const void *b) {
    return strcmp(((const seed_chunk *)a)->key, ((const seed_chunk *)b)->key);
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* chunks.bin: per chunk a little-endian u32 key length, the key, a u32 length and the stored
 * chunk (96-byte header + data), as gen_seeds wrote them. */
static void read_chunks(lp_ctx *ctx) {
    const char *path = FZ_SRC_DIR "/data/chunks.bin";
    FILE *f = fopen(path, "rb");
    if (!f) die(path, strerror(errno));
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 1 << 16))) die(path, "out of memory");
        size_t k = fread(buf + n, 1, cap - n, f);
        if (!k) break;
        n += k;
    }
    fclose(f);
    for (size_t p = 0; p < n;) {
        if (n - p < 4 || le32(buf + p) > n - p - 8) die(path, "truncated");
        uint32_t kl = le32(buf + p);
        uint32_t cl = le32(buf + p + 4 + kl);
        if (cl > n - p - 8 - kl || cl < LPI_CHUNK_HDR_SIZE) die(path, "truncated chunk");
        seeds = realloc(seeds, (nseeds + 1) * sizeof *seeds);
        if (!seeds) die(path, "out of memory");
        seed_chunk *s = &seeds[nseeds++];
        s->key = fz_cstr(buf + p + 4, kl);
        const uint8_t *c = buf + p + 8 + kl;
        if (lpi_chunk_header_decode(ctx, s->key, c, UINT64_MAX, &s->info) != LP_OK ||
            s->info.nbytes != cl - LPI_CHUNK_HDR_SIZE)
            die(path, lp_last_error(ctx));
        s->data = malloc(s->info.nbytes + 1);
        if (!s->data) die(path, "out of memory");
        memcpy(s->data, c + LPI_CHUNK_HDR_SIZE, s->info.nbytes);
        p += 8 + kl + cl;
    }
    free(buf);
    qsort(seeds, nseeds, sizeof *seeds, cmp_seed);
}

static void put_seed(lp_ctx *ctx, const seed_chunk *s) {
    if (lpi_store_put(ctx, seed_store, s->key, s->info.dtype, s->info.ndim, s->info.shape, s->data,
                      s->info.nbytes) != LP_OK)
        die(s->key, lp_last_error(ctx));
}

lpi_store *fz_seed_store(void) {
    if (seed_store) return seed_store;
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) die("lp_ctx_create", "out of memory");
    if (lpi_store_open(ctx, FZ_STORE, &seed_store) != LP_OK) die(FZ_STORE, lp_last_error(ctx));
    read_chunks(ctx);
    for (size_t i = 0; i < nseeds; i++) put_seed(ctx, &seeds[i]);
    lp_ctx_destroy(ctx);
    return seed_store;
}

void fz_reset_key(const char *key) {
    seed_chunk probe = {.key = (char *)key};
    const seed_chunk *s = bsearch(&probe, seeds, nseeds, sizeof *seeds, cmp_seed);
    if (s) put_seed(NULL, s);
    else lpi_store_del(NULL, seed_store, key);
}

static bool small_graph(const char *dump) {
    json_t *doc = json_loads(dump, 0, NULL);
    json_t *nodes = json_object_get(doc, "nodes"), *node;
    bool ok = json_is_array(nodes) && json_array_size(nodes) <= 64;
    size_t i;
    json_array_foreach(nodes, i, node) {
        json_t *shape = json_object_get(node, "shape"), *d;
        size_t k;
        double elems = 1;
        json_array_foreach(shape, k, d) elems *= (double)json_integer_value(d);
        const char *op = json_string_value(json_object_get(node, "op"));
        if (elems > 4096 || (op && !strcmp(op, "matmul") && elems > 256)) ok = false;
    }
    json_decref(doc);
    return ok;
}

void fz_run_if_small(lp_array *const *targets, int n, const char *dump) {
    static lp_ctx *run_ctx;
    if (!run_ctx && (lp_ctx_create(&run_ctx) != LP_OK || lp_ctx_set_threads(run_ctx, 1) != LP_OK ||
                     lp_ctx_set_chunk_bytes(run_ctx, 256) != LP_OK))
        die("run context", "cannot configure");
    if (!small_graph(dump)) return;
    lp_buffer **res = calloc((size_t)n, sizeof *res);
    if (!res) die("fz_run_if_small", "out of memory");
    if (lp_run(run_ctx, targets, n, res) == LP_OK)
        for (int i = 0; i < n; i++) lp_buffer_release(res[i]);
    free(res);
}
