/* The http(s) backend of io/source.h, and the request machinery the s3 backend shares.
 *
 * A source is opened with HEAD (Content-Length and the version: ETag, else Last-Modified;
 * servers that refuse HEAD get a one-byte ranged GET instead) and read with ranged GETs. Each
 * answer is checked against the request: a 206 must carry exactly the asked range and the
 * object's total size; a 200 means the server ignored Range, so its body must be the whole
 * object, whose first `off` bytes are skipped and the transfer stopped once the range is in;
 * an ETag or size other than the one seen at open means the object changed underneath, which
 * is an error and never data. Failures that a second try can fix — 5xx, 429, connections
 * refused or dropped, bodies cut short — are retried with exponential backoff.
 *
 * libcurl easy handles live in a small process-wide pool (also the chunk store client's): a
 * request takes one and gives it back, so its connection (keep-alive) and DNS cache serve the
 * next request to that host.
 * Redirects are not followed (a data URL means that object; an allow-list of URLs must not be
 * escaped by a 302). */
#include "io/remote.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POOL_MAX 32

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *pool[POOL_MAX];
static int npool;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

CURL *lpi_curl_take(void) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return NULL;
    CURL *h = NULL;
    pthread_mutex_lock(&pool_lock);
    if (npool) h = pool[--npool];
    pthread_mutex_unlock(&pool_lock);
    if (h) curl_easy_reset(h); /* keeps the live connections and the DNS cache */
    else h = curl_easy_init();
    return h;
}

/* (a transfer stopped on purpose leaves its connection marked for closing: libcurl does not
 * reuse it, the handle itself is fine) */
void lpi_curl_give(CURL *h) {
    pthread_mutex_lock(&pool_lock);
    if (npool < POOL_MAX) { pool[npool++] = h; h = NULL; }
    pthread_mutex_unlock(&pool_lock);
    if (h) curl_easy_cleanup(h);
}

/* ---- callbacks ---- */

typedef struct xfer {
    lp_ctx *ctx;
    lpi_hreq *r;
    CURL *h;
    size_t up_pos;
} xfer;

static void keep_err(lpi_hreq *r, const char *p, size_t n) {
    size_t room = sizeof r->errbuf - 1 - r->errlen;
    if (n > room) n = room;
    memcpy(r->errbuf + r->errlen, p, n);
    r->errlen += n;
    r->errbuf[r->errlen] = 0;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg) {
    xfer *x = arg;
    lpi_hreq *r = x->r;
    size_t n = size * nmemb;
    if (!r->code) curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &r->code);
    r->seen += (int64_t)n;
    if (r->moved) atomic_fetch_add(r->moved, (long long)n);
    if (r->code < 200 || r->code >= 300) { keep_err(r, p, n); return n; }
    if (r->want_body_on_error) keep_err(r, p, n);
    if (r->grow) {
        if (n > r->max - r->glen) {
            r->st = lpi_error(x->ctx, LP_ERR_LIMIT, "%s: more than %zu bytes", r->name, r->max);
            return 0;
        }
        if (r->glen + n > r->gcap) {
            size_t c = r->gcap ? r->gcap : 65536;
            while (c < r->glen + n) c *= 2;
            char *g = lp_realloc(r->gbuf, c);
            if (!g) { r->st = lpi_nomem(x->ctx); return 0; }
            r->gbuf = g;
            r->gcap = c;
        }
        memcpy(r->gbuf + r->glen, p, n);
        r->glen += n;
        return n;
    }
    if (!r->dst) return n;
    size_t used = 0;
    if (r->code == 200 && r->range) {
        /* the server ignored Range: this is the whole object; skip to our bytes */
        int64_t before = r->seen - (int64_t)n; /* body offset of p[0] */
        if (before < r->off) {
            int64_t k = r->off - before;
            used = (size_t)(k < (int64_t)n ? k : (int64_t)n);
        }
    }
    size_t k = n - used;
    if (k > r->len - r->got) k = r->len - r->got;
    memcpy(r->dst + r->got, p + used, k);
    r->got += k;
    used += k;
    if (r->got == r->len && r->code == 200 && r->range) { r->done = true; return 0; }
    if (used < n) {
        r->st = lpi_error(x->ctx, LP_ERR_IO, "%s: the server sent more than the %zu bytes asked for", r->name, r->len);
        return 0;
    }
    return n;
}

