/* `lampy eval EXPR NAME=FILE.npy ...`: build the expression lazily, run it, print or save. */
#include "cli.h"
#include "expr_parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cli_eval_help[] =
    "usage: lampy eval EXPR [NAME=FILE.npy ...] [-o OUT.npy] [--threads N]\n"
    "                  [--chunk-bytes B] [--no-fusion] [--profile FILE] [--stats] [--report]\n"
    "                  [--trace FILE.json] [--no-progress]\n"
    "       lampy eval --list\n"
    "\n"
    "Evaluate a NumPy expression over .npy files, lazily and in parallel, and print the\n"
    "result as print() of a NumPy array would, or save it with -o.\n"
    "\n"
    "Arguments:\n"
    "  EXPR                 a Python expression (use '--' before it if it starts with '-')\n"
    "  NAME=FILE.npy        bind NAME in EXPR to the array in FILE.npy (read lazily)\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE    save the result to FILE (.npy) instead of printing it\n"
    CLI_RUN_HELP
    "  --stats              print run statistics and timings to stderr (with -o, 'lp_run\n"
    "                       time' includes writing FILE: remote workers write it directly)\n"
    CLI_REMOTE_HELP
    "  --report             print a run report to stderr: tasks, bytes, wall time beside the\n"
    "                       cost model's predicted time, worker utilisation\n"
    "  --trace FILE         write the run's timeline as a Chrome trace-event file (a row per\n"
    "                       worker, a span per task; open it in https://ui.perfetto.dev)\n"
    "  --no-progress        no progress bar (it is shown on a terminal for runs over ~1 s)\n"
    "  --detach             --orchestrate lambda: submit the run, print its id and exit\n"
    "                       (fetch the result later with `lampy wait RUN_ID`)\n"
    "  --list               print every function expressions can call (the library's\n"
    "                       catalogue: signatures, aliases, Array methods) and exit\n"
    "  -h, --help           show this help\n"
    "\n"
    "Expressions use Python's syntax and precedence. Python numbers are weak scalars\n"
    "(NumPy 2 promotion): int32_array + 1 stays int32.\n"
    "  operators  + - * / // % ** @ (matmul)  & | ^ ~  < <= > >= == !=\n"
    "  indexing   a[::2, 1:]  a[0]  a[-1, ..., None]  a[:, newaxis]\n"
    "  attributes a.T a.shape a.ndim a.size a.dtype\n"
    "  methods    a.sum() .prod .mean .min .max .argmin .argmax .var .std .any .all\n"
    "             (axis=None|int|tuple, keepdims=False, ddof=0 for var/std),\n"
    "             .astype(float32)  .reshape(2, -1)  .transpose(1, 0)  .ravel()\n"
    "  functions  NumPy's, with NumPy's signatures: where(c, a, b) maximum sqrt exp ...,\n"
    "             the reductions as functions (sum(a, axis=0)), concatenate((a, b), axis=0),\n"
    "             linalg.solve(a, b) ...; 'lampy eval --list' prints all of them\n"
    "  creation   zeros((3, 4), dtype=float32) ones full(shape, value) arange(start,\n"
    "             stop, step) linspace(start, stop, num=50, endpoint=True)\n"
    "             eye(n, m=None, k=0) random.uniform(shape, seed=0, low=0, high=1)\n"
    "             random.normal(shape, seed=0, loc=0, scale=1)\n"
    "  literals   1 2.5 1e-3 0x1f True False None; [1, 2] and ((1, 2), (3, 4)) are arrays\n"
    "  names      nan inf pi e newaxis, dtypes bool int8 int16 int32 int64 uint8\n"
    "             uint16 uint32 uint64 float16 float32 float64 (bare or quoted),\n"
    "             np.<name> and numpy.<name>\n"
    "\n"
    "Examples:\n"
    "  lampy eval 'a * b + c * 2 - a' a=a.npy b=b.npy c=c.npy -o out.npy\n"
    "  lampy eval 'x.mean(axis=0)' x=data.npy\n"
    "  lampy eval 'where(x > 0, x, 0).sum()' x=data.npy --stats\n"
    "  lampy eval 'arange(12).reshape(3, 4)[:, 1:]'\n";

