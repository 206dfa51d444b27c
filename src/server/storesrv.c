/* The chunk store server: the HTTP face of a file store (see storesrv.h for the API).
 *
 * Threading: a pool of polling threads (libmicrohttpd's MHD_OPTION_THREAD_POOL_SIZE, poll),
 * not a thread per connection. Serverless fan-out means many concurrent clients, each holding a
 * keep-alive connection that is idle most of the time; a thread per connection would park a
 * thread (and its stack) on every one of them. Every handler step here is short and bounded:
 * a GET opens the file and hands the descriptor to MHD, which sends it with sendfile from the
 * polling thread; a PUT writes one received piece (at most the connection buffer, 128 KiB) to
 * the page cache and feeds it to the incremental checksum; commit is a rename. No step waits on
 * another client, so a few threads per core serve thousands of connections.
 *
 * Uploads stream to a temp file beside the chunk while their XXH3 is computed; the header is
 * checked as soon as its 96 bytes are in (size limit, shape, Content-Length agreement) and the
 * checksum at the end; only then is the temp file renamed into place. A failed or abandoned
 * upload removes its temp file (on_end runs for every request, also when the client vanished). */
#include "server/storesrv.h"
#include "server/http.h"
#include "store/internal.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <xxhash.h>

struct lpi_storesrv {
    lpi_store *store;
    uint64_t max_chunk;
    lpi_http_server *http;
};

/* Per-request state. */
typedef struct rq {
    lp_ctx *ctx;
    const char *key;             /* into the request path */
    /* PUT */
    uint8_t hdr[LPI_CHUNK_HDR_SIZE];
    size_t hdr_got;
    bool hdr_ok;
    lpi_chunk_info info;
    lpi_fwriter *w;
    XXH3_state_t *xs;
    uint64_t data_got;
} rq;

static void reply_status(lpi_http_req *req, rq *r, lp_status st) {
    unsigned code = lpi_http_status_of(st);
    if (code >= 500)
        fprintf(stderr, "lampy store: %s %s: %s\n", lpi_http_method(req), lpi_http_path(req),
                lp_last_error(r->ctx));
    lpi_http_reply_error(req, code, "%s", lp_last_error(r->ctx));
}

/* ---- GET / HEAD ------------------------------------------------------------------------- */

static void serve_get(lpi_storesrv *srv, lpi_http_req *req, rq *r) {
    int fd;
    uint64_t size;
    lp_status st = lpi_fstore_open_chunk(r->ctx, srv->store, r->key, &fd, &size);
    if (st != LP_OK) { reply_status(req, r, st); return; }
    lpi_http_reply_file(req, fd, size, "chunk", r->key);
}

/* ---- PUT -------------------------------------------------------------------------------- */

/* A rejected upload removes its temp file before the reply goes out: a client that sees the
 * error must not find anything of the upload in the directory. */
static bool put_reject(rq *r) {
    lpi_fwriter_abort(r->w);
    r->w = NULL;
    return false;
}

