/* `lampy gen`: a reproducible synthetic classification set, written in row blocks by several
 * threads straight into X.npy and y.npy (never the whole array in memory).
 *
 * Every value is a function of (seed, row, column) through Philox4x32-10, so the files are the
 * same bytes whatever the thread count or block size. The model: class k has center
 * c_k = sep * g_k / sqrt(2 D) (g_k standard normal, so centers are about `sep` apart), and the
 * noise is shared by the classes but neither isotropic nor independent,
 *     x_ij = c_{y_i, j} + s_j (z_ij + 0.6 z_i,j-1),   s_j = exp(0.5 h_j),   z, h standard normal,
 * which is the setting where Fisher's direction Sw^-1 (mu_1 - mu_0) differs from mu_1 - mu_0. */
#include "cli.h"
#include "io/npy.h"
#include "kernels/kernels.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char cli_gen_help[] =
    "usage: lampy gen --rows N --features D [--classes K] [--sep S] [--seed SEED]\n"
    "                 [--threads T] -o DIR\n"
    "\n"
    "Write a synthetic classification data set: DIR/X.npy (N x D float64) and DIR/y.npy\n"
    "(N int64 labels 0..K-1, uniformly drawn). Classes are Gaussian with a shared,\n"
    "correlated covariance; their centers are about S noise units apart. The output depends\n"
    "only on the options (not on T), and is written in blocks without holding it in memory.\n"
    "\n"
    "Options:\n"
    "  --rows N        samples (required)\n"
    "  --features D    features (required)\n"
    "  --classes K     classes, 2..1024 (default 2)\n"
    "  --sep S         distance between class centers in noise units (default 2)\n"
    "  --seed SEED     random seed (default 0)\n"
    "  --threads T     generating threads (default: one per core)\n"
    "  -o DIR          output directory (created if missing)\n"
    "  -h, --help      show this help\n";

#define GEN_BLOCK_ROWS 8192

typedef struct gen_job {
    lp_ctx *ctx;
    int64_t N, D, K;
    uint64_t kx, ky;        /* Philox keys of the noise and the labels */
    const double *centers;  /* [K][D] */
    const double *scale;    /* [D] */
    lpi_npy_writer *wx, *wy;
    int64_t nblocks;
    int64_t next;           /* next block to take (under mu) */
    pthread_mutex_t mu;
    lp_status st;
} gen_job;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27; x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static inline double u53(uint32_t hi, uint32_t lo) {
    return (double)(((uint64_t)hi << 21) ^ (lo >> 11)) * 0x1.0p-53;
}

/* Two standard normals from counter c (Box-Muller). */
static inline void normal2(uint64_t c, uint64_t key, double *a, double *b) {
    uint32_t r[4];
    lpi_philox4x32(c, key, r);
    double u1 = 1.0 - u53(r[0], r[1]), u2 = u53(r[2], r[3]);
    double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    *a = rad * cos(th);
    *b = rad * sin(th);
}

/* Row i: label and D features; z holds D+1 scratch normals. */
static void gen_row(const gen_job *g, int64_t i, double *x, int64_t *y, double *z) {
    uint32_t r[4];
    lpi_philox4x32((uint64_t)i, g->ky, r);
    const int64_t k = (int64_t)(((uint64_t)r[0] * (uint64_t)g->K) >> 32);
    *y = k;
    const int64_t D = g->D, pairs = (D + 1) / 2;
    for (int64_t p = 0; p < pairs; p++) {
        double b;
        normal2((uint64_t)i * (uint64_t)pairs + (uint64_t)p, g->kx, &z[2 * p], &b);
        z[2 * p + 1] = b;
    }
    const double *c = g->centers + k * D;
    x[0] = c[0] + g->scale[0] * z[0];
    for (int64_t j = 1; j < D; j++) x[j] = c[j] + g->scale[j] * (z[j] + 0.6 * z[j - 1]);
}

