/* redis:// — one Redis string per chunk (header + data), key = the chunk key as is (choose the
 * database in the URL to keep runs apart).
 *
 * A hiredis context is not thread safe, so the store keeps a small pool of connections; a thread
 * takes one for the length of an operation. Reads are bounded and atomic: a whole chunk is read
 * with one GETRANGE capped at header + limit, so a huge or foreign value can never make us (or
 * hiredis) allocate more than the limit; head and range reads run as one MULTI block, so header
 * and data come from the same version of the value. A put is a single SET written straight from
 * the caller's data (no copy into a contiguous value): readers see old or new, never a mix.
 *
 * hiredis writes with write(2), which raises SIGPIPE when the server has gone away. A library
 * must not change the process's signal disposition, so each operation blocks SIGPIPE in the
 * calling thread and consumes one it caused before unblocking (the technique libcurl and OpenSSL
 * document). A connection that fails is dropped; an operation that failed on a pooled connection
 * (the server may have closed an idle one) is retried once on a fresh connection — every
 * operation here is idempotent. */
#include "store/internal.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#define POOL_MAX 16

typedef struct redis_store {
    lpi_store base;
    char *host;
    int port;
    int db;
    char *user, *pass;
    char display[300];      /* the URL without credentials, for messages */
    double idle_sec;        /* seconds without progress before an operation fails */
    pthread_mutex_t lock;
    redisContext *idle[POOL_MAX];
    int nidle;
} redis_store;

/* A failure whose message is decided later: transport failures may be retried silently. */
typedef struct rerr {
    bool transport;     /* the connection is unusable; retry on a fresh one */
    bool timeout;       /* ... because the server did not answer in time: do not wait again */
    char msg[256];
} rerr;

/* ---- SIGPIPE guard --------------------------------------------------------------------- */

typedef struct pipe_guard {
    sigset_t old;
    bool was_pending;
} pipe_guard;

