/* The `lampy` command-line program: the subcommand table's prototypes and shared helpers.
 *
 * Adding a subcommand: write cli/<name>.c with `int cli_<name>(int argc, char **argv)` and
 * `const char cli_<name>_help[]`, declare both below, add one row to the table in cli/lampy.c
 * and the file to cli/meson.build. argv[0] is the subcommand's name; `lampy <name> --help`
 * and `lampy help <name>` are answered by lampy.c before the command runs.
 *
 * Exit codes: 0 success, 1 runtime error (one line "lampy: <message>" on stderr),
 * 2 usage error (unknown option, missing argument: one line on stderr).
 */
#ifndef LAMPY_CLI_H
#define LAMPY_CLI_H

#include "lampy.h"

#include <stdio.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2

typedef struct cli_command {
    const char *name;
    const char *summary;                 /* one line for `lampy --help` */
    int (*fn)(int argc, char **argv);    /* argv[0] is the command name */
    const char *help;                    /* full text for `lampy help <name>` */
} cli_command;

/* ---- subcommands (one pair per row of the table in lampy.c) ---- */
int cli_eval(int argc, char **argv);
extern const char cli_eval_help[];
int cli_info(int argc, char **argv);
extern const char cli_info_help[];
int cli_store(int argc, char **argv);
extern const char cli_store_help[];
int cli_serve(int argc, char **argv);        /* serve.c */
extern const char cli_serve_help[];
int cli_worker(int argc, char **argv);
extern const char cli_worker_help[];
int cli_gen(int argc, char **argv);          /* gen.c */
extern const char cli_gen_help[];
int cli_fisher(int argc, char **argv);       /* fisher.c */
extern const char cli_fisher_help[];
int cli_predict(int argc, char **argv);      /* fisher.c */
extern const char cli_predict_help[];
int cli_graph(int argc, char **argv);        /* graph.c */
extern const char cli_graph_help[];
int cli_estimate(int argc, char **argv);     /* estimate.c */
extern const char cli_estimate_help[];
int cli_calibrate(int argc, char **argv);    /* estimate.c */
extern const char cli_calibrate_help[];
int cli_run(int argc, char **argv);          /* run.c */
extern const char cli_run_help[];
int cli_wait(int argc, char **argv);         /* wait.c */
extern const char cli_wait_help[];

/* ---- helpers shared by subcommands ---- */

/* --report, --trace FILE, --no-progress: how a run reports itself (eval, run; eval.c). */
typedef struct cli_report_opts {
    bool report, no_progress;
    const char *trace;
} cli_report_opts;
#define CLI_REPORT_OPTS(r)                                                                          \
    {.name = "--report", .kind = CLI_FLAG, .dst = &(r)->report},                                    \
    {.name = "--no-progress", .kind = CLI_FLAG, .dst = &(r)->no_progress},                          \
    {.name = "--trace", .kind = CLI_STR, .dst = &(r)->trace}
/* Before the run: tracing and the progress bar. After it: the report on stderr (tasks, bytes,
 * times beside the prediction) and the trace file. Both return 0 or an exit code. */
int cli_report_setup(lp_ctx *ctx, const cli_report_opts *r);
int cli_report_finish(lp_ctx *ctx, const cli_report_opts *r);

/* "lampy: <message>" on stderr; returns CLI_EXIT_USAGE / CLI_EXIT_ERROR. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "lampy: <lp_last_error(ctx)>" (or the status text when the message is empty); returns 1. */
int cli_lib_error(const lp_ctx *ctx, lp_status st);

/* Parse a non-negative integer with an optional binary suffix (k, M, G, T; "64M"). */
int cli_parse_size(const char *s, size_t *out);
/* Parse a decimal int in [lo, hi]. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
/* If arg is "--name=value" return value; if arg is "--name" take the next argument (advancing
 * *i). Returns NULL and reports a usage error through *err when the value is missing. */
const char *cli_opt_value(int argc, char **argv, int *i, const char *name, int *err);

/* ---- options: one table-driven parser (opts.c) ---- */

typedef enum cli_opt_kind {
    CLI_FLAG,   /* bool *dst = true; "--flag=x" is an error */
    CLI_STR,    /* const char **dst (empty only with empty_ok) */
    CLI_INT,    /* long *dst in [lo, hi] */
    CLI_SIZE,   /* size_t *dst: 65536, 4M, 1GiB */
    CLI_CHOICE, /* int *dst = index of the value in choices (NULL-terminated) */
    CLI_LIST,   /* cli_list *dst: the value appended (a repeatable option) */
    CLI_FN,     /* fn(cmd, option as typed, value, dst): 0 or an exit code (message printed) */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name;                /* "--threads"; "--name value" and "--name=value" */
    const char *alias;               /* "-o", or NULL */
    cli_opt_kind kind;
    void *dst;
    long lo, hi;                     /* CLI_INT */
    const char *const *choices;      /* CLI_CHOICE */
    int (*fn)(const char *cmd, const char *opt, const char *value, void *dst); /* CLI_FN */
    bool *seen;                      /* set when the option is given (may be NULL) */
    bool empty_ok;                   /* CLI_STR: "" is a value */
} cli_opt;

