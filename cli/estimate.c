/* `lampy estimate` (the cost model's prediction for an expression, nothing run) and
 * `lampy calibrate` (measure this machine, save the profile). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

const char cli_estimate_help[] =
    "usage: lampy estimate EXPR|GRAPH.json [NAME=FILE.npy ...] [--workers N] [--remote]\n"
    "                      [--executor lambda [--orchestrate WHO] [--max-lambdas N]\n"
    "                      [--lambda-mem SIZE]]\n"
    "                      [--profile FILE] [--threads N] [--chunk-bytes B] [--no-fusion]\n"
    "                      [-o FILE.npy] [--json]\n"
    "\n"
    "Predict the time of evaluating EXPR without running it: per planned node its tasks,\n"
    "bytes, flops and time (all its tasks one after another), the critical path, and the\n"
    "predicted wall time for N workers (a simulation of the executor's schedule).\n"
    "The machine profile comes from --profile, $LAMPY_PROFILE, or the file `lampy calibrate`\n"
    "writes; without one, built-in defaults are used (and said so).\n"
    "\n"
    "Options:\n"
    "  --workers N          workers to predict for (default: --threads, else one per core)\n"
    "  --remote             price tasks as the lambda executor runs them: the store traffic of\n"
    "                       the chunks that cross it, invocations, the profile's measured remote\n"
    "                       figures (`lampy calibrate --executor lambda`)\n"
    "  --executor lambda    --remote, and what a provider would be asked for and bill: how many\n"
    "                       lambdas at once (the budget, at most the plan's average\n"
    "                       parallelism), memory per lambda (the largest task's inputs and\n"
    "                       output plus the runtime's), the predicted wall time, lambda-seconds\n"
    "                       and GB-seconds\n"
    "  --orchestrate WHO    driver (this process dispatches batches of tasks, the default) or\n"
    "                       lambda (one invocation; chains of tasks in the functions)\n"
    "  --max-lambdas N      the budget of lambdas (default: --workers, else 8)\n"
    "  --lambda-mem SIZE    a lambda's memory limit (OpenLambda's mem_mb): tasks that need more\n"
    "                       are reported\n"
    "  -o, --output FILE    price saving the result into FILE (.npy) as `lampy eval -o` does:\n"
    "                       remotely the tasks write it (result sinks), else this process after\n"
    "                       the run; then the file's sync to the disk and its rename, which\n"
    "                       frees the pages of a FILE already there (the profile's file\n"
    "                       figures, measured by `lampy calibrate`)\n"
    "  --profile FILE       machine profile to use\n"
    "  --json               print the estimate as JSON (seconds as numbers)\n"
    "  --threads N, --chunk-bytes B, --no-fusion   plan as `lampy eval` would with them\n"
    "\n"
    "Example:\n"
    "  lampy estimate 'sum((a - b) ** 2)' a=a.npy b=b.npy --workers 2\n";

static const char *human(double v, const char *unit, char *buf, size_t n) {
    const char *p[] = {"", "K", "M", "G", "T"};
    int k = 0;
    while (v >= 1000 && k < 4) { v /= 1000; k++; }
    if (v == 0) snprintf(buf, n, "0");
    else snprintf(buf, n, "%.3g %s%s", v, p[k], unit);
    return buf;
}

static const char *secs(double s, char *buf, size_t n) {
    if (s >= 1) snprintf(buf, n, "%.3f s", s);
    else if (s >= 1e-3) snprintf(buf, n, "%.3f ms", s * 1e3);
    else snprintf(buf, n, "%.1f us", s * 1e6);
    return buf;
}

int cli_estimate(int argc, char **argv) {
    const char *src = NULL, *output = NULL;
    long workers = 0, max_lambdas = 0;
    bool remote = false, json = false, mem_set = false;
    int executor = -1, orchestrate = -1;
    size_t lambda_mem = 0;
    cli_run_opts run = CLI_RUN_OPTS_INIT;
    const cli_opt opts[] = {
        {.name = "--remote", .kind = CLI_FLAG, .dst = &remote},
        {.name = "--executor", .kind = CLI_CHOICE, .dst = &executor, .choices = cli_executors},
        {.name = "--orchestrate", .kind = CLI_CHOICE, .dst = &orchestrate, .choices = cli_orchestrators},
        {.name = "--max-lambdas", .kind = CLI_INT, .dst = &max_lambdas, .lo = 1, .hi = 1 << 20},
        {.name = "--lambda-mem", .kind = CLI_SIZE, .dst = &lambda_mem, .seen = &mem_set},
        {.name = "--json", .kind = CLI_FLAG, .dst = &json},
        {.name = "--output", .alias = "-o", .kind = CLI_STR, .dst = &output},
        {.name = "--workers", .kind = CLI_INT, .dst = &workers, .lo = 1, .hi = 1 << 20},
        CLI_RUN_OPTS(&run),
        {0},
    };
    const char **pos = calloc((size_t)argc, sizeof *pos);
    int npos = 0, rc = CLI_EXIT_OK, n = 0;
    lp_ctx *ctx = NULL;
    lp_array **t = NULL;
    lp_estimate_result *e = NULL;
    lp_status st;
    if (!pos) return cli_error("out of memory");
    if ((rc = cli_parse_args("estimate", argc, argv, opts, CLI_DASHDASH_ONE | CLI_DASH_FIRST, pos, &npos))) goto done;
    if (npos) src = pos[0];
    if ((st = lp_ctx_create(&ctx))) { rc = cli_error("%s", lp_status_str(st)); goto done; }
    if ((rc = cli_run_opts_apply(ctx, &run))) goto done;
    if (!src) { rc = cli_usage_error("estimate: missing EXPR or GRAPH.json; see 'lampy estimate --help'"); goto done; }
    if ((rc = cli_targets(ctx, src, (char *const *)pos + 1, npos - 1, &t, &n))) goto done;
    const bool lambdas = executor == 1;
    if (lambdas) {
        remote = true;
        if (!max_lambdas) max_lambdas = workers ? workers : 8;
        workers = max_lambdas;
    }
    if (orchestrate >= 0 && !remote) { rc = cli_usage_error("estimate: --orchestrate needs --executor lambda or --remote"); goto done; }
    int flags = orchestrate == 1 ? LP_ESTIMATE_ORCHESTRATE : remote ? LP_ESTIMATE_REMOTE : 0;
    if (output) {
        /* what is priced is a .npy file on this machine (eval -o); Zarr stores and URLs are not */
        size_t ol = strlen(output);
        while (ol > 1 && output[ol - 1] == '/') ol--;
        if (!*output || strstr(output, "://") || (ol >= 5 && !memcmp(output + ol - 5, ".zarr", 5))) {
            rc = cli_usage_error("estimate: -o prices saving into a .npy file; '%s' is not one", output);
            goto done;
        }
        if (n != 1) { rc = cli_usage_error("estimate: -o needs exactly one target (the graph has %d)", n); goto done; }
        flags |= LP_ESTIMATE_SAVE;
    }
    const char *paths[1] = {output};
    if ((st = output ? lp_estimate_save(ctx, t, n, (int)workers, flags, paths, &e) : lp_estimate(ctx, t, n, (int)workers, flags, &e))) {
        rc = cli_lib_error(ctx, st);
        goto done;
    }
    /* the lambda plan: lambdas worth running at once, their memory, what a provider bills */
    double par = e->critical_seconds > 0 ? e->work_seconds / e->critical_seconds : 1;
    int nl = (int)max_lambdas < (int)(par + 0.999) ? (int)max_lambdas : (int)(par + 0.999);
    if (nl < 1) nl = 1;
    const double runtime_mb = 64; /* the lambda's own runtime and buffers */
    double mem_mb = e->max_task_bytes / 1048576 + runtime_mb;
    double lsec = e->work_seconds, gbs = lsec * mem_mb / 1024;
    if (json) {
        printf("{\"workers\": %d, \"remote\": %s, \"tasks\": %lld, \"flops\": %.6g, \"bytes_read\": %.6g, "
               "\"bytes_written\": %.6g, \"work_seconds\": %.6g, \"critical_seconds\": %.6g, \"total_seconds\": %.6g, ",
               e->workers, remote ? "true" : "false", (long long)e->tasks, e->flops, e->bytes_read, e->bytes_written,
               e->work_seconds, e->critical_seconds, e->total_seconds);
        if (output) printf("\"save_seconds\": %.6g, ", e->save_seconds);
        if (lambdas)
            printf("\"lambdas\": %d, \"lambda_mem_mb\": %.1f, \"lambda_seconds\": %.6g, \"gb_seconds\": %.6g, "
                   "\"fits_lambda_mem\": %s, ", nl, mem_mb, lsec, gbs, !mem_set || mem_mb <= (double)lambda_mem / 1048576 ? "true" : "false");
        printf("\"nodes\": [");
        for (int i = 0; i < e->nnodes; i++) {
            const lp_estimate_node *d = &e->nodes[i];
            printf("%s\n  {\"id\": %d, \"kernel\": \"%s\", \"op\": \"%s\", \"dtype\": \"%s\", \"shape\": [", i ? "," : "",
                   d->id, d->kernel, d->op, lp_dtype_name(d->dtype));
            for (int k = 0; k < d->ndim; k++) printf("%s%lld", k ? ", " : "", (long long)d->shape[k]);
            printf("], \"tasks\": %lld, \"flops\": %.6g, \"bytes_read\": %.6g, \"bytes_written\": %.6g, "
                   "\"seconds\": %.6g, \"critical\": %s}",
                   (long long)d->tasks, d->flops, d->bytes_read, d->bytes_written, d->seconds, d->critical ? "true" : "false");
        }
        printf("]}\n");
        goto done;
    }
    {
        char *pj = NULL, ppath[4096] = "";
        lp_profile_dump(ctx, &pj);
        const char *m = pj ? strstr(pj, "\"machine\": \"") : NULL;
        char machine[200] = "?";
        if (m) {
            m += 12;
            size_t k = strcspn(m, "\"");
            snprintf(machine, sizeof machine, "%.*s", (int)(k < 190 ? k : 190), m);
        }
        bool calibrated = pj && strstr(pj, "\"calibrated\": true");
        lp_profile_path(ppath, sizeof ppath);
        printf("profile: %s%s\n", machine, calibrated ? "" : "  [not calibrated: run `lampy calibrate`]");
        if (remote && !(pj && strstr(pj, "\"remote_calibrated\": true")))
            printf("         remote figures not measured: run `lampy calibrate --executor lambda --workers ...`\n");
        lp_string_free(pj);
    }
    printf("%4s  %-8s %-18s %-20s %-8s %7s %10s %10s %10s %11s\n", "node", "kernel", "op", "shape", "dtype", "tasks",
           "read", "written", "flop", "time");
    for (int i = 0; i < e->nnodes; i++) {
        const lp_estimate_node *d = &e->nodes[i];
        char sh[64] = "(", b1[24], b2[24], b3[24], tt[24];
        size_t l = 1;
        for (int k = 0; k < d->ndim && l + 22 < sizeof sh; k++)
            l += (size_t)snprintf(sh + l, sizeof sh - l, "%s%lld", k ? ", " : "", (long long)d->shape[k]);
        snprintf(sh + l, sizeof sh - l, d->ndim == 1 ? ",)" : ")");
        printf("%4d  %-8s %-18s %-20s %-8s %7lld %10s %10s %10s %11s%s\n", d->id, d->kernel, d->op, sh,
               lp_dtype_name(d->dtype), (long long)d->tasks, human(d->bytes_read, "B", b1, sizeof b1),
               human(d->bytes_written, "B", b2, sizeof b2), human(d->flops, "", b3, sizeof b3), secs(d->seconds, tt, sizeof tt),
               d->critical ? "  *" : "");
    }
    char a1[24], a2[24], a3[24], a4[24], a5[24], a6[24];
    printf("tasks %lld, read %s, written %s, %s flop\n", (long long)e->tasks, human(e->bytes_read, "B", a1, sizeof a1),
           human(e->bytes_written, "B", a2, sizeof a2), human(e->flops, "", a3, sizeof a3));
    printf("work %s, critical path %s (nodes marked *)\n", secs(e->work_seconds, a4, sizeof a4),
           secs(e->critical_seconds, a5, sizeof a5));
    if (output) {
        char sv[24];
        printf("saving into %s: %s (in the total)\n", output, secs(e->save_seconds, sv, sizeof sv));
    }
    printf("predicted total with %d %s: %s\n", e->workers, remote ? (e->workers == 1 ? "function" : "functions")
                                                                  : (e->workers == 1 ? "worker" : "workers"),
           secs(e->total_seconds, a6, sizeof a6));
    if (lambdas) {
        char m1[24];
        printf("lambdas          %d at once (budget %ld; the plan's average parallelism %.1f)\n", nl, max_lambdas, par);
        printf("memory/lambda    %.0f MB (largest task %s + %.0f MB runtime)\n", mem_mb,
               human(e->max_task_bytes, "B", m1, sizeof m1), runtime_mb);
        if (mem_set && mem_mb > (double)lambda_mem / 1048576)
            printf("                 over --lambda-mem %.0f MB: choose a smaller --chunk-bytes\n", (double)lambda_mem / 1048576);
        printf("predicted wall   %s\n", secs(e->total_seconds, a6, sizeof a6));
        printf("lambda-seconds   %.3f s\n", lsec);
        printf("GB-seconds       %.4f\n", gbs);
    }