static void guard_enter(pipe_guard *g) {
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pend);
    g->was_pending = sigismember(&pend, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void guard_leave(pipe_guard *g) {
    if (!g->was_pending) {
        sigset_t set, pend;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        sigpending(&pend);
        if (sigismember(&pend, SIGPIPE)) {
            struct timespec zero = {0, 0};
            while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {}
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- connections ------------------------------------------------------------------------ */

static bool conn_fail(rerr *er, redisContext *c, const char *what) {
    er->transport = true;
    const char *why = c && c->err ? c->errstr : "connection failed";
    /* a socket timeout (SO_RCVTIMEO / SO_SNDTIMEO) surfaces as EAGAIN's text */
    er->timeout = strstr(why, "temporarily unavailable") || strstr(why, "timed out");
    if (er->timeout) snprintf(er->msg, sizeof er->msg, "%s: no answer (timed out; is the server stopped or overloaded?)", what);
    else snprintf(er->msg, sizeof er->msg, "%s: %s", what, why);
    return false;
}

static struct timeval tv_of(double sec) {
    if (sec < 0.001) sec = 0.001;
    struct timeval tv = {(time_t)sec, (suseconds_t)((sec - (double)(time_t)sec) * 1e6)};
    return tv;
}

/* Send a command and check a simple reply (AUTH, SELECT). */
static bool simple_cmd(redisContext *c, rerr *er, int argc, const char **argv) {
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r) return conn_fail(er, c, argv[0]);
    bool ok = r->type != REDIS_REPLY_ERROR;
    if (!ok) {
        er->transport = true;   /* not retriable in truth, but the connection is useless */
        snprintf(er->msg, sizeof er->msg, "%s: %.*s", argv[0], (int)r->len, r->str);
    }
    freeReplyObject(r);
    return ok;
}

static redisContext *conn_new(redis_store *rs, rerr *er, double budget) {
    redisContext *c = redisConnectWithTimeout(rs->host, rs->port, tv_of(budget < 5 ? budget : 5));
    if (!c || c->err) {
        conn_fail(er, c, "connect");
        if (c) redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv_of(budget)) != REDIS_OK) {
        conn_fail(er, c, "set timeout");
        redisFree(c);
        return NULL;
    }
    if (rs->pass) {
        const char *argv[3] = {"AUTH", rs->user ? rs->user : rs->pass, rs->pass};
        if (!simple_cmd(c, er, rs->user ? 3 : 2, argv)) { redisFree(c); return NULL; }
    }
    if (rs->db) {
        char dbs[16];
        snprintf(dbs, sizeof dbs, "%d", rs->db);
        const char *argv[2] = {"SELECT", dbs};
        if (!simple_cmd(c, er, 2, argv)) { redisFree(c); return NULL; }
    }
    return c;
}

static redisContext *pool_take(redis_store *rs) {
    redisContext *c = NULL;
    pthread_mutex_lock(&rs->lock);
    if (rs->nidle) c = rs->idle[--rs->nidle];
    pthread_mutex_unlock(&rs->lock);
    return c;
}

static void pool_give(redis_store *rs, redisContext *c) {
    if (!c) return;
    if (c->err) { redisFree(c); return; }
    pthread_mutex_lock(&rs->lock);
    if (rs->nidle < POOL_MAX) { rs->idle[rs->nidle++] = c; c = NULL; }
    pthread_mutex_unlock(&rs->lock);
    if (c) redisFree(c);
}

/* Run op on a connection, retrying once on a fresh one after a transport failure of a pooled
 * connection. op returns LP_OK, a status it has reported on ctx itself, or LP_ERR_IO with er
 * filled (reported here, with the store's URL). */
typedef lp_status (*redis_op)(lp_ctx *ctx, redis_store *rs, redisContext *c, const char *key,
                              void *arg, rerr *er);

static lp_status run_op_as(lp_ctx *ctx, redis_store *rs, const char *noun, const char *key, redis_op op, void *arg) {
    pipe_guard g;
    guard_enter(&g);
    lp_status st = LP_ERR_IO;
    rerr er = {0};
    for (int attempt = 0; attempt < 2; attempt++) {
        /* each wait is bounded by the store's idle limit and the thread's deadline */
        double budget = lpi_op_budget(rs->idle_sec);
        if (budget <= 0) {
            snprintf(er.msg, sizeof er.msg, "the operation's deadline passed");
            st = LP_ERR_IO;
            break;
        }
        redisContext *c = pool_take(rs);
        bool pooled = c != NULL;
        if (!c && !(c = conn_new(rs, &er, budget))) break;
        if (pooled && redisSetTimeout(c, tv_of(budget)) != REDIS_OK) {
            redisFree(c);
            continue;
        }
        memset(&er, 0, sizeof er);
        st = op(ctx, rs, c, key, arg, &er);
        if (st == LP_ERR_IO && er.transport) {
            redisFree(c);
            /* a server that did not answer is not asked again: that would double the wait */
            if (!pooled || er.timeout) break;
            /* The server may have dropped idle connections (timeout, restart): drop every
             * pooled one, they are likely dead too, and retry on a fresh connection. */
            for (redisContext *old; (old = pool_take(rs));) redisFree(old);
            continue;
        }
        pool_give(rs, c);
        break;
    }
    guard_leave(&g);
    if (st == LP_ERR_IO && er.msg[0])
        return lpi_error(ctx, LP_ERR_IO, "%s%s: %s: %s", noun, key, rs->display, er.msg);
    return st;
}

static lp_status run_op(lp_ctx *ctx, redis_store *rs, const char *key, redis_op op, void *arg) {
    return run_op_as(ctx, rs, "chunk ", key, op, arg);
}

/* A reply that should be a string; errors and other types are reported. */
static lp_status expect_string(lp_ctx *ctx, redis_store *rs, const char *key, redisReply *r,
                               const char *what) {
    if (r->type == REDIS_REPLY_STRING) return LP_OK;
    if (r->type == REDIS_REPLY_ERROR)
        return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: %s: %s: %.*s", key, rs->display, what,
                         (int)r->len, r->str);
    return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: %s: %s: unexpected reply type %d", key,
                     rs->display, what, r->type);
}

