/* http:// — a client of Lampy's store server (`lampy store`, src/server/storesrv.c):
 *
 *     PUT    /chunks/KEY   body = the chunk (header + data); the server checks it before
 *                          making it visible
 *     GET    /chunks/KEY   [Range: bytes=a-b]
 *     HEAD   /chunks/KEY
 *     DELETE /chunks/KEY
 *
 * libcurl easy handles from io's process-wide pool (io/remote.h): a thread takes one for one
 * request, and a handle keeps its connection open between requests (keep-alive), so a busy
 * executor thread reuses its connection. A GET streams into the chunk's buffer: the header is decoded from the first 96
 * bytes (the size limit is checked there, before allocating) and the data lands directly in the
 * aligned buffer. Proxies from the environment are ignored: a chunk store is an internal
 * endpoint, and shipping chunks through an HTTP proxy is never what was meant. */
#include "store/internal.h"
#include "io/remote.h"
#include "store/auth.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERRBODY_MAX 1024

typedef struct http_store {
    lpi_store base;
    char *base_url;        /* without a trailing '/' */
    size_t path_off;       /* where the path starts in a request URL (what a signature covers) */
} http_store;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

enum xfer_mode { X_NONE, X_GET, X_HEAD, X_RANGE };

/* One request's state, shared by the callbacks. */
typedef struct xfer {
    lp_ctx *ctx;
    http_store *hs;
    CURL *h;
    const char *key;
    enum xfer_mode mode;
    long code;                  /* HTTP status, known once the body starts */
    long quiet_code;            /* a status that is an answer, not a failure: no message */
    char errbody[ERRBODY_MAX + 1];
    size_t errlen;
    lp_status st;               /* a failure found in a callback (message already on ctx) */
    /* upload */
    const uint8_t *up_hdr;
    const char *up_data;
    uint64_t up_len, up_pos;
    /* X_GET / X_HEAD: the chunk */
    uint8_t hdr[LPI_CHUNK_HDR_SIZE];
    size_t hdr_got;
    bool hdr_done;
    lpi_chunk_info *info;
    lp_buffer *buf;
    uint64_t got;               /* data bytes received */
    int64_t total;              /* X_HEAD: size of the whole chunk, from Content-Range */
    /* X_RANGE */
    char *dst;
    size_t want;
    uint64_t skip;              /* a server that ignored Range: bytes to skip first */
    bool done;                  /* enough bytes; the transfer was stopped on purpose */
} xfer;

