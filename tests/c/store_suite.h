/* The backend-independent chunk store checks, shared by test_store (mem://, file://, an
 * in-process http://) and store_client's `selftest URL` (redis:// and http:// against real
 * servers from the integration tests). Include after lpt.h. */
#ifndef LPT_STORE_SUITE_H
#define LPT_STORE_SUITE_H

#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

/* The context keeps its first error until a run clears it; tests look at each one. */
static inline void lpt_clear(lp_ctx *ctx) {
    ctx->last_status = LP_OK;
    ctx->errmsg[0] = 0;
}

/* Deterministic bytes that differ per key and position. */
static inline void lpt_fill(void *p, size_t n, unsigned seed) {
    unsigned char *b = p;
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        b[i] = (unsigned char)x;
    }
    /* bool chunks must hold 0/1 to be meaningful; harmless for the others */
}

/* Put a chunk of dt/shape filled from seed; returns the data (lp_malloc'd) or NULL. */
static inline void *lpt_put(lp_ctx *ctx, lpi_store *s, const char *key, lp_dtype dt, int ndim,
                            const int64_t *shape, unsigned seed, lp_status *st_out) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    size_t nbytes = (size_t)n * lp_dtype_size(dt);
    void *d = lp_malloc(nbytes ? nbytes : 1);
    lpt_fill(d, nbytes, seed);
    if (dt == LP_BOOL)
        for (size_t i = 0; i < nbytes; i++) ((unsigned char *)d)[i] &= 1;
    *st_out = lpi_store_put(ctx, s, key, dt, ndim, shape, d, nbytes);
    return d;
}

static inline void suite_roundtrip(lp_ctx *ctx, lpi_store *s, const char *pfx) {
    static const int64_t shapes[][4] = {{0}, {7}, {3, 5}, {2, 3, 4}, {0, 4}, {1, 1, 1, 1}};
    static const int ndims[] = {0, 1, 2, 3, 2, 4};
    char key[128];
    for (int dt = 0; dt < LP_DTYPE_COUNT; dt++) {
        for (size_t k = 0; k < sizeof ndims / sizeof ndims[0]; k++) {
            snprintf(key, sizeof key, "%sdt%d/s%zu", pfx, dt, k);
            lp_status st;
            lpt_clear(ctx);
            void *d = lpt_put(ctx, s, key, (lp_dtype)dt, ndims[k], shapes[k], (unsigned)(dt * 10 + k), &st);
            LPT_CHECKF(st == LP_OK, "put %s: %s", key, lp_last_error(ctx));
            lp_buffer *b = NULL;
            lpt_clear(ctx);
            st = lpi_store_get(ctx, s, key, &b);
            LPT_CHECKF(st == LP_OK, "get %s: %s", key, lp_last_error(ctx));
            if (st == LP_OK) {
                LPT_CHECK(lp_buffer_dtype(b) == (lp_dtype)dt);
                LPT_CHECK(lp_buffer_ndim(b) == ndims[k]);
                LPT_CHECK(memcmp(lp_buffer_shape(b), shapes[k], sizeof(int64_t) * (size_t)ndims[k]) == 0);
                LPT_CHECK(lp_buffer_nbytes(b) == (size_t)lp_buffer_size(b) * lp_dtype_size((lp_dtype)dt));
                LPT_CHECKF(memcmp(lp_buffer_data(b), d, lp_buffer_nbytes(b)) == 0, "data of %s", key);
                LPT_CHECK(((uintptr_t)lp_buffer_data(b) & 63) == 0); /* kernels rely on it */
            }
            lpi_chunk_info info;
            lpt_clear(ctx);
            st = lpi_store_head(ctx, s, key, &info);
            LPT_CHECKF(st == LP_OK, "head %s: %s", key, lp_last_error(ctx));
            if (st == LP_OK && b) {
                LPT_CHECK(info.dtype == (lp_dtype)dt && info.ndim == ndims[k]);
                LPT_CHECK(info.nbytes == lp_buffer_nbytes(b));
                LPT_CHECK(info.checksum == XXH3_64bits(lp_buffer_data(b), lp_buffer_nbytes(b)));
            }
            lp_buffer_release(b);
            lp_free(d);
        }
    }
}