/* A repeatable option's values; v has room for argc entries (cli_list_init). */
typedef struct cli_list {
    const char **v;
    int n;
} cli_list;
int cli_list_init(cli_list *l, int argc);  /* 0, or an exit code when memory ran out */
void cli_list_free(cli_list *l);

#define CLI_DASHDASH_ONE 1u  /* "--" makes only the next argument positional (an EXPR like '-a') */
#define CLI_DASH_FIRST 2u    /* a first positional may start with '-' when it is no option ("-2**2") */

/* Parse argv[1..argc) of subcommand cmd against opts (ended by a row whose name is NULL).
 * Positional arguments go to pos (argc entries always suffice), counted in *npos; "--" ends
 * the options. Returns 0, or an exit code after printing the usage error ("eval: unknown
 * option '--x'; see 'lampy eval --help'", "eval: --threads needs an integer in 0..1024, ..."). */
int cli_parse_args(const char *cmd, int argc, char **argv, const cli_opt *opts, unsigned flags, const char **pos,
                   int *npos);

/* --threads, --chunk-bytes, --no-fusion, --profile: how a context runs plans. */
typedef struct cli_run_opts {
    long threads;                    /* -1: not given */
    size_t chunk_bytes;
    bool chunk_bytes_set, no_fusion;
    const char *profile;
} cli_run_opts;
#define CLI_RUN_OPTS_INIT {.threads = -1}
#define CLI_RUN_OPTS(r)                                                                             \
    {.name = "--threads", .kind = CLI_INT, .dst = &(r)->threads, .lo = 0, .hi = 1024},              \
    {.name = "--chunk-bytes", .kind = CLI_SIZE, .dst = &(r)->chunk_bytes, .seen = &(r)->chunk_bytes_set}, \
    {.name = "--no-fusion", .kind = CLI_FLAG, .dst = &(r)->no_fusion},                              \
    {.name = "--profile", .kind = CLI_STR, .dst = &(r)->profile}
#define CLI_RUN_HELP                                                                              \
    "  --threads N          worker threads (0 = one per core, the default)\n"                     \
    "  --chunk-bytes B      target bytes per chunk, e.g. 4M (0 = automatic, the default)\n"       \
    "  --no-fusion          turn off graph optimisations (CSE, fusion)\n"                         \
    "  --profile FILE       the cost model's machine profile (default: lampy calibrate's)\n"
/* Configure ctx; returns 0 or an exit code (the message printed). */
int cli_run_opts_apply(lp_ctx *ctx, const cli_run_opts *r);

/* ---- graph inputs (graph.c): shared by graph and estimate ---- */

/* The targets of SRC: a graph file (*.json, lp_graph_load) or an expression over NAME=FILE.npy
 * bindings. *out is a malloc'd list of new references (free with cli_targets_free). Returns
 * an exit code (0 = success; the message is already printed). */
int cli_targets(lp_ctx *ctx, const char *src, char *const *bindings, int nb, lp_array ***out, int *nout);
void cli_targets_free(lp_array **t, int n);
/* The whole file (at most max bytes) as a NUL-terminated malloc'd string; NULL with *err. */
char *cli_read_file(const char *path, size_t max, int *err);

/* ---- the lambda executor's options (opts.c) ---- */

typedef struct cli_remote {
    int executor;                    /* index in cli_executors; -1: not given */
    const char *workers, *store, *key_file, *ca_file;
    double deadline;                 /* seconds; 0: the default */
    int orchestrate;                 /* index in cli_orchestrators; -1: not given */
    long max_lambdas;                /* 0: the default */
    size_t lambda_mem;               /* bytes; 0: not limited */
    bool lambda_mem_set;
} cli_remote;
extern const char *const cli_executors[];     /* "local", "lambda" */
extern const char *const cli_orchestrators[]; /* "driver", "lambda" */
#define CLI_REMOTE_INIT {.executor = -1, .orchestrate = -1}
#define CLI_REMOTE_OPTS(r)                                                                          \
    {.name = "--executor", .kind = CLI_CHOICE, .dst = &(r)->executor, .choices = cli_executors},    \
    {.name = "--workers", .kind = CLI_STR, .dst = &(r)->workers},                                   \
    {.name = "--store", .kind = CLI_STR, .dst = &(r)->store},                                       \
    {.name = "--key-file", .kind = CLI_STR, .dst = &(r)->key_file},                                 \
    {.name = "--ca-file", .kind = CLI_STR, .dst = &(r)->ca_file},                                   \
    {.name = "--deadline", .kind = CLI_FN, .dst = &(r)->deadline, .fn = cli_parse_seconds},        \
    {.name = "--orchestrate", .kind = CLI_CHOICE, .dst = &(r)->orchestrate, .choices = cli_orchestrators}, \
    {.name = "--max-lambdas", .kind = CLI_INT, .dst = &(r)->max_lambdas, .lo = 1, .hi = 1 << 20},   \
    {.name = "--lambda-mem", .kind = CLI_SIZE, .dst = &(r)->lambda_mem, .seen = &(r)->lambda_mem_set}