static lp_status not_found(lp_ctx *ctx, const char *key) {
    return lpi_error(ctx, LP_ERR_NOTFOUND, "chunk %s: not found", key);
}

/* ---- operations ------------------------------------------------------------------------- */

typedef struct put_arg {
    const uint8_t *hdr;
    const void *data;
    uint64_t nbytes;
    const char *guard;      /* SET only while this key exists (one script: atomic) */
    int64_t ttl_ms;         /* > 0: the value expires then (PX, in the same command) */
} put_arg;

/* KEYS[1] = the chunk, KEYS[2] = the guard: a late writer of a finished run changes nothing.
 * ARGV[2] (when given) is the expiry in ms, set with the value. */
static const char guarded_set[] =
    "if redis.call('exists', KEYS[2]) == 1 then "
    "if ARGV[2] then return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) end "
    "return redis.call('set', KEYS[1], ARGV[1]) end return 0";

/* SET key value [PX ms], or the guarded script, the RESP frame written by hand so the value
 * goes from the caller's memory to the socket (hiredis would copy it twice). The context's
 * output buffer is empty between commands, so the stream stays in step; hiredis then reads the
 * reply as usual. The arguments after the value (PX ms, or the script's ARGV[2]) follow it. */
static lp_status op_put(lp_ctx *ctx, redis_store *rs, redisContext *c, const char *key, void *arg,
                        rerr *er) {
    put_arg *a = arg;
    size_t klen = strlen(key);
    char pre[800], post[64], ms[24];
    int mslen = snprintf(ms, sizeof ms, "%" PRId64, a->ttl_ms);
    bool ttl = a->ttl_ms > 0;
    int plen = a->guard
        ? snprintf(pre, sizeof pre, "*%d\r\n$4\r\nEVAL\r\n$%zu\r\n%s\r\n$1\r\n2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%" PRIu64 "\r\n",
                   ttl ? 7 : 6, sizeof guarded_set - 1, guarded_set, klen, key, strlen(a->guard), a->guard,
                   (uint64_t)LPI_CHUNK_HDR_SIZE + a->nbytes)
        : snprintf(pre, sizeof pre, "*%d\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%" PRIu64 "\r\n", ttl ? 5 : 3, klen,
                   key, (uint64_t)LPI_CHUNK_HDR_SIZE + a->nbytes);
    int postlen = !ttl ? snprintf(post, sizeof post, "\r\n")
                  : a->guard ? snprintf(post, sizeof post, "\r\n$%d\r\n%s\r\n", mslen, ms)
                             : snprintf(post, sizeof post, "\r\n$2\r\nPX\r\n$%d\r\n%s\r\n", mslen, ms);
    struct iovec iov[4] = {{pre, (size_t)plen},
                           {(void *)a->hdr, LPI_CHUNK_HDR_SIZE},
                           {(void *)a->data, a->nbytes},
                           {post, (size_t)postlen}};
    struct iovec *v = iov;
    int n = 4;
    while (n) {
        if (v->iov_len == 0) { v++; n--; continue; }
        ssize_t w = writev(c->fd, v, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            er->transport = true;
            /* Redis drops the connection on a bulk string over proto-max-bulk-len */
            er->timeout = errno == EAGAIN;
            snprintf(er->msg, sizeof er->msg, "SET: write: %s%s",
                     errno == EAGAIN ? "no progress (timed out; is the server stopped or overloaded?)" : strerror(errno),
                     LPI_CHUNK_HDR_SIZE + a->nbytes > ((uint64_t)512 << 20)
                         ? " (values over 512 MiB need a larger proto-max-bulk-len)" : "");
            c->err = REDIS_ERR_IO; /* never reuse a connection with half a command on it */
            return LP_ERR_IO;
        }
        size_t left = (size_t)w;
        while (n && left >= v->iov_len) { left -= v->iov_len; v++; n--; }
        if (n) { v->iov_base = (char *)v->iov_base + left; v->iov_len -= left; }
    }
    void *rp = NULL;
    if (redisGetReply(c, &rp) != REDIS_OK || !rp) {
        conn_fail(er, c, "SET");
        return LP_ERR_IO;
    }
    redisReply *r = rp;
    lp_status st = LP_OK;
    if (r->type == REDIS_REPLY_ERROR)
        st = lpi_error(ctx, LP_ERR_IO, "chunk %s: %s: SET: %.*s", key, rs->display, (int)r->len,
                       r->str);
    else if (a->guard && r->type == REDIS_REPLY_INTEGER)
        st = lpi_error(ctx, LP_ERR_CANCELLED, "chunk %s: not written: its run is over (%s is gone)", key, a->guard);
    freeReplyObject(r);
    return st;
}

