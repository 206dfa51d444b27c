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
int cli_gen(int argc, char **argv);          /* gen.c */
extern const char cli_gen_help[];
int cli_fisher(int argc, char **argv);       /* fisher.c */
extern const char cli_fisher_help[];
int cli_predict(int argc, char **argv);      /* fisher.c */
extern const char cli_predict_help[];

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

/* ---- printing (print.c) ---- */

/* Write `buf` the way NumPy 2's print(array) does (np.array2string defaults: precision 8,
 * linewidth 75, threshold 1000, edgeitems 3), followed by a newline. Returns 0, or -1 when
 * memory runs out or the write fails. */
int cli_print_buffer(FILE *f, const lp_buffer *buf);
/* The same text in a new malloc'd string (no trailing newline); NULL when out of memory. */
char *cli_format_buffer(const lp_buffer *buf);

#endif