static void keep_errbody(xfer *x, const char *p, size_t n) {
    size_t room = ERRBODY_MAX - x->errlen;
    if (n > room) n = room;
    memcpy(x->errbody + x->errlen, p, n);
    x->errlen += n;
    x->errbody[x->errlen] = 0;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg) {
    xfer *x = arg;
    size_t n = size * nmemb, used = 0;
    if (!x->code) curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->code);
    if (x->code != 200 && x->code != 206) { keep_errbody(x, p, n); return n; }
    if (x->mode == X_RANGE) {
        if (x->code == 200 && x->skip) { /* the server ignored Range: skip to our bytes */
            size_t k = n < x->skip ? n : (size_t)x->skip;
            x->skip -= k;
            used = k;
        }
        size_t k = n - used;
        if (k > x->want - x->got) k = x->want - (size_t)x->got;
        memcpy(x->dst + x->got, p + used, k);
        x->got += k;
        used += k;
        if (x->got == x->want && x->code == 200) { x->done = true; return 0; }
        if (used < n) {
            x->st = lpi_error(x->ctx, LP_ERR_FORMAT, "chunk %s: %s sent more than the %zu bytes "
                              "asked for", x->key, x->hs->base_url, x->want);
            return 0;
        }
        return n;
    }
    if (x->mode != X_GET && x->mode != X_HEAD) return n;
    if (!x->hdr_done) {
        size_t k = LPI_CHUNK_HDR_SIZE - x->hdr_got;
        if (k > n) k = n;
        memcpy(x->hdr + x->hdr_got, p, k);
        x->hdr_got += k;
        used = k;
        if (x->hdr_got < LPI_CHUNK_HDR_SIZE) return n;
        x->hdr_done = true;
        x->st = lpi_chunk_header_decode(x->ctx, x->key, x->hdr, x->hs->base.max_chunk, x->info);
        if (x->st != LP_OK) return 0;
        if (x->mode == X_HEAD) {
            /* 206 to bytes=0-95 has nothing more; a 200 is cut short here on purpose */
            if (x->code == 200) {
                curl_off_t cl = -1;
                curl_easy_getinfo(x->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
                x->total = cl;
                x->done = true;
                return 0;
            }
            return n;
        }
        /* the limit was checked by the decode: now it is safe to allocate */
        x->buf = lpi_buffer_new(x->info->dtype, x->info->ndim, x->info->shape);
        if (!x->buf) { x->st = lpi_nomem(x->ctx); return 0; }
    }
    size_t k = n - used;
    if (x->mode == X_HEAD) k = 0;
    if (k > x->info->nbytes - x->got) {
        x->st = lpi_error(x->ctx, LP_ERR_FORMAT, "chunk %s: %s sent more than the %d + %" PRIu64
                          " bytes its header says", x->key, x->hs->base_url, LPI_CHUNK_HDR_SIZE,
                          x->info->nbytes);
        return 0;
    }
    if (k) memcpy((char *)x->buf->data + x->got, p + used, k);
    x->got += k;
    return n;
}

/* Content-Range: bytes a-b/TOTAL, for head (the size check). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg) {
    xfer *x = arg;
    size_t n = size * nmemb;
    static const char name[] = "content-range:";
    if (n > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
        char line[128];
        size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
        memcpy(line, p, k);
        line[k] = 0;
        char *slash = strchr(line, '/');
        if (slash && slash[1] >= '0' && slash[1] <= '9') x->total = strtoll(slash + 1, NULL, 10);
    }
    return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *arg) {
    xfer *x = arg;
    size_t cap = size * nmemb, n = 0;
    while (n < cap && x->up_pos < x->up_len) {
        uint64_t pos = x->up_pos;
        const char *src;
        uint64_t avail;
        if (pos < LPI_CHUNK_HDR_SIZE) {
            src = (const char *)x->up_hdr + pos;
            avail = LPI_CHUNK_HDR_SIZE - pos;
        } else {
            src = x->up_data + (pos - LPI_CHUNK_HDR_SIZE);
            avail = x->up_len - pos;
        }
        size_t k = cap - n < avail ? cap - n : (size_t)avail;
        memcpy(p + n, src, k);
        n += k;
        x->up_pos += k;
    }
    return n;
}

/* The server's {"error": "..."} message, or the start of whatever body came. */
static const char *server_message(xfer *x, char *buf, size_t cap) {
    buf[0] = 0;
    json_t *j = json_loadb(x->errbody, x->errlen, 0, NULL);
    const char *m = j ? json_string_value(json_object_get(j, "error")) : NULL;
    snprintf(buf, cap, "%s", m ? m : x->errbody);
    json_decref(j);
    for (char *q = buf; *q; q++)
        if (*q == '\n' || *q == '\r') *q = ' ';
    return buf;
}

