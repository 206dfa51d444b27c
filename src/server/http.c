/* libmicrohttpd glue shared by Lampy's servers; see http.h for the contract. */
#include "server/http.h"
#include "store/auth.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
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

/* A TCP connection, for the request deadline (see http.h): registered from MHD's connection
 * notifications, checked by the watchdog thread. */
typedef struct conn {
    struct conn *prev, *next;
    int fd;
    _Atomic double start;      /* the current receive phase began */
    atomic_ullong received;    /* body bytes of the current request */
    atomic_bool busy;          /* the request is complete: handler or reply running */
    bool killed;
    unsigned slot;             /* its client's slot in ip_count */
} conn;

/* Connections per client address, counted in a fixed table of slots (an address hashes to one;
 * two sharing a slot share its budget): bounded memory whatever the number of clients. */
#define IP_SLOTS 4096

struct lpi_http_server {
    struct MHD_Daemon *d;
    pthread_mutex_t cmu;       /* the connection list and ip_count */
    conn *conns;
    unsigned ip_count[IP_SLOTS];
    pthread_t watchdog;
    bool watching;
    atomic_int stop_watch;
    lpi_http_handlers h;
    lpi_http_opts o;
    int lfd;               /* our listening socket, handed to MHD */
    unsigned port;
    char url[96];
    atomic_int active;     /* requests between on_request and on_end */
    lpi_key *key;
    lpi_nonce_cache *nonces;
    char *tls_cert, *tls_key; /* PEM contents */
};

struct lpi_http_req {
    lpi_http_server *srv;
    struct MHD_Connection *conn;
    const char *method, *path;
    int64_t clen;
    lpi_http_action action;
    uint64_t limit, received, discarded;
    char *body;
    size_t cap;
    unsigned status;
    struct MHD_Response *resp;
    conn *c;               /* its connection (NULL if MHD gave none) */
    bool seen;             /* on_request ran: on_end must run */
    bool failed;           /* an error reply is set; the rest of the body is dropped */
    bool body_done;
    bool queued;
    void *user;
    /* authentication: the signed body hash, checked when the body is complete */
    const char *scope;
    char body_sha[65];
    lpi_sha256 sha;
};

/* ---- replies ------------------------------------------------------------------------------ */

void lpi_http_reply(lpi_http_req *req, unsigned status, struct MHD_Response *resp) {
    if (req->resp) MHD_destroy_response(req->resp);
    req->resp = resp;
    req->status = status;
}

static struct MHD_Response *text_response(const char *ctype, const char *text, size_t n) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (r && ctype) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return r;
}

void lpi_http_reply_text(lpi_http_req *req, unsigned status, const char *content_type,
                         const char *text) {
    lpi_http_reply(req, status, text_response(content_type, text, strlen(text)));
}

void lpi_http_reply_json(lpi_http_req *req, unsigned status, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        lpi_http_reply(req, 503, text_response("application/json",
                                               "{\"error\": \"out of memory\"}", 26));
        return;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!r) { free(s); return; }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    lpi_http_reply(req, status, r);
}

void lpi_http_reply_error(lpi_http_req *req, unsigned status, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* jansson wants UTF-8 and clients want one line: keep printable ASCII only */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    lpi_http_reply_json(req, status, json_pack("{s:s}", "error", msg));
}

void lpi_http_add_header(lpi_http_req *req, const char *name, const char *value) {
    if (req->resp) MHD_add_response_header(req->resp, name, value);
}

unsigned lpi_http_status_of(lp_status st) {
    switch (st) {
    case LP_OK: return 200;
    case LP_ERR_NOTFOUND: return 404;
    case LP_ERR_LIMIT: return 413;
    case LP_ERR_VALUE: case LP_ERR_TYPE: case LP_ERR_SHAPE: case LP_ERR_FORMAT: return 400;
    case LP_ERR_NOMEM: return 503;
    default: return 500;
    }
}

/* ---- requests ----------------------------------------------------------------------------- */

