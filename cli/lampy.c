/* `lampy`: the command-line program. main, the global options and the subcommand table.
 *
 * Each subcommand is one row of `commands` below, implemented in cli/<name>.c and declared in
 * cli/cli.h. `lampy CMD --help` and `lampy help CMD` are answered here, so a subcommand only
 * parses its own options.
 */
#include "cli.h"
#include "io/tmpfile.h"

#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int cli_help_cmd(int argc, char **argv);
static const char cli_help_help[] =
    "usage: lampy help [COMMAND]\n"
    "\n"
    "Show the help of COMMAND, or the list of commands.\n";

static const cli_command commands[] = {
    {"eval", "Evaluate an array expression over .npy files", cli_eval, cli_eval_help},
    {"info", "Show the header of .npy files (dtype, shape, order, sizes)", cli_info, cli_info_help},
    {"store", "Serve a directory of chunks over HTTP (the http:// chunk store)", cli_store, cli_store_help},
    {"serve", "Serve a directory of datasets (.npy, Zarr) read-only over HTTP", cli_serve, cli_serve_help},
    {"worker", "Run tasks for remote drivers (the OpenLambda invocation API)", cli_worker, cli_worker_help},
    {"gen", "Write a synthetic classification data set (X.npy, y.npy)", cli_gen, cli_gen_help},
    {"fisher", "Fit Fisher's linear discriminant (LDA) on X.npy and y.npy", cli_fisher, cli_fisher_help},
    {"predict", "Predict classes with a saved Fisher LDA model", cli_predict, cli_predict_help},
    {"graph", "Show an expression's graph or plan as DOT, SVG or JSON", cli_graph, cli_graph_help},
    {"run", "Run a graph file (lampy graph --json, lp_graph_dump, lp.Graph.dump)", cli_run, cli_run_help},
    {"estimate", "Predict an expression's run time with the cost model", cli_estimate, cli_estimate_help},
    {"calibrate", "Measure this machine for the cost model and save the profile", cli_calibrate, cli_calibrate_help},
    {"wait", "Wait for an orchestrated run submitted with --detach and show its result", cli_wait, cli_wait_help},
    {"help", "Show the help of a command", cli_help_cmd, cli_help_help},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f) {
    fprintf(f,
            "usage: lampy [--help] [--version] COMMAND [ARGS...]\n"
            "\n"
            "Lampy: NumPy for serverless functions. Lazy array expressions, run in parallel.\n"
            "\n"
            "Commands:\n");
    for (int k = 0; k < NCOMMANDS; k++) fprintf(f, "  %-10s %s\n", commands[k].name, commands[k].summary);
    fprintf(f,
            "\n"
            "Options:\n"
            "  -h, --help     show this help\n"
            "  -V, --version  show the version\n"
            "\n"
            "Run 'lampy help COMMAND' or 'lampy COMMAND --help' for the options of a command.\n");
}

static const cli_command *find_command(const char *name) {
    for (int k = 0; k < NCOMMANDS; k++)
        if (strcmp(commands[k].name, name) == 0) return &commands[k];
    return NULL;
}

static int show_help(const cli_command *c) {
    fputs(c->help, stdout);
    return CLI_EXIT_OK;
}

static int cli_help_cmd(int argc, char **argv) {
    (void)argv;
    if (argc < 2) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 2) return cli_usage_error("help: too many arguments; usage: lampy help [COMMAND]");
    const cli_command *c = find_command(argv[1]);
    if (!c) return cli_usage_error("unknown command '%s'; see 'lampy --help'", argv[1]);
    return show_help(c);
}

/* ---- helpers shared by subcommands ---- */

static int vreport(int code, const char *fmt, va_list ap) {
    fflush(stdout);
    fputs("lampy: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(CLI_EXIT_USAGE, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(CLI_EXIT_ERROR, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_lib_error(const lp_ctx *ctx, lp_status st) {
    const char *m = ctx ? lp_last_error(ctx) : NULL;
    if (!m || !*m) m = lp_status_str(st);
    /* the message is one line by contract; keep it so even if it is not */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", m);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return cli_error("%s", buf);
}

int cli_parse_int(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, size_t *out) {
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    unsigned shift = 0;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        case 't': case 'T': shift = 40; break;
        default: return -1;
        }
        end++;
        if (*end == 'i') end++;
        if (*end == 'B' || *end == 'b') end++;
        if (*end) return -1;
    }
    if (shift && v > (ULLONG_MAX >> shift)) return -1;
    v <<= shift;
    if (v > SIZE_MAX) return -1;
    *out = (size_t)v;
    return 0;
}

const char *cli_opt_value(int argc, char **argv, int *i, const char *name, int *err) {
    const char *arg = argv[*i];
    size_t n = strlen(name);
    *err = 0;
    if (strncmp(arg, name, n) == 0 && arg[n] == '=') return arg + n + 1;
    if (*i + 1 >= argc) {
        *err = cli_usage_error("option '%s' needs a value", name);
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

/* SIGINT/SIGTERM/SIGHUP stop the program as they would by default, but first remove the temp
 * file of an output being written (io/tmpfile.h). SA_RESETHAND | SA_NODEFER: the raise below
 * meets the default action and ends the process with the signal's usual status. `lampy store`
 * and `lampy worker` replace these handlers with their graceful stop. */
static void on_fatal_signal(int sig) {
    lpi_tmp_unlink_all();
    raise(sig);
}

static void remove_temps_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        struct sigaction old;
        /* a signal the caller made us ignore (nohup, `cmd &` in a script) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(sigs[i], &sa, NULL);
    }
}

int main(int argc, char **argv) {
    remove_temps_on_signals();
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *first = argv[1];
    if (strcmp(first, "-h") == 0 || strcmp(first, "--help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(first, "-V") == 0 || strcmp(first, "--version") == 0) {
        printf("lampy %s\n", LP_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    if (first[0] == '-') return cli_usage_error("unknown option '%s'; see 'lampy --help'", first);
    const cli_command *c = find_command(first);
    if (!c) return cli_usage_error("unknown command '%s'; see 'lampy --help'", first);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || (i == 2 && strcmp(argv[i], "-h") == 0)) return show_help(c);
    }
    int rc = c->fn(argc - 1, argv + 1);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == CLI_EXIT_OK) rc = cli_error("error writing to standard output: %s", strerror(errno));
    }
    return rc;
}