static lp_status redis_put(lp_ctx *ctx, lpi_store *s, const char *key, const lpi_chunk_info *info,
                           const uint8_t *hdr, const void *data) {
    put_arg a = {hdr, data, info->nbytes, NULL, 0};
    return run_op(ctx, (redis_store *)s, key, op_put, &a);
}

static lp_status redis_put_ex(lp_ctx *ctx, lpi_store *s, const char *key, const lpi_chunk_info *info,
                              const uint8_t *hdr, const void *data, const char *guard, int64_t ttl_ms) {
    put_arg a = {hdr, data, info->nbytes, guard, ttl_ms};
    return run_op(ctx, (redis_store *)s, key, op_put, &a);
}

static lp_status op_mark(lp_ctx *ctx, redis_store *rs, redisContext *c, const char *key, void *arg, rerr *er) {
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)(*(double *)arg * 1000) + 1);
    const char *argv[5] = {"SET", key, "1", "PX", ms};
    redisReply *r = redisCommandArgv(c, 5, argv, NULL);
    if (!r) { conn_fail(er, c, "SET"); return LP_ERR_IO; }
    lp_status st = r->type == REDIS_REPLY_ERROR
        ? lpi_error(ctx, LP_ERR_IO, "chunk %s: %s: SET: %.*s", key, rs->display, (int)r->len, r->str) : LP_OK;
    freeReplyObject(r);
    return st;
}

static lp_status redis_mark(lp_ctx *ctx, lpi_store *s, const char *key, double ttl_sec) {
    return run_op(ctx, (redis_store *)s, key, op_mark, &ttl_sec);
}

/* SCAN for prefix/\* and DEL what it finds, page by page (the prefix is a key: no glob
 * characters in it). */
static lp_status op_del_prefix(lp_ctx *ctx, redis_store *rs, redisContext *c, const char *prefix, void *arg, rerr *er) {
    char cursor[32] = "0", match[LPI_STORE_KEY_MAX + 4];
    snprintf(match, sizeof match, "%s/*", prefix);
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
        redisReply *r = redisCommandArgv(c, 6, argv, NULL);
        if (!r) { conn_fail(er, c, "SCAN"); return LP_ERR_IO; }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return lpi_error(ctx, LP_ERR_IO, "chunk %s/*: %s: SCAN: unexpected reply", prefix, rs->display);
        }
        snprintf(cursor, sizeof cursor, "%.*s", (int)r->element[0]->len, r->element[0]->str);
        redisReply *keys = r->element[1];
        if (keys->elements) {
            const char **argv2 = lp_malloc((keys->elements + 1) * sizeof *argv2);
            size_t *lens = lp_malloc((keys->elements + 1) * sizeof *lens);
            if (!argv2 || !lens) { lp_free(argv2); lp_free(lens); freeReplyObject(r); return lpi_nomem(ctx); }
            argv2[0] = "DEL";
            lens[0] = 3;
            for (size_t i = 0; i < keys->elements; i++) {
                argv2[i + 1] = keys->element[i]->str;
                lens[i + 1] = keys->element[i]->len;
            }
            redisReply *d = redisCommandArgv(c, (int)keys->elements + 1, argv2, lens);
            lp_free(argv2);
            lp_free(lens);
            if (!d) { freeReplyObject(r); conn_fail(er, c, "DEL"); return LP_ERR_IO; }
            freeReplyObject(d);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return LP_OK;
}