static void *gen_worker(void *arg) {
    gen_job *g = arg;
    const int64_t D = g->D;
    double *X = malloc((size_t)(GEN_BLOCK_ROWS * D + D + 2) * sizeof *X);
    int64_t *Y = malloc(GEN_BLOCK_ROWS * sizeof *Y);
    if (!X || !Y) {
        pthread_mutex_lock(&g->mu);
        if (!g->st) g->st = LP_ERR_NOMEM;
        pthread_mutex_unlock(&g->mu);
        free(X); free(Y);
        return NULL;
    }
    double *z = X + GEN_BLOCK_ROWS * D;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        int64_t b = g->st ? g->nblocks : g->next++;
        pthread_mutex_unlock(&g->mu);
        if (b >= g->nblocks) break;
        int64_t r0 = b * GEN_BLOCK_ROWS, n = g->N - r0 < GEN_BLOCK_ROWS ? g->N - r0 : GEN_BLOCK_ROWS;
        for (int64_t i = 0; i < n; i++) gen_row(g, r0 + i, X + i * D, Y + i, z);
        lp_status st = lpi_npy_writer_pwrite(g->ctx, g->wx, r0, X, n);
        if (!st) st = lpi_npy_writer_pwrite(g->ctx, g->wy, r0, Y, n);
        if (st) {
            pthread_mutex_lock(&g->mu);
            if (!g->st) g->st = st;
            pthread_mutex_unlock(&g->mu);
        }
    }
    free(X);
    free(Y);
    return NULL;
}

/* mkdir -p */
static int mkdir_p(const char *dir) {
    char *p = strdup(dir);
    if (!p) { errno = ENOMEM; return -1; }
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) { free(p); return -1; }
        *s = '/';
    }
    int rc = mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int parse_sep(const char *cmd, const char *opt, const char *v, void *dst) {
    char *end;
    double x = strtod(v, &end);
    if (*end || end == v || !isfinite(x) || x < 0) return cli_usage_error("%s: %s needs a number >= 0, got '%s'", cmd, opt, v);
    *(double *)dst = x;
    return 0;
}

static int parse_seed(const char *cmd, const char *opt, const char *v, void *dst) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end || end == v || errno) return cli_usage_error("%s: %s needs an integer, got '%s'", cmd, opt, v);
    *(long long *)dst = x;
    return 0;
}

