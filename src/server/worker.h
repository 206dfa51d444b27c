/*
 * worker.h — a Lampy worker: runs batches of tasks (docs/PROTOCOL.md) for remote drivers.
 *
 * Two layers:
 *   - lpi_worker: the engine. lpi_worker_run takes a request body and returns the HTTP status
 *     and the JSON reply; it decodes and validates the batch (exec/wire.c), fetches the input
 *     chunks from the stores the batch names (allowed ones only; connections are kept between
 *     batches), assembles operands, calls lpi_kernel_run, and puts the outputs. The OpenLambda
 *     lambda reaches the same engine through lp_worker_run_json (lampy.h).
 *   - lpi_worker_server: the OpenLambda invocation API over libmicrohttpd (server/http.c):
 *         POST /run/<name>[/...]  a batch -> 200 {"outputs": [...], "timings": {...}}
 *         GET  /status            "ready"
 *         GET  /stats             JSON counters
 *     400 invalid batch, 404 unknown lambda or path, 405 wrong method (Allow says which),
 *     413 body or sizes over the limits, 429 more than max_concurrency batches in flight,
 *     500 a kernel or store failure (the message says which chunk or op), 503 out of memory.
 *     Every error body is {"error": "...", "status": "ERR_..."}.
 */
#ifndef LP_SERVER_WORKER_H
#define LP_SERVER_WORKER_H

#include "exec/wire.h"

#include <jansson.h>

typedef struct lpi_worker lpi_worker;

typedef struct lpi_worker_cfg {
    const char *name;                  /* lambda name; NULL = "lampy" */
    /* The stores a batch may name (NULL or empty: none). A batch's store URL is matched by its
     * identity (lpi_store_url_canon: scheme, host, port, Redis database or path; credentials
     * ignored) and the allow-list's own URL is opened, with its credentials: a task can
     * neither pick another host, port or database nor bring its own password. 403 otherwise. */
    const char *const *allow_stores;
    lpi_wire_limits limits;            /* lpi_wire_limits_default unless set */
    bool quiet;                        /* no log line per failed batch */
    struct lpi_key *key;               /* signs the worker's requests to http(s) stores */
    const char *ca_file;               /* https stores: CA bundle (NULL = the system's) */
    /* Memory the batches in flight may hold together; 0 = half the machine's. A batch
     * reserves LPI_WORKER_PARSE_FACTOR x its body before it is parsed, then what its tasks
     * will hold (input chunks + the largest task's operands and output) before it runs:
     * 429 while the reservation does not fit beside the others, 413 if it never could. */
    uint64_t max_memory;
    /* orchestrate requests (server/chain.h): chains at once (0 = 2 x cores); async: answer 202
     * and run the chain on a thread of its own (the HTTP server), else run it, then answer */
    int max_chains;
    bool async_chains;
    int slow_task_ms;                  /* test-only: each task of a chain takes this much longer */
} lpi_worker_cfg;

/* Bytes of memory a batch may take per byte of its JSON body while it is parsed: its text,
 * the decoded structs, and one list element's jansson tree at a time (exec/wire.c); measured
 * 3.8 for a 16 MB batch of chunk references and 7 for one of piece lists, the costliest kind. */
#define LPI_WORKER_PARSE_FACTOR 8

lp_status lpi_worker_create(lp_ctx *ctx, const lpi_worker_cfg *cfg, lpi_worker **out);
void lpi_worker_destroy(lpi_worker *w);
/* What the transport knows about a call. scope: the signed X-Lampy-Scope of the request, or
 * NULL when requests are not authenticated; every key the batch reads or writes must lie below
 * it (403 otherwise; an empty scope allows none). gone: whether the caller has given up (then
 * no further output is written). */
typedef struct lpi_worker_call {
    const char *scope;
    bool (*gone)(void *arg);
    void *arg;
} lpi_worker_call;

/* Run a request: a batch, or an orchestrate invocation (kind "orchestrate", server/chain.h;
 * with a scope, its run must be that scope's). Returns the HTTP status; *reply is a new JSON object (never NULL unless memory
 * ran out, then the status is 503). call may be NULL. The batch's timeout_ms is the deadline
 * of its store operations; past it (or once the caller is gone) nothing more is written. */
unsigned lpi_worker_run(lpi_worker *w, const char *body, size_t n, const lpi_worker_call *call, json_t **reply);

/* ---- the HTTP server ---- */

typedef enum lpi_worker_fault {
    LPI_FAULT_NONE = 0,
    LPI_FAULT_HANG,   /* the next N batches hang until the server stops */
    LPI_FAULT_BUSY,   /* the next N batches are answered 429 */
    LPI_FAULT_FAIL,   /* the next N batches are answered 502 */
} lpi_worker_fault;

typedef struct lpi_worker_opts {
    lpi_worker_cfg cfg;
    const char *bind;                  /* NULL = "127.0.0.1" */
    unsigned port;                     /* 0 = any free port */
    int max_concurrency;               /* batches at once; 0 = 2 x cores */
    uint64_t max_body;                 /* request body bytes; 0 = 16 MiB (a JSON value costs jansson
                                        * tens of bytes in memory: this bounds the parse) */
    lpi_worker_fault fault;            /* test-only: see lampy worker --fault */
    int fault_count;
    const char *tls_cert, *tls_key;    /* PEM files: HTTPS; cfg.key also authenticates requests */
    unsigned per_client, request_timeout_sec; /* server/http.h; 0 = its defaults */
} lpi_worker_opts;

typedef struct lpi_worker_server lpi_worker_server;

lp_status lpi_worker_server_start(lp_ctx *ctx, const lpi_worker_opts *opts, lpi_worker_server **out);
const char *lpi_worker_server_url(const lpi_worker_server *s);
/* Graceful: stop accepting, let batches in flight finish (up to grace_sec), free. */
void lpi_worker_server_stop(lpi_worker_server *s, double grace_sec);

#endif