const char *lpi_http_method(const lpi_http_req *req) { return req->method; }
const char *lpi_http_path(const lpi_http_req *req) { return req->path; }
const char *lpi_http_scope(const lpi_http_req *req) { return req->srv->key ? req->scope : NULL; }
int64_t lpi_http_content_length(const lpi_http_req *req) { return req->clen; }
void lpi_http_set_body_limit(lpi_http_req *req, uint64_t limit) { req->limit = limit; }
void lpi_http_set_user(lpi_http_req *req, void *user) { req->user = user; }
void *lpi_http_user(const lpi_http_req *req) { return req->user; }
struct MHD_Connection *lpi_http_connection(const lpi_http_req *req) { return req->conn; }

bool lpi_http_client_gone(const lpi_http_req *req) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    struct pollfd p = {ci->connect_fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}
const char *lpi_http_header(const lpi_http_req *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result queue(lpi_http_req *req) {
    if (!req->resp) {
        lpi_http_reply_error(req, 500, "internal error: the handler set no reply");
        if (!req->resp) return MHD_NO;
    }
    /* after an error mid-body the stream position is untrustworthy: do not keep it alive */
    if (req->failed) MHD_add_response_header(req->resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->resp);
    MHD_destroy_response(req->resp);
    req->resp = NULL;
    req->queued = true;
    return r;
}

/* Framing that two parties could read differently (request smuggling): Content-Length fields
 * that disagree (RFC 9112 6.3: 400, then close), or Content-Length beside Transfer-Encoding.
 * libmicrohttpd itself uses the first Content-Length and ignores the rest. */
typedef struct clen_seen { const char *first; bool differ; int n; } clen_seen;

static enum MHD_Result count_clen(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    clen_seen *c = cls;
    if (key && !strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (c->n++ && strcmp(c->first, value ? value : "")) c->differ = true;
        if (c->n == 1) c->first = value ? value : "";
    }
    return MHD_YES;
}

static bool ambiguous_framing(lpi_http_req *req) {
    clen_seen c = {NULL, false, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_clen, &c);
    return c.differ || (c.n && lpi_http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING));
}

/* Content-Length as sent: digits only (MHD checks it too; this is for our own use). */
static int64_t parse_clen(const char *s) {
    if (!s) return -1;
    uint64_t v = 0;
    if (!*s) return -2;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -2;
        if (v > (uint64_t)INT64_MAX / 10) return -2;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v > (uint64_t)INT64_MAX ? -2 : (int64_t)v;
}

/* A signed request (store/auth.h), judged from its headers: false with a 401 (503 when the
 * replay cache is full) set as the reply. GET/HEAD /status stay open to health checks. */
static bool authenticate(lpi_http_server *srv, lpi_http_req *req) {
    if (!strcmp(req->path, "/status") && (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))) {
        req->scope = "";
        lpi_sha256_init(&req->sha);
        lpi_sha256_hex("", 0, req->body_sha);
        return true;
    }
    char why[200];
    const char *nonce = lpi_http_header(req, LPI_HDR_NONCE), *body = lpi_http_header(req, LPI_HDR_BODY);
    const char *scope = lpi_http_header(req, LPI_HDR_SCOPE);
    lp_status st = lpi_auth_check(srv->key, req->method, req->path, lpi_http_header(req, LPI_HDR_DATE), nonce, scope,
                                  body, lpi_http_header(req, LPI_HDR_SIG), why, sizeof why);
    int fresh = st ? 0 : lpi_nonce_cache_add(srv->nonces, nonce);
    if (!st && fresh == 0) snprintf(why, sizeof why, "replayed request (its nonce was already used)");
    if (fresh < 0) {
        lpi_http_reply_error(req, 503, "too many signed requests within the replay window; retry later");
        return false;
    }
    if (st || !fresh) {
        lpi_http_reply_error(req, 401, "%s", why);
        lpi_http_add_header(req, "WWW-Authenticate", "Lampy-HMAC-SHA256");
        return false;
    }
    if (!lpi_sha256_init(&req->sha)) {
        lpi_http_reply_error(req, 503, "out of memory");
        return false;
    }
    req->scope = scope ? scope : "";
    snprintf(req->body_sha, sizeof req->body_sha, "%s", body);
    return true;
}