int cli_gen(int argc, char **argv) {
    long rows = -1, features = -1, classes = 2, threads = 0;
    long long seed = 0;
    double sep = 2.0;
    const char *dir = NULL;
    const cli_opt opts[] = {
        {.name = "--rows", .kind = CLI_INT, .dst = &rows, .lo = 1, .hi = (long)1 << 40},
        {.name = "--features", .kind = CLI_INT, .dst = &features, .lo = 1, .hi = 1 << 20},
        {.name = "--classes", .kind = CLI_INT, .dst = &classes, .lo = 2, .hi = LP_LDA_MAX_CLASSES},
        {.name = "--sep", .kind = CLI_FN, .dst = &sep, .fn = parse_sep},
        {.name = "--seed", .kind = CLI_FN, .dst = &seed, .fn = parse_seed},
        {.name = "--threads", .kind = CLI_INT, .dst = &threads, .lo = 0, .hi = 1024},
        {.name = "--output", .alias = "-o", .kind = CLI_STR, .dst = &dir},
        {0},
    };
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0, prc;
    if ((prc = cli_parse_args("gen", argc, argv, opts, 0, pos, &npos))) return prc;
    if (npos) return cli_usage_error("gen: unknown argument '%s'; see 'lampy gen --help'", pos[0]);
    if (rows < 0 || features < 0 || !dir)
        return cli_usage_error("gen: --rows, --features and -o DIR are required; see 'lampy gen --help'");
    if (mkdir_p(dir) != 0) return cli_error("gen: cannot create %s: %s", dir, strerror(errno));
    if (threads == 0) threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;

    lp_ctx *ctx;
    lp_status st = lp_ctx_create(&ctx);
    if (st) return cli_error("%s", lp_status_str(st));
    const int64_t N = rows, D = features, K = classes;
    const uint64_t s = (uint64_t)seed;
    gen_job g;
    memset(&g, 0, sizeof g);
    g.ctx = ctx;
    g.N = N; g.D = D; g.K = K;
    g.kx = mix64(s ^ 0x5851F42D4C957F2DULL);
    g.ky = mix64(s ^ 0x14057B7EF767814FULL);
    double *centers = malloc((size_t)(K * D + D + 1) * sizeof *centers);
    if (!centers) { lp_ctx_destroy(ctx); return cli_error("out of memory"); }
    double *scale = centers + K * D, spare;
    const uint64_t kc = mix64(s ^ 0x2545F4914F6CDD1DULL), ks = mix64(s ^ 0x9E3779B97F4A7C15ULL);
    for (int64_t i = 0; i < K * D; i++) {
        normal2((uint64_t)i, kc, &centers[i], &spare);
        centers[i] *= sep / sqrt(2.0 * (double)D);
    }
    for (int64_t j = 0; j < D; j++) {
        double h;
        normal2((uint64_t)j, ks, &h, &spare);
        scale[j] = exp(0.5 * h);
    }
    g.centers = centers;
    g.scale = scale;
    g.nblocks = (N + GEN_BLOCK_ROWS - 1) / GEN_BLOCK_ROWS;
    pthread_mutex_init(&g.mu, NULL);

    size_t plen = strlen(dir) + 16;
    char *px = malloc(plen), *py = malloc(plen);
    int rc = CLI_EXIT_OK;
    if (!px || !py) { rc = cli_error("out of memory"); goto done; }
    snprintf(px, plen, "%s/X.npy", dir);
    snprintf(py, plen, "%s/y.npy", dir);
    int64_t xs[2] = {N, D};
    double t0 = now_s();
    if ((st = lpi_npy_writer_open(ctx, px, LP_FLOAT64, 2, xs, &g.wx)) ||
        (st = lpi_npy_writer_open(ctx, py, LP_INT64, 1, &xs[0], &g.wy))) {
        rc = cli_lib_error(ctx, st);
        goto done;
    }
    pthread_t *tid = malloc((size_t)threads * sizeof *tid);
    if (!tid) { rc = cli_error("out of memory"); goto done; }
    long started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, gen_worker, &g) != 0) break;
    if (started == 0) gen_worker(&g);
    for (long t = 0; t < started; t++) pthread_join(tid[t], NULL);
    free(tid);
    if (g.st) {
        rc = g.st == LP_ERR_NOMEM && !*lp_last_error(ctx) ? cli_error("out of memory") : cli_lib_error(ctx, g.st);
        goto done;
    }
    if ((st = lpi_npy_writer_commit(ctx, g.wx))) { g.wx = NULL; rc = cli_lib_error(ctx, st); goto done; }
    g.wx = NULL;
    if ((st = lpi_npy_writer_commit(ctx, g.wy))) { g.wy = NULL; rc = cli_lib_error(ctx, st); goto done; }
    g.wy = NULL;
    double dt = now_s() - t0, gb = (double)N * (double)(D + 1) * 8 / 1e9;
    printf("wrote %s (%lld x %lld float64) and %s (%lld int64 labels, %lld classes) in %.2f s (%.2f GB/s)\n", px,
           (long long)N, (long long)D, py, (long long)N, (long long)K, dt, dt > 0 ? gb / dt : 0);
done:
    lpi_npy_writer_abort(g.wx);
    lpi_npy_writer_abort(g.wy);
    pthread_mutex_destroy(&g.mu);
    free(centers);
    free(px);
    free(py);
    lp_ctx_destroy(ctx);
    return rc;
}
