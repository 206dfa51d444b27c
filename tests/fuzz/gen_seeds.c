/* Writes the seed corpora of the harnesses (run by hand after a format change, then minimize
 * with scripts/fuzz.sh minimize; the results are checked in):
 *
 *   corpus/expr/     expressions over the arrays of fz_load_dir()
 *   corpus/graph/    their graph dumps (lp_graph_dump)
 *   corpus/wire/, corpus/worker/
 *                    the task batches the real driver sends when it runs them with the lambda
 *                    executor (recorded by an in-process worker server), store URL rewritten
 *                    to FZ_STORE
 *   corpus/http/     requests to the store server (first byte even) and the worker (odd)
 *   corpus/store/    Range headers, keys, chunk headers and store URLs (fuzz_store.c's modes)
 *   data/chunks.bin  every stored chunk a recorded batch reads, for fz_seed_store()
 *
 * usage: gen_seeds TESTS_FUZZ_DIR */
#include "fuzz.h"
#include "../../cli/expr_parse.h"
#include "server/http.h"
#include "server/worker.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GENSTORE_DIR FZ_ROOT "/genstore"
#define GENSTORE "file://" GENSTORE_DIR

static const char *const exprs[] = {
    "a * b + 2",
    "(a - b).sum(axis=0)",
    "sqrt((a ** 2).sum(axis=1))",
    "where(a > 0, a, -a)[::2, 1:]",
    "a.T[1:, ::2] * 3",
    "a.reshape((6, 8)) + 1",
    "a.reshape(48)[5:40:3]",
    "concatenate((a, b), axis=0).mean(axis=0)",
    "concatenate([a, b], axis=1)[:, 3:9]",
    "stack([a, b]).max(axis=0)",
    "(a * d).var(axis=0, ddof=1)",
    "a.std()",
    "(c * 2 + 1) // 3 % 5",
    "c.astype(float32) / 4",
    "(c > 0) & (c < 3) | (c == -3)",
    "a.argmax(axis=1)",
    "b.argmin()",
    "(a > 1).any(axis=0) ^ (b < 0).all(axis=0)",
    "exp(d) + log(abs(d) + 1) - tanh(d) * cos(d) + sin(d)",
    "e + f",
    "(e - f.astype(float64)).sum(axis=1)",
    "x.mean(axis=0) - x.min(axis=0) + x.max(axis=0)",
    "x.sum(axis=0) / 40",
    "arange(0, 48, 2).reshape((4, 6)) * a[:4]",
    "linspace(0, 1, 8) + c",
    "eye(6, 6, 1) @ a.T @ a",
    "random.uniform((8, 6), seed=3) * a + random.normal((6,), seed=5)",
    "zeros((8, 6)) + ones_like(a) + full((8, 1), 2.5)",
    "a[None, :, ..., 2]",
    "a[-3:, :-2] ** 2 - b[:3, 2:]",
    "prod(a[:2] + 9, axis=0)",
    "minimum(a, b) - maximum(a, 0.5)",
    "(~(c > 1)).astype(int32) * 4 // 2",
    "a[:~0]",
    "ravel(a.T)[::-5]",
    "transpose(a.reshape((2, 4, 6)), (2, 0, 1)).sum(axis=(0, 2))",
    "np.float32(2) * d",
    "linalg.inv(eye(3) * 2 + 1) @ ones((3, 2))",
    "outer(d, c[:4])",
};

/* Expressions the evaluator rejects (only seeds of the expression harness). */
static const char *const bad_exprs[] = {
    "a[:~ns]", "a[1:2:0]", "a +", "np.sum(a, axis=(0, 0))", "a.reshape((5, 5))", "c << 2",
    "f(a)", "a @ c[:5]", "zeros((2**62, 4)) + 1", "'str' * 2", "a[1, 2, 3]", "linalg.det(a)",
    "((((((((((a))))))))))", "[[1, 2], [3]]", "arange(1e300)", "a.T.T.T.sum(axis=-3)",
};

/* ---- recording worker -------------------------------------------------------------------- */

static const char *outdir;
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static lpi_worker *worker;
static int nbatches;
static json_t *chunks;      /* key -> true, every stored chunk a batch read */
static FILE *chunkfile;