static void fail_mid_body(lpi_http_req *req) {
    req->failed = true;
    if (!req->resp) lpi_http_reply_error(req, 500, "internal error: upload handler failed");
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *up,
                                 size_t *upsz, void **con_cls) {
    lpi_http_server *srv = cls;
    lpi_http_req *req = *con_cls;
    if (!req) {
        if (!(req = lp_calloc(1, sizeof *req))) return MHD_NO; /* drops the connection */
        *con_cls = req;
        atomic_fetch_add(&srv->active, 1);
        req->srv = srv;
        req->conn = conn;
        req->method = method;
        req->path = url;
        req->limit = srv->o.max_body;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        req->c = ci ? ci->socket_context : NULL;
        req->clen = parse_clen(lpi_http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH));
        if (req->clen == -2 || ambiguous_framing(req)) {
            lpi_http_reply_error(req, 400, req->clen == -2 ? "invalid Content-Length"
                                 : "conflicting Content-Length (or Content-Length with Transfer-Encoding)");
            req->clen = -1;
            req->failed = true; /* closes the connection: its framing cannot be trusted */
            return queue(req);
        }
        if (srv->key && !authenticate(srv, req)) return queue(req);
        req->seen = true;
        req->action = srv->h.on_request(srv->h.app, req);
        bool has_body = req->clen > 0 ||
                        lpi_http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
        if (req->action == LPI_HTTP_DONE) {
            /* libmicrohttpd closes the connection after a reply queued in this first call; for
             * a request without a body, answer in the next call so keep-alive survives. With a
             * body we do not want, answer now: the connection closes and the body is not read. */
            if (has_body) return queue(req);
            if (req->c) atomic_store(&req->c->busy, true);
            return MHD_YES;
        }
        /* the limit is checked before reading any of the body or allocating for it */
        if (req->clen >= 0 && (uint64_t)req->clen > req->limit) {
            lpi_http_reply_error(req, 413, "request body of %lld bytes exceeds the limit of %llu",
                                 (long long)req->clen, (unsigned long long)req->limit);
            req->failed = true;
            return queue(req);
        }
        if (req->action == LPI_HTTP_READ_BODY && req->clen >= 0) {
            req->cap = (size_t)req->clen + 1;
            if (!(req->body = lp_malloc(req->cap))) {
                lpi_http_reply_error(req, 503, "out of memory for a body of %lld bytes",
                                     (long long)req->clen);
                req->failed = true;
                return queue(req);
            }
        }
        return MHD_YES; /* MHD answers "Expect: 100-continue" now */
    }
    if (req->queued) { *upsz = 0; return MHD_YES; }
    if (*upsz) {
        size_t n = *upsz;
        *upsz = 0;
        if (!req->failed && req->received + n > req->limit) {
            lpi_http_reply_error(req, 413, "request body exceeds the limit of %llu bytes",
                                 (unsigned long long)req->limit);
            req->failed = true;
        }
        if (req->failed) {
            req->discarded += n;
            return req->discarded > srv->o.discard_limit ? MHD_NO : MHD_YES;
        }
        req->received += n;
        if (req->c) atomic_store(&req->c->received, req->received);
        if (srv->key) lpi_sha256_update(&req->sha, up, n);
        if (req->action == LPI_HTTP_READ_BODY) {
            if (req->received + 1 > req->cap) {
                size_t ncap = req->cap ? req->cap : 4096;
                while (ncap < req->received + 1) ncap *= 2;
                if (ncap > req->limit + 1) ncap = (size_t)req->limit + 1;
                char *nb = lp_realloc(req->body, ncap);
                if (!nb) {
                    lpi_http_reply_error(req, 503, "out of memory for the request body");
                    req->failed = true;
                    return MHD_YES;
                }
                req->body = nb;
                req->cap = ncap;
            }
            memcpy(req->body + req->received - n, up, n);
        } else if (!srv->h.on_data || !srv->h.on_data(srv->h.app, req, up, n)) {
            fail_mid_body(req);
        }
        return MHD_YES;
    }
    /* the body (if any) is complete */
    if (req->c) atomic_store(&req->c->busy, true);
    if (req->action == LPI_HTTP_DONE) return queue(req);
    if (!req->failed && srv->key) {
        char got[65];
        lpi_sha256_final_hex(&req->sha, got);
        if (!lpi_ct_streq(got, req->body_sha)) {
            lpi_http_reply_error(req, 401, "the body does not match its signed SHA-256");
            lpi_http_add_header(req, "WWW-Authenticate", "Lampy-HMAC-SHA256");
            req->failed = true;
            /* a streamed body is undone before the client hears of it (on_end, once) */
            if (srv->h.on_end && req->seen) srv->h.on_end(srv->h.app, req, false);
            req->seen = false;
        }
    }
    if (!req->failed) {
        req->body_done = true;
        if (req->action == LPI_HTTP_READ_BODY) {
            if (!req->body && !(req->body = lp_malloc(1))) {
                lpi_http_reply_error(req, 503, "out of memory");
                return queue(req);
            }
            req->body[req->received] = 0;
            srv->h.on_body(srv->h.app, req, req->body, (size_t)req->received);
        } else {
            srv->h.on_body(srv->h.app, req, NULL, (size_t)req->received);
        }
    }
    return queue(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    lpi_http_server *srv = cls;
    lpi_http_req *req = *con_cls;
    if (!req) return;
    *con_cls = NULL;
    if (req->c) { /* the next request's receive phase starts now */
        atomic_store(&req->c->received, 0);
        atomic_store(&req->c->start, lpi_now());
        atomic_store(&req->c->busy, false);
    }
    /* completed: the reply went out, and it was not an error the glue chose mid-request */
    if (srv->h.on_end && req->seen)
        srv->h.on_end(srv->h.app, req,
                      toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && req->queued && !req->failed);
    if (req->resp) MHD_destroy_response(req->resp);
    lpi_sha256_abort(&req->sha);
    lp_free(req->body);
    lp_free(req);
    atomic_fetch_sub(&srv->active, 1);
}