static void header_value(const char *p, size_t n, size_t skip, char *out, size_t cap) {
    size_t i = skip;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    size_t e = n;
    while (e > i && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' ')) e--;
    size_t k = e - i < cap - 1 ? e - i : cap - 1;
    memcpy(out, p + i, k);
    out[k] = 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg) {
    xfer *x = arg;
    lpi_hreq *r = x->r;
    size_t n = size * nmemb;
    if (n > 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new answer (after a 100 Continue): forget the previous one's headers */
        r->etag[0] = r->lastmod[0] = 0;
        r->cr_a = -1;
        return n;
    }
    if (n > 5 && !strncasecmp(p, "etag:", 5)) header_value(p, n, 5, r->etag, sizeof r->etag);
    else if (n > 14 && !strncasecmp(p, "last-modified:", 14)) header_value(p, n, 14, r->lastmod, sizeof r->lastmod);
    else if (n > 14 && !strncasecmp(p, "content-range:", 14)) {
        char v[128];
        header_value(p, n, 14, v, sizeof v);
        long long a, b, t;
        char star;
        if (sscanf(v, "bytes %lld-%lld/%lld", &a, &b, &t) == 3) { r->cr_a = a; r->cr_b = b; r->cr_total = t; }
        else if (sscanf(v, "bytes %lld-%lld/%c", &a, &b, &star) == 3 && star == '*') { r->cr_a = a; r->cr_b = b; r->cr_total = -1; }
    }
    return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *arg) {
    xfer *x = arg;
    size_t k = size * nmemb, left = x->r->body_len - x->up_pos;
    if (k > left) k = left;
    memcpy(p, x->r->body + x->up_pos, k);
    x->up_pos += k;
    return k;
}

void lpi_hreq_tag(const lpi_hreq *r, char *tag, size_t cap) {
    if (r->etag[0]) snprintf(tag, cap, "etag %.80s", r->etag);
    else if (r->lastmod[0]) snprintf(tag, cap, "modified %.60s", r->lastmod);
    else tag[0] = 0;
}

/* The server's message: S3's <Message>, a JSON "error", or the start of the body. */
static const char *server_message(const lpi_hreq *r, char *buf, size_t cap) {
    const char *m = strstr(r->errbuf, "<Message>");
    if (m) {
        m += 9;
        const char *e = strstr(m, "</Message>");
        size_t k = e ? (size_t)(e - m) : strlen(m);
        snprintf(buf, cap, "%.*s", (int)(k < cap - 1 ? k : cap - 1), m);
    } else {
        snprintf(buf, cap, "%.*s", (int)(cap - 1), r->errbuf);
    }
    for (char *q = buf; *q; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f) *q = ' ';
    return buf;
}

enum { TRY_OK, TRY_AGAIN, TRY_FAIL };

/* One attempt. Returns TRY_OK, TRY_AGAIN (a retryable failure; *why says what) or TRY_FAIL
 * (the status and message are on ctx). */
