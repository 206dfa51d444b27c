/* The Redis state of an orchestrated run (docs/ORCHESTRATION.md): a run document, counters,
 * leases and the result list under one prefix "lampy/<run id>", changed only by Lua scripts that
 * run atomically inside Redis, one round trip each. Nothing here knows the plan: callers pass
 * the task ids, dependency counts, chunk keys and reference counts a script needs, so every
 * worker that planned the run (the same plan, deterministically) can drive it.
 *
 *   <prefix>/run      the run document            <prefix>/meta    hash: state (starting, running,
 *   <prefix>/done     hash task -> checksum          ok, failed), error, ntasks, ndone, budget,
 *   <prefix>/din      hash task -> producers done     max_tries, lease_ms, deadline (ms, Redis TIME)
 *   <prefix>/crefs    hash chunk key -> readers done <prefix>/leases  zset task -> deadline (ms);
 *   <prefix>/ready    list "task:lease_ms" waiting     the member "start" while the run starts
 *                     for a free slot of the budget   <prefix>/tries   hash task -> expired leases
 *   <prefix>/targets  the result chunks (template)  <prefix>/result  list: "ok:N" | "failed:STATUS:msg"
 *   <prefix>/<pnode>/<chunk>  chunks, <prefix>/data/<node>  in-memory data of the driver
 *
 * Every key carries an expiry at the run's deadline plus a minute, so a run whose driver and
 * workers all vanished leaves nothing behind for long. The budget (lambdas in flight) is the
 * number of leased tasks: a chain holds exactly one lease, the task it runs. */
#ifndef LP_STORE_REDIS_RUN_H
#define LP_STORE_REDIS_RUN_H

#include "store/store.h"

#define LPI_RR_START (-1)  /* "task" of the run's start (planning, roots) in claim lists */

typedef enum lpi_rr_state {
    LPI_RR_OK = 0,   /* the script ran; claims below */
    LPI_RR_DUP,      /* complete: another copy of the task finished first; start: already started */
    LPI_RR_DONE,     /* this completion finished the run */
    LPI_RR_STOP,     /* the run is over (finished, failed, past its deadline): stop working on it */
    LPI_RR_GONE,     /* no state: collected after its end, or lost (FLUSHALL, restart, eviction) */
} lpi_rr_state;

/* What a script hands its caller: the task to continue with and tasks to invoke elsewhere
 * (already leased to the caller's invocations). */
typedef struct lpi_rr_claims {
    lpi_rr_state state;
    int64_t keep;      /* -1: none */
    int n;
    int64_t *spawn;    /* lp_malloc'd; LPI_RR_START for the run's start */
} lpi_rr_claims;
void lpi_rr_claims_free(lpi_rr_claims *c);

/* The driver: the run document and fresh state (state "starting", the start leased for
 * lease_ms x 4). *created is false when the run exists already. */
lp_status lpi_rr_init(lp_ctx *ctx, lpi_store *s, const char *prefix, const char *doc, size_t doclen, int budget,
                      int max_tries, int64_t lease_ms, int64_t ttl_ms, bool *created);

/* The worker that starts the run: ntasks tasks will complete it; tpl is the result template;
 * roots (with their lease lengths) are leased up to the budget, the rest queued. */
lp_status lpi_rr_start(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t ntasks, const char *tpl,
                       const int64_t *roots, const int64_t *lease_ms, int64_t nroots, lpi_rr_claims *out);

/* Consumer of a completed task: its id, the dependency count it is ready at, its lease. */
typedef struct lpi_rr_consumer {
    int64_t task, ndeps, lease_ms;
} lpi_rr_consumer;
/* A chunk the task read and how many distinct tasks read it (0: never deleted, a result). */
typedef struct lpi_rr_input {
    const char *key;
    int64_t readers;
} lpi_rr_input;

/* Task done, its output under out_key with this checksum: first completion wins; consumers
 * that became ready are leased (the first one in the caller's order to keep, the next ones to
 * spawn, beyond the budget queued); without one to keep, a queued task is taken; chunks whose
 * last reader this was are deleted; up to reap_max expired leases are re-claimed for spawning. */
lp_status lpi_rr_complete(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t task, uint64_t checksum,
                          const char *out_key, const lpi_rr_consumer *cons, int ncons, const lpi_rr_input *ins,
                          int nins, int reap_max, lpi_rr_claims *out);

/* Expired leases (tasks whose invocation died or hangs) re-claimed for re-invocation; a task
 * past max_tries fails the run; queued tasks when no task is leased at all (their invocations
 * were all refused as busy). Called by waiting drivers (completions reap expired leases). */
lp_status lpi_rr_reap(lp_ctx *ctx, lpi_store *s, const char *prefix, int max, lpi_rr_claims *out);

/* An invocation of task (LPI_RR_START: the start) reached no worker: one try used, re-leased
 * for a quick retry; past max_tries the run fails with `why`. */
lp_status lpi_rr_refused(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t task, const char *why,
                         lpi_rr_state *state);

/* An invocation of task found every worker busy (429): its lease becomes a place in the
 * queue (taken by the next completion that keeps nothing, or by a reap that finds no lease). */
lp_status lpi_rr_requeue(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t task, int64_t lease_ms);

/* Fail the run (if it still runs): the result says "failed:STATUS:message". */
lp_status lpi_rr_fail(lp_ctx *ctx, lpi_store *s, const char *prefix, lp_status st, const char *msg);

/* BLPOP the result list for up to timeout_sec: *result is NULL on timeout, else a malloc'd
 * "ok:N" or "failed:STATUS:message" (free with lp_free). */
lp_status lpi_rr_wait(lp_ctx *ctx, lpi_store *s, const char *prefix, double timeout_sec, char **result);

/* A string value (run document, template) of at most max bytes; LP_ERR_NOTFOUND if missing.
 * *text is NUL-terminated, lp_malloc'd. */
lp_status lpi_rr_get(lp_ctx *ctx, lpi_store *s, const char *key, size_t max, char **text, size_t *len);

/* The producers' checksums from <prefix>/done; have[i] false where a task is not done. */
lp_status lpi_rr_checksums(lp_ctx *ctx, lpi_store *s, const char *prefix, const int64_t *tasks, int n,
                           uint64_t *sums, bool *have);

/* After writing a chunk outside a completion (a lineage recomputation): if the run still has
 * state the chunk gets its expiry (*alive), else it is deleted (the run ended meanwhile). */
lp_status lpi_rr_touch(lp_ctx *ctx, lpi_store *s, const char *prefix, const char *key, bool *alive);

/* The start is still at work before planning (it runs the graph's loops, docs/ORCHESTRATION.md):
 * its lease renewed to lease_ms from now and, with doc (NULL: none), the run document replaced.
 * *state: LPI_RR_OK while the run is starting, else STOP or GONE (stop working on it). */
lp_status lpi_rr_hold(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t lease_ms, const char *doc, size_t doclen,
                      lpi_rr_state *state);

/* Delete the run: its meta first (so late workers see it gone and clean up after
 * themselves), then every key under the prefix. */
lp_status lpi_rr_cleanup(lp_ctx *ctx, lpi_store *s, const char *prefix);

#endif
