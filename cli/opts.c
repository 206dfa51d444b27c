/* One table-driven parser for every subcommand's options (cli.h, cli_parse_args), and the
 * option groups several subcommands share: how a context runs plans, and where (the lambda
 * executor's workers and store). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* Does arg name the option (exactly, or as "--name=value")? */
static bool names(const char *arg, const char *name, const char **inline_value) {
    size_t n = strlen(name);
    if (strncmp(arg, name, n)) return false;
    if (arg[n] == 0) { *inline_value = NULL; return true; }
    if (arg[n] == '=' && name[1] == '-') { *inline_value = arg + n + 1; return true; }
    return false;
}

static int take(const char *cmd, const cli_opt *o, const char *shown, const char *v) {
    switch (o->kind) {
    case CLI_FLAG:
        *(bool *)o->dst = true;
        return 0;
    case CLI_STR:
        if (!*v && !o->empty_ok) return cli_usage_error("%s: option '%s' needs a value", cmd, shown);
        *(const char **)o->dst = v;
        return 0;
    case CLI_INT: {
        long x;
        if (cli_parse_int(v, o->lo, o->hi, &x))
            return cli_usage_error("%s: %s needs an integer in %ld..%ld, got '%s'", cmd, shown, o->lo, o->hi, v);
        *(long *)o->dst = x;
        return 0;
    }
    case CLI_SIZE:
        if (cli_parse_size(v, (size_t *)o->dst))
            return cli_usage_error("%s: %s needs a size such as 65536 or 4M, got '%s'", cmd, shown, v);
        return 0;
    case CLI_CHOICE:
        for (int k = 0; o->choices[k]; k++)
            if (!strcmp(v, o->choices[k])) { *(int *)o->dst = k; return 0; }
        {
            char list[256] = "";
            for (int k = 0; o->choices[k]; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", o->choices[k]);
            return cli_usage_error("%s: %s is one of %s, got '%s'", cmd, shown, list, v);
        }
    case CLI_LIST: {
        cli_list *l = o->dst;
        if (!*v) return cli_usage_error("%s: option '%s' needs a value", cmd, shown);
        l->v[l->n++] = v;
        return 0;
    }
    case CLI_FN:
        return o->fn(cmd, shown, v, o->dst);
    }
    return cli_usage_error("%s: option '%s' is not handled", cmd, shown);
}

int cli_parse_args(const char *cmd, int argc, char **argv, const cli_opt *opts, unsigned flags, const char **pos,
                   int *npos) {
    bool protect = false, ended = false;
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (protect || ended || arg[0] != '-' || arg[1] == 0) {
            pos[(*npos)++] = arg;
            protect = false;
            continue;
        }
        if (!strcmp(arg, "--")) {
            if (flags & CLI_DASHDASH_ONE) protect = true;
            else ended = true;
            continue;
        }
        const cli_opt *o = NULL;
        const char *iv = NULL, *shown = arg;
        for (const cli_opt *c = opts; c && c->name && !o; c++) {
            if (names(arg, c->name, &iv)) { o = c; shown = c->name; }
            else if (c->alias && names(arg, c->alias, &iv)) { o = c; shown = c->alias; }
        }
        if (!o) {
            /* "-2**2" or "-a" are expressions when no positional argument came yet */
            if ((flags & CLI_DASH_FIRST) && *npos == 0 && arg[1] != '-') { pos[(*npos)++] = arg; continue; }
            return cli_usage_error("%s: unknown option '%s'; see 'lampy %s --help'", cmd, arg, cmd);
        }
        const char *v = NULL;
        if (o->kind == CLI_FLAG) {
            if (iv) return cli_usage_error("%s: option '%s' takes no value", cmd, shown);
        } else if (iv) {
            v = iv;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            return cli_usage_error("%s: option '%s' needs a value", cmd, shown);
        }
        int rc = take(cmd, o, shown, v);
        if (rc) return rc;
        if (o->seen) *o->seen = true;
    }
    return 0;
}

int cli_list_init(cli_list *l, int argc) {
    l->n = 0;
    l->v = calloc((size_t)(argc > 0 ? argc : 1) + 1, sizeof *l->v);
    return l->v ? 0 : cli_error("out of memory");
}

void cli_list_free(cli_list *l) {
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int cli_parse_seconds(const char *cmd, const char *opt, const char *v, void *dst) {
    char *e;
    double x = strtod(v, &e);
    if (*e || e == v || !(x > 0) || x > 1e7)
        return cli_usage_error("%s: %s needs seconds (0 < SEC <= 1e7), got '%s'", cmd, opt, v);
    *(double *)dst = x;
    return 0;
}

int cli_run_opts_apply(lp_ctx *ctx, const cli_run_opts *r) {
    lp_status st = LP_OK;
    if (r->threads >= 0) st = lp_ctx_set_threads(ctx, (int)r->threads);
    if (!st && r->chunk_bytes_set) st = lp_ctx_set_chunk_bytes(ctx, r->chunk_bytes);
    if (!st && r->no_fusion) st = lp_ctx_set_fusion(ctx, false);
    if (!st && r->profile) st = lp_profile_load(ctx, r->profile);
    return st ? cli_lib_error(ctx, st) : 0;
}

const char *const cli_executors[] = {"local", "lambda", NULL};
const char *const cli_orchestrators[] = {"driver", "lambda", NULL};

int cli_remote_apply(lp_ctx *ctx, const cli_remote *r) {
    lp_status st = LP_OK;
    const char *executor = r->executor >= 0 ? cli_executors[r->executor] : NULL;
    if (!executor && (r->workers || r->store)) {
        /* workers without --executor mean the lambda executor */
        st = lp_ctx_set_executor(ctx, "lambda");
    } else if (executor) {
        st = lp_ctx_set_executor(ctx, executor);
    }
    if (!st && r->workers) st = lp_ctx_set_workers(ctx, r->workers);
    if (!st && r->store) st = lp_ctx_set_store(ctx, r->store);
    if (!st && executor && !strcmp(executor, "lambda") && !r->workers)
        return cli_usage_error("--executor lambda needs --workers URL[,URL...]");
    if (!st && (r->key_file || r->ca_file || r->deadline > 0 || r->orchestrate >= 0 || r->max_lambdas || r->lambda_mem_set)) {
        /* one configuration: setting it replaces the previous one whole */
        lp_remote_config rc;
        memset(&rc, 0, sizeof rc);
        rc.key_file = r->key_file;
        rc.ca_file = r->ca_file;
        rc.deadline_sec = r->deadline;
        rc.orchestrate = r->orchestrate >= 0 ? cli_orchestrators[r->orchestrate] : NULL;
        rc.max_lambdas = (int)r->max_lambdas;
        rc.lambda_mem_mb = (int)((r->lambda_mem + (1 << 20) - 1) >> 20);
        st = lp_ctx_set_remote_config(ctx, &rc);
    }
    return st ? cli_lib_error(ctx, st) : 0;
}
