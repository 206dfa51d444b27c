/* --executor / --workers / --store: the lambda executor's options, shared by the subcommands
 * that run plans (eval, fisher, ...). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>


static bool opt_is(const char *a, const char *name) {
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=');
}

int cli_remote_opt(int argc, char **argv, int *i, cli_remote *r, int *err) {
    const char *a = argv[*i];
    *err = 0;
    const char *names[] = {"--executor", "--workers", "--store", "--key-file", "--ca-file", "--deadline"};
    for (int k = 0; k < 6; k++) {
        if (!opt_is(a, names[k])) continue;
        const char *v = cli_opt_value(argc, argv, i, names[k], err);
        if (!v) return 1;
        if (k == 0) {
            if (strcmp(v, "local") && strcmp(v, "lambda")) {
                *err = cli_usage_error("--executor is local or lambda, got '%s'", v);
                return 1;
            }
            r->executor = v;
        } else if (k == 1) {
            r->workers = v;
        } else if (k == 2) {
            r->store = v;
        } else if (k == 3) {
            r->key_file = v;
        } else if (k == 4) {
            r->ca_file = v;
        } else {
            char *e;
            r->deadline = strtod(v, &e);
            if (*e || !(r->deadline > 0) || r->deadline > 1e7) {
                *err = cli_usage_error("--deadline needs seconds (0 < SEC <= 1e7), got '%s'", v);
                return 1;
            }
        }
        return 1;
    }
    return 0;
}

int cli_remote_apply(lp_ctx *ctx, const cli_remote *r) {
    lp_status st = LP_OK;
    if (!r->executor && (r->workers || r->store)) {
        /* workers without --executor mean the lambda executor */
        st = lp_ctx_set_executor(ctx, "lambda");
    } else if (r->executor) {
        st = lp_ctx_set_executor(ctx, r->executor);
    }
    if (!st && r->workers) st = lp_ctx_set_workers(ctx, r->workers);
    if (!st && r->store) st = lp_ctx_set_store(ctx, r->store);
    if (!st && (r->key_file || r->ca_file || r->deadline > 0)) {
        lp_remote_config rc = {0};
        rc.key_file = r->key_file;
        rc.ca_file = r->ca_file;
        rc.deadline_sec = r->deadline;
        st = lp_ctx_set_remote_config(ctx, &rc);
    }
    if (!st && r->executor && !strcmp(r->executor, "lambda") && !r->workers)
        return cli_usage_error("--executor lambda needs --workers URL[,URL...]");
    return st ? cli_lib_error(ctx, st) : 0;
}