static inline void suite_ops(lp_ctx *ctx, lpi_store *s, const char *pfx) {
    char key[128], k2[128];
    lp_status st;
    int64_t shape[2] = {10, 20};
    snprintf(key, sizeof key, "%sops/a", pfx);
    lpt_clear(ctx);
    double *d = lpt_put(ctx, s, key, LP_FLOAT64, 2, shape, 42, &st);
    LPT_OK(ctx, st);

    /* exists */
    bool ex = false;
    LPT_OK(ctx, lpi_store_exists(ctx, s, key, &ex));
    LPT_CHECK(ex);
    snprintf(k2, sizeof k2, "%sops/missing", pfx);
    lpt_clear(ctx);
    LPT_OK(ctx, lpi_store_exists(ctx, s, k2, &ex));
    LPT_CHECK(!ex);
    LPT_CHECK(lp_last_status(ctx) == LP_OK); /* "no" is an answer, not an error */
    snprintf(k2, sizeof k2, "%snodir/deeper/missing", pfx);
    LPT_OK(ctx, lpi_store_exists(ctx, s, k2, &ex));
    LPT_CHECK(!ex);

    /* ranges */
    double part[25];
    memset(part, 0, sizeof part);
    LPT_OK(ctx, lpi_store_get_range(ctx, s, key, 8 * 30, sizeof part, part));
    LPT_CHECK(memcmp(part, d + 30, sizeof part) == 0);
    LPT_OK(ctx, lpi_store_get_range(ctx, s, key, 0, 8, part));
    LPT_CHECK(memcmp(part, d, 8) == 0);
    LPT_OK(ctx, lpi_store_get_range(ctx, s, key, 1599, 1, part));
    LPT_CHECK(memcmp(part, (char *)d + 1599, 1) == 0);
    LPT_OK(ctx, lpi_store_get_range(ctx, s, key, 1600, 0, part)); /* empty, at the end */
    double *all = lp_malloc(1600);
    LPT_OK(ctx, lpi_store_get_range(ctx, s, key, 0, 1600, all));
    LPT_CHECK(memcmp(all, d, 1600) == 0);
    lp_free(all);
    lpt_clear(ctx);
    st = lpi_store_get_range(ctx, s, key, 1590, 16, part);
    LPT_CHECKF(st == LP_ERR_VALUE && strstr(lp_last_error(ctx), "outside its 1600 data bytes"),
               "%s %s", lp_status_str(st), lp_last_error(ctx));
    lpt_clear(ctx);
    st = lpi_store_get_range(ctx, s, key, UINT64_MAX - 2, 8, part);
    LPT_CHECKF(st == LP_ERR_VALUE, "%s %s", lp_status_str(st), lp_last_error(ctx));
    lpt_clear(ctx);
    st = lpi_store_get_range(ctx, s, key, (uint64_t)1 << 40, 8, part);
    LPT_CHECKF(st == LP_ERR_VALUE, "%s %s", lp_status_str(st), lp_last_error(ctx));
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get_range(ctx, s, k2, 0, 8, part) == LP_ERR_NOTFOUND);

    /* overwrite with another dtype and shape */
    int64_t shape2[1] = {3};
    int32_t v[3] = {1, 2, 3};
    LPT_OK(ctx, lpi_store_put(ctx, s, key, LP_INT32, 1, shape2, v, sizeof v));
    lp_buffer *b = NULL;
    LPT_OK(ctx, lpi_store_get(ctx, s, key, &b));
    LPT_CHECK(b && lp_buffer_dtype(b) == LP_INT32 && lp_buffer_ndim(b) == 1 &&
              memcmp(lp_buffer_data(b), v, sizeof v) == 0);
    lp_buffer_release(b);

    /* put_buffer */
    lp_buffer *src = NULL;
    LPT_OK(ctx, lp_buffer_create(ctx, LP_FLOAT32, 2, shape, NULL, &src));
    lpt_fill(lp_buffer_data(src), lp_buffer_nbytes(src), 9);
    snprintf(k2, sizeof k2, "%sops/frombuf", pfx);
    LPT_OK(ctx, lpi_store_put_buffer(ctx, s, k2, src));
    LPT_OK(ctx, lpi_store_get(ctx, s, k2, &b));
    LPT_CHECK(b && lp_buffer_nbytes(b) == lp_buffer_nbytes(src) &&
              memcmp(lp_buffer_data(b), lp_buffer_data(src), lp_buffer_nbytes(b)) == 0);
    lp_buffer_release(b);
    lp_buffer_release(src);

    /* del */
    LPT_OK(ctx, lpi_store_del(ctx, s, key));
    lpt_clear(ctx);
    b = NULL;
    st = lpi_store_get(ctx, s, key, &b);
    LPT_CHECKF(st == LP_ERR_NOTFOUND && b == NULL, "%s", lp_status_str(st));
    LPT_CHECKF(strstr(lp_last_error(ctx), "not found") != NULL, "%s", lp_last_error(ctx));
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_del(ctx, s, key) == LP_ERR_NOTFOUND);
    lpt_clear(ctx);
    lpi_chunk_info info;
    LPT_CHECK(lpi_store_head(ctx, s, key, &info) == LP_ERR_NOTFOUND);
    LPT_OK(ctx, lpi_store_exists(ctx, s, key, &ex));
    LPT_CHECK(!ex);
    LPT_OK(ctx, lpi_store_del(ctx, s, k2));
    lp_free(d);

    /* invalid keys and arguments never reach the backend */
    static const char *bad[] = {"", "/abs", "a/../b", "..", "a//b", "a b", "a%2fb", "x/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lpt_clear(ctx);
        LPT_CHECKF(lpi_store_put(ctx, s, bad[i], LP_INT32, 1, shape2, v, sizeof v) == LP_ERR_VALUE,
                   "put \"%s\"", bad[i]);
        LPT_CHECK(strstr(lp_last_error(ctx), "invalid chunk key") != NULL);
        lpt_clear(ctx);
        LPT_CHECK(lpi_store_get(ctx, s, bad[i], &b) == LP_ERR_VALUE);
        lpt_clear(ctx);
        LPT_CHECK(lpi_store_head(ctx, s, bad[i], &info) == LP_ERR_VALUE);
        lpt_clear(ctx);
        LPT_CHECK(lpi_store_del(ctx, s, bad[i]) == LP_ERR_VALUE);
        lpt_clear(ctx);
        LPT_CHECK(lpi_store_exists(ctx, s, bad[i], &ex) == LP_ERR_VALUE);
        lpt_clear(ctx);
        LPT_CHECK(lpi_store_get_range(ctx, s, bad[i], 0, 1, part) == LP_ERR_VALUE);
    }
    snprintf(k2, sizeof k2, "%sops/badargs", pfx);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_put(ctx, s, k2, LP_INT32, 1, shape2, v, 8) == LP_ERR_VALUE);
    LPT_CHECKF(strstr(lp_last_error(ctx), "needs 12 bytes, got 8") != NULL, "%s", lp_last_error(ctx));
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_put(ctx, s, k2, (lp_dtype)77, 1, shape2, v, 12) == LP_ERR_TYPE);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_put(ctx, s, k2, LP_INT32, 9, shape2, v, 12) == LP_ERR_VALUE);
    int64_t negshape[1] = {-3};
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_put(ctx, s, k2, LP_INT32, 1, negshape, v, 12) == LP_ERR_VALUE);
    LPT_OK(ctx, lpi_store_exists(ctx, s, k2, &ex));
    LPT_CHECK(!ex);
}

