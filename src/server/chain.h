/* The worker's half of orchestration by functions (docs/ORCHESTRATION.md): an orchestrate
 * invocation starts a chain — the run's start (plan, roots) or one task — and the chain keeps
 * running: after each task it records the completion in Redis (store/redis_run.h), continues
 * with a consumer that became ready (preferring one whose inputs it holds: no store round trip
 * for those), invokes other workers for the other ready ones, and takes a queued task when it
 * has none, until nothing is left for it.
 *
 * Every worker plans a run itself from the run document (the same plan in every process: the
 * planner is deterministic given the document's settings) and keeps the plan in a small cache
 * of runs. A chunk missing from the store (deleted, evicted) is recomputed from the plan
 * (lineage), recursively. */
#ifndef LP_SERVER_CHAIN_H
#define LP_SERVER_CHAIN_H

#include <jansson.h>

#include "exec/wire.h"
#include "store/store.h"

typedef struct lpi_chains lpi_chains;

/* What the chains borrow from their worker: its stores (policy and connections) and limits. */
typedef struct lpi_chains_host {
    void *w;
    lp_status (*store)(void *w, lp_ctx *ctx, const char *url, lpi_store **out);
    const lpi_wire_limits *limits;
    int max_chains;           /* chains running at once; more are refused (429) */
    bool async;               /* answer 202 and run on a thread (else run here, then answer 200) */
    bool quiet;
    int slow_task_ms;         /* test-only fault injection: each task takes this much longer */
    const struct lpi_key *key; /* signs the chains' invocations of other workers (NULL: unsigned) */
    const char *ca_file;      /* https:// workers: CA bundle */
} lpi_chains_host;

lp_status lpi_chains_create(lp_ctx *ctx, const lpi_chains_host *host, lpi_chains **out);
/* Chains stop between tasks; waits for them (and their invocations) up to grace_sec. Returns
 * false when some did not stop: the host must then keep what they borrow alive (leak it). */
bool lpi_chains_destroy(lpi_chains *c, double grace_sec);

/* An orchestrate request (already parsed; kind "orchestrate"): checked, then run. scope: the
 * signed scope of the request (NULL when requests are not authenticated), which must be the
 * run's key prefix "lampy/<run>" (403 otherwise). Returns the HTTP status (202 accepted, 200
 * ran here, 4xx/5xx) and *reply (a new object). */
unsigned lpi_chains_request(lpi_chains *c, lp_ctx *ctx, const json_t *req, const char *scope, json_t **reply);

/* Counters for /stats: chains started and running, tasks they ran, runs planned, lineage
 * recomputations, loop phases (starts that ran a graph's loops). */
void lpi_chains_stats(const lpi_chains *c, json_t *obj);

#endif