/* `lampy eval --list`: every function of the library's catalogue, as the evaluator knows it. */
static int cli_eval_list(void) {
    for (int i = 0; i < lp_func_count(); i++) {
        const lp_func *f = lp_func_at(i);
        const char *dot = strchr(f->name, '.');
        printf("%.*s%s\n", dot ? (int)(dot - f->name + 1) : 0, f->name, f->signature);
        if (f->aliases[0]) printf("    also: %s\n", f->aliases);
        if (f->method) printf("    method: a.%s\n", f->method);
        printf("    %s.\n", f->doc);
    }
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool valid_name(const char *s, size_t n) {
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return false;
    return true;
}

static const char *human_bytes(int64_t b, char *buf, size_t cap) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int k = 0;
    while (v >= 1024 && k < 4) { v /= 1024; k++; }
    if (k == 0) snprintf(buf, cap, "%lld B", (long long)b);
    else snprintf(buf, cap, "%.1f %s", v, u[k]);
    return buf;
}

static void print_report(const lp_ctx *ctx) {
    lp_run_report r;
    char b1[32], b2[32], b3[32];
    lp_last_run_report(ctx, &r);
    fflush(stdout);
    fprintf(stderr,
            "tasks           %lld on %d threads\n"
            "bytes read      %s (sources)\n"
            "bytes written   %s (chunks and states)\n"
            "peak memory     %s of chunks\n"
            "plan time       %.6f s\n"
            "wall time       %.6f s\n"
            "predicted time  %.6f s (cost model; measured/predicted %.2f)\n"
            "worker busy     %.6f s, utilisation %.0f%%\n",
            (long long)r.stats.tasks, r.stats.threads, human_bytes(r.stats.bytes_read, b1, sizeof b1),
            human_bytes(r.bytes_written, b2, sizeof b2), human_bytes(r.stats.peak_bytes, b3, sizeof b3),
            r.stats.plan_seconds, r.stats.run_seconds, r.predicted_seconds,
            r.predicted_seconds > 0 ? (r.stats.plan_seconds + r.stats.run_seconds) / r.predicted_seconds : 0,
            r.busy_seconds, r.utilisation * 100);
}

int cli_report_setup(lp_ctx *ctx, const cli_report_opts *r) {
    lp_status st = LP_OK;
    if (r->report || r->trace) st = lp_ctx_set_trace(ctx, true);
    if (!st && !r->no_progress) st = lp_ctx_set_progress(ctx, true);
    return st ? cli_lib_error(ctx, st) : 0;
}

int cli_report_finish(lp_ctx *ctx, const cli_report_opts *r) {
    if (r->report) print_report(ctx);
    lp_status st = r->trace ? lp_trace_write(ctx, r->trace) : LP_OK;
    return st ? cli_lib_error(ctx, st) : 0;
}

static void print_stats(const lp_ctx *ctx, double t_build, double t_run, double t_out, double t_total) {
    lp_run_stats s;
    char b1[32], b2[32], b3[32];
    memset(&s, 0, sizeof s);
    lp_last_run_stats(ctx, &s);
    fflush(stdout);
    fprintf(stderr,
            "tasks         %lld\n"
            "threads       %d\n"
            "bytes read    %lld (%s)\n"
            "bytes alloc   %lld (%s)\n"
            "peak bytes    %lld (%s)\n"
            "plan time     %.6f s\n"
            "run time      %.6f s\n"
            "build time    %.6f s (parse, load headers)\n"
            "lp_run time   %.6f s\n"
            "output time   %.6f s\n"
            "total time    %.6f s\n",
            (long long)s.tasks, s.threads, (long long)s.bytes_read, human_bytes(s.bytes_read, b1, sizeof b1),
            (long long)s.bytes_alloc, human_bytes(s.bytes_alloc, b2, sizeof b2), (long long)s.peak_bytes,
            human_bytes(s.peak_bytes, b3, sizeof b3), s.plan_seconds, s.run_seconds, t_build, t_run, t_out,
            t_total);
}