static bool put_data(void *app, lpi_http_req *req, const char *p, size_t n) {
    lpi_storesrv *srv = app;
    rq *r = lpi_http_user(req);
    lp_status st;
    if (!r->hdr_ok) {
        size_t k = LPI_CHUNK_HDR_SIZE - r->hdr_got;
        if (k > n) k = n;
        memcpy(r->hdr + r->hdr_got, p, k);
        r->hdr_got += k;
        p += k;
        n -= k;
        if (r->hdr_got < LPI_CHUNK_HDR_SIZE) return true;
        if ((st = lpi_chunk_header_decode(r->ctx, r->key, r->hdr, srv->max_chunk, &r->info)) !=
            LP_OK) {
            reply_status(req, r, st);
            return put_reject(r);
        }
        int64_t clen = lpi_http_content_length(req);
        if (clen >= 0 && (uint64_t)clen != LPI_CHUNK_HDR_SIZE + r->info.nbytes) {
            lpi_http_reply_error(req, 400, "chunk %s: Content-Length %" PRId64 " does not match "
                                 "its header (%d + %" PRIu64 " bytes)", r->key, clen,
                                 LPI_CHUNK_HDR_SIZE, r->info.nbytes);
            return put_reject(r);
        }
        if (!(r->xs = XXH3_createState()) || XXH3_64bits_reset(r->xs) != XXH_OK) {
            lpi_http_reply_error(req, 503, "out of memory");
            return put_reject(r);
        }
        if ((st = lpi_fwriter_open(r->ctx, srv->store, r->key, &r->w)) != LP_OK ||
            (st = lpi_fwriter_write(r->ctx, r->w, r->hdr, sizeof r->hdr)) != LP_OK) {
            reply_status(req, r, st);
            return put_reject(r);
        }
        r->hdr_ok = true;
    }
    if (!n) return true;
    if (n > r->info.nbytes - r->data_got) {
        lpi_http_reply_error(req, 400, "chunk %s: body is longer than its header says (%d + %"
                             PRIu64 " bytes)", r->key, LPI_CHUNK_HDR_SIZE, r->info.nbytes);
        return put_reject(r);
    }
    if ((st = lpi_fwriter_write(r->ctx, r->w, p, n)) != LP_OK) {
        reply_status(req, r, st);
        return put_reject(r);
    }
    XXH3_64bits_update(r->xs, p, n);
    r->data_got += n;
    return true;
}

static void put_done(lpi_storesrv *srv, lpi_http_req *req, rq *r, uint64_t total) {
    if (!r->hdr_ok) {
        lpi_http_reply_error(req, 400, "chunk %s: body of %" PRIu64 " bytes is shorter than the "
                             "%d-byte chunk header", r->key, total, LPI_CHUNK_HDR_SIZE);
        return;
    }
    if (r->data_got != r->info.nbytes) {
        put_reject(r);
        lpi_http_reply_error(req, 400, "chunk %s: body is %" PRIu64 " bytes but its header says "
                             "%d + %" PRIu64, r->key, total, LPI_CHUNK_HDR_SIZE, r->info.nbytes);
        return;
    }
    uint64_t computed = XXH3_64bits_digest(r->xs);
    if (computed != r->info.checksum) {
        put_reject(r);
        reply_status(req, r, lpi_chunk_checksum_error(r->ctx, r->key, r->info.checksum, computed));
        return;
    }
    lpi_fwriter *w = r->w;
    r->w = NULL; /* commit frees it, also when it fails */
    lp_status st = lpi_fwriter_commit(r->ctx, w);
    if (st != LP_OK) { reply_status(req, r, st); return; }
    lpi_http_reply_json(req, 201, json_pack("{s:s,s:I}", "key", r->key, "nbytes",
                                            (json_int_t)r->info.nbytes));
}

/* ---- routing ---------------------------------------------------------------------------- */