static int attempt(lp_ctx *ctx, lpi_hreq *r, char *why, size_t whycap) {
    CURL *h = lpi_curl_take();
    if (!h) { r->st = lpi_error(ctx, LP_ERR_IO, "%s: cannot initialise libcurl", r->name); return TRY_FAIL; }
    xfer x = {ctx, r, h, 0};
    r->code = 0;
    r->clen = -1;
    r->cr_a = -1;
    r->cr_total = -1;
    r->etag[0] = r->lastmod[0] = 0;
    r->got = 0;
    r->seen = 0;
    r->glen = 0;
    r->errlen = 0;
    r->errbuf[0] = 0;
    r->done = false;
    r->st = LP_OK;
    char errbuf[CURL_ERROR_SIZE] = "", rangebuf[96], tokbuf[2100], ctbuf[160];
    struct curl_slist *hdrs = NULL, *t;
#define ADDH(s) do { if ((t = curl_slist_append(hdrs, (s)))) hdrs = t; } while (0)
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer, not a slow one */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    /* compressed transfer would make ranges meaningless */
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
    if (!strcmp(r->method, "HEAD")) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (!strcmp(r->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
        ADDH("Expect:"); /* no 100-continue round trip */
    } else if (!strcmp(r->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        ADDH("Expect:");
    } else if (strcmp(r->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (r->content_type) {
        snprintf(ctbuf, sizeof ctbuf, "Content-Type: %s", r->content_type);
        ADDH(ctbuf);
    } else if (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT")) {
        ADDH("Content-Type: application/octet-stream");
    }
    if (r->range) {
        snprintf(rangebuf, sizeof rangebuf, "Range: bytes=%lld-%lld", (long long)r->off,
                 (long long)(r->off + (int64_t)r->len - 1));
        ADDH(rangebuf);
    }
    if (r->auth && r->auth->sign) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, r->auth->sigv4);
        curl_easy_setopt(h, CURLOPT_USERPWD, r->auth->userpwd);
        /* the body is streamed, so it is not hashed into the signature (S3 allows this) */
        ADDH("x-amz-content-sha256: UNSIGNED-PAYLOAD");
        if (r->auth->token[0]) {
            snprintf(tokbuf, sizeof tokbuf, "x-amz-security-token: %s", r->auth->token);
            ADDH(tokbuf);
        }
    }
#undef ADDH
    if (hdrs) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    if (!r->code) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
    curl_off_t cl = -1;
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    r->clen = cl;
    curl_slist_free_all(hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    lpi_curl_give(h);

    if (r->st) return TRY_FAIL;
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && r->done)) {
        snprintf(why, whycap, "%s%s", rc == CURLE_PARTIAL_FILE ? "truncated answer: " : "",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
        switch (rc) {
        case CURLE_COULDNT_CONNECT: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_PARTIAL_FILE:
        case CURLE_GOT_NOTHING: case CURLE_OPERATION_TIMEDOUT: case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_SSL_CONNECT_ERROR:
            return TRY_AGAIN;
        default:
            r->st = lpi_error(ctx, LP_ERR_IO, "%s: %s %s", r->name, r->method, why);
            return TRY_FAIL;
        }
    }
    char m[600];
    if (r->code == 429 || r->code >= 500) {
        snprintf(why, whycap, "the server answered %ld: %s", r->code, server_message(r, m, sizeof m));
        return TRY_AGAIN;
    }
    if (r->code == 404 || r->code == 410) {
        r->st = lpi_error(ctx, LP_ERR_NOTFOUND, "%s: not found (HTTP %ld)", r->name, r->code);
        return TRY_FAIL;
    }
    if (r->code == 416 && r->range) {
        r->st = lpi_error(ctx, LP_ERR_IO, "%s: bytes %lld-%lld are not in the object (HTTP 416): it changed since it was opened?",
                          r->name, (long long)r->off, (long long)(r->off + (int64_t)r->len - 1));
        return TRY_FAIL;
    }
    if (r->code < 200 || r->code >= 300) {
        const char *hint = r->code == 401 || r->code == 403 ? " (access denied: check the token or credentials)" :
                           r->code >= 300 && r->code < 400 ? " (redirects are not followed)" : "";
        r->st = lpi_error(ctx, LP_ERR_IO, "%s: %s answered %ld%s: %s", r->name, r->method, r->code, hint,
                          server_message(r, m, sizeof m));
        return TRY_FAIL;
    }
    /* the version the answer shows must be the one the caller opened */
    if (r->expect) {
        char tag[sizeof r->etag + 16];
        lpi_hreq_tag(r, tag, sizeof tag);
        /* a 206 says the total in Content-Range; a 200 to a GET is the whole object */
        int64_t total = r->code == 206 ? r->cr_total : r->code == 200 && !strcmp(r->method, "GET") ? r->clen : -1;
        const char *sp = strchr(tag, ' '), *ep = strchr(r->expect->tag, ' ');
        bool same_kind = sp && ep && sp - tag == ep - r->expect->tag && !strncmp(tag, r->expect->tag, (size_t)(sp - tag));
        if ((same_kind && strcmp(tag, r->expect->tag)) || (total >= 0 && total != r->expect->size)) {
            r->st = lpi_error(ctx, LP_ERR_IO, "%s: changed since it was opened (now %lld bytes%s%s; was %lld bytes%s%s)",
                              r->name, (long long)total, tag[0] ? ", " : "", tag, (long long)r->expect->size,
                              r->expect->tag[0] ? ", " : "", r->expect->tag);
            return TRY_FAIL;
        }
    }
    if (r->range && r->dst) {
        if (r->code == 206 && r->cr_a >= 0 && (r->cr_a != r->off || r->cr_b < r->cr_a)) {
            r->st = lpi_error(ctx, LP_ERR_IO, "%s: asked for bytes %lld-%lld, the server sent %lld-%lld", r->name,
                              (long long)r->off, (long long)(r->off + (int64_t)r->len - 1), (long long)r->cr_a,
                              (long long)r->cr_b);
            return TRY_FAIL;
        }
        if (r->got < r->len) {
            snprintf(why, whycap, "truncated answer: %zu of %zu bytes", r->got, r->len);
            return TRY_AGAIN;
        }
    }
    if (r->grow && r->clen >= 0 && (int64_t)r->glen != r->clen) {
        snprintf(why, whycap, "truncated answer: %zu of %lld bytes", r->glen, (long long)r->clen);
        return TRY_AGAIN;
    }
    return TRY_OK;
}

static int tries(void) {
    const char *e = getenv("LAMPY_IO_TRIES");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v >= 1 && v <= 100 ? (int)v : 5;
}

lp_status lpi_hreq_run(lp_ctx *ctx, lpi_hreq *r) {
    int n = tries();
    char why[CURL_ERROR_SIZE + 700] = "";
    double delay = 0.05;
    for (int k = 0; k < n; k++) {
        if (k) {
            struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
            nanosleep(&ts, NULL);
            delay = delay * 2 < 2.0 ? delay * 2 : 2.0;
        }
        int a = attempt(ctx, r, why, sizeof why);
        if (a == TRY_OK) return LP_OK;
        if (a == TRY_FAIL) return r->st ? r->st : lpi_error(ctx, LP_ERR_IO, "%s: request failed", r->name);
    }
    return lpi_error(ctx, LP_ERR_IO, "%s: %s failed %d times; last: %s", r->name, r->method, n, why);
}

/* ---- sources ---- */

typedef struct hsrc {
    lpi_src base;
    char *url;                 /* what is requested (s3: the endpoint URL) */
    lpi_s3_auth auth;
    bool signed_;
} hsrc;

static lp_status h_read(lp_ctx *ctx, lpi_src *s, int64_t off, size_t n, void *dst) {
    hsrc *h = (hsrc *)s;
    lpi_hreq r;
    memset(&r, 0, sizeof r);
    r.method = "GET";
    r.url = h->url;
    r.name = s->name;
    r.auth = h->signed_ ? &h->auth : NULL;
    r.range = true;
    r.off = off;
    r.len = n;
    r.dst = dst;
    r.expect = &s->id;
    r.moved = &s->moved;
    return lpi_hreq_run(ctx, &r);
}

static void h_close(lpi_src *s) {
    hsrc *h = (hsrc *)s;
    lp_free(h->url);
    lp_free(h);
}

static const lpi_src_ops http_src_ops = {h_read, h_close};

lp_status lpi_remote_src_open(lp_ctx *ctx, const char *url, const char *name, const lpi_s3_auth *auth, lpi_src **out) {
    *out = NULL;
    hsrc *h = lp_calloc(1, sizeof *h);
    if (!h || !(h->url = lp_strdup(url)) || !(h->base.name = lp_strdup(name))) {
        if (h) { lp_free(h->url); lp_free(h); }
        return lpi_nomem(ctx);
    }
    h->base.ops = &http_src_ops;
    h->base.kind = auth ? LPI_LOC_S3 : LPI_LOC_HTTP;
    atomic_init(&h->base.moved, 0);
    if (auth) { h->auth = *auth; h->signed_ = true; }
    lpi_hreq r;
    memset(&r, 0, sizeof r);
    r.method = "HEAD";
    r.url = url;
    r.name = name;
    r.auth = auth;
    lp_status st = lpi_hreq_run(ctx, &r);
    if (st == LP_ERR_IO && (r.code == 403 || r.code == 405 || r.code == 501) && !auth) {
        /* some servers refuse HEAD: one byte of a ranged GET says the size and version too */
        char one;
        memset(&r, 0, sizeof r);
        r.method = "GET";
        r.url = url;
        r.name = name;
        r.range = true;
        r.len = 1;
        r.dst = &one;
        if ((st = lpi_hreq_run(ctx, &r)) == LP_OK) r.clen = r.code == 206 ? r.cr_total : r.clen;
    }
    if (!st && r.clen < 0) st = lpi_error(ctx, LP_ERR_IO, "%s: the server does not say the size of the object", name);
    if (st) { lpi_src_close(&h->base); return st; }
    h->base.id.size = r.clen;
    lpi_hreq_tag(&r, h->base.id.tag, sizeof h->base.id.tag);
    *out = &h->base;
    return LP_OK;
}

lp_status lpi_http_src_open(lp_ctx *ctx, const char *url, lpi_src **out) {
    char name[4200];
    return lpi_remote_src_open(ctx, url, lpi_loc_redact(url, name, sizeof name), NULL, out);
}

lp_status lpi_remote_get(lp_ctx *ctx, const char *url, size_t max, void **data, size_t *n, int64_t *moved) {
    lpi_hreq r;
    memset(&r, 0, sizeof r);
    lpi_s3_auth auth;
    char *http = NULL;
    lp_status st = LP_OK;
    if (lpi_loc_kind_of(url) == LPI_LOC_S3 && (st = lpi_s3_resolve(ctx, url, &http, &auth))) return st;
    atomic_llong mv;
    atomic_init(&mv, 0);
    char name[4200];
    r.method = "GET";
    r.url = http ? http : url;
    r.name = lpi_loc_redact(url, name, sizeof name);
    r.auth = http ? &auth : NULL;
    r.grow = true;
    r.max = max;
    r.moved = &mv;
    st = lpi_hreq_run(ctx, &r);
    lp_free(http);
    if (moved) *moved += atomic_load(&mv);
    if (st) { lp_free(r.gbuf); return st; }
    *data = r.gbuf ? r.gbuf : lp_malloc(1);
    *n = r.glen;
    if (!*data) return lpi_nomem(ctx);
    return LP_OK;
}

/* ---- sinks: one PUT of the whole body on commit ---- */

typedef struct hsink {
    lpi_sink base;
    char *buf;
    size_t len, cap;
} hsink;

static lp_status hk_write(lp_ctx *ctx, lpi_sink *k, const void *data, size_t n) {
    hsink *h = (hsink *)k;
    if (h->len + n > h->cap) {
        size_t c = h->cap ? h->cap : 65536;
        while (c < h->len + n) c *= 2;
        char *b = lp_realloc(h->buf, c);
        if (!b) return lpi_nomem(ctx);
        h->buf = b;
        h->cap = c;
    }
    memcpy(h->buf + h->len, data, n);
    h->len += n;
    return LP_OK;
}

static lp_status hk_commit(lp_ctx *ctx, lpi_sink *k) {
    hsink *h = (hsink *)k;
    lpi_hreq r;
    memset(&r, 0, sizeof r);
    r.method = "PUT";
    r.url = k->name;
    r.name = k->name;
    r.body = h->buf ? h->buf : "";
    r.body_len = h->len;
    lp_status st = lpi_hreq_run(ctx, &r);
    lp_free(h->buf);
    return st;
}

static void hk_abort(lpi_sink *k) { lp_free(((hsink *)k)->buf); }

static const lpi_sink_ops http_sink_ops = {hk_write, hk_commit, hk_abort};

lp_status lpi_http_sink_open(lp_ctx *ctx, const char *url, lpi_sink **out) {
    hsink *h = lp_calloc(1, sizeof *h);
    if (!h || !(h->base.name = lp_strdup(url))) { lp_free(h); return lpi_nomem(ctx); }
    h->base.ops = &http_sink_ops;
    *out = &h->base;
    return LP_OK;
}
