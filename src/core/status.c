/* Status strings and the context's error message. */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

const char *lp_status_str(lp_status st) {
    switch (st) {
#define LP_X_(name, num, desc) case LP_##name: return desc;
        LP_STATUS_MAP(LP_X_)
#undef LP_X_
    default: return "unknown status";
    }
}

const char *lpi_status_name(lp_status st) {
    switch (st) {
#define LP_X_(name, num, desc) case LP_##name: return #name;
        LP_STATUS_MAP(LP_X_)
#undef LP_X_
    default: return "ERR_INTERNAL";
    }
}

lp_status lpi_status_from_name(const char *s) {
#define LP_X_(name, num, desc) if (s && !strcmp(s, #name)) return LP_##name;
    LP_STATUS_MAP(LP_X_)
#undef LP_X_
    return LP_ERR_REMOTE;
}

lp_status lpi_verror(lp_ctx *ctx, lp_status st, const char *fmt, va_list ap) {
    if (!ctx) return st;
    pthread_mutex_lock(&ctx->err_lock);
    /* During a run several tasks may fail (often as "cancelled" echoes of the first failure):
     * the first real failure is the one worth reporting. */
    bool keep = ctx->in_run && ctx->last_status != LP_OK &&
                !(ctx->last_status == LP_ERR_CANCELLED && st != LP_ERR_CANCELLED);
    if (!keep) {
        vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
        for (char *p = ctx->errmsg; *p; p++)
            if (*p == '\n') *p = ' ';
        ctx->last_status = st;
    }
    pthread_mutex_unlock(&ctx->err_lock);
    return st;
}

lp_status lpi_error(lp_ctx *ctx, lp_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lpi_verror(ctx, st, fmt, ap);
    va_end(ap);
    return st;
}

lp_status lpi_nomem(lp_ctx *ctx) { return lpi_error(ctx, LP_ERR_NOMEM, "out of memory"); }

const char *lp_last_error(const lp_ctx *ctx) { return ctx ? ctx->errmsg : "no context"; }
lp_status lp_last_status(const lp_ctx *ctx) { return ctx ? ctx->last_status : LP_ERR_VALUE; }
