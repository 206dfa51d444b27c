/* Orchestration by functions (docs/ORCHESTRATION.md). The driver writes a run document — the
 * graph of the targets and the settings that make planning deterministic — to Redis and makes
 * ONE invocation; workers plan the run themselves, run tasks in chains, update the run's state
 * with the scripts of store/redis_run.h and invoke each other for the tasks that became ready;
 * the driver only waits for the result list.
 *
 * This header is what both sides share: the run document's codec, the body of an orchestrate
 * invocation, and the HTTP call that delivers one to a worker. The driver is exec/orchestrate.c,
 * the chain engine server/chain.c. */
#ifndef LP_EXEC_ORCHESTRATE_H
#define LP_EXEC_ORCHESTRATE_H

#include <jansson.h>

#include "core/core.h"
#include "plan/plan.h"
#include "store/store.h"

#define LPI_RUNDOC_FORMAT "lampy.run"
#define LPI_RUNDOC_VERSION 1
#define LPI_RUNDOC_MAX ((size_t)256 << 20)  /* bytes of a run document a worker reads */
#define LPI_RUN_ID_MAX 64
#define LPI_ORCH_MAX_WORKERS 1024

/* In-memory data of the driver, put in the store: graph node `node` is a load of `key`. */
typedef struct lpi_rundoc_data {
    int64_t node;
    const char *key;
    uint64_t checksum;
} lpi_rundoc_data;

/* A result sink of the run: the tasks of target `target` write it into the driver's .npy file
 * (docs/ORCHESTRATION.md, "Results into a file"). */
typedef struct lpi_rundoc_sink {
    int64_t target;
    const char *file;
    int64_t offset;
} lpi_rundoc_sink;

typedef struct lpi_rundoc {
    json_t *doc;              /* owns everything below */
    const char *run;
    char prefix[LPI_RUN_ID_MAX + 8];   /* "lampy/<run>" */
    json_t *graph;            /* the graph document (docs/GRAPH_FORMAT.md) */
    int ndata;
    lpi_rundoc_data *data;
    int64_t chunk_bytes;      /* the planner's settings: 0 = automatic (per array, deterministic) */
    int threads;              /* the driver's worker count (linalg plans depend on it) */
    bool fusion;
    int budget, max_tries;
    int64_t lease_ms;         /* a task's lease beyond its estimate */
    double runtime_sec;       /* limit of one invocation: a chain hands over before half of it */
    int64_t lambda_mem_mb;    /* memory of one lambda (0: no limit) */
    const char *store, *lambda;
    int nworkers;
    const char **workers;     /* base URLs */
    int nsinks;
    lpi_rundoc_sink *sinks;
} lpi_rundoc;

bool lpi_run_id_valid(const char *id);
/* Parse and check a run document (ranges, the run id, data keys below the run's prefix, worker
 * URLs); the graph is checked by whoever rebuilds it (lpi_graph_from_json). */
lp_status lpi_rundoc_parse(lp_ctx *ctx, const char *text, size_t n, lpi_rundoc *out);
void lpi_rundoc_free(lpi_rundoc *d);

/* Loops in a run document (docs/ORCHESTRATION.md, "Loops"): the function that starts the run
 * runs the graph's top-level loops, then every worker plans a graph without them. */
/* Does the graph's top level hold a while_loop or fori_loop node? */
bool lpi_rundoc_has_loops(const json_t *graph);
/* The ids of the graph's top-level loop_output nodes (a new JSON array). */
json_t *lpi_rundoc_loop_outputs(const json_t *graph);
/* The document with its loops run: doc (a parsed run document, changed in place) gets each
 * loop_output node ids[i] as a load of keys[i] (an entry of its data table with sums[i]); the
 * nodes its targets no longer reach (the loops, what only they read) are dropped. */
lp_status lpi_rundoc_bind_loops(lp_ctx *ctx, json_t *doc, const int64_t *ids, char *const *keys, const uint64_t *sums, int n);

/* The body of an orchestrate invocation: {"format": "lampy.tasks", "version": 1, "kind":
 * "orchestrate", "run", "stores": [store], "doc": "<prefix>/run"[, "task": t]}; task < 0
 * starts the run. malloc'd (free()), NULL when out of memory. */
char *lpi_orch_request(const char *run, const char *store, int64_t task);

/* POST body to <url>/run/<lambda> for the urls in turn from urls[first % n], until one accepts
 * it (2xx); a refusal (429, 5xx), a connection failure or no answer within timeout_sec tries
 * the next one, and a worker that failed is skipped by later calls of this process for a few
 * seconds. agent is the User-Agent (workers count requests by it). *sent (may be NULL) is set
 * as soon as the whole body went out, from the calling thread. LP_ERR_REMOTE with the last
 * failure when none accepted, LP_ERR_LIMIT when every worker answered 429 (busy), LP_ERR_DENIED
 * when the last refused the signature or scope (401, 403). */
typedef struct lpi_orch_auth {
    const struct lpi_key *key;  /* sign the invocation (store/auth.h); NULL = unsigned */
    const char *scope;          /* the run's key prefix "lampy/<run>", which the signature covers */
    const char *ca_file;        /* https:// workers: CA bundle (NULL = the system's) */
} lpi_orch_auth;
/* auth may be NULL (unsigned, the system's CAs). */
lp_status lpi_orch_invoke(lp_ctx *ctx, const char *const *urls, int n, int first, const char *lambda, const char *body,
                          const char *agent, double timeout_sec, const lpi_orch_auth *auth, atomic_int *sent);

/* ---- the driver (exec/orchestrate.c) ---- */

/* Does ctx ask for orchestration by functions (lambda executor, orchestrate = "lambda")? */
bool lpi_orchestrate_enabled(const lp_ctx *ctx);
/* lp_run's path: submit the targets and wait; results go into bufs (allocated by the caller
 * with the targets' dtypes and shapes). */
lp_status lpi_orch_run(lp_ctx *ctx, lp_array *const *targets, int n, lp_buffer **bufs, lpi_result_sink *const *sinks);

#endif