/* Map an HTTP failure to a status and message. */
static lp_status http_failure(xfer *x) {
    char m[ERRBODY_MAX + 1];
    const char *url = x->hs->base_url;
    if (x->code == x->quiet_code) return x->code == 404 ? LP_ERR_NOTFOUND : LP_ERR_VALUE;
    switch (x->code) {
    case 404:
        return lpi_error(x->ctx, LP_ERR_NOTFOUND, "chunk %s: not found", x->key);
    case 413:
        return lpi_error(x->ctx, LP_ERR_LIMIT, "chunk %s: %s: too large: %s", x->key, url,
                         server_message(x, m, sizeof m));
    case 416:
        return lpi_error(x->ctx, LP_ERR_VALUE, "chunk %s: %s: range not satisfiable: %s", x->key,
                         url, server_message(x, m, sizeof m));
    case 400:
        return lpi_error(x->ctx, LP_ERR_FORMAT, "chunk %s: %s: rejected: %s", x->key, url,
                         server_message(x, m, sizeof m));
    case 401: case 403:
        server_message(x, m, sizeof m);
        if (!m[0] && x->code == 401) /* a HEAD has no body to say why */
            snprintf(m, sizeof m, "%s", x->hs->base.key ? "the signature was refused (another key, or clocks more than a minute apart?)"
                                                          : "the store requires signed requests (--key-file, LAMPY_KEY_FILE)");
        return lpi_error(x->ctx, LP_ERR_DENIED, "chunk %s: %s: %s: %s", x->key, url,
                         x->code == 401 ? "not authenticated" : "forbidden", m);
    default:
        return lpi_error(x->ctx, LP_ERR_IO, "chunk %s: %s answered %ld: %s", x->key, url, x->code,
                         server_message(x, m, sizeof m));
    }
}

/* Set up and perform one request on key. */
static lp_status perform(xfer *x, const char *method, const char *range) {
    http_store *hs = x->hs;
    char url[1024];
    if ((size_t)snprintf(url, sizeof url, "%s/chunks/%s", hs->base_url, x->key) >= sizeof url)
        return lpi_error(x->ctx, LP_ERR_VALUE, "chunk %s: store URL too long", x->key);
    /* no progress for idle seconds fails the request; the thread's deadline bounds the whole */
    const char *env = getenv("LAMPY_STORE_TIMEOUT");
    double idle = env && atof(env) > 0 ? atof(env) : 10.0, left = lpi_deadline() ? lpi_deadline() - lpi_now() : 0;
    if (lpi_deadline() && left <= 0)
        return lpi_error(x->ctx, LP_ERR_IO, "chunk %s: %s %s: the operation's deadline passed", x->key, method, hs->base_url);
    CURL *h = lpi_curl_take();
    if (!h) return lpi_nomem(x->ctx);
    x->h = h;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL, *h2;
    char rangebuf[96];
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);          /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(1000 * (left && left < 5 ? left : 5)) + 1);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* a stalled transfer, not a slow one */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)(idle < 1 ? 1 : idle));
    if (left > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(left * 1000) + 1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->up_len);
        if ((h2 = curl_slist_append(hdrs, "Content-Type: application/octet-stream"))) hdrs = h2;
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    if (range) {
        snprintf(rangebuf, sizeof rangebuf, "Range: bytes=%s", range);
        if ((h2 = curl_slist_append(hdrs, rangebuf))) hdrs = h2;
    }
    if (hs->base.ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, hs->base.ca_file);
    if (hs->base.key) {
        /* signed: method, path, and the body's SHA-256 (the chunk header, then its data) */
        char body_hex[65];
        lpi_sha256 sh;
        if (!lpi_sha256_init(&sh)) { curl_slist_free_all(hdrs); lpi_curl_give(h); return lpi_nomem(x->ctx); }
        if (x->up_len) {
            lpi_sha256_update(&sh, x->up_hdr, LPI_CHUNK_HDR_SIZE);
            lpi_sha256_update(&sh, x->up_data, x->up_len - LPI_CHUNK_HDR_SIZE);
        }
        lpi_sha256_final_hex(&sh, body_hex);
        lpi_auth_hdrs ah;
        lpi_auth_sign(hs->base.key, method, url + hs->path_off, "", body_hex, &ah);
        for (int i = 0; i < 5; i++)
            if ((h2 = curl_slist_append(hdrs, ah.line[i]))) hdrs = h2;
    }
    if (hdrs) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = curl_easy_perform(h);
    if (!x->code) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->code);
    curl_slist_free_all(hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    lpi_curl_give(h);
    x->h = NULL;

    if (x->st != LP_OK) return x->st;
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x->done))
        return lpi_error(x->ctx, LP_ERR_IO, "chunk %s: %s %s: %s", x->key, method, hs->base_url,
                         errbuf[0] ? errbuf : curl_easy_strerror(rc));
    if (x->code < 200 || x->code >= 300) return http_failure(x);
    return LP_OK;
}