/* The limit is checked before anything is sent or allocated, on put and on get. */
static inline void suite_limit(lp_ctx *ctx, lpi_store *s, const char *pfx) {
    uint64_t old = lpi_store_max_chunk_bytes(s);
    char key[128];
    snprintf(key, sizeof key, "%slimit/k", pfx);
    int64_t shape[1] = {250};
    lp_status st;
    lpt_clear(ctx);
    void *d = lpt_put(ctx, s, key, LP_INT32, 1, shape, 5, &st); /* 1000 bytes */
    LPT_OK(ctx, st);
    lp_free(d);
    lpi_store_set_max_chunk_bytes(s, 999);
    int64_t shape2[1] = {1000};
    lpt_clear(ctx);
    d = lpt_put(ctx, s, key, LP_INT32, 1, shape2, 6, &st);
    LPT_CHECKF(st == LP_ERR_LIMIT && strstr(lp_last_error(ctx), "exceed the store's limit of 999"),
               "%s: %s", lp_status_str(st), lp_last_error(ctx));
    lp_free(d);
    lp_buffer *b = NULL;
    lpt_clear(ctx);
    st = lpi_store_get(ctx, s, key, &b);
    LPT_CHECKF(st == LP_ERR_LIMIT && b == NULL, "%s: %s", lp_status_str(st), lp_last_error(ctx));
    lpi_chunk_info info;
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_head(ctx, s, key, &info) == LP_ERR_LIMIT);
    lpi_store_set_max_chunk_bytes(s, old);
    LPT_OK(ctx, lpi_store_get(ctx, s, key, &b)); /* the old chunk is intact */
    LPT_CHECK(b && lp_buffer_nbytes(b) == 1000);
    lp_buffer_release(b);
    LPT_OK(ctx, lpi_store_del(ctx, s, key));
}

/* Many threads on one store: distinct keys and one contended key. */
typedef struct suite_thr {
    lpi_store *s;
    const char *pfx;
    int id;
    int errors;
    char msg[256];
} suite_thr;

