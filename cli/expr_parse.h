/* Expressions of `lampy eval`: a Python expression subset, parsed into a small syntax tree
 * (expr_parse.c, no library calls) and then built into a lazy lp_array with the public API
 * (expr_eval.c).
 *
 * Grammar: Python's, for the operators NumPy users write, with Python's precedence and
 * associativity (lowest first):
 *     comparisons  < <= > >= == !=   (not chained)
 *     |   ^   &                      (bitwise_or/xor/and; logical for bool arrays)
 *     + -
 *     * / // % @
 *     unary - + ~
 *     **                             (right associative; -2**2 == -4, 2**-1 == 0.5)
 *     calls f(x, axis=0), attributes a.T, subscripts a[::2, 1:, None, ...]
 * Atoms: names, int/float literals (1, 0x1f, 1.5, 1e-3, .5), 'strings', True False None,
 * parenthesised expressions, tuples (a, b) and lists [a, b].
 * lambda p1, p2: expr (lowest precedence, as in Python) for the bodies and conditions of
 * fori_loop and while_loop, which trace them once.
 */
#ifndef LAMPY_CLI_EXPR_PARSE_H
#define LAMPY_CLI_EXPR_PARSE_H

#include "lampy.h"

#include <stddef.h>
#include <stdint.h>

/* ---- the syntax tree ---- */

typedef enum cli_nkind {
    CLI_N_INT,      /* i */
    CLI_N_FLOAT,    /* f */
    CLI_N_IMAG,     /* f: an imaginary literal (2j, 1.5e3J): the complex number 0 + f j */
    CLI_N_STR,      /* s */
    CLI_N_NAME,     /* s */
    CLI_N_TRUE,
    CLI_N_FALSE,
    CLI_N_NONE,
    CLI_N_ELLIPSIS,
    CLI_N_TUPLE,    /* items */
    CLI_N_LIST,     /* items */
    CLI_N_UNARY,    /* op, a */
    CLI_N_BINARY,   /* op, a, b (comparisons too) */
    CLI_N_CALL,     /* a = callee; items = arguments, CLI_N_KEYWORD for name=value */
    CLI_N_KEYWORD,  /* s = name, a = value */
    CLI_N_ATTR,     /* a = object, s = attribute */
    CLI_N_SUBSCRIPT,/* a = object, items = index items (CLI_N_SLICE or expressions) */
    CLI_N_SLICE,    /* a = start, b = stop, c = step, each may be NULL */
    CLI_N_LAMBDA    /* items = parameter names (CLI_N_NAME), a = body */
} cli_nkind;

/* Operator codes: single-character operators are their character. */
enum {
    CLI_OP_POW = 256,   /* ** */
    CLI_OP_FLOORDIV,    /* // */
    CLI_OP_LE,          /* <= */
    CLI_OP_GE,          /* >= */
    CLI_OP_EQ,          /* == */
    CLI_OP_NE,          /* != */
    CLI_OP_LSHIFT,      /* << */
    CLI_OP_RSHIFT,      /* >> */
    CLI_OP_ELLIPSIS     /* ... */
};

typedef struct cli_node cli_node;
struct cli_node {
    cli_nkind kind;
    int col;            /* 1-based column of the node's first character (operators: the op) */
    int op;
    int64_t i;
    double f;
    const char *s;
    cli_node *a, *b, *c;
    cli_node **items;
    int nitems;
    int height;         /* of the subtree; bounded by the parser */
};

typedef struct cli_ast cli_ast;

/* Parse src. On success returns 0 and *out (free with cli_ast_free). On failure returns -1 and
 * writes one line to err: "syntax error at column 7: expected ')'". Never calls the library;
 * any byte string is safe input. */
int cli_parse(const char *src, cli_ast **out, char *err, size_t errcap);
void cli_ast_free(cli_ast *ast);
const cli_node *cli_ast_root(const cli_ast *ast);
/* Text of an operator code ("**", "+"). */
const char *cli_op_str(int op);

/* ---- building the lazy array ---- */

typedef struct cli_binding {
    const char *name;
    lp_array *array; /* borrowed */
} cli_binding;

/* Parse src and build it with the public API over the given names (which shadow the built-in
 * functions and constants). On success *out is a new reference (a Python number becomes a
 * weak 0-d scalar array). On failure returns a status, releases everything it made, and
 * leaves one line in err: a syntax error with its column, "name 'q' is not defined", a
 * Python-style type error, or the library's own message. */
lp_status cli_expr_build(lp_ctx *ctx, const char *src, const cli_binding *names, int nnames,
                         lp_array **out, char *err, size_t errcap);

#endif
