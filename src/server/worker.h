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
    /* Store URLs a batch may name. NULL or empty: any redis:// or http:// URL. Otherwise only
     * these: redis:// and http:// entries match as prefixes, file:// and mem:// exactly (a
     * directory store can only be one the operator named). */
    const char *const *allow_stores;
    lpi_wire_limits limits;            /* lpi_wire_limits_default unless set */
    bool quiet;                        /* no log line per failed batch */
    /* orchestrate requests (server/chain.h): chains at once (0 = 2 x cores); async: answer 202
     * and run the chain on a thread of its own (the HTTP server), else run it, then answer */
    int max_chains;
    bool async_chains;
    int slow_task_ms;                  /* test-only: each task of a chain takes this much longer */
} lpi_worker_cfg;

lp_status lpi_worker_create(lp_ctx *ctx, const lpi_worker_cfg *cfg, lpi_worker **out);
void lpi_worker_destroy(lpi_worker *w);
/* Run a request: a batch, or an orchestrate invocation (kind "orchestrate", server/chain.h).
 * Returns the HTTP status; *reply is a new JSON object (never NULL unless memory ran out, then
 * the status is 503). */
unsigned lpi_worker_run(lpi_worker *w, const char *body, size_t n, json_t **reply);

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
} lpi_worker_opts;

typedef struct lpi_worker_server lpi_worker_server;

lp_status lpi_worker_server_start(lp_ctx *ctx, const lpi_worker_opts *opts, lpi_worker_server **out);
const char *lpi_worker_server_url(const lpi_worker_server *s);
/* Graceful: stop accepting, let batches in flight finish (up to grace_sec), free. */
void lpi_worker_server_stop(lpi_worker_server *s, double grace_sec);

#endif
