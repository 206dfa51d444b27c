/*
 * http.h — the libmicrohttpd glue Lampy's servers share (the store server, the worker).
 *
 * A server is a set of callbacks. on_request sees a request once its headers are in and decides:
 * answer now (LPI_HTTP_DONE, after one lpi_http_reply_* call), read the body into memory
 * (LPI_HTTP_READ_BODY: on_body gets it whole, NUL-terminated), or stream it (LPI_HTTP_STREAM:
 * on_data gets each piece, then on_body(NULL, total)). The glue enforces the body limit set with
 * lpi_http_set_body_limit (default lpi_http_opts.max_body): a Content-Length over it is answered
 * 413 BEFORE any of the body is read or memory allocated, and a body without Content-Length
 * (chunked) is cut off with 413 the moment it passes the limit. on_end is called exactly once for
 * every request on_request saw — also when the client vanished mid-upload (completed = false) —
 * and is where per-request state is freed or a half-written upload removed.
 *
 * Errors are answered as JSON, {"error": "..."}, with the status given. An error found while a
 * body is still arriving (libmicrohttpd cannot answer mid-body) is answered when the body ends;
 * the rest of the body is read and dropped, up to lpi_http_opts.discard_limit, past which the
 * connection is closed instead. The server keeps serving after any bad request.
 *
 * URLs reach the handlers exactly as sent: percent-escapes are NOT decoded (an application that
 * needs decoding does it itself), so "%2e%2e%2f" cannot turn into "../" behind a check, and a
 * "%00" cannot cut a path short.
 */
#ifndef LP_SERVER_HTTP_H
#define LP_SERVER_HTTP_H

#include "core/core.h"

#include <jansson.h>

struct MHD_Response;
struct MHD_Connection;

typedef struct lpi_http_server lpi_http_server;
typedef struct lpi_http_req lpi_http_req;

typedef enum lpi_http_action {
    LPI_HTTP_DONE = 0,     /* a reply is set; a body, if any, is not read */
    LPI_HTTP_READ_BODY,    /* accumulate the body, then on_body(body, n) */
    LPI_HTTP_STREAM,       /* on_data per piece, then on_body(NULL, total) */
} lpi_http_action;

typedef struct lpi_http_handlers {
    void *app;
    lpi_http_action (*on_request)(void *app, lpi_http_req *req);
    /* STREAM: a piece of the body. Return false after setting an error reply to stop. */
    bool (*on_data)(void *app, lpi_http_req *req, const char *data, size_t n);
    /* The body is complete. Must set a reply (a missing reply is answered 500). */
    void (*on_body)(void *app, lpi_http_req *req, const char *body, size_t n);
    /* Always called once at the end of a request that on_request saw (may be NULL). */
    void (*on_end)(void *app, lpi_http_req *req, bool completed);
} lpi_http_handlers;

typedef struct lpi_http_opts {
    const char *bind;          /* numeric IPv4 or IPv6 address; NULL = "127.0.0.1" */
    unsigned port;             /* 0 = any free port (see lpi_http_port) */
    /* 0 = one thread per connection, for handlers that block long; N = N polling threads
     * (poll), each serving many connections, for handlers that only do short work. */
    unsigned threads;
    unsigned max_connections;  /* 0 = 1024 */
    unsigned per_client;       /* connections from one IP address; 0 = max(16, max_connections / 4) */
    unsigned idle_timeout_sec; /* a connection silent this long is closed; 0 = 60 */
    /* A request's headers and body must arrive within this many seconds (plus one second per
     * MiB of body) of the connection's start or of the end of its previous request, however
     * they trickle in (slowloris); past it the connection is closed. The handler's own time
     * and the reply do not count. 0 = 60. */
    unsigned request_timeout_sec;
    uint64_t max_body;         /* default body limit; 0 = 16 MiB */
    uint64_t discard_limit;    /* body bytes read and dropped after an error; 0 = 16 MiB */
    size_t conn_memory;        /* per-connection buffer (also the largest on_data piece);
                                * 0 = 128 KiB */
    /* A shared key (store/auth.h): every request but GET/HEAD /status must be signed with it.
     * An unsigned, badly signed, stale or replayed request is answered 401 from its headers,
     * before on_request sees it and before any of its body is read; a body that does not match
     * its signed SHA-256 is answered 401 instead of reaching on_body (a streamed one gets
     * on_end(completed = false)). NULL = no authentication. The server keeps a reference. */
    struct lpi_key *key;
    const char *tls_cert;      /* PEM files of a certificate and its key: serve HTTPS */
    const char *tls_key;
} lpi_http_opts;