static unsigned ip_slot(const struct sockaddr *a) {
    const uint8_t *p = NULL;
    size_t n = 0;
    if (a && a->sa_family == AF_INET) { p = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr; n = 4; }
    else if (a && a->sa_family == AF_INET6) { p = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr; n = 16; }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h % IP_SLOTS;
}

/* Before a connection is accepted: refused while its client holds per_client connections.
 * (libmicrohttpd's own per-IP limit stops accepting altogether in thread-per-connection mode
 * once a client reaches it, which would let one client lock everyone out.) */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len) {
    lpi_http_server *srv = cls;
    unsigned s = ip_slot(addr);
    pthread_mutex_lock(&srv->cmu);
    bool ok = srv->ip_count[s] < srv->o.per_client;
    pthread_mutex_unlock(&srv->cmu);
    return ok ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **sc, enum MHD_ConnectionNotificationCode toe) {
    lpi_http_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        conn *c = ci ? lp_calloc(1, sizeof *c) : NULL;
        *sc = c;
        if (!c) return; /* without a record the connection only has MHD's idle timeout */
        c->fd = ci->connect_fd;
        c->slot = ip_slot(ai ? ai->client_addr : NULL);
        atomic_init(&c->start, lpi_now());
        pthread_mutex_lock(&srv->cmu);
        srv->ip_count[c->slot]++;
        c->next = srv->conns;
        if (c->next) c->next->prev = c;
        srv->conns = c;
        pthread_mutex_unlock(&srv->cmu);
    } else if (*sc) {
        conn *c = *sc;
        pthread_mutex_lock(&srv->cmu);
        srv->ip_count[c->slot]--;
        if (c->prev) c->prev->next = c->next; else srv->conns = c->next;
        if (c->next) c->next->prev = c->prev;
        pthread_mutex_unlock(&srv->cmu);
        lp_free(c);
        *sc = NULL;
    }
}

/* Closes (shutdown: MHD sees the end and cleans up) connections whose request did not arrive in
 * time. A connection is only touched while it is registered, under the list's lock, so its
 * descriptor is still MHD's. */
static void *watchdog_main(void *arg) {
    lpi_http_server *srv = arg;
    while (!atomic_load(&srv->stop_watch)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        double now = lpi_now();
        pthread_mutex_lock(&srv->cmu);
        for (conn *c = srv->conns; c; c = c->next) {
            if (c->killed || atomic_load(&c->busy)) continue;
            double allowed = srv->o.request_timeout_sec + (double)atomic_load(&c->received) / (1 << 20);
            if (now - atomic_load(&c->start) > allowed) {
                shutdown(c->fd, SHUT_RDWR);
                c->killed = true;
            }
        }
        pthread_mutex_unlock(&srv->cmu);
    }
    return NULL;
}