static lp_status redis_del_prefix(lp_ctx *ctx, lpi_store *s, const char *prefix) {
    return run_op(ctx, (redis_store *)s, prefix, op_del_prefix, NULL);
}

typedef struct get_arg {
    lpi_chunk_info *info;
    lp_buffer **out;
} get_arg;

static lp_status op_get(lp_ctx *ctx, redis_store *rs, redisContext *c, const char *key, void *arg,
                        rerr *er) {
    get_arg *a = arg;
    char end[32];
    /* at most header + limit bytes come back, whatever is stored */
    uint64_t last = rs->base.max_chunk > (uint64_t)INT64_MAX - LPI_CHUNK_HDR_SIZE
                        ? (uint64_t)INT64_MAX : LPI_CHUNK_HDR_SIZE + rs->base.max_chunk - 1;
    snprintf(end, sizeof end, "%" PRIu64, last);
    const char *argv[4] = {"GETRANGE", key, "0", end};
    redisReply *r = redisCommandArgv(c, 4, argv, NULL);
    if (!r) { conn_fail(er, c, "GETRANGE"); return LP_ERR_IO; }
    lp_status st = expect_string(ctx, rs, key, r, "GETRANGE");
    if (st == LP_OK && r->len == 0) st = not_found(ctx, key); /* GETRANGE of no key is "" */
    else if (st == LP_OK && r->len < LPI_CHUNK_HDR_SIZE)
        st = lpi_error(ctx, LP_ERR_FORMAT,
                       "chunk %s: value of %zu bytes is shorter than the chunk header", key,
                       (size_t)r->len);
    if (st == LP_OK)
        st = lpi_chunk_header_decode(ctx, key, (const uint8_t *)r->str, rs->base.max_chunk,
                                     a->info);
    if (st == LP_OK && r->len != LPI_CHUNK_HDR_SIZE + a->info->nbytes)
        st = lpi_error(ctx, LP_ERR_FORMAT,
                       "chunk %s: value is %zu bytes but its header says %d + %" PRIu64, key,
                       (size_t)r->len, LPI_CHUNK_HDR_SIZE, a->info->nbytes);
    if (st == LP_OK) {
        lp_buffer *b = lpi_buffer_new(a->info->dtype, a->info->ndim, a->info->shape);
        if (!b) st = lpi_nomem(ctx);
        else {
            if (a->info->nbytes) memcpy(b->data, r->str + LPI_CHUNK_HDR_SIZE, a->info->nbytes);
            *a->out = b;
        }
    }
    freeReplyObject(r);
    return st;
}

static lp_status redis_get(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *info,
                           lp_buffer **out) {
    get_arg a = {info, out};
    return run_op(ctx, (redis_store *)s, key, op_get, &a);
}

typedef struct head_arg {
    lpi_chunk_info *info;
    uint64_t off;          /* data range to read (n == 0: header only) */
    size_t n;
    void *dst;
} head_arg;

/* MULTI; GETRANGE key 0 95; STRLEN key; [GETRANGE key 96+off 96+off+n-1;] EXEC — pipelined,
 * one round trip, one consistent version of the value. */