static void write_file(const char *sub, const char *name, const void *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/corpus", outdir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s", outdir, sub);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", outdir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) { perror(path); exit(1); }
}

static void put_le32(uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, chunkfile);
}

/* The body's stored chunks, as the file store holds them now (before the driver deletes them). */
static void record_chunks(const char *body) {
    json_t *doc = json_loads(body, 0, NULL), *c;
    size_t i;
    json_array_foreach(json_object_get(doc, "chunks"), i, c) {
        const char *key = json_string_value(json_object_get(c, "key"));
        if (!key || json_object_get(chunks, key)) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", GENSTORE_DIR, key);
        FILE *f = fopen(path, "rb");
        if (!f) { perror(path); exit(1); }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        put_le32((uint32_t)strlen(key));
        fwrite(key, 1, strlen(key), chunkfile);
        put_le32((uint32_t)n);
        fwrite(buf, 1, n, chunkfile);
        json_object_set_new(chunks, key, json_true());
    }
    json_decref(doc);
}

static char *replace_all(const char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl) n++;
    char *r = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = r;
    for (const char *p = s;;) {
        const char *q = strstr(p, from);
        if (!q) { strcpy(o, p); break; }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return r;
}

static lpi_http_action rec_request(void *app, lpi_http_req *req) { return LPI_HTTP_READ_BODY; }

static void rec_body(void *app, lpi_http_req *req, const char *body, size_t n) {
    pthread_mutex_lock(&rec_lock);
    record_chunks(body);
    char *seed = replace_all(body, GENSTORE, FZ_STORE), name[32];
    snprintf(name, sizeof name, "batch%03d.json", nbatches++);
    write_file("corpus/wire", name, seed, strlen(seed));
    write_file("corpus/worker", name, seed, strlen(seed));
    /* one HTTP seed per few batches: a whole request to the worker (selector byte odd) */
    if (nbatches % 8 == 1 && strlen(seed) < 6000) {
        char *req = malloc(strlen(seed) + 256);
        int k = sprintf(req, "%cPOST /run/lampy HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\n\r\n%s", 1, strlen(seed), seed);
        snprintf(name, sizeof name, "run%03d", nbatches);
        write_file("corpus/http", name, req, (size_t)k);
        free(req);
    }
    free(seed);
    pthread_mutex_unlock(&rec_lock);
    json_t *reply;
    unsigned code = lpi_worker_run(worker, body, n, NULL, &reply);
    lpi_http_reply_json(req, code, reply);
}

/* ---- the other corpora ------------------------------------------------------------------ */

