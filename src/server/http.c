/* libmicrohttpd glue shared by Lampy's servers; see http.h for the contract. */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct lpi_http_server {
    struct MHD_Daemon *d;
    lpi_http_handlers h;
    lpi_http_opts o;
    int lfd;               /* our listening socket, handed to MHD */
    unsigned port;
    char url[96];
    atomic_int active;     /* requests between on_request and on_end */
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
    bool seen;             /* on_request ran: on_end must run */
    bool failed;           /* an error reply is set; the rest of the body is dropped */
    bool body_done;
    bool queued;
    void *user;
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
int64_t lpi_http_content_length(const lpi_http_req *req) { return req->clen; }
void lpi_http_set_body_limit(lpi_http_req *req, uint64_t limit) { req->limit = limit; }
void lpi_http_set_user(lpi_http_req *req, void *user) { req->user = user; }
void *lpi_http_user(const lpi_http_req *req) { return req->user; }
struct MHD_Connection *lpi_http_connection(const lpi_http_req *req) { return req->conn; }
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
        req->clen = parse_clen(lpi_http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH));
        if (req->clen == -2) {
            req->clen = -1;
            lpi_http_reply_error(req, 400, "invalid Content-Length");
            return queue(req);
        }
        req->seen = true;
        req->action = srv->h.on_request(srv->h.app, req);
        bool has_body = req->clen > 0 ||
                        lpi_http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
        if (req->action == LPI_HTTP_DONE) {
            /* libmicrohttpd closes the connection after a reply queued in this first call; for
             * a request without a body, answer in the next call so keep-alive survives. With a
             * body we do not want, answer now: the connection closes and the body is not read. */
            if (has_body) return queue(req);
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
    if (req->action == LPI_HTTP_DONE) return queue(req);
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
    /* completed: the reply went out, and it was not an error the glue chose mid-request */
    if (srv->h.on_end && req->seen)
        srv->h.on_end(srv->h.app, req,
                      toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && req->queued && !req->failed);
    if (req->resp) MHD_destroy_response(req->resp);
    lp_free(req->body);
    lp_free(req);
    atomic_fetch_sub(&srv->active, 1);
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
    snprintf(srv->url, sizeof srv->url, *v6 ? "http://[%s]:%u" : "http://%s:%u", bind_addr,
             srv->port);
    return LP_OK;
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
    if (!srv->o.idle_timeout_sec) srv->o.idle_timeout_sec = 120;
    if (!srv->o.max_body) srv->o.max_body = 16u << 20;
    if (!srv->o.discard_limit) srv->o.discard_limit = 16u << 20;
    if (!srv->o.conn_memory) srv->o.conn_memory = 128u << 10;
    atomic_init(&srv->active, 0);
    srv->lfd = -1;
    if (srv->o.port > 65535) {
        lp_free(srv);
        return lpi_error(ctx, LP_ERR_VALUE, "port %u is out of range", srv->o.port);
    }
    bool v6 = false;
    lp_status st = open_listener(ctx, srv, srv->o.bind, srv->o.port, &v6);
    if (st != LP_OK) { lp_free(srv); return st; }
    srv->o.bind = NULL; /* the caller's string need not outlive start */

    /* poll, not epoll (MHD_USE_AUTO's choice): libmicrohttpd 0.9.75's edge-triggered epoll can
     * miss the end of a request stream that arrives while the reply is being made, and then
     * keeps a half-closed connection (and its slot) until the idle timeout */
    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_POLL |
                     MHD_USE_INTERNAL_POLLING_THREAD | (v6 ? MHD_USE_IPv6 : 0);
    if (srv->o.threads == 0) flags |= MHD_USE_THREAD_PER_CONNECTION;
    struct MHD_OptionItem ops[12];
    int n = 0;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, srv->lfd, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, srv->o.max_connections, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, srv->o.idle_timeout_sec, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                       (intptr_t)srv->o.conn_memory, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)no_unescape, NULL};
    if (srv->o.threads > 1)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, srv->o.threads, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    srv->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_ARRAY, ops,
                              MHD_OPTION_END);
    if (!srv->d) {
        close(srv->lfd);
        lp_free(srv);
        return lpi_error(ctx, LP_ERR_IO, "libmicrohttpd failed to start (see its message above)");
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
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    lp_free(srv);
}

void lpi_http_block_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int lpi_http_wait_signal(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {}
    return sig;
}
