/* The HTTP request handling of the servers, through real loopback connections: the first byte
 * of the input picks the server (even: the chunk store, `lampy store`; odd: a worker, `lampy
 * worker`), the rest is sent as is on a fresh connection, whose write side is then shut. The
 * servers (server/http.c glue, storesrv.c, worker.c handlers; libmicrohttpd parses the request
 * line and headers) run in this process, started once. Each input must be answered or the
 * connection closed within FZ_HTTP_WAIT seconds: a server that keeps waiting is a hang.
 *
 * The store serves a directory with two chunks, seed/a and seed/b, put back after any input
 * that wrote or deleted something; the worker runs batches against FZ_STORE and FZ_LOAD_DIR
 * (the output keys of a batch body are put back after it, as in fuzz_worker.c). */
#include "fuzz.h"
#include "exec/wire.h"
#include "server/storesrv.h"
#include "server/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FZ_HTTP_WAIT 30

static lpi_storesrv *store_srv;
static lpi_worker_server *worker_srv;
static unsigned ports[2];
static char store_dir[512];
static lpi_wire_limits lim;
static const char *const load_dirs[] = {FZ_LOAD_DIR, NULL}, *const allow[] = {FZ_STORE, NULL};

/* Our own messages go to a copy of stderr made before libFuzzer's -close_fd_mask=2 (used to
 * silence the servers' logging of every malformed request) closes it. */
static int errfd = 2;

static void die(const char *what, lp_ctx *ctx) {
    dprintf(errfd, "fuzz_http: %s: %s\n", what, ctx ? lp_last_error(ctx) : strerror(errno));
    abort();
}

/* The store directory as every input finds it: seed/a (float64 5x7) and seed/b (int32 0-d). */
static void reset_store(void) {
    fz_empty_dir(store_dir);
    lp_ctx *ctx;
    lpi_store *s;
    char url[600];
    snprintf(url, sizeof url, "file://%s", store_dir);
    if (lp_ctx_create(&ctx) || lpi_store_open(ctx, url, &s)) die(url, ctx);
    double a[35];
    for (int i = 0; i < 35; i++) a[i] = i * 0.5;
    int32_t b = 7;
    int64_t sa[2] = {5, 7};
    if (lpi_store_put(ctx, s, "seed/a", LP_FLOAT64, 2, sa, a, sizeof a) ||
        lpi_store_put(ctx, s, "seed/b", LP_INT32, 0, NULL, &b, sizeof b))
        die("seed chunks", ctx);
    lpi_store_close(s);
    lp_ctx_destroy(ctx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    errfd = dup(2);
    signal(SIGPIPE, SIG_IGN);
    fz_load_dir();
    fz_seed_store();
    lpi_wire_limits_default(&lim);
    lim.load_dirs = load_dirs;
    snprintf(store_dir, sizeof store_dir, "%s/store", fz_tmpdir("http"));
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx)) die("lp_ctx_create", NULL);
    reset_store();
    lpi_storesrv_opts so = {.dir = store_dir, .threads = 2, .max_chunk_bytes = 1 << 20};
    if (lpi_storesrv_start(ctx, &so, &store_srv)) die("store server", ctx);
    lpi_worker_opts wo = {.cfg = {.allow_stores = allow, .quiet = true}, .max_concurrency = 4, .max_body = 64 << 10};
    lpi_wire_limits_default(&wo.cfg.limits);
    wo.cfg.limits.load_dirs = load_dirs;
    if (lpi_worker_server_start(ctx, &wo, &worker_srv)) die("worker server", ctx);
    ports[0] = lpi_storesrv_port(store_srv);
    const char *wurl = lpi_worker_server_url(worker_srv);
    ports[1] = (unsigned)atoi(strrchr(wurl, ':') + 1);
    lp_ctx_destroy(ctx);
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Send the request, shut the write side, read until the server closes. Returns what came back
 * (NUL-terminated, at most 1 MiB kept). */