done:
    lp_estimate_free(e);
    cli_targets_free(t, n);
    lp_ctx_destroy(ctx);
    free(pos);
    return rc;
}

const char cli_calibrate_help[] =
    "usage: lampy calibrate [--profile FILE] [--quick] [--no-save]\n"
    "       lampy calibrate --executor lambda --workers URLS [--store URL] [--key-file FILE]\n"
    "                       [--ca-file FILE] [--load-dir DIR] [--profile FILE] [--quick] [--no-save]\n"
    "\n"
    "Measure this machine with Lampy's own kernels (memory bandwidth on one core and on all,\n"
    "reading .npy files, first-touch of result memory, flop rates per op class, BLAS, task and\n"
    "run overheads; about 10 s) and save the profile the cost model uses: to FILE, else\n"
    "$LAMPY_PROFILE, else $XDG_CONFIG_HOME/lampy/profile.json (~/.config/lampy/profile.json).\n"
    "\n"
    "With --executor lambda (or --workers), measure the lambda executor instead, against those\n"
    "workers and that store: the store's round trip and bandwidth, an invocation's round trip,\n"
    "orchestrated and driver-centric runs of small graphs (what a run, a task in a chain and\n"
    "the driver per task cost; how many tasks the workers run at once); a few seconds. These\n"
    "figures replace the remote part of the profile in FILE (or the default one); the rest of\n"
    "it is kept. `lampy estimate --executor lambda` predicts with them.\n"
    "\n"
    "Options:\n"
    "  --profile FILE       where to save the profile (remote: also the profile to update)\n"
    "  --quick              smaller arrays and fewer repetitions (about 3 s, less precise)\n"
    "  --no-save            print the profile instead of saving it\n"
    "  --load-dir DIR       lambda: a directory the workers may read (their --load-dir): .npy\n"
    "                       files there (removed afterwards) measure what a run with a file\n"
    "                       input costs per lambda and the rate the workers read its rows at,\n"
    "                       and, where they may also write (their --write-dir), the rate their\n"
    "                       tasks write a saved result into its file at; without it those\n"
    "                       figures are kept\n"
    CLI_REMOTE_HELP;