/* URLs are passed through as sent; see http.h. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) { return strlen(s); }

/* ---- daemon ------------------------------------------------------------------------------- */

static lp_status open_listener(lp_ctx *ctx, lpi_http_server *srv, const char *bind_addr,
                               unsigned port, bool *v6) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, bind_addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        len = sizeof *a4;
        *v6 = false;
    } else if (inet_pton(AF_INET6, bind_addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        len = sizeof *a6;
        *v6 = true;
    } else {
        return lpi_error(ctx, LP_ERR_VALUE,
                         "bind address \"%.64s\" is not a numeric IPv4 or IPv6 address", bind_addr);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return lpi_error(ctx, LP_ERR_IO, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (*v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 512) != 0) {
        int e = errno;
        close(fd);
        return lpi_error(ctx, LP_ERR_IO, "cannot listen on %s port %u: %s", bind_addr, port,
                         strerror(e));
    }
    struct sockaddr_storage got;
    socklen_t glen = sizeof got;
    getsockname(fd, (struct sockaddr *)&got, &glen);
    srv->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                : ((struct sockaddr_in *)&got)->sin_port);
    srv->lfd = fd;
    const char *scheme = srv->o.tls_cert ? "https" : "http";
    snprintf(srv->url, sizeof srv->url, *v6 ? "%s://[%s]:%u" : "%s://%s:%u", scheme, bind_addr, srv->port);
    return LP_OK;
}

