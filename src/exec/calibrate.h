/* What the two calibrations (calibrate.c: this machine; calibrate_remote.c: the lambda
 * executor) share: the log of their measurements, one line each. */
#ifndef LP_EXEC_CALIBRATE_H
#define LP_EXEC_CALIBRATE_H

#include "plan/cost.h"

typedef struct lpi_cal_log {
    void (*log)(void *arg, const char *line); /* NULL: no log */
    void *arg;
} lpi_cal_log;

void lpi_cal_say(const lpi_cal_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The machine probe (probe.c): fills P's chunk_bytes, nt_stores, huge_pages, fresh_bw1 and the
 * one-stream read bandwidths (mem_bw1[0], mem_bw[0]) and sets P->probed; about 1 s when quick,
 * 5-8 s otherwise. Errors go on ctx. */
lp_status lpi_probe_machine(lp_ctx *ctx, lpi_profile *P, bool quick, const lpi_cal_log *log); /* log may be NULL */
/* The planner's prober (lpi_set_profile_prober, registered by exec/run.c): the quick probe, once
 * per process, its result saved to the default profile location (best effort). */
lp_status lpi_probe_auto(lp_ctx *ctx, lpi_profile *out);

#endif