static lp_status op_head(lp_ctx *ctx, redis_store *rs, redisContext *c, const char *key, void *arg,
                         rerr *er) {
    head_arg *a = arg;
    char hend[16], from[32], to[32];
    snprintf(hend, sizeof hend, "%d", LPI_CHUNK_HDR_SIZE - 1);
    const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
    const char *gh[4] = {"GETRANGE", key, "0", hend};
    const char *sl[2] = {"STRLEN", key};
    const char *gd[4] = {"GETRANGE", key, from, to};
    int ncmd = 4;
    redisAppendCommandArgv(c, 1, multi, NULL);
    redisAppendCommandArgv(c, 4, gh, NULL);
    redisAppendCommandArgv(c, 2, sl, NULL);
    if (a->n) {
        snprintf(from, sizeof from, "%" PRIu64, LPI_CHUNK_HDR_SIZE + a->off);
        snprintf(to, sizeof to, "%" PRIu64, LPI_CHUNK_HDR_SIZE + a->off + a->n - 1);
        redisAppendCommandArgv(c, 4, gd, NULL);
        ncmd++;
    }
    redisAppendCommandArgv(c, 1, exec, NULL);
    redisReply *replies[5] = {0};
    for (int i = 0; i < ncmd; i++) {
        void *rp = NULL;
        if (redisGetReply(c, &rp) != REDIS_OK || !rp) {
            for (int j = 0; j < i; j++) freeReplyObject(replies[j]);
            conn_fail(er, c, "MULTI");
            return LP_ERR_IO;
        }
        replies[i] = rp;
    }
    lp_status st = LP_OK;
    redisReply *x = replies[ncmd - 1];
    if (x->type == REDIS_REPLY_ERROR)
        st = lpi_error(ctx, LP_ERR_IO, "chunk %s: %s: EXEC: %.*s", key, rs->display, (int)x->len,
                       x->str);
    else if (x->type != REDIS_REPLY_ARRAY || x->elements != (size_t)(ncmd - 2))
        st = lpi_error(ctx, LP_ERR_IO, "chunk %s: %s: EXEC: unexpected reply", key, rs->display);
    redisReply *hr = st == LP_OK ? x->element[0] : NULL;
    redisReply *lr = st == LP_OK ? x->element[1] : NULL;
    if (st == LP_OK) st = expect_string(ctx, rs, key, hr, "GETRANGE");
    if (st == LP_OK && lr->type != REDIS_REPLY_INTEGER)
        st = lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: %s: STRLEN: unexpected reply", key,
                       rs->display);
    if (st == LP_OK && hr->len == 0) st = not_found(ctx, key);
    else if (st == LP_OK && hr->len < LPI_CHUNK_HDR_SIZE)
        st = lpi_error(ctx, LP_ERR_FORMAT,
                       "chunk %s: value of %zu bytes is shorter than the chunk header", key,
                       (size_t)hr->len);
    if (st == LP_OK)
        st = lpi_chunk_header_decode(ctx, key, (const uint8_t *)hr->str, rs->base.max_chunk,
                                     a->info);
    if (st == LP_OK && (uint64_t)lr->integer != LPI_CHUNK_HDR_SIZE + a->info->nbytes)
        st = lpi_error(ctx, LP_ERR_FORMAT,
                       "chunk %s: value is %lld bytes but its header says %d + %" PRIu64, key,
                       (long long)lr->integer, LPI_CHUNK_HDR_SIZE, a->info->nbytes);
    if (st == LP_OK && a->n) {
        st = lpi_chunk_range_check(ctx, key, a->off, a->n, a->info->nbytes);
        redisReply *dr = x->element[2];
        if (st == LP_OK) st = expect_string(ctx, rs, key, dr, "GETRANGE");
        if (st == LP_OK && dr->len != a->n)
            st = lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: range read returned %zu bytes, not %zu",
                           key, (size_t)dr->len, a->n);
        if (st == LP_OK) memcpy(a->dst, dr->str, a->n);
    }
    for (int i = 0; i < ncmd; i++) freeReplyObject(replies[i]);
    return st;
}

static lp_status redis_head(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *out) {
    head_arg a = {out, 0, 0, NULL};
    return run_op(ctx, (redis_store *)s, key, op_head, &a);
}