static void xfer_init(xfer *x, lp_ctx *ctx, lpi_store *s, const char *key, enum xfer_mode mode) {
    memset(x, 0, sizeof *x);
    x->ctx = ctx;
    x->hs = (http_store *)s;
    x->key = key;
    x->mode = mode;
    x->total = -1;
}

static lp_status http_put(lp_ctx *ctx, lpi_store *s, const char *key, const lpi_chunk_info *info,
                          const uint8_t *hdr, const void *data) {
    xfer x;
    xfer_init(&x, ctx, s, key, X_NONE);
    x.up_hdr = hdr;
    x.up_data = data;
    x.up_len = LPI_CHUNK_HDR_SIZE + info->nbytes;
    return perform(&x, "PUT", NULL);
}

static lp_status http_get(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *info,
                          lp_buffer **out) {
    xfer x;
    xfer_init(&x, ctx, s, key, X_GET);
    x.info = info;
    lp_status st = perform(&x, "GET", NULL);
    if (st == LP_OK && (!x.hdr_done || x.got != info->nbytes))
        st = lpi_error(ctx, LP_ERR_FORMAT,
                       "chunk %s: %s sent %" PRIu64 " bytes, its header says %d + %" PRIu64, key,
                       x.hs->base_url, (uint64_t)x.hdr_got + x.got, LPI_CHUNK_HDR_SIZE,
                       x.hdr_done ? info->nbytes : 0);
    if (st != LP_OK) { lp_buffer_release(x.buf); return st; }
    *out = x.buf;
    return LP_OK;
}

static lp_status http_head(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *out) {
    xfer x;
    xfer_init(&x, ctx, s, key, X_HEAD);
    x.info = out;
    char range[32];
    snprintf(range, sizeof range, "0-%d", LPI_CHUNK_HDR_SIZE - 1);
    lp_status st = perform(&x, "GET", range);
    if (st != LP_OK) return st;
    if (!x.hdr_done)
        return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: %s sent %zu bytes, shorter than the "
                         "chunk header", key, x.hs->base_url, x.hdr_got);
    if (x.total >= 0 && (uint64_t)x.total != LPI_CHUNK_HDR_SIZE + out->nbytes)
        return lpi_error(ctx, LP_ERR_FORMAT,
                         "chunk %s: stored size is %" PRId64 " bytes but its header says %d + %"
                         PRIu64, key, x.total, LPI_CHUNK_HDR_SIZE, out->nbytes);
    return LP_OK;
}