static lpi_http_action on_request(void *app, lpi_http_req *req) {
    lpi_storesrv *srv = app;
    const char *path = lpi_http_path(req), *method = lpi_http_method(req);
    bool get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
    if (strcmp(path, "/status") == 0) {
        if (get || head) lpi_http_reply_text(req, 200, "text/plain", "ready");
        else {
            lpi_http_reply_error(req, 405, "method %.16s not allowed on /status", method);
            lpi_http_add_header(req, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        }
        return LPI_HTTP_DONE;
    }
    if (strncmp(path, "/chunks/", 8) != 0) {
        lpi_http_reply_error(req, 404, "no such endpoint (use /chunks/KEY or /status)");
        return LPI_HTTP_DONE;
    }
    bool put = strcmp(method, "PUT") == 0, del = strcmp(method, "DELETE") == 0;
    if (!get && !head && !put && !del) {
        lpi_http_reply_error(req, 405, "method %.16s not allowed on /chunks/", method);
        lpi_http_add_header(req, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, PUT, DELETE");
        return LPI_HTTP_DONE;
    }
    rq *r = lp_calloc(1, sizeof *r);
    if (!r || lp_ctx_create(&r->ctx) != LP_OK) {
        lp_free(r);
        lpi_http_reply_error(req, 503, "out of memory");
        return LPI_HTTP_DONE;
    }
    lpi_http_set_user(req, r);
    r->key = path + 8;
    lp_status st = lpi_store_key_check(r->ctx, r->key);
    if (st != LP_OK) { reply_status(req, r, st); return LPI_HTTP_DONE; }
    if (get || head) { serve_get(srv, req, r); return LPI_HTTP_DONE; }
    if (del) {
        if ((st = lpi_store_del(r->ctx, srv->store, r->key)) != LP_OK) reply_status(req, r, st);
        else lpi_http_reply(req, 204, MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT));
        return LPI_HTTP_DONE;
    }
    /* PUT: judge the size from Content-Length before reading anything */
    uint64_t limit = LPI_CHUNK_HDR_SIZE + srv->max_chunk;
    int64_t clen = lpi_http_content_length(req);
    if (clen >= 0 && (uint64_t)clen > limit) {
        lpi_http_reply_error(req, 413, "chunk %s: body of %" PRId64 " bytes exceeds the store's "
                             "limit of %d + %" PRIu64, r->key, clen, LPI_CHUNK_HDR_SIZE,
                             srv->max_chunk);
        return LPI_HTTP_DONE;
    }
    if (clen >= 0 && clen < LPI_CHUNK_HDR_SIZE) {
        lpi_http_reply_error(req, 400, "chunk %s: body of %" PRId64 " bytes is shorter than the "
                             "%d-byte chunk header", r->key, clen, LPI_CHUNK_HDR_SIZE);
        return LPI_HTTP_DONE;
    }
    lpi_http_set_body_limit(req, limit);
    return LPI_HTTP_STREAM;
}

static void on_body(void *app, lpi_http_req *req, const char *body, size_t n) {
    rq *r = lpi_http_user(req);
    put_done(app, req, r, n);
}

static void on_end(void *app, lpi_http_req *req, bool completed) {
    rq *r = lpi_http_user(req);
    if (!r) return;
    lpi_fwriter_abort(r->w); /* an upload that did not commit leaves nothing */
    if (r->xs) XXH3_freeState(r->xs);
    lp_ctx_destroy(r->ctx);
    lp_free(r);
}

lp_status lpi_storesrv_start(lp_ctx *ctx, const lpi_storesrv_opts *opts, lpi_storesrv **out) {
    *out = NULL;
    lpi_storesrv *srv = lp_calloc(1, sizeof *srv);
    if (!srv) return lpi_nomem(ctx);
    lp_status st = lpi_store_open_dir(ctx, opts->dir, &srv->store);
    if (st != LP_OK) { lp_free(srv); return st; }
    srv->max_chunk = opts->max_chunk_bytes ? opts->max_chunk_bytes : LPI_STORE_DEFAULT_MAX_CHUNK;
    lpi_store_set_max_chunk_bytes(srv->store, srv->max_chunk);
    unsigned threads = opts->threads;
    if (!threads) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc > 2 ? (unsigned)(2 * nc) : 4;
        if (threads > 64) threads = 64;
    }
    lpi_http_opts ho = {
        .bind = opts->bind,
        .port = opts->port,
        .threads = threads,
        .max_body = LPI_CHUNK_HDR_SIZE + srv->max_chunk,
        .key = opts->key,
        .per_client = opts->per_client,
        .request_timeout_sec = opts->request_timeout_sec,
        .tls_cert = opts->tls_cert,
        .tls_key = opts->tls_key,
    };
    lpi_http_handlers h = {srv, on_request, put_data, on_body, on_end};
    if ((st = lpi_http_start(ctx, &ho, &h, &srv->http)) != LP_OK) {
        lpi_store_close(srv->store);
        lp_free(srv);
        return st;
    }
    *out = srv;
    return LP_OK;
}

unsigned lpi_storesrv_port(const lpi_storesrv *srv) { return lpi_http_port(srv->http); }
const char *lpi_storesrv_url(const lpi_storesrv *srv) { return lpi_http_url(srv->http); }

void lpi_storesrv_stop(lpi_storesrv *srv) {
    if (!srv) return;
    lpi_http_stop(srv->http, 5.0);
    lpi_store_close(srv->store);
    lp_free(srv);
}