static lp_status redis_get_range(lp_ctx *ctx, lpi_store *s, const char *key, uint64_t off,
                                 size_t n, void *dst) {
    lpi_chunk_info info;
    uint64_t end;
    if (__builtin_add_overflow(off, (uint64_t)n, &end) || end > s->max_chunk) {
        /* No chunk of this store is that long; read the header for an exact message (and to
         * keep out of GETRANGE's signed-integer arguments). */
        head_arg h = {&info, 0, 0, NULL};
        lp_status st = run_op(ctx, (redis_store *)s, key, op_head, &h);
        return st != LP_OK ? st : lpi_chunk_range_check(ctx, key, off, n, info.nbytes);
    }
    head_arg a = {&info, off, n, dst};
    return run_op(ctx, (redis_store *)s, key, op_head, &a);
}

typedef struct int_arg {
    const char *cmd;
    long long result;
} int_arg;

static lp_status op_int(lp_ctx *ctx, redis_store *rs, redisContext *c, const char *key, void *arg,
                        rerr *er) {
    int_arg *a = arg;
    const char *argv[2] = {a->cmd, key};
    redisReply *r = redisCommandArgv(c, 2, argv, NULL);
    if (!r) { conn_fail(er, c, a->cmd); return LP_ERR_IO; }
    lp_status st = LP_OK;
    if (r->type == REDIS_REPLY_INTEGER) a->result = r->integer;
    else if (r->type == REDIS_REPLY_ERROR)
        st = lpi_error(ctx, LP_ERR_IO, "chunk %s: %s: %s: %.*s", key, rs->display, a->cmd,
                       (int)r->len, r->str);
    else
        st = lpi_error(ctx, LP_ERR_IO, "chunk %s: %s: %s: unexpected reply", key, rs->display,
                       a->cmd);
    freeReplyObject(r);
    return st;
}

static lp_status redis_del(lp_ctx *ctx, lpi_store *s, const char *key) {
    int_arg a = {"DEL", 0};
    lp_status st = run_op(ctx, (redis_store *)s, key, op_int, &a);
    if (st == LP_OK && a.result == 0) st = not_found(ctx, key);
    return st;
}

static lp_status redis_exists(lp_ctx *ctx, lpi_store *s, const char *key, bool *out) {
    int_arg a = {"EXISTS", 0};
    lp_status st = run_op(ctx, (redis_store *)s, key, op_int, &a);
    *out = st == LP_OK && a.result > 0;
    return st;
}

static void redis_close(lpi_store *s) {
    redis_store *rs = (redis_store *)s;
    for (int i = 0; i < rs->nidle; i++) redisFree(rs->idle[i]);
    pthread_mutex_destroy(&rs->lock);
    lp_free(rs->host);
    lp_free(rs->user);
    lp_free(rs->pass);
    lp_free(rs);
}

typedef struct cmd_arg {
    int argc;
    const char **argv;
    const size_t *argvlen;
    redisReply *reply;
} cmd_arg;

static lp_status op_cmd(lp_ctx *ctx, redis_store *rs, redisContext *c, const char *what, void *arg, rerr *er) {
    (void)ctx;
    (void)rs;
    cmd_arg *a = arg;
    a->reply = redisCommandArgv(c, a->argc, a->argv, a->argvlen);
    if (!a->reply) { conn_fail(er, c, what); return LP_ERR_IO; }
    return LP_OK;
}

static const lpi_store_vtable redis_vt;

lp_status lpi_redis_command(lp_ctx *ctx, lpi_store *s, const char *what, int argc, const char **argv,
                            const size_t *argvlen, struct redisReply **out) {
    *out = NULL;
    if (!s || s->vt != &redis_vt) return lpi_error(ctx, LP_ERR_VALUE, "%s: the store is not a redis:// store", what);
    cmd_arg a = {argc, argv, argvlen, NULL};
    lp_status st = run_op_as(ctx, (redis_store *)s, "", what, op_cmd, &a);
    if (!st) *out = a.reply;
    return st;
}