/* A whole (small) file, NUL-terminated, for the PEM options. */
static lp_status read_pem(lp_ctx *ctx, const char *path, char **out) {
    *out = NULL;
    FILE *f = fopen(path, "re");
    if (!f) return lpi_error(ctx, errno == ENOENT ? LP_ERR_NOTFOUND : LP_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    char *b = lp_malloc(cap + 1);
    if (!b) { fclose(f); return lpi_nomem(ctx); }
    n = fread(b, 1, cap + 1, f);
    bool err = ferror(f);
    fclose(f);
    if (err || n > cap) {
        lp_free(b);
        return lpi_error(ctx, LP_ERR_IO, "%s: %s", path, err ? "read error" : "larger than 1 MiB: not a PEM file");
    }
    b[n] = 0;
    *out = b;
    return LP_OK;
}

static void server_free(lpi_http_server *srv) {
    pthread_mutex_destroy(&srv->cmu);
    lpi_key_release(srv->key);
    lpi_nonce_cache_free(srv->nonces);
    if (srv->tls_key) gnutls_memset(srv->tls_key, 0, strlen(srv->tls_key));
    lp_free(srv->tls_key);
    lp_free(srv->tls_cert);
    lp_free(srv);
}

lp_status lpi_http_start(lp_ctx *ctx, const lpi_http_opts *opts, const lpi_http_handlers *h,
                         lpi_http_server **out) {
    *out = NULL;
    if (!h || !h->on_request || !h->on_body)
        return lpi_error(ctx, LP_ERR_VALUE, "http server: on_request and on_body are required");
    lpi_http_server *srv = lp_calloc(1, sizeof *srv);
    if (!srv) return lpi_nomem(ctx);
    srv->h = *h;
    if (opts) srv->o = *opts;
    if (!srv->o.bind) srv->o.bind = "127.0.0.1";
    if (!srv->o.max_connections) srv->o.max_connections = 1024;
    if (!srv->o.idle_timeout_sec) srv->o.idle_timeout_sec = 60;
    if (!srv->o.request_timeout_sec) srv->o.request_timeout_sec = 60;
    if (!srv->o.per_client) srv->o.per_client = srv->o.max_connections / 4 > 16 ? srv->o.max_connections / 4 : 16;
    pthread_mutex_init(&srv->cmu, NULL);
    if (!srv->o.max_body) srv->o.max_body = 16u << 20;
    if (!srv->o.discard_limit) srv->o.discard_limit = 16u << 20;
    if (!srv->o.conn_memory) srv->o.conn_memory = 128u << 10;
    atomic_init(&srv->active, 0);
    srv->lfd = -1;
    if (srv->o.port > 65535) {
        lp_free(srv);
        return lpi_error(ctx, LP_ERR_VALUE, "port %u is out of range", srv->o.port);
    }
    lp_status st = LP_OK;
    if (!srv->o.tls_cert != !srv->o.tls_key)
        st = lpi_error(ctx, LP_ERR_VALUE, "TLS needs both a certificate and its key (--tls-cert, --tls-key)");
    else if (srv->o.tls_cert && !MHD_is_feature_supported(MHD_FEATURE_TLS))
        st = lpi_error(ctx, LP_ERR_VALUE, "this libmicrohttpd was built without TLS");
    if (!st && srv->o.tls_cert && !(st = read_pem(ctx, srv->o.tls_cert, &srv->tls_cert)))
        st = read_pem(ctx, srv->o.tls_key, &srv->tls_key);
    if (!st && srv->o.key) {
        srv->key = lpi_key_retain(srv->o.key);
        /* 2 x 60 s of signed requests at 8,000 a second */
        if (!(srv->nonces = lpi_nonce_cache_new((size_t)1 << 20))) st = lpi_nomem(ctx);
    }
    bool v6 = false;
    if (!st) st = open_listener(ctx, srv, srv->o.bind, srv->o.port, &v6);
    if (st != LP_OK) { server_free(srv); return st; }
    srv->o.bind = NULL; /* the caller's strings need not outlive start */
    srv->o.tls_cert = srv->o.tls_key = NULL;
    srv->o.key = NULL;

    /* poll, not epoll (MHD_USE_AUTO's choice): libmicrohttpd 0.9.75's edge-triggered epoll can
     * miss the end of a request stream that arrives while the reply is being made, and then
     * keeps a half-closed connection (and its slot) until the idle timeout */
    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_POLL |
                     MHD_USE_INTERNAL_POLLING_THREAD | (v6 ? MHD_USE_IPv6 : 0);
    if (srv->o.threads == 0) flags |= MHD_USE_THREAD_PER_CONNECTION;
    if (srv->tls_cert) flags |= MHD_USE_TLS;
    struct MHD_OptionItem ops[16];
    int n = 0;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, srv->lfd, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, srv->o.max_connections, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, srv->o.idle_timeout_sec, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                       (intptr_t)srv->o.conn_memory, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)no_unescape, NULL};
    if (srv->o.threads > 1)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, srv->o.threads, NULL};
    if (srv->tls_cert) {
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key};
    }
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    srv->d = MHD_start_daemon(flags, 0, on_accept, srv, on_access, srv, MHD_OPTION_ARRAY, ops,
                              MHD_OPTION_END);
    if (srv->d && pthread_create(&srv->watchdog, NULL, watchdog_main, srv) == 0) srv->watching = true;
    if (srv->d && !srv->watching) {
        MHD_stop_daemon(srv->d);
        srv->d = NULL;
        close(srv->lfd);
        server_free(srv);
        return lpi_error(ctx, LP_ERR_NOMEM, "cannot start the connection watchdog thread");
    }
    if (!srv->d) {
        close(srv->lfd);
        server_free(srv);
        return lpi_error(ctx, LP_ERR_IO, "libmicrohttpd failed to start (see its message above%s)",
                         flags & MHD_USE_TLS ? "; is the TLS certificate and key valid PEM?" : "");
    }
    *out = srv;
    return LP_OK;
}

unsigned lpi_http_port(const lpi_http_server *srv) { return srv->port; }
const char *lpi_http_url(const lpi_http_server *srv) { return srv->url; }

void lpi_http_stop(lpi_http_server *srv, double grace_sec) {
    if (!srv) return;
    /* Stop accepting. On success the listening socket is handed back to us; otherwise MHD
     * still owns it and closes it in MHD_stop_daemon (so it must not be closed twice). */
    MHD_socket lfd = MHD_quiesce_daemon(srv->d);
    double end = lpi_now() + (grace_sec > 0 ? grace_sec : 0);
    while (atomic_load(&srv->active) > 0 && lpi_now() < end) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->d);
    if (srv->watching) {
        atomic_store(&srv->stop_watch, 1);
        pthread_join(srv->watchdog, NULL);
    }
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    server_free(srv);
}

