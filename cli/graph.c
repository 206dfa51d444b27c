/* `lampy graph EXPR-or-graph.json [NAME=FILE.npy ...] --dot|--svg|--json [-o FILE]`: show the
 * expression graph or the plan as Graphviz DOT, SVG (through Graphviz's `dot`) or JSON. Also
 * the input helpers shared with `lampy estimate`. */
#include "cli.h"
#include "expr_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char cli_graph_help[] =
    "usage: lampy graph EXPR|GRAPH.json [NAME=FILE.npy ...] [--dot | --svg | --json]\n"
    "                   [--plan] [-o FILE] [--data-dir DIR] [--threads N] [--chunk-bytes B]\n"
    "                   [--no-fusion] [--profile FILE]\n"
    "\n"
    "Show the expression graph of EXPR (or of a graph file written by --json) without running\n"
    "it: as Graphviz DOT (the default), as SVG drawn by Graphviz's `dot`, or as JSON in the\n"
    "graph format of docs/GRAPH_FORMAT.md, which `lampy graph`, `lampy estimate` and\n"
    "lp_graph_load read back. Nodes show op, shape, dtype and the cost model's estimated\n"
    "time; fused kernels are drawn as clusters, targets with a double border, the critical\n"
    "path in red.\n"
    "\n"
    "Options:\n"
    "  --dot                DOT text (default)\n"
    "  --svg                SVG, through Graphviz's `dot -Tsvg`\n"
    "  --json               the graph as JSON (with --plan: the planned task graph)\n"
    "  --plan               the planned nodes and their chunk grids instead of the expression\n"
    "  -o, --output FILE    write to FILE instead of standard output\n"
    "  --data-dir DIR       with --json: write in-memory data too large to inline to DIR\n"
    "  --threads N          workers the estimates assume (0 = one per core)\n"
    "  --chunk-bytes B      target bytes per chunk, e.g. 4M (0 = automatic)\n"
    "  --no-fusion          plan without fusion and CSE\n"
    "  --profile FILE       machine profile for the estimates (default: see `lampy calibrate`)\n"
    "\n"
    "Examples:\n"
    "  lampy graph 'sum((a - b) ** 2)' a=a.npy b=b.npy --svg -o g.svg\n"
    "  lampy graph 'x.mean(axis=0)' x=x.npy --json -o g.json && lampy graph g.json --plan\n";

static bool valid_name(const char *s, size_t n) {
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return false;
    return true;
}

char *cli_read_file(const char *path, size_t max, int *err) {
    FILE *f = fopen(path, "rb");
    if (!f) { *err = errno; return NULL; }
    char *s = malloc(max + 1);
    size_t n = s ? fread(s, 1, max + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!s || n > max || bad) { free(s); *err = !s ? ENOMEM : bad ? EIO : EFBIG; return NULL; }
    s[n] = 0;
    return s;
}

static bool is_graph_file(const char *src) {
    size_t n = strlen(src);
    struct stat sbuf;
    return n > 5 && !strcmp(src + n - 5, ".json") && stat(src, &sbuf) == 0 && S_ISREG(sbuf.st_mode);
}

int cli_targets(lp_ctx *ctx, const char *src, char *const *bindings, int nb, lp_array ***out, int *nout) {
    *out = NULL;
    *nout = 0;
    if (is_graph_file(src)) {
        if (nb) return cli_usage_error("NAME=FILE bindings do not apply to a graph file ('%s')", bindings[0]);
        int err = 0;
        char *text = cli_read_file(src, (size_t)1 << 30, &err);
        if (!text) return cli_error("%s: %s", src, strerror(err));
        lp_array **t;
        int n;
        lp_status st = lp_graph_load(ctx, text, &t, &n);
        free(text);
        if (st) return cli_error("%s: %s", src, lp_last_error(ctx));
        lp_array **copy = calloc((size_t)n, sizeof *copy);
        if (!copy) { lp_arrays_release(t, n); return cli_error("out of memory"); }
        for (int i = 0; i < n; i++) { copy[i] = t[i]; lp_array_retain(t[i]); }
        lp_arrays_release(t, n);
        *out = copy;
        *nout = n;
        return CLI_EXIT_OK;
    }
    cli_binding *names = calloc((size_t)(nb ? nb : 1), sizeof *names);
    char **copies = calloc((size_t)(nb ? nb : 1), sizeof *copies);
    lp_array **res = calloc(1, sizeof *res);
    int rc = CLI_EXIT_OK;
    if (!names || !copies || !res) { rc = cli_error("out of memory"); goto done; }
    for (int k = 0; k < nb; k++) {
        const char *arg = bindings[k], *eq = strchr(arg, '=');
        if (!eq || !valid_name(arg, (size_t)(eq - arg)) || !eq[1]) {
            rc = cli_usage_error("expected NAME=FILE.npy, got '%s'", arg);
            goto done;
        }
        for (int j = 0; j < k; j++)
            if (strlen(names[j].name) == (size_t)(eq - arg) && !strncmp(names[j].name, arg, (size_t)(eq - arg))) {
                rc = cli_usage_error("name '%.*s' is bound twice", (int)(eq - arg), arg);
                goto done;
            }
        if (!(copies[k] = strndup(arg, (size_t)(eq - arg)))) { rc = cli_error("out of memory"); goto done; }
        names[k].name = copies[k];
        lp_status st = lp_load(ctx, eq + 1, &names[k].array);
        if (st) { rc = cli_lib_error(ctx, st); goto done; }
    }
    char err[1024];
    lp_status st = cli_expr_build(ctx, src, names, nb, &res[0], err, sizeof err);
    if (st) { rc = cli_error("%s", err[0] ? err : lp_status_str(st)); goto done; }
    *out = res;
    *nout = 1;
    res = NULL;
done:
    for (int k = 0; names && copies && k < nb; k++) { lp_array_release(names[k].array); free(copies[k]); }
    free(names);
    free(copies);
    free(res);
    return rc;
}