int cli_eval(int argc, char **argv) {
    double t0 = now_seconds();
    const char *expr = NULL, *output = NULL;
    bool stats = false, detach = false, list = false;
    cli_report_opts rep = {0};
    cli_run_opts run = CLI_RUN_OPTS_INIT;
    cli_remote remote = CLI_REMOTE_INIT;
    const cli_opt opts[] = {
        {.name = "--output", .alias = "-o", .kind = CLI_STR, .dst = &output},
        {.name = "--stats", .kind = CLI_FLAG, .dst = &stats},
        CLI_REPORT_OPTS(&rep),
        {.name = "--detach", .kind = CLI_FLAG, .dst = &detach},
        {.name = "--list", .kind = CLI_FLAG, .dst = &list},
        CLI_RUN_OPTS(&run),
        CLI_REMOTE_OPTS(&remote),
        {0},
    };
    cli_binding *names = calloc((size_t)argc, sizeof *names);
    lp_array **arrays = calloc((size_t)argc, sizeof *arrays);
    char **name_copies = calloc((size_t)argc, sizeof *name_copies);
    const char **paths = calloc((size_t)argc, sizeof *paths);
    const char **pos = calloc((size_t)argc, sizeof *pos);
    int nnames = 0, npos = 0, rc = CLI_EXIT_OK;
    lp_ctx *ctx = NULL;
    lp_array *result = NULL;
    lp_buffer *buf = NULL;
    lp_status st;
    if (!names || !arrays || !name_copies || !paths || !pos) { rc = cli_error("out of memory"); goto done; }
    /* "--" protects only EXPR (bindings never start with '-'), so options may follow it */
    if ((rc = cli_parse_args("eval", argc, argv, opts, CLI_DASHDASH_ONE | CLI_DASH_FIRST, pos, &npos))) goto done;
    if (list) { rc = cli_eval_list(); goto done; }
    if (npos) expr = pos[0];
    for (int i = 1; i < npos; i++) {
        const char *arg = pos[i];
        const char *eq = strchr(arg, '=');
        if (!eq || !valid_name(arg, (size_t)(eq - arg)) || !eq[1]) {
            rc = cli_usage_error("eval: expected NAME=FILE.npy, got '%s'", arg);
            goto done;
        }
        size_t nlen = (size_t)(eq - arg);
        for (int k = 0; k < nnames; k++)
            if (strlen(names[k].name) == nlen && strncmp(names[k].name, arg, nlen) == 0) {
                rc = cli_usage_error("eval: name '%.*s' is bound twice", (int)nlen, arg);
                goto done;
            }
        name_copies[nnames] = strndup(arg, nlen);
        if (!name_copies[nnames]) { rc = cli_error("out of memory"); goto done; }
        names[nnames].name = name_copies[nnames];
        names[nnames].array = NULL;
        paths[nnames] = eq + 1;
        nnames++;
    }
    if (!expr) { rc = cli_usage_error("eval: missing EXPR; see 'lampy eval --help'"); goto done; }

    if ((st = lp_ctx_create(&ctx)) != LP_OK) { rc = cli_error("%s", lp_status_str(st)); goto done; }
    if ((rc = cli_run_opts_apply(ctx, &run)) || (rc = cli_remote_apply(ctx, &remote)) || (rc = cli_report_setup(ctx, &rep)))
        goto done;

    for (int k = 0; k < nnames; k++) {
        lp_array *a = NULL;
        st = lp_load(ctx, paths[k], &a);
        if (st != LP_OK) { rc = cli_lib_error(ctx, st); goto done; }
        arrays[k] = a;
        names[k].array = a;
    }

    char err[1024];
    st = cli_expr_build(ctx, expr, names, nnames, &result, err, sizeof err);
    if (st != LP_OK) { rc = cli_error("%s", err[0] ? err : lp_status_str(st)); goto done; }

    if (detach) {
        char id[LP_RUN_ID_MAX];
        if ((st = lp_submit(ctx, &result, 1, id)) != LP_OK) { rc = cli_lib_error(ctx, st); goto done; }
        printf("%s\n", id);
        goto done;
    }

    double t1 = now_seconds();
    /* with -o, the run and the file in one call: a remote run's workers write their chunks
     * straight into the file (a result sink), so "lp_run time" includes writing it */
    st = output ? lp_save_array(ctx, output, result) : lp_run(ctx, &result, 1, &buf);
    if (st != LP_OK) { rc = cli_lib_error(ctx, st); goto done; }
    double t2 = now_seconds();

    if (!output && cli_print_buffer(stdout, buf) != 0) {
        rc = cli_error("cannot print the result (out of memory or write error)");
        goto done;
    }
    double t3 = now_seconds();
    if (stats) print_stats(ctx, t1 - t0, t2 - t1, t3 - t2, t3 - t0);
    if ((rc = cli_report_finish(ctx, &rep))) goto done;

done:
    lp_buffer_release(buf);
    lp_array_release(result);
    if (arrays)
        for (int k = 0; k < nnames; k++) lp_array_release(arrays[k]);
    if (name_copies)
        for (int k = 0; k < nnames; k++) free(name_copies[k]);
    lp_ctx_destroy(ctx);
    free(names);
    free(arrays);
    free(name_copies);
    free(paths);
    free(pos);
    return rc;
}