/* Start serving. The handlers struct is copied. Messages go to ctx. */
lp_status lpi_http_start(lp_ctx *ctx, const lpi_http_opts *opts, const lpi_http_handlers *h,
                         lpi_http_server **out);
/* The port actually bound (the chosen one when opts.port was 0). */
unsigned lpi_http_port(const lpi_http_server *srv);
/* "http://127.0.0.1:PORT" ("http://[::1]:PORT" for IPv6; https:// with TLS). */
const char *lpi_http_url(const lpi_http_server *srv);
/* Stop accepting connections, give requests in flight up to grace_sec to finish, then close
 * everything (unfinished requests get on_end(completed = false)) and free. NULL is allowed. */
void lpi_http_stop(lpi_http_server *srv, double grace_sec);

/* Signals for a server process. lpi_http_catch_signals (call it before lpi_http_start) gives
 * SIGTERM and SIGINT a process-wide handler that forwards them to the waiting thread, blocks
 * them in the calling thread (threads started later inherit that), and ignores SIGPIPE; false
 * if the forwarding pipe or the handler could not be set up. lpi_http_wait_signal() then
 * returns the number of the first SIGTERM/SIGINT, whichever thread the kernel delivered it to
 * (threads libraries started before main included). */
bool lpi_http_catch_signals(void);
int lpi_http_wait_signal(void);

/* ---- requests ---------------------------------------------------------------------------- */

const char *lpi_http_method(const lpi_http_req *req);
const char *lpi_http_path(const lpi_http_req *req);       /* not percent-decoded */
const char *lpi_http_header(const lpi_http_req *req, const char *name); /* NULL if absent */
/* Content-Length, or -1 when the request has none (chunked or no body). */
int64_t lpi_http_content_length(const lpi_http_req *req);
void lpi_http_set_body_limit(lpi_http_req *req, uint64_t limit);
/* The signed X-Lampy-Scope of an authenticated request ("" if it named none); NULL when the
 * server has no key. */
const char *lpi_http_scope(const lpi_http_req *req);
void lpi_http_set_user(lpi_http_req *req, void *user);
void *lpi_http_user(const lpi_http_req *req);
struct MHD_Connection *lpi_http_connection(const lpi_http_req *req);
/* The client closed its side of the connection (it gave up on the request): a long handler
 * checks this before side effects nobody will hear of. */
bool lpi_http_client_gone(const lpi_http_req *req);

/* ---- replies (the last one set wins; the glue sends it at the right moment) ------------- */

/* Any libmicrohttpd response; ownership passes to the request. */
void lpi_http_reply(lpi_http_req *req, unsigned status, struct MHD_Response *resp);
/* {"error": "<message>"}; the message is made printable ASCII and bounded. */
void lpi_http_reply_error(lpi_http_req *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A copy of text with the given content type. */
void lpi_http_reply_text(lpi_http_req *req, unsigned status, const char *content_type,
                         const char *text);
/* JSON; steals the reference to j. */
void lpi_http_reply_json(lpi_http_req *req, unsigned status, json_t *j);
/* Add a header to the reply set last (call after setting it). */
void lpi_http_add_header(lpi_http_req *req, const char *name, const char *value);
/* The HTTP status of an lp_status (LP_ERR_NOTFOUND 404, LP_ERR_LIMIT 413, input errors 400,
 * LP_ERR_NOMEM 503, the rest 500). */
unsigned lpi_http_status_of(lp_status st);

/* Range: bytes=a-b | a- | -n against a body of `size` bytes. Returns 0 to serve the whole body
 * (no Range, another unit, or several ranges, which RFC 9110 lets a server ignore), 1 for
 * bytes [*a, *b], -1 for 416 (nothing of the range exists, or it is malformed). */
int lpi_http_parse_range(const char *h, uint64_t size, uint64_t *a, uint64_t *b);
/* Reply with an open file of `size` bytes (fd is owned by the reply from now on), honouring
 * the request's Range: 200, 206 with Content-Range, or 416 ("<what> <name>: range not
 * satisfiable"); sent with sendfile. */
void lpi_http_reply_file(lpi_http_req *req, int fd, uint64_t size, const char *what, const char *name);

#endif