static lp_status http_get_range(lp_ctx *ctx, lpi_store *s, const char *key, uint64_t off, size_t n,
                                void *dst) {
    uint64_t end;
    if (__builtin_add_overflow(off, (uint64_t)n, &end) || end > s->max_chunk) {
        lpi_chunk_info info; /* no chunk of this store is that long: say so exactly */
        lp_status st = http_head(ctx, s, key, &info);
        return st != LP_OK ? st : lpi_chunk_range_check(ctx, key, off, n, info.nbytes);
    }
    if (n == 0) {
        lpi_chunk_info info;
        return http_head(ctx, s, key, &info);
    }
    xfer x;
    xfer_init(&x, ctx, s, key, X_RANGE);
    x.dst = dst;
    x.want = n;
    x.skip = LPI_CHUNK_HDR_SIZE + off;
    char range[64];
    snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, LPI_CHUNK_HDR_SIZE + off,
             LPI_CHUNK_HDR_SIZE + end - 1);
    x.quiet_code = 416;
    lp_status st = perform(&x, "GET", range);
    if (st == LP_ERR_VALUE && x.code == 416) {
        /* past the end: restate it in data offsets, with the chunk's real size */
        lpi_chunk_info info;
        if ((st = http_head(ctx, s, key, &info)) != LP_OK) return st;
        if ((st = lpi_chunk_range_check(ctx, key, off, n, info.nbytes)) != LP_OK) return st;
        return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: %s refused range %s of a chunk of %d + %"
                         PRIu64 " bytes", key, x.hs->base_url, range, LPI_CHUNK_HDR_SIZE,
                         info.nbytes);
    }
    if (st == LP_OK && x.got != n && x.total >= LPI_CHUNK_HDR_SIZE &&
        lpi_chunk_range_check(ctx, key, off, n, (uint64_t)x.total - LPI_CHUNK_HDR_SIZE) != LP_OK)
        return LP_ERR_VALUE; /* the server clamped a range that runs past the end */
    if (st == LP_OK && x.got != n)
        st = lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: %s sent %" PRIu64 " of the %zu bytes asked "
                       "for", key, x.hs->base_url, x.got, n);
    return st;
}

static lp_status http_del(lp_ctx *ctx, lpi_store *s, const char *key) {
    xfer x;
    xfer_init(&x, ctx, s, key, X_NONE);
    return perform(&x, "DELETE", NULL);
}

static lp_status http_exists(lp_ctx *ctx, lpi_store *s, const char *key, bool *out) {
    xfer x;
    xfer_init(&x, ctx, s, key, X_NONE);
    x.quiet_code = 404;  /* a 404 is the answer "no", not a failure */
    lp_status st = perform(&x, "HEAD", NULL);
    *out = st == LP_OK;
    return st == LP_ERR_NOTFOUND && x.code == 404 ? LP_OK : st;
}

static void http_close(lpi_store *s) {
    http_store *hs = (http_store *)s;
    lp_free(hs->base_url);
    lp_free(hs);
}

static const lpi_store_vtable http_vt = {
    .scheme = "http",
    .put = http_put,
    .get = http_get,
    .get_range = http_get_range,
    .head = http_head,
    .del = http_del,
    .exists = http_exists,
    .close = http_close,
};

lp_status lpi_store_http_open(lp_ctx *ctx, const char *url, lpi_store **out) {
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return lpi_error(ctx, LP_ERR_IO, "libcurl failed to initialise: %s",
                         curl_easy_strerror(curl_init_rc));
    const char *host = strstr(url, "://") + 3;
    /* the store server has no authentication, and the URL lands in every error message */
    if (memchr(host, '@', strcspn(host, "/")))
        return lpi_error(ctx, LP_ERR_VALUE, "http store URL: credentials are not supported");
    if (!*host || *host == '/')
        return lpi_error(ctx, LP_ERR_VALUE, "store URL %.64s: no host", url);
    if (strpbrk(url, "?#"))
        return lpi_error(ctx, LP_ERR_VALUE,
                         "store URL %.64s: query strings and fragments are not supported", url);
    if (strlen(url) > 512) return lpi_error(ctx, LP_ERR_VALUE, "store URL too long");
    http_store *hs = lp_calloc(1, sizeof *hs);
    if (!hs) return lpi_nomem(ctx);
    hs->base.vt = &http_vt;
    if (!(hs->base_url = lp_strdup(url))) { http_close(&hs->base); return lpi_nomem(ctx); }
    size_t n = strlen(hs->base_url);
    while (n && hs->base_url[n - 1] == '/') hs->base_url[--n] = 0;
    hs->path_off = (size_t)(host - url) + strcspn(host, "/");
    *out = &hs->base;
    return LP_OK;
}