static char *exchange(unsigned port, const uint8_t *req, size_t n, size_t *got) {
    /* Millions of short connections leave as many in TIME_WAIT (a minute each) and would use up
     * the ephemeral ports of one address pair: the client side takes its address from all of
     * 127.0.0.0/8, in turn, and waits when the kernel still finds no port. */
    static unsigned conns;
    conns++;
    int fd = -1;
    for (int tries = 0; fd < 0; tries++) {
        /* non-blocking: libFuzzer's timers interrupt a blocking connect (EINTR) */
        if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) die("socket", NULL);
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (conns % 4000) * 16 + tries % 16);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int e = 0;
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) e = errno;
        else if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            e = errno;
            if (e == EINPROGRESS || e == EINTR) {
                struct pollfd p = {fd, POLLOUT, 0};
                int r;
                do r = poll(&p, 1, FZ_HTTP_WAIT * 1000); while (r < 0 && errno == EINTR);
                socklen_t el = sizeof e;
                if (r <= 0) e = ETIMEDOUT;
                else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0) e = errno;
            }
        }
        if (!e) break;
        close(fd);
        fd = -1;
        if ((e != EADDRNOTAVAIL && e != EADDRINUSE && e != EAGAIN) || tries == 200) {
            errno = e;
            die("connect", NULL);
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    static char buf[1 << 20];
    size_t have = 0, sent = 0;
    double end = now() + FZ_HTTP_WAIT;
    bool wr_open = true;
    for (;;) {
        if (wr_open && sent == n) { shutdown(fd, SHUT_WR); wr_open = false; }
        struct pollfd p = {fd, (short)(POLLIN | (wr_open ? POLLOUT : 0)), 0};
        int left = (int)((end - now()) * 1000);
        if (left <= 0 || poll(&p, 1, left) == 0) {
            dprintf(errfd, "fuzz_http: the server on port %u neither answered nor closed within %d s "
                            "(%zu of %zu bytes sent, %zu received)\n", port, FZ_HTTP_WAIT, sent, n, have);
            abort();
        }
        if (p.revents & POLLOUT) {
            ssize_t k = send(fd, req + sent, n - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (k > 0) sent += (size_t)k;
            else if (k < 0 && errno != EAGAIN && errno != EINTR) wr_open = false; /* reset: read what came */
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char tmp[65536];
            ssize_t k = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) break;
            if (k > 0) {
                size_t c = (size_t)k < sizeof buf - 1 - have ? (size_t)k : sizeof buf - 1 - have;
                memcpy(buf + have, tmp, c);
                have += c;
            }
        }
    }
    close(fd);
    buf[have] = 0;
    *got = have;
    return buf;
}

/* The outputs a worker may have written for the requests in `req` (each body as its
 * Content-Length cuts it, or the rest of the input) are put back, as in fuzz_worker.c: outputs
 * left in FZ_STORE would make later inputs see another store and grow the process. */
static void reset_batch_outputs(const uint8_t *req, size_t n) {
    const uint8_t *p = req, *end = req + n;
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx)) return;
    for (int k = 0; k < 64 && p < end; k++) {
        const uint8_t *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) break;
        const uint8_t *body = hend + 4;
        size_t rest = (size_t)(end - body), len = rest;
        bool has_len = false;
        for (const uint8_t *h = p; h + 15 < hend; h++)
            if (!strncasecmp((const char *)h, "\ncontent-length:", 16)) {
                len = (size_t)strtoull((const char *)h + 16, NULL, 10);
                has_len = true;
                break;
            }
        for (int whole = 0; whole < 2; whole++) {
            size_t m = whole ? rest : len < rest ? len : rest;
            if (whole && m == (len < rest ? len : rest)) break;
            lpi_wire_batch *b = NULL;
            if (lpi_wire_decode(ctx, &lim, (const char *)body, m, &b) == LP_OK)
                for (int i = 0; i < b->ntasks; i++) fz_reset_key(b->outs[i].key);
            lpi_wire_batch_free(b);
        }
        if (!has_len || len > rest) break;
        p = body + len;
    }
    lp_ctx_destroy(ctx);
}

/* Whether a batch in the exchange may have run a task (and so written an output): the worker
 * answers 4xx only when it refused a request before running anything (a request it could not
 * decode, too large, not allowed, busy), and a request it did not receive whole gets no answer.
 * Decoding every input a second time to find its output keys took a tenth of the harness's time;
 * inputs with another status (or an "HTTP/1." inside a body: only a needless decode) still do. */
static bool may_have_run(const char *reply) {
    for (const char *p = reply; (p = strstr(p, "HTTP/1.")); p += 7)
        if (p[7] && p[8] == ' ' && p[9] != '4') return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    int which = data[0] & 1;
    size_t got;
    const char *reply = exchange(ports[which], data + 1, size - 1, &got);
    if (getenv("FZ_VERBOSE")) dprintf(errfd, "--- %.*s\n", (int)(got < 400 ? got : 400), reply);
    /* every answer is an HTTP response */
    if (got && strncmp(reply, "HTTP/1.", 7) != 0) {
        dprintf(errfd, "fuzz_http: not an HTTP response: %.200s\n", reply);
        abort();
    }
    if (which == 0) {
        /* a write or delete that went through: back to the two seed chunks */
        if (strstr(reply, "HTTP/1.1 201") || strstr(reply, "HTTP/1.1 204") || strstr(reply, "HTTP/1.0 201") ||
            strstr(reply, "HTTP/1.0 204"))
            reset_store();
    } else if (may_have_run(reply)) {
        reset_batch_outputs(data + 1, size - 1);
    }
    return 0;
}