/* A positive number of seconds (at most 1e7) into a double. */
int cli_parse_seconds(const char *cmd, const char *opt, const char *value, void *dst);
/* Help lines for the options above (a string literal, to concatenate). */
#define CLI_REMOTE_HELP                                                                          \
    "  --executor E         local (threads, the default) or lambda (HTTP workers)\n"             \
    "  --workers URLS       lambda: comma-separated worker URLs, e.g.\n"                          \
    "                       http://127.0.0.1:5001,http://127.0.0.1:5002 (`lampy worker`\n"       \
    "                       or OpenLambda workers with deploy/openlambda/lampy installed)\n"    \
    "  --store URL          lambda: chunk store for intermediates and results\n"                 \
    "                       (default redis://127.0.0.1:6379)\n"                                  \
    "  --key-file FILE      lambda: sign requests to workers and stores with this shared\n"      \
    "                       key (default $LAMPY_KEY_FILE; docs/SECURITY.md)\n"                  \
    "  --ca-file FILE       lambda: CA bundle (PEM) for https:// workers and stores\n"          \
    "                       (default $LAMPY_CA_FILE, else the system's)\n"                      \
    "  --deadline SEC       lambda: the whole run fails after SEC seconds (default 3600)\n"     \
    "  --orchestrate WHO    lambda: driver (this process sends every task, the default) or\n"   \
    "                       lambda (one invocation; the functions plan, run and start each\n"  \
    "                       other, this process only waits; needs a redis:// store)\n"         \
    "  --max-lambdas N      --orchestrate lambda: invocations in flight at most (default 2\n"   \
    "                       per worker)\n"                                                     \
    "  --lambda-mem SIZE    memory of one lambda, e.g. 512M (OpenLambda's mem_mb)\n"
/* Configure ctx; returns 0 or an exit code (the message printed). */
int cli_remote_apply(lp_ctx *ctx, const cli_remote *r);

/* ---- servers: `lampy store` and `lampy worker` (serve.c) ---- */

typedef struct cli_server {
    const char *key_file, *tls_cert, *tls_key, *ca_file;
    bool insecure;
    long per_client, request_timeout;  /* 0 = the server's default */
    struct lpi_key *key;      /* loaded by cli_server_setup */
} cli_server;
#define CLI_SERVER_OPTS(o)                                                                          \
    {.name = "--key-file", .kind = CLI_STR, .dst = &(o)->key_file},                                 \
    {.name = "--tls-cert", .kind = CLI_STR, .dst = &(o)->tls_cert},                                 \
    {.name = "--tls-key", .kind = CLI_STR, .dst = &(o)->tls_key},                                   \
    {.name = "--ca-file", .kind = CLI_STR, .dst = &(o)->ca_file},                                   \
    {.name = "--insecure", .kind = CLI_FLAG, .dst = &(o)->insecure},                                \
    {.name = "--max-client-connections", .kind = CLI_INT, .dst = &(o)->per_client, .lo = 1, .hi = 100000}, \
    {.name = "--request-timeout", .kind = CLI_INT, .dst = &(o)->request_timeout, .lo = 1, .hi = 86400}
#define CLI_SERVER_HELP                                                                            \
    "  --key-file FILE       the shared secret: every request (but GET /status) must be\n"        \
    "                        signed with it (default $LAMPY_KEY_FILE; docs/SECURITY.md)\n"         \
    "  --tls-cert FILE       serve HTTPS with this certificate (PEM) ...\n"                         \
    "  --tls-key FILE        ... and its private key (PEM)\n"                                      \
    "  --insecure            allow a non-loopback --bind without a key\n"                         \
    "  --max-client-connections N  connections from one IP address at once (default: a\n"        \
    "                        quarter of the connection limit, at least 16)\n"                       \
    "  --request-timeout SEC a request's headers and body must arrive within SEC seconds\n"     \
    "                        (plus 1 s per MiB of body); slower ones are dropped (default 60)\n"
/* Load the key (--key-file or $LAMPY_KEY_FILE), refuse a non-loopback bind without one unless
 * --insecure, install the signal handlers. Returns 0 or an exit code (message printed). */
int cli_server_setup(lp_ctx *ctx, const char *who, const char *bind, cli_server *o);
void cli_server_done(cli_server *o);
/* Print "listening on URL", wait for SIGTERM/SIGINT; returns the signal's name. */
const char *cli_serve_until_signal(const char *url);
/* Is addr a loopback address (127.0.0.0/8, ::1)? Not an address at all: true (the server's
 * own error follows). */
bool cli_is_loopback(const char *addr);

/* ---- printing (print.c) ---- */

/* Write `buf` the way NumPy 2's print(array) does (np.array2string defaults: precision 8,
 * linewidth 75, threshold 1000, edgeitems 3), followed by a newline. Returns 0, or -1 when
 * memory runs out or the write fails. */
int cli_print_buffer(FILE *f, const lp_buffer *buf);
/* The same text in a new malloc'd string (no trailing newline); NULL when out of memory. */
char *cli_format_buffer(const lp_buffer *buf);

#endif
