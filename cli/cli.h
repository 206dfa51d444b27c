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

/* ---- helpers shared by subcommands ---- */

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

/* ---- graph inputs (graph.c): shared by graph and estimate ---- */

/* The targets of SRC: a graph file (*.json, lp_graph_load) or an expression over NAME=FILE.npy
 * bindings. *out is a malloc'd list of new references (free with cli_targets_free). Returns
 * an exit code (0 = success; the message is already printed). */
int cli_targets(lp_ctx *ctx, const char *src, char *const *bindings, int nb, lp_array ***out, int *nout);
void cli_targets_free(lp_array **t, int n);
/* --threads N, --chunk-bytes B, --no-fusion, --profile FILE applied to ctx; *handled says
 * whether argv[*i] was one of them. Returns an exit code. */
int cli_common_option(lp_ctx *ctx, int argc, char **argv, int *i, bool *handled);
/* The whole file (at most max bytes) as a NUL-terminated malloc'd string; NULL with *err. */
char *cli_read_file(const char *path, size_t max, int *err);

/* ---- the lambda executor's options (remote_opts.c) ---- */

typedef struct cli_remote {
    const char *executor, *workers, *store, *key_file, *ca_file;
    double deadline;
} cli_remote;
/* Help lines for --executor, --workers and --store (a string literal, to concatenate). */
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
    "  --deadline SEC       lambda: the whole run fails after SEC seconds (default 3600)\n"
/* If argv[*i] is one of those options, take it (and its value) and return 1; *err is set to
 * an exit code on a usage error. Returns 0 for any other argument. */
int cli_remote_opt(int argc, char **argv, int *i, cli_remote *r, int *err);
/* Configure ctx; returns 0 or an exit code (the message printed). */
int cli_remote_apply(lp_ctx *ctx, const cli_remote *r);

/* ---- servers: `lampy store` and `lampy worker` (serve.c) ---- */

typedef struct cli_server {
    const char *key_file, *tls_cert, *tls_key, *ca_file;
    bool insecure;
    unsigned per_client, request_timeout;  /* 0 = the server's default */
    struct lpi_key *key;      /* loaded by cli_server_setup */
} cli_server;
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
/* --key-file, --tls-cert, --tls-key, --ca-file, --insecure: as cli_remote_opt. */
int cli_server_opt(int argc, char **argv, int *i, cli_server *o, int *err);
/* Load the key (--key-file or $LAMPY_KEY_FILE), refuse a non-loopback bind without one unless
 * --insecure, install the signal handlers. Returns 0 or an exit code (message printed). */
int cli_server_setup(lp_ctx *ctx, const char *who, const char *bind, cli_server *o);
void cli_server_done(cli_server *o);
/* Print "listening on URL", wait for SIGTERM/SIGINT; returns the signal's name. */
const char *cli_serve_until_signal(const char *url);

/* ---- printing (print.c) ---- */

/* Write `buf` the way NumPy 2's print(array) does (np.array2string defaults: precision 8,
 * linewidth 75, threshold 1000, edgeitems 3), followed by a newline. Returns 0, or -1 when
 * memory runs out or the write fails. */
int cli_print_buffer(FILE *f, const lp_buffer *buf);
/* The same text in a new malloc'd string (no trailing newline); NULL when out of memory. */
char *cli_format_buffer(const lp_buffer *buf);

#endif