static void http_seeds(void) {
    static const char *const reqs[] = {
        "\0GET /status HTTP/1.1\r\nHost: s\r\n\r\n",
        "\0HEAD /status HTTP/1.0\r\n\r\n",
        "\0GET /chunks/seed/a HTTP/1.1\r\nHost: s\r\n\r\n",
        "\0GET /chunks/seed/a HTTP/1.1\r\nHost: s\r\nRange: bytes=10-99\r\n\r\n",
        "\0GET /chunks/seed/a HTTP/1.1\r\nHost: s\r\nRange: bytes=-20\r\n\r\nGET /chunks/seed/b HTTP/1.1\r\nHost: s\r\nRange: bytes=100-\r\n\r\n",
        "\0HEAD /chunks/seed/b HTTP/1.1\r\nHost: s\r\nRange: bytes=0-0,5-6\r\n\r\n",
        "\0DELETE /chunks/new/x HTTP/1.1\r\nHost: s\r\n\r\n",
        "\0GET /chunks/../etc/passwd HTTP/1.1\r\nHost: s\r\n\r\n",
        "\0PUT /chunks/a HTTP/1.1\r\nHost: s\r\nContent-Length: 5\r\n\r\nhello",
        "\0POST /status HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "\1GET /status HTTP/1.1\r\nHost: w\r\n\r\n",
        "\1GET /stats HTTP/1.1\r\nHost: w\r\n\r\n",
        "\1POST /run/lampy HTTP/1.1\r\nHost: w\r\nContent-Length: 2\r\n\r\n{}",
        "\1POST /run/other/x HTTP/1.1\r\nHost: w\r\nContent-Length: 0\r\n\r\n",
        "\1PUT /run/lampy HTTP/1.1\r\nHost: w\r\nContent-Length: 0\r\n\r\n",
        "\1POST /run/lampy HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n",
        "\1POST /run/lampy HTTP/1.1\r\nHost: w\r\nContent-Length: 99999999999\r\n\r\n{",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "req%02zu", i);
        write_file("corpus/http", name, reqs[i], 1 + strlen(reqs[i] + 1));
    }
    /* a PUT of a real chunk */
    lp_ctx *ctx;
    lp_ctx_create(&ctx);
    double v[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    lpi_chunk_info info;
    lpi_chunk_info_make(ctx, "new/c", LP_FLOAT64, 2, shape, v, sizeof v, &info);
    uint8_t hdr[LPI_CHUNK_HDR_SIZE];
    lpi_chunk_header_encode(&info, hdr);
    char buf[512];
    int k = sprintf(buf, "%cPUT /chunks/new/c HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n", 0,
                    (int)(sizeof hdr + sizeof v));
    memcpy(buf + k, hdr, sizeof hdr);
    memcpy(buf + k + sizeof hdr, v, sizeof v);
    write_file("corpus/http", "put", buf, k + sizeof hdr + sizeof v);
    /* store seeds: mode byte, then the payload (fuzz_store.c) */
    k = sprintf(buf, "%c", 2);
    memcpy(buf + k, hdr, sizeof hdr);
    write_file("corpus/store", "header", buf, k + sizeof hdr);
    lp_ctx_destroy(ctx);
    struct { int mode; uint64_t size; const char *text; } store[] = {
        {0, 10000, "bytes=0-99"}, {0, 10000, "bytes=-5"}, {0, 10000, "bytes=9000-"}, {0, 5, " bytes = 3 - 4 "},
        {0, 10000, "bytes=0-18446744073709551615"}, {0, 10000, "bytes=1-2,3-4"}, {0, 10000, "items=1-2"},
        {0, 0, "bytes=-1"}, {0, UINT64_MAX, "bytes=18446744073709551614-"},
        {1, 0, "lampy/3f9c0d1a2b4e/0/1"}, {1, 0, "a/../b"}, {1, 0, "./a"}, {1, 0, "a//b"}, {1, 0, "abc-._XYZ"},
        {3, 0, "redis://user:pw@127.0.0.1:6379/2"}, {3, 0, "http://127.0.0.1:8080"}, {3, 0, "http://[::1]:80/x"},
        {3, 0, "mem://name"}, {3, 0, "redis://:secret@localhost/15"}, {3, 0, "file://relative/dir"},
    };
    for (size_t i = 0; i < sizeof store / sizeof store[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "s%02zu", i);
        k = 0;
        buf[k++] = (char)store[i].mode;
        if (store[i].mode == 0)
            for (int j = 0; j < 8; j++) buf[k++] = (char)(store[i].size >> (8 * j));
        memcpy(buf + k, store[i].text, strlen(store[i].text));
        write_file("corpus/store", name, buf, (size_t)k + strlen(store[i].text));
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: gen_seeds TESTS_FUZZ_DIR\n"); return 2; }
    outdir = argv[1];
    fz_load_dir();
    mkdir(GENSTORE_DIR, 0777);
    fz_empty_dir(GENSTORE_DIR);
    char path[1024];
    snprintf(path, sizeof path, "%s/data", outdir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/data/chunks.bin", outdir);
    if (!(chunkfile = fopen(path, "wb"))) { perror(path); return 1; }
    chunks = json_object();

    lp_ctx *ctx;
    lp_ctx_create(&ctx);
    const char *const loads[] = {FZ_LOAD_DIR, NULL}, *const allow[] = {GENSTORE, NULL};
    lpi_worker_cfg wc = {.allow_stores = allow, .quiet = true};
    lpi_wire_limits_default(&wc.limits);
    wc.limits.load_dirs = loads;
    lpi_http_server *srv;
    lpi_http_handlers h = {NULL, rec_request, NULL, rec_body, NULL};
    lpi_http_opts ho = {.threads = 0};
    if (lpi_worker_create(ctx, &wc, &worker) || lpi_http_start(ctx, &ho, &h, &srv)) {
        fprintf(stderr, "gen_seeds: %s\n", lp_last_error(ctx));
        return 1;
    }
    fz_names nm;
    fz_names_load(ctx, &nm);
    cli_binding b[8];
    for (int i = 0; i < nm.n; i++) b[i] = (cli_binding){nm.name[i], nm.arr[i]};

    int nexpr = (int)(sizeof exprs / sizeof exprs[0]);
    for (int pass = 0; pass < 2; pass++) {
        /* pass 1: loads as load tasks (LAMPY_REMOTE_DIRECT_LOADS=0), one task per batch */
        if (pass) setenv("LAMPY_REMOTE_DIRECT_LOADS", "0", 1);
        lp_ctx *rc;
        lp_ctx_create(&rc);
        lp_remote_config cfg = {.batch = pass ? 1 : 0};
        if (lp_ctx_set_executor(rc, "lambda") || lp_ctx_set_workers(rc, lpi_http_url(srv)) ||
            lp_ctx_set_store(rc, GENSTORE) || lp_ctx_set_chunk_bytes(rc, pass ? 64 : 128) ||
            lp_ctx_set_remote_config(rc, &cfg)) {
            fprintf(stderr, "gen_seeds: %s\n", lp_last_error(rc));
            return 1;
        }
        for (int i = 0; i < nexpr; i++) {
            if (pass && i % 3) continue;
            char err[256];
            lp_array *a;
            if (cli_expr_build(ctx, exprs[i], b, nm.n, &a, err, sizeof err)) {
                fprintf(stderr, "gen_seeds: %s: %s\n", exprs[i], err);
                return 1;
            }
            if (!pass) {
                char name[32], *dump;
                snprintf(name, sizeof name, "e%02d", i);
                write_file("corpus/expr", name, exprs[i], strlen(exprs[i]));
                if (lp_graph_dump(ctx, &a, 1, &dump) == LP_OK) {
                    snprintf(name, sizeof name, "g%02d.json", i);
                    write_file("corpus/graph", name, dump, strlen(dump));
                    lp_string_free(dump);
                }
            }
            lp_buffer *r;
            if (lp_run(rc, &a, 1, &r) == LP_OK) lp_buffer_release(r);
            else fprintf(stderr, "gen_seeds: (remote run of %s: %s)\n", exprs[i], lp_last_error(rc));
            lp_array_release(a);
        }
        if (!pass) {
            /* the LDA kernels: fit (lda_labels, lda_stats, lda_lw) and predict (lda_predict) */
            lp_lda_model *m;
            lp_array *yhat;
            lp_buffer *r;
            if (lp_fisher_lda_fit(rc, nm.arr[6], nm.arr[7], NULL, &m) != LP_OK) {
                fprintf(stderr, "gen_seeds: lda fit: %s\n", lp_last_error(rc));
                return 1;
            }
            if (lp_lda_predict(rc, m, nm.arr[6], &yhat) == LP_OK) {
                if (lp_run(rc, &yhat, 1, &r) == LP_OK) lp_buffer_release(r);
                lp_array_release(yhat);
            }
            if (lp_lda_transform(rc, m, nm.arr[6], &yhat) == LP_OK) {
                if (lp_run(rc, &yhat, 1, &r) == LP_OK) lp_buffer_release(r);
                lp_array_release(yhat);
            }
            lp_lda_model_destroy(m);
        }
        lp_ctx_destroy(rc);
    }
    for (size_t i = 0; i < sizeof bad_exprs / sizeof bad_exprs[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%02zu", i);
        write_file("corpus/expr", name, bad_exprs[i], strlen(bad_exprs[i]));
    }
    http_seeds();
    fz_names_release(&nm);
    lpi_http_stop(srv, 1);
    lpi_worker_destroy(worker);
    fclose(chunkfile);
    json_decref(chunks);
    lp_ctx_destroy(ctx);
    printf("gen_seeds: %d batches, %d expressions\n", nbatches, nexpr);
    return 0;
}