static const lpi_store_vtable redis_vt = {
    .scheme = "redis",
    .put = redis_put,
    .get = redis_get,
    .get_range = redis_get_range,
    .head = redis_head,
    .del = redis_del,
    .exists = redis_exists,
    .close = redis_close,
    .put_ex = redis_put_ex,
    .mark = redis_mark,
    .del_prefix = redis_del_prefix,
};

/* ---- URL: redis://[[user]:pass@]host[:port][/db] ------------------------------------------ */

static char *dup_n(const char *s, size_t n) {
    char *d = lp_malloc(n + 1);
    if (d) { memcpy(d, s, n); d[n] = 0; }
    return d;
}

static bool parse_uint(const char *s, size_t n, unsigned long max, unsigned long *out) {
    if (n == 0 || n > 10) return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max) return false;
    *out = v;
    return true;
}

lp_status lpi_store_redis_open(lp_ctx *ctx, const char *url, const char *rest, lpi_store **out) {
    *out = NULL;
    redis_store *rs = lp_calloc(1, sizeof *rs);
    if (!rs) return lpi_nomem(ctx);
    rs->base.vt = &redis_vt;
    pthread_mutex_init(&rs->lock, NULL);
    rs->port = 6379;
    /* Timeouts are per socket read or write (no progress for that long), so a GiB value over
     * a slow link still goes through; a stopped server fails an operation within it. */
    const char *env = getenv("LAMPY_STORE_TIMEOUT");
    rs->idle_sec = env && atof(env) > 0 ? atof(env) : 10.0;
    const char *bad = NULL;

    const char *end = rest + strcspn(rest, "/?#");
    const char *at = memchr(rest, '@', (size_t)(end - rest));
    const char *hp = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (!colon) bad = "credentials must be [user]:password@";
        else {
            if (colon > rest && !(rs->user = dup_n(rest, (size_t)(colon - rest)))) goto nomem;
            if (!(rs->pass = dup_n(colon + 1, (size_t)(at - colon - 1)))) goto nomem;
        }
        hp = at + 1;
    }
    const char *port = NULL, *hend;
    if (!bad && *hp == '[') { /* [IPv6] */
        const char *rb = memchr(hp, ']', (size_t)(end - hp));
        if (!rb) bad = "unterminated [IPv6 address]";
        else {
            if (!(rs->host = dup_n(hp + 1, (size_t)(rb - hp - 1)))) goto nomem;
            if (rb[1] == ':') port = rb + 2;
            else if (rb + 1 != end) bad = "junk after the host";
        }
    } else if (!bad) {
        const char *colon = memchr(hp, ':', (size_t)(end - hp));
        hend = colon ? colon : end;
        if (!(rs->host = dup_n(hp, (size_t)(hend - hp)))) goto nomem;
        if (colon) port = colon + 1;
    }
    unsigned long v;
    if (!bad && rs->host && !rs->host[0]) bad = "no host";
    if (!bad && port) {
        if (!parse_uint(port, (size_t)(end - port), 65535, &v) || v == 0) bad = "bad port";
        else rs->port = (int)v;
    }
    if (!bad && *end == '/' && end[1]) {
        if (!parse_uint(end + 1, strlen(end + 1), 1000000, &v)) bad = "the path must be a database number";
        else rs->db = (int)v;
    } else if (!bad && *end && !(*end == '/' && !end[1])) {
        bad = "query strings and fragments are not supported";
    }
    if (bad) {
        redis_close(&rs->base);
        /* never echo a URL that may hold a password */
        return lpi_error(ctx, LP_ERR_VALUE, "redis store URL: %s (expected "
                         "redis://[[user]:password@]host[:port][/db])", bad);
    }
    (void)url;
    if (strchr(rs->host, ':'))
        snprintf(rs->display, sizeof rs->display, "redis://[%s]:%d/%d", rs->host, rs->port, rs->db);
    else
        snprintf(rs->display, sizeof rs->display, "redis://%s:%d/%d", rs->host, rs->port, rs->db);
    *out = &rs->base;
    return LP_OK;
nomem:
    redis_close(&rs->base);
    return lpi_nomem(ctx);
}