void cli_targets_free(lp_array **t, int n) {
    for (int i = 0; t && i < n; i++) lp_array_release(t[i]);
    free(t);
}

/* Pipe text through `dot -Tsvg` into out_path (or stdout). */
static int run_dot(const char *text, const char *out_path) {
    const char *path = getenv("PATH");
    char exe[4096] = "";
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        snprintf(exe, sizeof exe, "%.*s/dot", (int)n, p);
        if (n && access(exe, X_OK) == 0) break;
        exe[0] = 0;
        p += n + (c ? 1 : 0);
    }
    if (!exe[0])
        return cli_error("--svg needs Graphviz's 'dot', which is not on PATH; install graphviz "
                         "(apt-get install graphviz) or use --dot and render it elsewhere");
    int in[2];
    if (pipe(in)) return cli_error("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return cli_error("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(in[0], 0);
        close(in[0]);
        close(in[1]);
        if (out_path) execl(exe, "dot", "-Tsvg", "-o", out_path, (char *)NULL);
        else execl(exe, "dot", "-Tsvg", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(in[1], text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(in[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cli_error("Graphviz 'dot' failed (exit status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return CLI_EXIT_OK;
}

static int write_out(const char *text, const char *path) {
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f) return cli_error("%s: %s", path, strerror(errno));
    fputs(text, f);
    if (path && fclose(f) != 0) return cli_error("%s: %s", path, strerror(errno));
    return CLI_EXIT_OK;
}

int cli_graph(int argc, char **argv) {
    bool plan = false, dot = false, svg = false, json = false;
    const char *src = NULL, *output = NULL, *data_dir = NULL;
    cli_run_opts run = CLI_RUN_OPTS_INIT;
    const cli_opt opts[] = {
        {.name = "--dot", .kind = CLI_FLAG, .dst = &dot},
        {.name = "--svg", .kind = CLI_FLAG, .dst = &svg},
        {.name = "--json", .kind = CLI_FLAG, .dst = &json},
        {.name = "--plan", .kind = CLI_FLAG, .dst = &plan},
        {.name = "--output", .alias = "-o", .kind = CLI_STR, .dst = &output},
        {.name = "--data-dir", .kind = CLI_STR, .dst = &data_dir},
        CLI_RUN_OPTS(&run),
        {0},
    };
    const char **pos = calloc((size_t)argc, sizeof *pos);
    int npos = 0, rc = CLI_EXIT_OK, n = 0;
    lp_ctx *ctx = NULL;
    lp_array **t = NULL;
    char *text = NULL;
    lp_status st;
    if (!pos) return cli_error("out of memory");
    if ((rc = cli_parse_args("graph", argc, argv, opts, CLI_DASHDASH_ONE | CLI_DASH_FIRST, pos, &npos))) goto done;
    if (dot + svg + json > 1) { rc = cli_usage_error("graph: --dot, --svg and --json exclude each other"); goto done; }
    if (npos) src = pos[0];
    if ((st = lp_ctx_create(&ctx))) { rc = cli_error("%s", lp_status_str(st)); goto done; }
    if ((rc = cli_run_opts_apply(ctx, &run))) goto done;
    if (!src) { rc = cli_usage_error("graph: missing EXPR or GRAPH.json; see 'lampy graph --help'"); goto done; }
    if ((rc = cli_targets(ctx, src, (char *const *)pos + 1, npos - 1, &t, &n))) goto done;
    if (json) st = plan ? lp_plan_dump(ctx, t, n, &text) : lp_graph_dump_to(ctx, t, n, data_dir, &text);
    else st = lp_graph_dot(ctx, t, n, plan ? LP_DOT_PLAN : 0, &text);
    if (st) { rc = cli_lib_error(ctx, st); goto done; }
    rc = svg ? run_dot(text, output) : write_out(text, output);
done:
    lp_string_free(text);
    cli_targets_free(t, n);
    lp_ctx_destroy(ctx);
    free(pos);
    return rc;
}