/* SIGTERM/SIGINT end a server process, and a signal may be delivered to any thread that does
 * not block it — also to threads a library started before main ran (OpenBLAS starts its
 * thread pool in its library constructor), which never saw our mask. So the signals get a real
 * handler, process-wide, that only writes the signal's number to a pipe (write is
 * async-signal-safe); whichever thread runs it, the waiting thread reads the pipe. */
static int sig_pipe[2] = {-1, -1};

static void on_stop_signal(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(sig_pipe[1], &b, 1) < 0) {} /* a full pipe already holds a signal */
    errno = saved;
}

static void stop_set(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

bool lpi_http_catch_signals(void) {
    if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) return false;
    signal(SIGPIPE, SIG_IGN);
    /* threads started from here on (the server's) inherit the block and never run the handler
     * in the middle of their work; lpi_http_wait_signal unblocks the waiting thread */
    sigset_t set;
    stop_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    return true;
}

int lpi_http_wait_signal(void) {
    sigset_t set;
    stop_set(&set);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    for (;;) {
        struct pollfd p = {sig_pipe[0], POLLIN, 0};
        unsigned char b;
        if (poll(&p, 1, -1) < 0 && errno != EINTR) return SIGTERM;
        if (read(sig_pipe[0], &b, 1) == 1) return b;
    }
}

/* Range: bytes=a-b | a- | -n. Returns 0 to serve the whole body (no Range, another unit, or
 * several ranges, which RFC 9110 lets a server ignore), 1 for [*a, *b], -1 for 416 (nothing of
 * the range exists, or it is malformed). */
int lpi_http_parse_range(const char *h, uint64_t size, uint64_t *a, uint64_t *b) {
    if (!h) return 0;
    while (*h == ' ' || *h == '\t') h++;
    if (strncasecmp(h, "bytes", 5) != 0) return 0;
    h += 5;
    while (*h == ' ' || *h == '\t') h++;
    if (*h++ != '=') return 0;
    if (strchr(h, ',')) return 0;
    while (*h == ' ' || *h == '\t') h++;
    uint64_t x = 0, y = 0;
    bool hx = false, hy = false;
    /* numbers too large for 64 bits saturate: a last byte or suffix beyond the body is clamped
     * to it (RFC 9110 14.1.2), a first byte beyond it is 416 */
    for (; *h >= '0' && *h <= '9'; h++, hx = true)
        x = x > (UINT64_MAX - 9) / 10 ? UINT64_MAX : x * 10 + (uint64_t)(*h - '0');
    if (*h++ != '-') return -1;
    for (; *h >= '0' && *h <= '9'; h++, hy = true)
        y = y > (UINT64_MAX - 9) / 10 ? UINT64_MAX : y * 10 + (uint64_t)(*h - '0');
    while (*h == ' ' || *h == '\t') h++;
    if (*h || (!hx && !hy)) return -1;
    if (!hx) { /* suffix: the last y bytes */
        if (y == 0 || size == 0) return -1;
        *a = y >= size ? 0 : size - y;
        *b = size - 1;
        return 1;
    }
    if (hy && y < x) return -1;
    if (x >= size) return -1;
    *a = x;
    *b = hy && y < size ? y : size - 1;
    return 1;
}

void lpi_http_reply_file(lpi_http_req *req, int fd, uint64_t size, const char *what, const char *name) {
    uint64_t a = 0, b = 0;
    int rg = lpi_http_parse_range(lpi_http_header(req, MHD_HTTP_HEADER_RANGE), size, &a, &b);
    char cr[96];
    if (rg < 0) {
        close(fd);
        lpi_http_reply_error(req, 416, "%s %s: range not satisfiable (it has %llu bytes)", what, name,
                             (unsigned long long)size);
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
        lpi_http_add_header(req, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        return;
    }
    uint64_t off = rg ? a : 0, len = rg ? b - a + 1 : size;
    struct MHD_Response *resp;
    if (len == 0) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_fd_at_offset64(len, fd, off); /* owns fd now */
        if (!resp) close(fd);
    }
    if (!resp) { lpi_http_reply_error(req, 503, "out of memory"); return; }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (rg) {
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)a, (unsigned long long)b,
                 (unsigned long long)size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    lpi_http_reply(req, rg ? 206 : 200, resp);
}