static void *suite_thread(void *arg) {
    suite_thr *t = arg;
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) { t->errors++; return NULL; }
    char key[128], shared[128];
    snprintf(shared, sizeof shared, "%sthreads/shared", t->pfx);
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "%sthreads/t%d/%d", t->pfx, t->id, i % 5);
        int64_t shape[1] = {64 + i};
        lp_status st;
        void *d = lpt_put(ctx, t->s, key, LP_INT64, 1, shape, (unsigned)(t->id * 1000 + i), &st);
        lp_buffer *b = NULL;
        if (st == LP_OK) st = lpi_store_get(ctx, t->s, key, &b);
        if (st == LP_OK && memcmp(lp_buffer_data(b), d, lp_buffer_nbytes(b)) != 0) st = LP_ERR_INTERNAL;
        lp_buffer_release(b);
        lp_free(d);
        /* a contended key: every read sees one whole version */
        void *d2 = lpt_put(ctx, t->s, shared, LP_INT64, 1, shape, (unsigned)i, &st);
        lp_free(d2);
        b = NULL;
        if (st == LP_OK) st = lpi_store_get(ctx, t->s, shared, &b);
        lp_buffer_release(b);
        if (st != LP_OK) {
            if (!t->errors) snprintf(t->msg, sizeof t->msg, "%s", lp_last_error(ctx));
            t->errors++;
            lpt_clear(ctx);
        }
    }
    lp_ctx_destroy(ctx);
    return NULL;
}

static inline void suite_threads(lp_ctx *ctx, lpi_store *s, const char *pfx) {
    enum { N = 4 };
    pthread_t th[N];
    suite_thr t[N];
    for (int i = 0; i < N; i++) {
        t[i] = (suite_thr){s, pfx, i, 0, ""};
        pthread_create(&th[i], NULL, suite_thread, &t[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        LPT_CHECKF(t[i].errors == 0, "thread %d: %d errors, first: %s", i, t[i].errors, t[i].msg);
    }
    (void)ctx;
}

/* A run's puts (lpi_store_put_guarded): on Redis, written only while the guard exists and gone
 * once their expiry has passed; the other backends can do neither, so they write
 * unconditionally and keep the value. Every combination of guard and expiry goes through. */
static inline void suite_run_puts(lp_ctx *ctx, lpi_store *s, const char *pfx) {
    const bool redis = strncmp(lpi_store_url(s), "redis://", 8) == 0;
    char key[128], guard[128];
    int64_t shape[1] = {33};
    lp_buffer *b = lpi_buffer_new(LP_INT32, 1, shape), *got = NULL;
    if (!b) { LPT_CHECK(b != NULL); return; }
    lpt_fill(b->data, b->nbytes, 7);
    snprintf(guard, sizeof guard, "%srun/live", pfx);
    snprintf(key, sizeof key, "%srun/late", pfx);
    lpt_clear(ctx);
    lp_status st = lpi_store_put_guarded(ctx, s, key, b, guard, 60);
    LPT_CHECKF(redis ? st == LP_ERR_CANCELLED && strstr(lp_last_error(ctx), "its run is over") : st == LP_OK,
               "put without its guard: %s", lp_last_error(ctx));
    bool ex = !redis;
    LPT_OK(ctx, lpi_store_exists(ctx, s, key, &ex));
    LPT_CHECK(ex == !redis);
    lpi_store_del(ctx, s, key);
    LPT_OK(ctx, lpi_store_mark(ctx, s, guard, 60));
    for (int i = 0; i < 6; i++) {
        /* (guard, expiry): none, 60 s, 50 ms, without and with the guard */
        const double ttl = i % 3 == 0 ? 0 : i % 3 == 1 ? 60 : 0.05;
        snprintf(key, sizeof key, "%srun/k%d", pfx, i);
        lpt_clear(ctx);
        LPT_OK(ctx, lpi_store_put_guarded(ctx, s, key, b, i < 3 ? NULL : guard, ttl));
        if (ttl == 0.05) continue; /* may be gone already */
        LPT_OK(ctx, lpi_store_get(ctx, s, key, &got));
        LPT_CHECK(got && got->nbytes == b->nbytes && memcmp(got->data, b->data, b->nbytes) == 0);
        lp_buffer_release(got);
        got = NULL;
    }
    nanosleep(&(struct timespec){0, 150 * 1000 * 1000}, NULL);
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "%srun/k%d", pfx, i);
        LPT_OK(ctx, lpi_store_exists(ctx, s, key, &ex));
        LPT_CHECKF(ex == (i % 3 != 2 || !redis), "%s (expiry 50 ms) exists after 150 ms: %d", key, ex);
        lpi_store_del(ctx, s, key);
    }
    lpi_store_del(ctx, s, guard);
    lp_buffer_release(b);
    lpt_clear(ctx);
}

/* Everything that does not depend on how the backend stores bytes. */
static inline void suite_all(lp_ctx *ctx, lpi_store *s, const char *pfx) {
    suite_roundtrip(ctx, s, pfx);
    suite_ops(ctx, s, pfx);
    suite_limit(ctx, s, pfx);
    suite_threads(ctx, s, pfx);
    suite_run_puts(ctx, s, pfx);
}

#endif