static void log_line(void *arg, const char *line) {
    (void)arg;
    fprintf(stderr, "  %s\n", line);
}

int cli_calibrate(int argc, char **argv) {
    const char *path = NULL, *load_dir = NULL;
    bool quick = false, no_save = false;
    cli_remote rem = CLI_REMOTE_INIT;
    const cli_opt opts[] = {
        {.name = "--quick", .kind = CLI_FLAG, .dst = &quick},
        {.name = "--no-save", .kind = CLI_FLAG, .dst = &no_save},
        {.name = "--profile", .kind = CLI_STR, .dst = &path},
        {.name = "--load-dir", .kind = CLI_STR, .dst = &load_dir},
        CLI_REMOTE_OPTS(&rem),
        {0},
    };
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0, prc;
    if ((prc = cli_parse_args("calibrate", argc, argv, opts, 0, pos, &npos))) return prc;
    if (npos) return cli_usage_error("calibrate: unknown argument '%s'; see 'lampy calibrate --help'", pos[0]);
    bool save = !no_save;
    lp_ctx *ctx;
    lp_status st = lp_ctx_create(&ctx);
    if (st) return cli_error("%s", lp_status_str(st));
    int rc = CLI_EXIT_OK;
    const bool remote = rem.executor == 1 || (rem.executor < 0 && (rem.workers || rem.store));
    if (rem.executor == 0 && (rem.workers || rem.store)) {
        lp_ctx_destroy(ctx);
        return cli_usage_error("calibrate: --workers and --store measure the lambda executor; drop --executor local");
    }
    if (load_dir && !remote) {
        lp_ctx_destroy(ctx);
        return cli_usage_error("calibrate: --load-dir is for the lambda executor's workers (--executor lambda --workers ...)");
    }
    /* the profile to update: FILE when it can be read, else the default one (or built-in); a
     * local calibration keeps its remote part and a remote one its local part */
    if (path) lp_profile_load(ctx, path);
    if (remote) {
        if ((rc = cli_remote_apply(ctx, &rem))) { lp_ctx_destroy(ctx); return rc; }
        fprintf(stderr, "lampy calibrate: measuring the lambda executor%s\n", quick ? " (quick)" : "");
        st = lp_calibrate_remote(ctx, quick, load_dir, log_line, NULL);
    } else {
        fprintf(stderr, "lampy calibrate: measuring this machine%s\n", quick ? " (quick)" : "");
        st = lp_calibrate(ctx, quick ? 8 : 30, log_line, NULL);
    }
    if (st) {
        rc = cli_lib_error(ctx, st);
    } else if (save) {
        char def[4096] = "(default location)";
        if (!path) lp_profile_path(def, sizeof def);
        if ((st = lp_profile_save(ctx, path))) rc = cli_lib_error(ctx, st);
        else fprintf(stderr, "lampy calibrate: profile saved to %s\n", path ? path : def);
    } else {
        char *j = NULL;
        if ((st = lp_profile_dump(ctx, &j))) rc = cli_lib_error(ctx, st);
        else printf("%s\n", j);
        lp_string_free(j);
    }
    lp_ctx_destroy(ctx);
    return rc;
}
